import Foundation
import MeanFieldDiagnostics
import SweepStore

/// `mfsweep status`: the runs of a sweep per array task, what is running, and any damage.
public enum StatusReport {
  /// What `status --check` reports.
  public enum State: Sendable, Equatable {
    /// Every run finished (completed, diverged or failed).
    case complete
    /// Runs are pending, interrupted, running or damaged: the same launch resumes them.
    case resumable
  }

  /// The array-task count of the folder's most recent launch (1 when unknown).
  static func arrayCount(_ state: SweepState) -> Int {
    var held: LockHolder? = nil, newest: LockHolder? = nil
    for (_, lock) in state.locks {
      switch lock {
      case .held(let h): if h.arrayCount >= 1 { held = h }
      case .free(let previous?):
        if previous.arrayCount >= 1, newest == nil || previous.started > newest!.started { newest = previous }
      case .free(nil): break
      }
    }
    return (held ?? newest)?.arrayCount ?? 1
  }

  /// The report's text and state. `verify` reads every snapshot (`status --check`).
  public static func make(output: String, task only: Int?, arrayCount given: Int? = nil, verify: Bool) throws -> (
    text: String, state: State
  ) {
    let state = try SweepState(output: output)
    if let given, given < 1 { throw LaunchError("--array-count must be positive") }
    let count = given ?? arrayCount(state)
    if let only, only < 0 || only >= count {
      throw LaunchError("--task \(only) is outside the sweep's array tasks 0..<\(count)")
    }
    let order = ["completed", "running", "interrupted", "pending", "diverged", "failed", "damaged"]
    var rows = [[String]]()
    var total = [String: Int]()
    var finished = 0, runs = 0
    var damage = [String]()
    let tasks = only.map { [$0] } ?? Array(0..<count)
    for t in tasks {
      var counts = [String: Int]()
      for p in state.share(task: t, count: count) {
        let run = try state.run(p, verify: verify)
        counts[run.status, default: 0] += 1
        total[run.status, default: 0] += 1
        runs += 1
        if run.result?.status.isFinal == true && run.damage == nil { finished += 1 }
        if let d = run.damage { damage.append("\(state.index.runIDs[p]): \(d)") }
      }
      let lockPath = state.layout.lockPath(task: t, count: count)
      var launch = "(never launched)"
      switch FolderLock.inspect(path: lockPath) {
      case .held(let h):
        launch = "running: \(h.summary), heartbeat \(Int(max(0, Date().timeIntervalSince1970 - h.heartbeat))) s ago"
      case .free(let previous?):
        launch = "not running (last launch: \(previous.summary))"
      case .free(nil):
        break
      }
      rows.append([String(t)] + order.map { String(counts[$0] ?? 0) } + [launch])
    }
    if only == nil && count > 1 {
      rows.append(["all"] + order.map { String(total[$0] ?? 0) } + [""])
    }
    let scope = only.map { "array task \($0) of \(count): " } ?? ""
    var text = "\(output): job \(state.index.jobName), \(scope)\(runs) runs, \(finished) finished\n"
    text += TextTable.render(header: ["task"] + order + ["launch"], rows: rows)
    let stale = state.staleKeys.count
    if stale > 0 {
      text +=
        "\(stale) finished run(s) of earlier versions of the job are kept in \(state.layout.store) (not in the current job; aggregate --include-stale shows them)\n"
    }
    for d in damage { text += "damaged: \(d) (a rerun recomputes it)\n" }
    for d in state.store.damage where d.key == nil { text += "store: \(d)\n" }
    return (text, finished == runs ? .complete : .resumable)
  }
}

/// `mfsweep aggregate`: every run of one or more output folders in `summary.h5` (an xarray
/// Dataset with every time series) and `summary.csv` (one row per run, every setting and the
/// summary statistics).
public enum SummaryWriter {
  /// One row of the summary.
  public struct Row {
    public var run: DatasetRun
    public var statistics: [String: [Double]]
  }

  /// The statistics requested in a run's settings (`diagnostics.summary`), else the
  /// definitions' defaults.
  static func statistics(of run: DatasetRun) -> [(metric: String, statistics: [SummaryStatistic])] {
    var requested = [String: [SummaryStatistic]]()
    if case .string(let text)? = run.settings.first(where: { $0.key == "diagnostics.summary" })?.value {
      for part in text.split(separator: " ") {
        let pieces = part.split(separator: "=", maxSplits: 1)
        guard pieces.count == 2 else { continue }
        requested[String(pieces[0])] = pieces[1].split(separator: ",").compactMap { SummaryStatistic(String($0)) }
      }
    }
    return (run.result?.metrics ?? []).map { m in
      (m.info.name, requested[m.info.name] ?? Metric(rawValue: m.info.name)?.definition.summaries ?? [.final])
    }
  }

