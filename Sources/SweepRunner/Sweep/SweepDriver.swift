import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import ParallelRuntime
import SweepStore

/// The tool's version, written into every output file.
public enum ToolVersion {
  public static let current = "0.2.0"
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

/// A problem that stops a launch before or outside any run (bad world size, another job's
/// folder, a folder in use, a full disk, ...). The message says what to do.
public struct LaunchError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// One launch of a task's share of a sweep over all ranks of the world, generic over the
/// communicator (MPI in the program, `SerialCommunicator` in unit tests).
public final class SweepDriver<C: Communicator> {
  public let job: Job
  public let options: RunOptions
  public let world: C

  public init(job: Job, options: RunOptions, world: C) {
    self.job = job
    self.options = options
    self.world = world
  }

  /// The output folder.
  public var outputFolder: String { options.output ?? job.output }
  public var layout: StoreLayout { StoreLayout(output: outputFolder) }

  /// The task's view, `OUT/task-0003-of-0016.h5`.
  public var taskView: String { layout.taskView(task: options.arrayTask, count: options.arrayCount) }

  /// What a launch did.
  public struct Result: Sendable {
    /// The runs this rank's group ran (or resumed), with their outcomes.
    public var outcomes: [(RunSpec, RunOutcome)]
    /// Whether any group stopped early on a signal or stop file (agreed by all ranks).
    public var interrupted: Bool
    /// The signal that stopped it, when known on this rank.
    public var signal: Int32?
    /// A storage failure that stopped the launch (agreed by all ranks), with its message.
    public var storageFailure: String?
    /// The task's runs and their states after the launch (rank 0 only).
    public var table: String
  }

  /// The stop files this launch watches.
  public var stopFilePaths: [String] {
    let folder = outputFolder as NSString
    return [
      folder.appendingPathComponent("STOP"),
      folder.appendingPathComponent(String(format: "STOP-task-%04d", options.arrayTask)),
    ]
  }

  /// What rank 0 decided before any run starts (broadcast to every rank).
  struct Preparation {
    var problem: String = ""
    var launch: String = ""
    /// Run indices (in the job) still to run.
    var toRun: [Int] = []

    func encoded() -> [UInt8] {
      var w = ByteWriter()
      w.string(problem)
      w.string(launch)
      w.ints(toRun)
      return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> Preparation {
      var r = ByteReader(bytes, what: "launch plan")
      return Preparation(problem: try r.string(), launch: try r.string(), toRun: try r.ints())
    }
  }

  /// A new launch id: UTC time and 32 random bits.
  static func newLaunchID() -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    return f.string(from: Date()) + "-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
  }

