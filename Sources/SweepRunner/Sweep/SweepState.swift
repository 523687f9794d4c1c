import Foundation
import MeanFieldDiagnostics
import SweepStore

/// What an output folder holds, read without MPI: the current job's runs and the state of each
/// (from the journals, the checkpoints and the locks), the runs of earlier versions of the job,
/// and any damage found. Used by `run` (what to skip), `status`, `aggregate` and the views.
public final class SweepState {
  public let layout: StoreLayout
  public let index: JobIndex
  public let store: StoreIndex
  /// Lock files and what they say.
  public let locks: [(name: String, state: LockState)]
  /// The launches alive now (holding a lock).
  public let liveLaunches: Set<String>

  /// The state of one run.
  public struct Run {
    public var position: Int
    public var status: String
    public var stepsDone: Int
    public var result: RunResult?
    /// Why the run will be recomputed, when its stored result is damaged.
    public var damage: String?
  }

  /// Reads a folder; throws `LaunchError` when it is not an mfsweep/2 output folder. A launch
  /// reading its own folder at its end passes its id: its runs are not running any more.
  public init(output: String, endingLaunch: String? = nil) throws {
    layout = StoreLayout(output: output)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw LaunchError("\(output): no such folder")
    }
    if let problem = SweepState.foreignSchema(output) { throw LaunchError(problem) }
    let read: JobIndex?
    do { read = try JobIndex.read(store: layout.store) } catch { throw LaunchError("\(error)") }
    guard let index = read else {
      throw LaunchError(
        "\(output) is not an mfsweep output folder (no \(StoreLayout(output: output).store)/\(JobIndex.fileName)); run a job into it first"
      )
    }
    self.index = index
    store = try StoreIndex(layout: layout)
    var locks = [(name: String, state: LockState)]()
    for name in FileOperations.list(layout.locks) where name.hasSuffix(".lock") {
      locks.append((name, FolderLock.inspect(path: (layout.locks as NSString).appendingPathComponent(name))))
    }
    self.locks = locks
    liveLaunches = Set(locks.compactMap { if case .held(let h) = $0.state { return h.launch } else { return nil } })
      .subtracting(endingLaunch.map { [$0] } ?? [])
  }

  /// A message when `output` holds results of another schema (mfsweep/1 task files without a
  /// store), else nil.
  public static func foreignSchema(_ output: String) -> String? {
    let layout = StoreLayout(output: output)
    if FileManager.default.fileExists(atPath: (layout.store as NSString).appendingPathComponent(JobIndex.fileName)) {
      return nil
    }
    let tasks = FileOperations.list(output).filter { $0.hasPrefix("task-") && $0.hasSuffix(".h5") }
    guard let first = tasks.first else { return nil }
    let path = (output as NSString).appendingPathComponent(first)
    var schema = "an unknown schema"
    if H5File.isHDF5(path: path), let file = try? H5File.open(path: path, mode: .readOnly),
      case .string(let s)? = try? file.root.attribute("schema")
    {
      schema = "schema \(s)"
    }
    return
      "\(output) holds \(first) of \(schema), written by an earlier version of mfsweep; this version writes and reads schema \(sweepSchema) and cannot extend or read those files. Choose another output folder (the old files stay readable with h5py)"
  }

  /// The runs of the current job in array task `task` of `count` (all runs when nil).
  public func share(task: Int?, count: Int) -> [Int] {
    guard let task else { return Array(index.keys.indices) }
    return SweepPlan(costs: index.costs, taskCount: count).tasks[task]
  }

  /// The task of each run when the sweep is split into `count` tasks.
  public func taskOfRun(count: Int) -> [Int] {
    var out = [Int](repeating: 0, count: index.keys.count)
    for (t, runs) in SweepPlan(costs: index.costs, taskCount: count).tasks.enumerated() {
      for r in runs { out[r] = t }
    }
    return out
  }

  /// The state of run `position` of the current job. `verify` reads its snapshots too.
  public func run(_ position: Int, verify: Bool = false) throws -> Run {
    let key = index.keys[position]
    var damage: String? = nil
    if !(store.resultLocations[key] ?? []).isEmpty {
      if verify {
        let (result, problem) = try store.verifiedResult(key)
        if let result {
          return Run(
            position: position, status: result.status.description, stepsDone: result.stepsDone, result: result,
            damage: nil)
        }
        damage = problem
      } else if let result = try store.result(key) {
        return Run(
          position: position, status: result.status.description, stepsDone: result.stepsDone, result: result,
          damage: nil)
      } else {
        damage = "its result record is damaged"
      }
    }
    if let start = store.starts[key], liveLaunches.contains(start.launch) {
      return Run(
        position: position, status: RunStatus.running.description, stepsDone: start.step, result: nil, damage: damage)
    }
    let checkpoints = CheckpointStore(folder: layout.checkpoints).manifests(key)
    if let newest = checkpoints.valid.first {
      return Run(
        position: position, status: RunStatus.interrupted.description, stepsDone: newest.manifest.step, result: nil,
        damage: damage)
    }
    return Run(
      position: position, status: damage == nil ? RunStatus.pending.description : "damaged", stepsDone: 0, result: nil,
      damage: damage)
  }

  /// Keys with results that the current job does not hold (runs of earlier versions of it).
  public var staleKeys: [RunKey] {
    let current = Set(index.keys)
    return store.committedKeys.filter { !current.contains($0) }.sorted()
  }

  /// The view rows of runs (positions in the current job).
  public func datasetRuns(_ positions: [Int], tasks: [Int]?, verify: Bool, folder: String? = nil) throws -> [DatasetRun]
  {
    try positions.map { p in
      let state = try run(p, verify: verify)
      let r = state.result
      var message = r?.message ?? ""
      if let damage = state.damage { message = "stored result damaged (\(damage)); a rerun recomputes it" }
      return DatasetRun(
        index: p, runID: index.runIDs[p], key: index.keys[p], task: tasks?[p], folder: folder, status: state.status,
        stepsDone: state.stepsDone, wallSeconds: r?.wallSeconds ?? 0, ranks: r?.ranks ?? 0,
        divergenceStep: r?.divergenceStep ?? -1, message: message, settings: index.settings.settings(of: p),
        result: r.map(Self.described))
    }
  }

  /// The view rows of runs that earlier versions of the job completed (not in the current job).
  public func staleDatasetRuns(folder: String? = nil) throws -> [DatasetRun] {
    var out = [DatasetRun]()
    // The settings of a run no longer in the job are in the archived index that listed it.
    var archived = [RunKey: [(key: String, value: SettingValue)]]()
    for old in JobIndex.archive(store: layout.store) {
      for (i, key) in old.keys.enumerated() where archived[key] == nil { archived[key] = old.settings.settings(of: i) }
    }
    for (i, key) in staleKeys.enumerated() {
      guard let r = try store.result(key) else { continue }
      out.append(
        DatasetRun(
          index: -1 - i, runID: r.runID, key: key, task: nil, folder: folder, status: r.status.description,
          stepsDone: r.stepsDone, wallSeconds: r.wallSeconds, ranks: r.ranks, divergenceStep: r.divergenceStep,
          message: "not in the current job (kept from an earlier version of it)"
            + (r.message.isEmpty ? "" : "; " + r.message),
          settings: archived[key] ?? [], result: Self.described(r)))
    }
    return out
  }

  /// A result with its metrics' names, units and descriptions from their definitions.
  static func described(_ r: RunResult) -> RunResult {
    var out = r
    for i in out.metrics.indices {
      guard let metric = Metric(rawValue: out.metrics[i].info.name) else { continue }
      let d = metric.definition
      out.metrics[i].info.longName = d.longName
      out.metrics[i].info.units = d.units
      out.metrics[i].info.description = d.description
    }
    return out
  }

  /// Root attributes of a view.
  public func attributes(extra: [(String, H5Value)]) -> [(String, H5Value)] {
    [
      ("schema", .string(sweepSchema)),
      ("tool-version", .string(ToolVersion.current)),
      ("title", .string("mfsweep results of job \(index.jobName)")),
      ("job-name", .string(index.jobName)),
      ("job-file", .string(index.jobFile)),
      ("job", .string(index.jobText)),
      ("swept-keys", .string(index.sweptKeys.joined(separator: " "))),
      ("created", .string(ISO8601DateFormatter().string(from: Date()))),
    ] + extra
  }

  /// Writes a view of `runs` to `path`, with their snapshots when `snapshots`.
  public func writeView(
    path: String, runs: [DatasetRun], attributes extra: [(String, H5Value)], snapshots: Bool,
    summaries: [RunVariable] = []
  ) throws {
    try DatasetWriter.write(
      path: path, runs: runs,
      options: DatasetOptions(attributes: attributes(extra: extra), includeSnapshots: snapshots, extra: summaries)
    ) { i, k in
      guard let result = runs[i].result else { return ([], []) }
      return try store.snapshot(of: result, index: k)
    }
  }
}
