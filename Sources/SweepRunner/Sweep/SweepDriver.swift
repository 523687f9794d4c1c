import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import ParallelRuntime
import SweepStore

/// The tool's version, written into every output file.
public enum ToolVersion {
  public static let current = "0.1.0"
}

/// Options of `mfsweep run`.
public struct RunOptions: Sendable {
  /// Overrides the job's output folder.
  public var output: String?
  /// This launch's array task and the task count.
  public var arrayTask: Int
  public var arrayCount: Int

  public init(output: String? = nil, arrayTask: Int = 0, arrayCount: Int = 1) {
    self.output = output
    self.arrayTask = arrayTask
    self.arrayCount = arrayCount
  }
}

/// A problem that stops a launch before or outside any run (bad world size, foreign output
/// file, ...). The message says what to do.
public struct LaunchError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// One launch of a task's share of a sweep over all ranks of the world.
public final class SweepDriver {
  public let job: Job
  public let options: RunOptions
  public let world: MPICommunicator

  public init(job: Job, options: RunOptions, world: MPICommunicator) {
    self.job = job
    self.options = options
    self.world = world
  }



  /// The output folder.
  public var outputFolder: String { options.output ?? job.output }

  /// The task file path.
  public var taskFile: String {
    (outputFolder as NSString).appendingPathComponent(Self.taskFileName(task: options.arrayTask, count: options.arrayCount))
  }

  /// `task-0003-of-0016.h5`.
  public static func taskFileName(task: Int, count: Int) -> String {
    String(format: "task-%04d-of-%04d.h5", task, count)
  }

  /// The runs of array task `task` of `count`, then their split over the rank groups of a
  /// world of `worldSize` ranks.
  public static func plan(job: Job, task: Int, count: Int, worldSize: Int) -> (taskRuns: [Int], groups: [[Int]]) {
    let costs = job.runs.map(\.configuration.cost)
    let share = SweepPlan(costs: costs, taskCount: count).tasks[task]
    let groupCount = max(1, worldSize / job.parallel.ranksPerRun)
    return (share, SweepPlan.longestFirst(costs: costs, items: share, bins: groupCount))
  }

  /// What a launch did.
  public struct Result: Sendable {
    /// The runs this rank's group ran (or resumed), with their outcomes.
    public var outcomes: [(RunSpec, RunOutcome)]
    /// Whether any group stopped early on a signal or stop file (agreed by all ranks).
    public var interrupted: Bool
    /// The signal that stopped it, when known on this rank.
    public var signal: Int32?
  }

  /// The stop files this launch watches.
  public var stopFilePaths: [String] {
    let folder = outputFolder as NSString
    return [folder.appendingPathComponent("STOP"), folder.appendingPathComponent(String(format: "STOP-task-%04d", options.arrayTask))]
  }

  /// Set when the launch starts.
  var stopFiles = StopFiles(paths: [])