  /// Rank 0's checks and preparation of the folder. Returns the lock it holds for the launch.
  func prepare(taskRuns: [Int], log: (String) -> Void) -> (Preparation, FolderLock?) {
    var p = Preparation()
    let output = outputFolder
    let layout = self.layout
    var lock: FolderLock? = nil
    do {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
        throw LaunchError("\(output) is a file, not a folder: choose another output folder")
      }
      if let foreign = SweepState.foreignSchema(output) { throw LaunchError(foreign) }
      var previous: JobIndex? = nil
      do { previous = try JobIndex.read(store: layout.store) } catch {
        log("warning: \(error); it is rewritten from this job (no result is affected)")
      }
      if let previous, previous.jobName != job.name {
        throw LaunchError(
          "\(output) holds the results of job '\(previous.jobName)' (\(previous.jobFile)); this job is '\(job.name)'. Choose another output folder (--output), or name this job '\(previous.jobName)' to extend those results"
        )
      }
      // Space for this task's runs (journals and checkpoints), before anything is created.
      let pendingBytes = taskRuns.reduce(0.0) {
        $0 + job.runs[$1].configuration.resources(ranksPerRun: job.parallel.ranksPerRun, cacheBytes: 0).fileBytes
      }
      if let problem = StorageProblem.check(output, needing: min(pendingBytes, 1e15) + 1_048_576) {
        if case .full(_, let free) = problem {
          throw LaunchError(
            "this task's \(taskRuns.count) runs need up to \(formatBytes(pendingBytes)) in \(output), which has \(formatBytes(free)) free: free space, choose another output folder, or save fewer snapshots (diagnostics.snapshots-every)"
          )
        }
        throw LaunchError("\(problem)")
      }
      try FileOperations.makeFolder(layout.store)
      p.launch = Self.newLaunchID()
      let holder = LockHolder(
        host: hostName(), pid: getpid(), started: ISO8601DateFormatter().string(from: Date()),
        heartbeat: Date().timeIntervalSince1970, launch: p.launch, arrayTask: options.arrayTask,
        arrayCount: options.arrayCount)
      // Another partition of the grid running now: refused before this launch takes a lock.
      let ownLock = layout.lockPath(task: options.arrayTask, count: options.arrayCount)
      for name in FileOperations.list(layout.locks) where name.hasSuffix(".lock") {
        let path = (layout.locks as NSString).appendingPathComponent(name)
        if path == ownLock { continue }
        // (A holder that cannot be read yet, count −1, is not taken for another partition.)
        if case .held(let h) = FolderLock.inspect(path: path), h.arrayCount >= 1, h.arrayCount != options.arrayCount {
          throw LaunchError(
            "\(output) is being written by task \(h.arrayTask) of \(h.arrayCount) (\(h.summary)); a launch split into \(options.arrayCount) task(s) cannot run beside it: wait for it, or use the same --array-count"
          )
        }
      }
      do {
        lock = try FolderLock.acquire(path: ownLock, holder: holder)
      } catch let error as LockError {
        throw LaunchError(
          "\(output) (task \(options.arrayTask) of \(options.arrayCount)) is \(error): wait for it to finish, or stop it (touch \((output as NSString).appendingPathComponent("STOP"))) and run again"
        )
      }
      // The job index first (atomically): status and aggregate read the current job from it.
      try job.makeIndex(created: ISO8601DateFormatter().string(from: Date())).write(store: layout.store)
      let state = try SweepState(output: output)
      var kept = 0
      var damaged = [String]()
      for i in taskRuns {
        let run = try state.run(i, verify: true)
        if run.result?.status.isFinal == true {
          kept += 1
        } else {
          p.toRun.append(i)
          if let damage = run.damage { damaged.append("\(job.runs[i].id): \(damage)") }
        }
      }
      for d in state.store.damage where d.key == nil { log("warning: store damage: \(d)") }
      for d in damaged { log("warning: \(d); it is run again") }
      let stale = state.staleKeys.count
      var line = "\(taskRuns.count) runs in this task: \(kept) already finished (kept), \(p.toRun.count) to run"
      if stale > 0 {
        line +=
          "; \(stale) finished run(s) of earlier versions of this job are kept in \(layout.store) but are not part of it"
      }
      log(line)
    } catch let error as LaunchError {
      p.problem = error.message
    } catch let error as StoreError {
      p.problem = StorageProblem.describe(error, folder: output)
    } catch {
      p.problem = "cannot prepare \(output): \(error)"
    }
    if !p.problem.isEmpty {
      lock?.release()
      lock = nil
    }
    return (p, lock)
  }