  /// Writes `summary.csv` and `summary.h5` into `destination` from the runs of `outputs`;
  /// returns the runs that are not completed. A run whose identity appears in two folders with
  /// different results is a clash (an error); the same result twice is kept once.
  @discardableResult
  public static func write(outputs: [String], into destination: String, includeStale: Bool) throws -> (
    runs: Int, open: [DatasetRun]
  ) {
    var runs = [DatasetRun]()
    var seen = [RunKey: (folder: String, digest: UInt64)]()
    var jobNames = [String]()
    var jobTexts = [String]()
    for output in outputs {
      let state = try SweepState(output: output)
      jobNames.append(state.index.jobName)
      jobTexts.append(state.index.jobText)
      let count = StatusReport.arrayCount(state)
      let folder = outputs.count > 1 ? output : nil
      var these = try state.datasetRuns(
        Array(state.index.keys.indices), tasks: state.taskOfRun(count: count), verify: true, folder: folder)
      if includeStale { these += try state.staleDatasetRuns(folder: folder) }
      for run in these {
        if let result = run.result {
          if let earlier = seen[run.key] {
            if earlier.digest != result.dataDigest {
              throw LaunchError(
                "run \(run.runID) (\(run.key.short)) has different results in \(earlier.folder) and \(output): the folders were written by different versions of mfsweep or one is damaged; aggregate them separately"
              )
            }
            continue
          }
          seen[run.key] = (output, result.dataDigest)
        }
        runs.append(run)
      }
    }
    // Summary statistics: one variable per metric and statistic (per component for vectors).
    var order = [(metric: String, statistic: SummaryStatistic)]()
    var infos = [String: MetricInfo]()
    for run in runs {
      for (metric, statistics) in statistics(of: run) {
        for s in statistics where !order.contains(where: { $0.metric == metric && $0.statistic == s }) {
          order.append((metric, s))
        }
      }
      for m in run.result?.metrics ?? [] where (infos[m.info.name]?.width ?? 0) < m.info.width {
        infos[m.info.name] = m.info
      }
    }
    var variables = [RunVariable]()
    for (metric, statistic) in order {
      guard let info = infos[metric] else { continue }
      let w = info.width
      var values = [Double](repeating: .nan, count: runs.count * w)
      for (i, run) in runs.enumerated() {
        guard let m = run.result?.metrics.first(where: { $0.info.name == metric }) else { continue }
        for c in 0..<min(w, m.info.width) {
          let series = (0..<m.samples).map { m.values[$0 * m.info.width + c] }
          values[i * w + c] = statistic.apply(series)
        }
      }
      let axis: (name: String, labels: [String])? =
        info.axis.isEmpty ? nil : (info.axis, info.labels.count == w ? info.labels : (0..<w).map { "\($0)" })
      variables.append(
        RunVariable(
          name: DatasetWriter.metricVariable(metric) + "_" + statistic.suffix, axis: axis, values: values,
          longName: "\(info.longName), \(statistic)", units: info.units,
          description: "\(statistic) of \(metric) over the recorded samples (NaN values skipped)"))
    }

    // CSV: results only (no wall time), so the same sweep gives the same bytes however often
    // it was interrupted.
    var keyOrder = [String]()
    var seenKeys = Set<String>()
    for run in runs { for (k, _) in run.settings where seenKeys.insert(k).inserted { keyOrder.append(k) } }
    let names = DatasetWriter.variableNames(
      for: keyOrder, avoiding: Set(infos.keys.map(DatasetWriter.metricVariable)).union(variables.map(\.name)))
    func quote(_ s: String) -> String {
      s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    var header =
      ["run", "run_id"] + (outputs.count > 1 ? ["folder"] : []) + [
        "task", "status", "steps_done", "ranks", "divergence_step",
      ]
    header += keyOrder.map { names[$0]! }
    for v in variables {
      if let axis = v.axis { header += axis.labels.map { "\(v.name)[\($0)]" } } else { header.append(v.name) }
    }
    header.append("message")
    var csv = header.map(quote).joined(separator: ",") + "\n"
    for (i, run) in runs.enumerated() {
      var cells = [String(run.index), run.runID] + (outputs.count > 1 ? [run.folder ?? ""] : [])
      cells += [
        run.task.map(String.init) ?? "", run.status, String(run.stepsDone), String(run.ranks),
        String(run.divergenceStep),
      ]
      let settings = Dictionary(run.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
      cells += keyOrder.map { settings[$0]?.description ?? "" }
      for v in variables {
        let w = v.axis?.labels.count ?? 1
        for c in 0..<w { cells.append(v.values[i * w + c].isNaN ? "" : formatValue(v.values[i * w + c])) }
      }
      cells.append(run.message)
      csv += cells.map(quote).joined(separator: ",") + "\n"
    }

    // Both files are written beside their names and renamed into place only when both are
    // complete: a full disk leaves the previous summary (or none), never half of one.
    try FileOperations.makeFolder(destination)
    let csvPath = (destination as NSString).appendingPathComponent("summary.csv")
    let h5Path = (destination as NSString).appendingPathComponent("summary.h5")
    let staged = h5Path + ".new"
    unlink(staged)
    do {
      let states = try outputs.map { try SweepState(output: $0) }
      let first = states[0]
      try DatasetWriter.write(
        path: staged, runs: runs,
        options: DatasetOptions(
          attributes: first.attributes(extra: [
            ("folders", .string(outputs.joined(separator: "\n"))),
            ("job-names", .string(jobNames.joined(separator: "\n"))),
          ]) + (outputs.count > 1 ? [("jobs", .string(jobTexts.joined(separator: "\n---\n")))] : []),
          includeSnapshots: false, extra: variables)
      ) { _, _ in ([], []) }
      try FileOperations.writeAtomically(Array(csv.utf8), to: csvPath)
      if rename(staged, h5Path) != 0 { throw StoreError.system("rename \(staged) to", path: h5Path) }
      FileOperations.syncDirectory(of: h5Path)
    } catch {
      unlink(staged)
      throw error
    }
    return (runs.count, runs.filter { $0.status != "completed" })
  }
}