  /// Runs the task. Collective over the world.
  @discardableResult
  public func run(log: @escaping (String) -> Void) throws -> Result {
    let g = job.parallel.ranksPerRun
    guard world.size % g == 0 else {
      throw LaunchError(
        "the world has \(world.size) ranks, which is not a multiple of parallel.ranks-per-run = \(g); launch with a multiple of \(g) ranks")
    }
    Interruption.install()
    stopFiles = StopFiles(paths: stopFilePaths, launchStart: Date())
    let (taskRuns, groups) = Self.plan(job: job, task: options.arrayTask, count: options.arrayCount, worldSize: world.size)
    let groupIndex = world.rank / g
    let group = try world.split(color: groupIndex, key: world.rank)
    let node = try world.splitByNode()
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let threads = job.parallel.threads ?? max(1, cores / max(1, node.size))
    BLAS.setThreadCount(1)

    // Output folder and file: rank 0 decides, everyone follows.
    let path = taskFile
    // 1: the file exists, 0: it does not, -1: the folder cannot be made (every rank learns it).
    var exists = 0.0
    var folderProblem = ""
    if world.rank == 0 {
      do {
        exists = FileManager.default.fileExists(atPath: path) ? 1 : 0
        if exists > 0, let problem = StorageProblem.check(outputFolder, needing: 0) {
          // Never call a file damaged because its folder cannot be written.
          folderProblem = "cannot resume into \(path): \(problem) (mfsweep status and mfsweep aggregate --into DIR read the results there)"
          exists = -1
        } else if exists == 0 {
          // Before creating anything: the folder can be written and holds the task's results.
          let needed = taskRuns.reduce(0.0) {
            $0 + job.runs[$1].configuration.resources(ranksPerRun: g, cacheBytes: Double(job.parallel.cacheMegabytes) * 1_048_576).fileBytes
          } + 1_048_576
          if let problem = StorageProblem.check(outputFolder, needing: needed) {
            if case .full(_, let free) = problem {
              folderProblem =
                "this task's \(taskRuns.count) runs need about \(formatBytes(needed)) in \(outputFolder), which has \(formatBytes(free)) free: free space, choose another output folder, or save fewer snapshots (diagnostics.snapshots-every)"
            } else {
              folderProblem = "\(problem)"
            }
            exists = -1
          } else {
            try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
          }
        }
      } catch {
        folderProblem = StorageProblem.explain(error, folder: outputFolder).map { "cannot create the output folder: \($0)" }
          ?? "cannot create the output folder \(outputFolder): \(error.localizedDescription)"
        exists = -1
      }
    }
    try withUnsafeMutablePointer(to: &exists) { try world.broadcast(UnsafeMutableBufferPointer(start: $0, count: 1), root: 0) }
    if exists < 0 {
      throw LaunchError(folderProblem.isEmpty ? "the output folder \(outputFolder) cannot be used" : folderProblem)
    }
    let sha = SHA256.hex(job.text.utf8)
    let file: SweepFile
    if exists > 0 {
      guard H5File.isHDF5(path: path) else {
        throw LaunchError("\(path) exists but is not a readable HDF5 file (truncated?); move it away to rerun this task from scratch")
      }
      do {
        file = try SweepFile.open(path: path, communicator: world)
      } catch {
        throw LaunchError(
          "\(path) exists but is not a readable HDF5 file (\(error)); it may be truncated or damaged: move it away to rerun this task from scratch")
      }
      let stored = try file.file.root.attribute("job-sha256")
      guard case .string(let storedSHA)? = stored, storedSHA == sha else {
        try? file.close(mirrorStatus: false)
        throw LaunchError(
          "\(path) holds the results of a different job file; choose another output folder with --output, or remove the old results")
      }
    } else {
      file = try SweepFile.create(
        path: path, layout: makeLayout(taskRuns: taskRuns, blockSize: job.parallel.blockSize, sha: sha), communicator: world)
    }
    let table = try file.readStatusTable()
    if world.rank == 0 && exists > 0 {
      let done = table.filter { $0.status.isFinal }.count
      log("resuming \(path): \(done) of \(table.count) runs already finished")
    }

    let leader = group.rank == 0
    let prefix = world.size == 1 ? "" : "[group \(groupIndex)] "
    // Under mpirun standard output is a pseudo-terminal shared by the ranks: no live lines there.
    let underLauncher = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
    let progress = leader ? ProgressReporter(prefix: prefix, alone: world.size == 1 && !underLauncher, log: log) : nil
    let launchStart = MPIEnvironment.wallTime
    /// The task's progress from the status table in the file (rank 0 reads it; other groups
    /// write their rows independently).
    func overallProgress() -> String? {
      guard let now = try? file.readStatusTable() else { return nil }
      let done = now.filter { $0.status.isFinal }.count
      let elapsed = MPIEnvironment.wallTime - launchStart
      let totalCost = taskRuns.reduce(0.0) { $0 + job.runs[$1].configuration.cost }
      let doneCost = zip(taskRuns, now).reduce(0.0) { $0 + ($1.1.status.isFinal ? job.runs[$1.0].configuration.cost : 0) }
      let eta = doneCost > 0 ? elapsed * (totalCost - doneCost) / doneCost : 0
      let diverged = now.filter { $0.status == .diverged }.count, failed = now.filter { $0.status == .failed }.count
      return "sweep: \(done)/\(now.count) runs finished in this task (\(diverged) diverged, \(failed) failed), elapsed \(formatDuration(elapsed))"
        + (doneCost > 0 ? ", ETA \(formatDuration(eta))" : "")
    }
    if world.rank == 0 { progress?.overall = overallProgress }
    var outcomes = [(RunSpec, RunOutcome)]()
    var interrupted = false
    let mine = groupIndex < groups.count ? groups[groupIndex] : []
    for index in mine {
      let run = job.runs[index]
      guard let slot = file.slot(of: run.id) else { continue }
      if table[slot].status.isFinal { continue }
      if leader {
        try file.writeStatus(
          slot: slot,
          StatusRow(status: .running, stepsDone: table[slot].stepsDone, wallSeconds: table[slot].wallSeconds,
                    ranks: group.size, divergenceStep: -1, message: ""))
        log(prefix + "\(run.id) started \(describe(run))")
      }
      progress?.startRun()
      let executor = RunExecutor(
        run: run, slot: slot, group: group, file: file, blockSize: job.parallel.blockSize, threads: threads,
        cacheBudget: job.parallel.cacheMegabytes << 20, checkpoint: job.checkpoint, stopFiles: stopFiles,
        progress: progress, earlierWall: table[slot].wallSeconds)
      var outcome: RunOutcome
      do {
        outcome = try executor.execute()
      } catch {
        outcome = RunOutcome(
          status: .failed, stepsDone: 0, wallSeconds: 0, divergence: nil, message: "\(error)", finalMetrics: [], resumedFrom: nil)
      }
      progress?.endLine()
      if leader {
        try file.writeStatus(
          slot: slot,
          StatusRow(
            status: outcome.status, stepsDone: outcome.stepsDone, wallSeconds: outcome.wallSeconds, ranks: group.size,
            divergenceStep: outcome.divergence?.step ?? -1, message: outcome.message))
        let finals = outcome.finalMetrics.map { "\($0.0.rawValue) \($0.1.first.map { String(format: "%.6g", $0) } ?? "-")" }
        let resumed = outcome.resumedFrom.map { " (resumed from step \($0))" } ?? ""
        log(prefix + "\(run.id) \(outcome.status) after \(outcome.stepsDone) steps in \(String(format: "%.2f", outcome.wallSeconds)) s\(resumed)  \(finals.joined(separator: "  "))\(outcome.message.isEmpty ? "" : "  (\(outcome.message))")")
      }
      outcomes.append((run, outcome))
      if world.rank == 0, let line = overallProgress() { log(line) }
      if outcome.status == .interrupted {
        interrupted = true
        break
      }
    }
    try file.close()
    let anyInterrupted = try world.any(interrupted)
    if anyInterrupted && world.rank == 0 && Interruption.receivedSignal == nil {
      for name in stopFiles.consume() { log("stop file \(name) consumed (renamed to \(name).consumed); the next launch runs") }
    }
    return Result(outcomes: outcomes, interrupted: anyInterrupted, signal: Interruption.receivedSignal)
  }

