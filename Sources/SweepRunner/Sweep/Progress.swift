import Foundation
import SweepStore

/// Progress of a rank group's current run: a live line on a terminal, a periodic line in a log.
final class ProgressReporter {
  let prefix: String
  let isTerminal: Bool
  let interval: Double
  let log: (String) -> Void
  var lastReport: Double
  var runStart: Double
  var lineOpen = false
  /// On rank 0: the sweep's overall progress line, printed with the periodic log lines.
  var overall: (() -> String?)?

  /// `alone`: the launch has a single rank (under mpirun, standard output is a pseudo-terminal
  /// shared by all ranks, so live lines would interleave).
  init(prefix: String, alone: Bool, log: @escaping (String) -> Void) {
    self.prefix = prefix
    self.log = log
    isTerminal = alone && isatty(STDOUT_FILENO) != 0
    let env = ProcessInfo.processInfo.environment["MFSWEEP_PROGRESS_SECONDS"].flatMap(Double.init)
    interval = env ?? (isTerminal ? 0.25 : 60)
    lastReport = monotonicSeconds()
    runStart = lastReport
  }

  func startRun() {
    runStart = monotonicSeconds()
    lastReport = runStart
  }

  func update(run: String, step: Int, of total: Int) {
    let now = monotonicSeconds()
    guard now - lastReport >= interval else { return }
    lastReport = now
    let fraction = Double(step) / Double(max(1, total))
    let eta = fraction > 0 ? (now - runStart) * (1 - fraction) / fraction : 0
    let text = "\(prefix)\(run) step \(step)/\(total) (\(Int(fraction * 100))%), ETA \(formatDuration(eta))"
    if isTerminal {
      FileHandle.standardOutput.write(Data(("\r" + text + "   ").utf8))
      lineOpen = true
    } else {
      log(text)
      if let line = overall?() { log(line) }
    }
  }

  /// Ends a live line before other output.
  func endLine() {
    if lineOpen {
      FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
      lineOpen = false
    }
  }
}

/// `1h02m`, `3m05s`, `12s`.
func formatDuration(_ seconds: Double) -> String {
  let s = Int(seconds.rounded())
  if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
  if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
  return "\(s)s"
}
