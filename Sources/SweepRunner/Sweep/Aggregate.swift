import Foundation
import SweepStore

/// The task files of an output folder, read without MPI.
public struct OutputFolder {
  /// One readable task file.
  public struct Task {
    public var path: String
    public var name: String
    public var task: Int
    public var count: Int
    public var runIndices: [Int]
    public var runIDs: [String]
    public var status: [StatusRow]
    public var reader: SweepFileReader
  }

  public var folder: String
  public var tasks: [Task]
  /// Files that exist but cannot be read, with the reason.
  public var unreadable: [(name: String, message: String)]
  /// Runs in the whole sweep and the array-task count, from the readable files.
  public var sweepRunCount: Int
  public var arrayCount: Int

  /// Scans `folder` for `task-*.h5` files. Throws only when the folder or every file is unusable.
  public static func scan(_ folder: String) throws -> OutputFolder {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw LaunchError("\(folder): no such folder")
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: folder)
      .filter { $0.hasPrefix("task-") && $0.hasSuffix(".h5") }.sorted()
    guard !names.isEmpty else { throw LaunchError("\(folder) holds no task files (task-NNNN-of-NNNN.h5)") }
    var tasks = [Task](), unreadable = [(name: String, message: String)]()
    var runCount = 0, arrayCount = 0
    for name in names {
      let path = (folder as NSString).appendingPathComponent(name)
      do {
        let reader = try SweepFileReader(path: path)
        let task = Int(try reader.attribute("array-task")?.doubleValue ?? 0)
        let count = Int(try reader.attribute("array-count")?.doubleValue ?? 1)
        runCount = max(runCount, Int(try reader.attribute("runs-in-sweep")?.doubleValue ?? 0))
        arrayCount = max(arrayCount, count)
        tasks.append(
          Task(
            path: path, name: name, task: task, count: count, runIndices: try reader.runIndices(),
            runIDs: try reader.runIDs(), status: try reader.statusTable(), reader: reader))
      } catch {
        unreadable.append((name, "\(error)"))
      }
    }
    if tasks.isEmpty {
      throw LaunchError("no task file in \(folder) is readable: " + unreadable.map { "\($0.name): \($0.message)" }.joined(separator: "; "))
    }
    return OutputFolder(folder: folder, tasks: tasks, unreadable: unreadable, sweepRunCount: runCount, arrayCount: arrayCount)
  }

  /// Counts of each status in a task.
  static func counts(_ rows: [StatusRow]) -> [RunStatus: Int] {
    var c = [RunStatus: Int]()
    for row in rows { c[row.status, default: 0] += 1 }
    return c
  }

  /// The text of `mfsweep status`, and whether every run of the sweep has finished.
  /// What `status --check` reports.
  public enum SweepState: Sendable, Equatable {
    /// Every run finished (completed, diverged or failed).
    case complete
    /// Runs are pending, interrupted or were running: the same launch resumes them.
    case resumable
    /// A task file exists but cannot be read.
    case damaged
  }

  /// The status table of every array task (or of one) and the state it adds up to.
  public func statusReport(task only: Int? = nil) -> (text: String, state: SweepState) {
    let order: [RunStatus] = [.completed, .running, .interrupted, .pending, .diverged, .failed]
    var rows = [[String]]()
    var total = [RunStatus: Int]()
    var damaged = false, missing = false
    let byTask = Dictionary(tasks.map { ($0.task, $0) }, uniquingKeysWith: { a, _ in a })
    let shown = only.map { [$0] } ?? Array(0..<max(arrayCount, 1))
    var runs = 0
    for t in shown {
      if let task = byTask[t] {
        let c = Self.counts(task.status)
        for (k, v) in c { total[k, default: 0] += v }
        runs += task.runIndices.count
        rows.append([String(t), task.name] + order.map { String(c[$0] ?? 0) })
      } else {
        let name = String(format: "task-%04d-of-%04d.h5", t, arrayCount)
        if let bad = unreadable.first(where: { $0.name == name }) {
          damaged = true
          rows.append([String(t), name + " (unreadable: \(bad.message))"] + order.map { _ in "-" })
        } else {
          missing = true
          rows.append([String(t), "(no file yet)"] + order.map { _ in "-" })
        }
      }
    }
    if only == nil {
      for bad in unreadable where !rows.contains(where: { $0[1].hasPrefix(bad.name) }) {
        damaged = true
        rows.append(["?", bad.name + " (unreadable: \(bad.message))"] + order.map { _ in "-" })
      }
      rows.append(["all", "\(tasks.count) of \(arrayCount) task file(s) readable"] + order.map { String(total[$0] ?? 0) })
      runs = sweepRunCount
    }
    let finished = (total[.completed] ?? 0) + (total[.diverged] ?? 0) + (total[.failed] ?? 0)
    let state: SweepState = damaged ? .damaged : (finished == runs && !missing ? .complete : .resumable)
    let scope = only.map { "array task \($0): " } ?? ""
    var text = "\(folder): \(scope)\(only == nil ? "\(sweepRunCount) runs in the sweep" : "\(runs) runs"), \(finished) finished\n"
    text += TextTable.render(header: ["task", "file"] + order.map(\.description), rows: rows)
    return (text, state)
  }

  /// One row of the summary table per run of the sweep.
  public struct Row {
    public var index: Int
    public var id: String
    public var task: Int?
    public var status: String
    public var stepsDone: Int
    public var wallSeconds: Double
    public var ranks: Int
    public var divergenceStep: Int
    public var message: String
    public var parameters: [String: String]
    public var metrics: [String: Double]
  }

  /// Builds the summary rows: every run of the sweep, `missing` when no readable file has it.
  public func summaryRows() throws -> (rows: [Row], parameterColumns: [String], metricColumns: [String]) {
    var sweepColumns = [(name: String, values: [String])]()
    for task in tasks {
      sweepColumns = try task.reader.sweepColumns()
      if !sweepColumns.isEmpty { break }
    }
    var rows = (0..<sweepRunCount).map { i in
      Row(
        index: i, id: RunSpec.id(for: i), task: nil, status: "missing", stepsDone: 0, wallSeconds: 0, ranks: 0,
        divergenceStep: -1, message: "",
        parameters: Dictionary(uniqueKeysWithValues: sweepColumns.map { ($0.name, i < $0.values.count ? $0.values[i] : "") }),
        metrics: [:])
    }
    var metricNames = Set<String>()
    for task in tasks.sorted(by: { $0.task < $1.task }) {
      for (slot, index) in task.runIndices.enumerated() where index < rows.count {
        let status = task.status[slot]
        // A run in several files (a changed task count): a finished record wins.
        if rows[index].status != "missing" && !status.status.isFinal { continue }
        var row = rows[index]
        row.task = task.task
        row.status = status.status.description
        row.stepsDone = status.stepsDone
        row.wallSeconds = status.wallSeconds
        row.ranks = status.ranks
        row.divergenceStep = status.divergenceStep
        row.message = status.message
        row.metrics = [:]
        let id = task.runIDs[slot]
        for name in try task.reader.metricNames(run: id) {
          let ds = try task.reader.file.root.openDataset("runs/\(id)/metrics/\(name)")
          let values = try ds.readDoubles()
          let width = ds.shape.count > 1 ? ds.shape[1] : 1
          let samples = values.count / max(1, width)
          for c in 0..<width {
            let series = (0..<samples).map { values[$0 * width + c] }.filter { !$0.isNaN }
            let label = width == 1 ? name : "\(name)[\(c)]"
            row.metrics["\(label).final"] = series.last ?? .nan
            row.metrics["\(label).best"] = series.min() ?? .nan
            metricNames.insert("\(label).final")
            metricNames.insert("\(label).best")
          }
        }
        rows[index] = row
      }
    }
    return (rows, sweepColumns.map(\.name), metricNames.sorted())
  }

  /// Writes `summary.csv` and `summary.h5`; returns the runs that are missing, failed, diverged
  /// or unfinished.
  @discardableResult
  /// Writes summary.csv and summary.h5 into `destination` (default: the output folder).
  public func writeSummary(into destination: String? = nil) throws -> [Row] {
    let folder = destination ?? self.folder
    let (rows, parameters, metrics) = try summaryRows()
    // The CSV holds results only (no wall times), so the same sweep gives a byte-identical CSV
    // however often it was interrupted; summary.h5 adds the wall time.
    let fixed = ["run-index", "run-id", "task", "status", "steps-done", "ranks", "divergence-step"]
    // CSV: values that read back exactly; quoted text where needed.
    func quote(_ s: String) -> String {
      s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    var csv = (fixed + parameters + metrics + ["message"]).map(quote).joined(separator: ",") + "\n"
    for r in rows {
      var cells = [String(r.index), r.id, r.task.map(String.init) ?? "", r.status, String(r.stepsDone), String(r.ranks), String(r.divergenceStep)]
      cells += parameters.map { r.parameters[$0] ?? "" }
      cells += metrics.map { r.metrics[$0].map(formatValue) ?? "" }
      cells.append(r.message)
      csv += cells.map(quote).joined(separator: ",") + "\n"
    }
    // Both files are written beside their names and renamed into place only when both are
    // complete: a full disk leaves the previous summary (or none), never half of one.
    let csvPath = (folder as NSString).appendingPathComponent("summary.csv")
    let h5Path = (folder as NSString).appendingPathComponent("summary.h5")
    let csvTemporary = csvPath + ".partial", temporary = h5Path + ".partial"
    try? FileManager.default.removeItem(atPath: temporary)
    do {
      try Data(csv.utf8).write(to: URL(fileURLWithPath: csvTemporary))
      // HDF5: one dataset per column, strings as variable-length UTF-8.
      let file = try H5File.createReplacing(path: temporary)
      let root = file.root
      try root.setAttribute("schema", .string("mfsweep-summary/1"))
      try root.setAttribute("runs", .int(Int64(rows.count)))
      try root.setAttribute("columns", .string((fixed + ["wall-seconds"] + parameters + metrics + ["message"]).joined(separator: " ")))
      try root.createDataset("run-index", type: .int64, shape: [rows.count]).write(rows.map { Int64($0.index) })
      try root.createStringDataset("run-id", values: rows.map(\.id))
      try root.createDataset("task", type: .int64, shape: [rows.count]).write(rows.map { Int64($0.task ?? -1) })
      try root.createStringDataset("status", values: rows.map(\.status))
      try root.createDataset("steps-done", type: .int64, shape: [rows.count]).write(rows.map { Int64($0.stepsDone) })
      try root.createDataset("wall-seconds", type: .float64, shape: [rows.count]).write(rows.map(\.wallSeconds))
      try root.createDataset("ranks", type: .int64, shape: [rows.count]).write(rows.map { Int64($0.ranks) })
      try root.createDataset("divergence-step", type: .int64, shape: [rows.count]).write(rows.map { Int64($0.divergenceStep) })
      for p in parameters {
        let texts = rows.map { $0.parameters[p] ?? "" }
        let numbers = texts.map { Double($0) }
        if numbers.allSatisfy({ $0 != nil }) {
          try root.createDataset(p, type: .float64, shape: [rows.count]).write(numbers.map { $0! })
        } else {
          try root.createStringDataset(p, values: texts)
        }
      }
      for m in metrics {
        try root.createDataset(m, type: .float64, shape: [rows.count]).write(rows.map { $0.metrics[m] ?? .nan })
      }
      try root.createStringDataset("message", values: rows.map(\.message))
      try file.close()
      for (from, to) in [(csvTemporary, csvPath), (temporary, h5Path)] where rename(from, to) != 0 {
        throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "cannot rename \(from) to \(to)"])
      }
    } catch {
      try? FileManager.default.removeItem(atPath: csvTemporary)
      try? FileManager.default.removeItem(atPath: temporary)
      throw error
    }
    return rows.filter { $0.status != "completed" }
  }
}