  func describe(_ run: RunSpec) -> String {
    run.overrides.isEmpty ? "" : "(" + run.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
  }

  /// The file layout of this task's runs.
  func makeLayout(taskRuns: [Int], blockSize: Int, sha: String) -> FileLayout {
    let formatter = ISO8601DateFormatter()
    let attributes: [(String, H5Value)] = [
      ("schema", .string(sweepSchema)),
      ("tool-version", .string(ToolVersion.current)),
      ("job-name", .string(job.name)),
      ("job-file", .string(job.file)),
      ("job", .string(job.text)),
      ("job-sha256", .string(sha)),
      ("created", .string(formatter.string(from: Date()))),
      ("world-size", .int(Int64(world.size))),
      ("ranks-per-run", .int(Int64(job.parallel.ranksPerRun))),
      ("block-size", .int(Int64(blockSize))),
      ("array-task", .int(Int64(options.arrayTask))),
      ("array-count", .int(Int64(options.arrayCount))),
      ("runs-in-file", .int(Int64(taskRuns.count))),
      ("runs-in-sweep", .int(Int64(job.runs.count))),
      ("swept-keys", .string(job.sweptKeys.joined(separator: " "))),
    ]
    var runs = [RunLayout]()
    for index in taskRuns {
      let run = job.runs[index]
      let c = run.configuration
      let samples = c.diagnostics.sampleSteps(totalSteps: c.steps)
      let snapshots = c.diagnostics.snapshotSteps(totalSteps: c.steps)
      let eta = c.dynamics.timeStep
      var attrs: [(String, H5Value)] = [
        ("run-index", .int(Int64(run.index))), ("run-id", .string(run.id)), ("seed", .int(Int64(c.seed))),
        ("particles", .int(Int64(c.particles))), ("dimension", .int(Int64(c.dimension))),
        ("steps", .int(Int64(c.steps))), ("time-step", .double(eta)),
      ]
      for (key, value) in run.parameters where !attrs.contains(where: { $0.0 == key }) {
        attrs.append((key, h5Value(value)))
      }
      runs.append(
        RunLayout(
          index: run.index, id: run.id, attributes: attrs, sampleSteps: samples,
          sampleTimes: samples.map { Double($0) * eta },
          metrics: c.diagnostics.metrics.map { ($0.rawValue, $0.width(dimension: c.dimension, basins: c.diagnostics.basinCount)) },
          snapshotSteps: snapshots, snapshotTimes: snapshots.map { Double($0) * eta },
          particles: c.particles, dimension: c.dimension, blockSize: min(blockSize, c.particles),
          hasVelocities: c.dynamics.hasVelocities, referenceAxes: c.reference?.snapshotAxes))
    }
    /// The swept keys as columns over the given runs (numbers when every value is one).
    func columns(_ indices: [Int]) -> [(name: String, column: GridColumn)] {
      job.sweptKeys.enumerated().map { k, key in
        let values = indices.map { job.runs[$0].overrides[k].value }
        if values.allSatisfy({ $0.number != nil }) { return (key, .numbers(values.map { $0.number! })) }
        return (key, .strings(values.map(\.description)))
      }
    }
    return FileLayout(
      attributes: attributes, runs: runs, grid: columns(taskRuns), sweep: columns(Array(job.runs.indices)),
      sweepRunCount: job.runs.count)
  }
}

func h5Value(_ value: ParameterValue) -> H5Value {
  switch value {
  case .int(let v): return .int(Int64(v))
  case .double(let v): return .double(v)
  case .bool(let b): return .int(b ? 1 : 0)
  case .string(let s): return .string(s)
  case .list(let l):
    if l.allSatisfy({ $0.number != nil }) { return .doubles(l.map { $0.number! }) }
    return .string(value.description)
  }
}
