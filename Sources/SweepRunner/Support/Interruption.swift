import Foundation
import Synchronization

/// Requests to stop a launch cleanly: SIGTERM (Slurm's warning before a time limit or a
/// preemption), SIGINT (Ctrl-C), or a stop file (`OUT/STOP`, or `OUT/STOP-task-0003` for one
/// array task) for schedulers that signal only the batch shell.
///
/// A second SIGINT gets the default action (immediate termination); further SIGTERMs are
/// absorbed. A stop file is consumed by the launch it stops (see ``StopFiles``).
public enum Interruption {
  /// The signal that asked to stop, or 0.
  static let signalNumber = Atomic<Int32>(0)

  /// The parent process when the handlers were installed (mpirun, srun's step daemon, a shell).
  nonisolated(unsafe) static var parent: pid_t = 0

  /// Whether the process that launched this one (mpirun) is gone: a killed mpirun leaves its
  /// ranks running, so they stop themselves (checkpointing, as on SIGTERM) instead of working on
  /// for a launch that no longer exists.
  public static var launcherDied: Bool {
    underMPIRun && parent > 1 && getppid() != parent
  }

  /// Whether mpirun started this process (read once).
  static let underMPIRun = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil

  /// Installs the handlers (idempotent).
  public static func install() {
    if parent == 0 { parent = getppid() }
    _ = signalNumber.load(ordering: .relaxed)
    // A repeated SIGTERM is absorbed (Slurm signals every process of a job, and srun or the
    // batch script forward it once more: the launch must still checkpoint); a second SIGINT
    // (Ctrl-C twice) ends the process at once.
    let handler: @convention(c) (Int32) -> Void = { number in
      if Interruption.signalNumber.load(ordering: .relaxed) == 0 {
        Interruption.signalNumber.store(number, ordering: .relaxed)
      }
      if number == SIGINT { signal(number, SIG_DFL) }
    }
    signal(SIGTERM, handler)
    signal(SIGINT, handler)
    // A parent may have left these signals blocked (the mask is inherited): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }

  /// The signal received so far, or nil.
  public static var receivedSignal: Int32? {
    let n = signalNumber.load(ordering: .relaxed)
    return n == 0 ? nil : n
  }

  /// The name of a signal for messages.
  public static func name(_ number: Int32) -> String {
    switch number {
    case SIGTERM: return "SIGTERM"
    case SIGINT: return "SIGINT"
    default: return "signal \(number)"
    }
  }
}

/// The stop files of a launch: `OUT/STOP` (every task) and `OUT/STOP-task-NNNN` (one task).
///
/// A stop file stops every launch running or starting while it exists. The first launch it
/// stops renames it to `<name>.consumed` (keeping its time stamp) once its runs are
/// checkpointed, so the next launch does not stop again; a consumed file still stops the
/// launches that were already running when the stop file was made (they may be in a long step
/// and not have looked yet), and no later one.
public struct StopFiles: Sendable {
  public var paths: [String]
  /// When this launch started.
  public var launchStart: Date

  public init(paths: [String], launchStart: Date = Date()) {
    self.paths = paths
    self.launchStart = launchStart
  }

  static func consumedPath(_ path: String) -> String { path + ".consumed" }

  /// Whether a stop was requested for this launch (two `stat` calls per path).
  public func requested() -> Bool {
    let since = launchStart.timeIntervalSince1970
    for path in paths {
      var st = stat()
      if stat(path, &st) == 0 { return true }
      if stat(Self.consumedPath(path), &st) == 0 {
        let made = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
        if made >= since { return true }
      }
    }
    return false
  }

  /// Renames the present stop files to `<name>.consumed`; returns the names consumed.
  @discardableResult
  public func consume() -> [String] {
    var consumed = [String]()
    for path in paths where FileManager.default.fileExists(atPath: path) {
      if rename(path, Self.consumedPath(path)) == 0 { consumed.append((path as NSString).lastPathComponent) }
    }
    return consumed
  }
}