  /// Runs the task. Collective over the world.
  @discardableResult
  public func run(log: @escaping (String) -> Void) throws -> Result {
    let g = job.parallel.ranksPerRun
    guard world.size % g == 0 else {
      throw LaunchError(
        "the world has \(world.size) ranks, which is not a multiple of parallel.ranks-per-run = \(g); launch with a multiple of \(g) ranks"
      )
    }
    try BlockSplitSetting.check()
    Interruption.install()
    let stopFiles = StopFiles(paths: stopFilePaths, launchStart: Date())
    let (taskRuns, groups) = SweepPlan.plan(
      job: job, task: options.arrayTask, count: options.arrayCount, worldSize: world.size)

    // Rank 0 decides, everyone follows (Open MPI deadlocks when some ranks fail alone).
    var lock: FolderLock? = nil
    var preparation = Preparation()
    if world.rank == 0 { (preparation, lock) = prepare(taskRuns: taskRuns, log: log) }
    preparation = try Preparation.decode(try world.broadcast(preparation.encoded(), root: 0))
    if !preparation.problem.isEmpty { throw LaunchError(preparation.problem) }
    defer { lock?.release() }
    let toRun = Set(preparation.toRun)

    let groupIndex = world.rank / g
    let group = try world.split(color: groupIndex, key: world.rank)
    let worldRanks = try group.allGather([Double(world.rank)]).map { Int($0[0]) }
    let node = try world.splitByNode()
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let threads = job.parallel.threads ?? max(1, cores / max(1, node.size))
    BLAS.setThreadCount(1)
    try world.openAbortChannel()
    defer { world.closeAbortChannel() }

    let journal = JournalWriter(
      path: layout.journalPath(launch: preparation.launch, rank: world.rank),
      header: Array(
        "{\"launch\":\"\(preparation.launch)\",\"rank\":\(world.rank),\"host\":\"\(hostName())\",\"pid\":\(getpid()),\"job\":\"\(job.name.replacingOccurrences(of: "\"", with: "'"))\",\"tool-version\":\"\(ToolVersion.current)\"}"
          .utf8))
    let leader = group.rank == 0
    let prefix = world.size == 1 ? "" : "[group \(groupIndex)] "
    // Under mpirun standard output is a pseudo-terminal shared by the ranks: no live lines there.
    let underLauncher = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
    let progress = leader ? ProgressReporter(prefix: prefix, alone: world.size == 1 && !underLauncher, log: log) : nil
    let launchStart = monotonicSeconds()
    let totalCost = taskRuns.filter(toRun.contains).reduce(0.0) { $0 + job.runs[$1].configuration.cost }
    var doneCost = 0.0
    var done = 0
    if world.rank == 0 {
      progress?.overall = {
        let elapsed = monotonicSeconds() - launchStart
        let eta = doneCost > 0 ? elapsed * (totalCost - doneCost) / doneCost : 0
        return
          "sweep: group 0 finished \(done) run(s) of the \(toRun.count) this launch runs, elapsed \(formatDuration(elapsed))"
          + (doneCost > 0 ? ", ETA \(formatDuration(eta))" : "")
      }
    }
    let context = GroupContext(
      group: group, worldRanks: worldRanks, layout: layout, launch: preparation.launch, journal: journal,
      jobName: job.name, blockSize: job.parallel.blockSize, threads: threads,
      cacheBudget: job.parallel.cacheMegabytes << 20, checkpoint: job.checkpoint, stopFiles: stopFiles,
      progress: progress,
      abortRequested: { [world] in (world.size > 1 && world.pollAbort() != nil) || Interruption.launcherDied },
      tick: { [lock] in try? lock?.beat() })
    context.automaticThreads = job.parallel.threads == nil

    var outcomes = [(RunSpec, RunOutcome)]()
    var interrupted = false
    var storageFailure: StoreError? = nil
    let mine = groupIndex < groups.count ? groups[groupIndex] : []
    for index in mine where toRun.contains(index) {
      if world.size > 1 && world.pollAbort() != nil {
        interrupted = true
        break
      }
      let run = job.runs[index]
      if leader { log(prefix + "\(run.id) started \(describe(run))") }
      progress?.startRun()
      var outcome: RunOutcome
      do {
        outcome = try RunExecutor(run: run, key: run.key, context: context).execute()
      } catch {
        outcome = RunOutcome(
          status: .failed, stepsDone: 0, wallSeconds: 0, divergence: nil, message: "\(error)", finalMetrics: [],
          resumedFrom: nil, storageFailure: nil)
        if leader {
          // A failure is a result: commit it so that reruns leave the run alone.
          let c = run.configuration
          let result = RunResult(
            key: run.key, runID: run.id, index: run.index, jobName: job.name, status: .failed, stepsDone: 0,
            wallSeconds: 0,
            ranks: group.size, divergenceStep: -1, message: "\(error)",
            sampleSteps: c.diagnostics.sampleSteps(totalSteps: c.steps),
            sampleTimes: c.diagnostics.sampleSteps(totalSteps: c.steps).map { Double($0) * c.dynamics.timeStep },
            metrics: [], particles: c.particles, dimension: c.dimension, hasVelocities: c.dynamics.hasVelocities,
            snapshots: [], reference: nil)
          do {
            try journal.append(
              kind: .result, key: run.key, attempt: context.attempt(for: run.key), payload: result.encoded())
          } catch let error as StoreError {
            outcome.storageFailure = error
          }
        }
      }
      progress?.endLine()
      if leader {
        let finals = outcome.finalMetrics.map {
          "\($0.0.rawValue) \($0.1.first.map { String(format: "%.6g", $0) } ?? "-")"
        }
        let resumed = outcome.resumedFrom.map { " (resumed from step \($0))" } ?? ""
        log(
          prefix
            + "\(run.id) \(outcome.status) after \(outcome.stepsDone) steps in \(String(format: "%.2f", outcome.wallSeconds)) s\(resumed)  \(finals.joined(separator: "  "))\(outcome.message.isEmpty ? "" : "  (\(outcome.message))")"
        )
      }
      outcomes.append((run, outcome))
      doneCost += run.configuration.cost
      done += 1
      if let failure = outcome.storageFailure {
        storageFailure = failure
        if leader { world.sendAbort(code: 1) }
        break
      }
      if outcome.status == .interrupted {
        interrupted = true
        break
      }
    }
    do { try journal.close() } catch let error as StoreError {
      if storageFailure == nil { storageFailure = error }
    }
    // A launch whose mpirun was killed has nobody to report to, and its collectives may never
    // complete: its runs are checkpointed, so it ends here.
    if Interruption.launcherDied {
      lock?.release()
      exit(3)
    }
    let anyFailure = try world.any(storageFailure != nil)
    let anyInterrupted = try world.any(interrupted)
    var failureText: String? = nil
    if anyFailure {
      // Every rank learns the message of the lowest failing rank.
      let text = storageFailure.map { StorageProblem.describe($0, folder: outputFolder) } ?? ""
      let texts = try world.allGather([Double](text.utf8.map { Double($0) }))
      let first = texts.first { !$0.isEmpty } ?? []
      failureText = String(decoding: first.map { UInt8($0) }, as: UTF8.self)
    }
    var table = ""
    if world.rank == 0 {
      do {
        let state = try SweepState(output: outputFolder, endingLaunch: preparation.launch)
        let runs = try state.datasetRuns(taskRuns, tasks: nil, verify: false)
        table = Self.table(runs)
        // A signalled launch must finish within the scheduler's grace: the view (derived data)
        // is rebuilt by the next launch or by aggregate.
        if !anyFailure && !(anyInterrupted && Interruption.receivedSignal != nil) {
          let good = try state.datasetRuns(taskRuns, tasks: nil, verify: true)
          try state.writeView(
            path: taskView, runs: good,
            attributes: [
              ("array-task", .int(Int64(options.arrayTask))), ("array-count", .int(Int64(options.arrayCount))),
            ],
            snapshots: true)
        }
      } catch let error as StoreError {
        if failureText == nil { failureText = StorageProblem.describe(error, folder: outputFolder) }
      } catch {
        if failureText == nil { failureText = "cannot write \(taskView): \(error)" }
      }
      if anyInterrupted && Interruption.receivedSignal == nil && !anyFailure {
        for name in stopFiles.consume() {
          log("stop file \(name) consumed (renamed to \(name).consumed); the next launch runs")
        }
      }
    }
    return Result(
      outcomes: outcomes, interrupted: anyInterrupted, signal: Interruption.receivedSignal,
      storageFailure: failureText, table: table)
  }

  func describe(_ run: RunSpec) -> String {
    run.overrides.isEmpty ? "" : "(" + run.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
  }

  /// The table printed at the end of a launch: one row per run of the task.
  static func table(_ runs: [DatasetRun]) -> String {
    var metricNames = [String]()
    for r in runs {
      for m in r.result?.metrics ?? [] where !metricNames.contains(m.info.name) { metricNames.append(m.info.name) }
    }
    let rows = runs.map { r -> [String] in
      var row = [r.runID, r.status, String(r.stepsDone)]
      for name in metricNames {
        guard let m = r.result?.metrics.first(where: { $0.info.name == name }), m.samples > 0 else {
          row.append("-")
          continue
        }
        let w = m.info.width
        let last = Array(m.values[((m.samples - 1) * w)..<(m.samples * w)])
        row.append(last.map { String(format: "%.6g", $0) }.joined(separator: " "))
      }
      row.append(String(format: "%.2f", r.wallSeconds))
      return row
    }
    return TextTable.render(
      header: ["run", "status", "steps"] + metricNames.map { "final " + $0 } + ["wall s"], rows: rows)
  }
}
