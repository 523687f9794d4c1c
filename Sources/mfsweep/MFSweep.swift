import ArgumentParser
import Foundation
import ParallelRuntime
import SweepRunner

/// Writes a line to standard output immediately (ranks interleave by line).
func say(_ text: String) {
  FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes a line to standard error.
func complain(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Loads a job, or prints the error and exits with status 2.
func loadJob(_ path: String, quiet: Bool = false) throws -> Job {
  do {
    return try Job.load(path: path)
  } catch let error as JobError {
    if !quiet { complain("error: \(error)") }
    throw ExitCode(2)
  }
}

@main
struct MFSweep: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mfsweep",
    abstract: "Sweeps of mean-field Langevin and JKO particle simulations, over MPI and Slurm, into HDF5.",
    version: ToolVersion.current,
    subcommands: [Validate.self, Plan.self, Run.self, Status.self, Aggregate.self, Submit.self, Compare.self])
}

struct Validate: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Check a job file and print the size of its sweep.")

  @Argument(help: "The job file (YAML).") var job: String

  func run() throws {
    let j = try loadJob(job)
    say("\(job): ok")
    say("  name:   \(j.name)")
    say("  runs:   \(j.runs.count)" + (j.sweptKeys.isEmpty ? "" : " (swept: \(j.sweptKeys.joined(separator: ", ")))"))
    say("  output: \(j.output)")
  }
}

struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show which array task and rank group runs which grid point, and the estimated cost.")

  @Argument(help: "The job file (YAML).") var job: String
  @Option(help: "Ranks per launch (default: the MPI world size when under mpirun, else 1).") var ranks: Int?
  @Option(help: "Array tasks.") var tasks: Int = 1

  func validate() throws {
    if let ranks, ranks < 1 { throw ValidationError("--ranks must be positive") }
    if tasks < 1 { throw ValidationError("--tasks must be positive") }
  }

  func run() throws {
    let j = try loadJob(job)
    let env = ProcessInfo.processInfo.environment
    let p = ranks ?? Int(env["OMPI_COMM_WORLD_SIZE"] ?? "") ?? 1
    let g = j.parallel.ranksPerRun
    guard p % g == 0 else {
      complain("error: \(p) ranks is not a multiple of parallel.ranks-per-run = \(g)")
      throw ExitCode(2)
    }
    let groups = p / g
    say("\(j.runs.count) runs; \(tasks) task(s) × \(groups) group(s) of \(g) rank(s)")
    var rows = [[String]]()
    for t in 0..<tasks {
      let (_, assignment) = SweepDriver.plan(job: j, task: t, count: tasks, worldSize: p)
      for (gi, runs) in assignment.enumerated() {
        let ranksText = g == 1 ? "\(gi)" : "\(gi * g)-\(gi * g + g - 1)"
        let cost = runs.reduce(0.0) { $0 + j.runs[$1].configuration.cost }
        let ids = runs.map { j.runs[$0].id }
        let shown = ids.count <= 6 ? ids.joined(separator: " ") : ids.prefix(5).joined(separator: " ") + " … \(ids.last!) (\(ids.count))"
        rows.append([String(t), String(gi), ranksText, String(runs.count), String(format: "%.3g", cost), shown])
      }
    }
    say(TextTable.render(header: ["task", "group", "ranks", "runs", "est. cost", "run ids"], rows: rows), terminator: "")
  }
}

func say(_ text: String, terminator: String) {
  FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a job's sweep (alone, or under mpirun/srun on every rank).")

  @Argument(help: "The job file (YAML).") var job: String
  @Option(help: "Output folder (overrides the job's 'output').") var output: String?
  @Option(name: .customLong("array-task"), help: "This launch's array task (default: SLURM_ARRAY_TASK_ID or 0).") var arrayTask: Int?
  @Option(name: .customLong("array-count"), help: "Number of array tasks (default: SLURM_ARRAY_TASK_COUNT or 1).") var arrayCount: Int?

  func run() throws {
    try MPIEnvironment.initialize()
    defer { MPIEnvironment.finalize() }
    let world = MPIEnvironment.world
    let isRoot = world.rank == 0
    let j = try loadJob(job, quiet: !isRoot)
    let env = ProcessInfo.processInfo.environment
    // Slurm job arrays: the task is the array index relative to the first index.
    let slurmTask = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init).map { $0 - (env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0) }
    let count = arrayCount ?? env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) ?? 1
    let task = arrayTask ?? slurmTask ?? 0
    guard count >= 1, task >= 0, task < count else {
      if isRoot { complain("error: --array-task \(task) is outside 0..<\(count)") }
      throw ExitCode(2)
    }
    let driver = SweepDriver(job: j, options: RunOptions(output: output, arrayTask: task, arrayCount: count), world: world)
    let result: SweepDriver.Result
    do {
      result = try driver.run { say($0) }
    } catch let error as LaunchError {
      if isRoot { complain("error: \(error)") }
      throw ExitCode(2)
    }
    try world.barrier()
    if isRoot {
      say("")
      say(try RunSummary.table(path: driver.taskFile), terminator: "")
      say("output: \(driver.taskFile)")
    }
    if result.interrupted {
      if isRoot {
        let why = result.signal.map { Interruption.name($0) } ?? "a stop request"
        complain("interrupted by \(why): runs in flight were checkpointed; run the same command again to resume")
      }
      throw ExitCode(3)
    }
  }
}

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Count completed, running, pending, interrupted, diverged and failed runs, per array task.")

  @Argument(help: "The output folder of a sweep.") var output: String
  @Flag(help: "Exit with status 1 unless every run of the sweep has finished.") var check = false

  func run() throws {
    let folder: OutputFolder
    do { folder = try OutputFolder.scan(output) } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    }
    let (text, complete) = folder.statusReport()
    say(text, terminator: "")
    if check && !complete { throw ExitCode(1) }
  }
}

struct Aggregate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Merge every task file into OUT/summary.h5 and OUT/summary.csv (one row per run).")

  @Argument(help: "The output folder of a sweep.") var output: String

  func run() throws {
    let folder: OutputFolder
    do { folder = try OutputFolder.scan(output) } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    }
    for bad in folder.unreadable { complain("warning: \(bad.name) is unreadable and was skipped: \(bad.message)") }
    let open = try folder.writeSummary()
    say("wrote \((output as NSString).appendingPathComponent("summary.h5")) and summary.csv: \(folder.sweepRunCount) runs")
    if !open.isEmpty {
      var groups = [String: [String]]()
      for r in open { groups[r.status, default: []].append(r.id) }
      for (status, ids) in groups.sorted(by: { $0.key < $1.key }) {
        let shown = ids.count <= 10 ? ids.joined(separator: " ") : ids.prefix(10).joined(separator: " ") + " … (\(ids.count))"
        say("  \(status): \(shown)")
      }
    }
  }
}

struct Submit: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Submit a sweep as a Slurm job array, with the aggregation queued after it (afterany).")

  @Argument(help: "The job file (YAML).") var job: String
  @Option(help: "Array tasks (shares of the grid).") var tasks: Int
  @Option(help: "MPI ranks per array task.") var ranks: Int = 1
  @Option(help: "Time limit per array task (HH:MM:SS).") var time: String
  @Option(help: "Slurm partition.") var partition: String?
  @Option(help: "Slurm account.") var account: String?
  @Option(help: "Seconds of warning (SIGTERM) before the time limit, for the checkpoint.") var grace: Int = 120
  @Option(help: "Output folder (overrides the job's 'output').") var output: String?
  @Option(name: .customLong("max-array-size"), help: "The cluster's MaxArraySize (default: from scontrol, else 1001).") var maxArraySize: Int?
  @Option(help: "Folder with sweep.sbatch and aggregate.sbatch (default: the repository's slurm/).") var templates: String?
  @Flag(name: .customLong("dry-run"), help: "Print the rendered scripts instead of submitting them.") var dryRun = false

  func run() throws {
    let j = try loadJob(job)
    let cwd = FileManager.default.currentDirectoryPath as NSString
    func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : cwd.appendingPathComponent(p) }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    guard let templateFolder = templates ?? SlurmSubmission.defaultTemplates(executable: executable) else {
      complain("error: cannot find the slurm/ templates next to \(executable); pass --templates DIR")
      throw ExitCode(2)
    }
    let submission = SlurmSubmission(
      job: j, jobFile: absolute(job), output: absolute(output ?? j.output), executable: executable, tasks: tasks,
      ranks: ranks, time: time, partition: partition, account: account, grace: grace,
      maxArraySize: maxArraySize ?? SlurmSubmission.clusterMaxArraySize() ?? 1001, templates: templateFolder)
    do {
      try submission.validate()
      if dryRun {
        let (sweep, aggregate) = try submission.render()
        say("# \(submission.scriptFolder)/sweep.sbatch  (sbatch --parsable)")
        say(sweep)
        say("# \(submission.scriptFolder)/aggregate.sbatch  (sbatch --parsable --dependency=afterany:<sweep job id>)")
        say(aggregate)
        return
      }
      let (sweepID, aggregateID) = try submission.submit()
      say("submitted array job \(sweepID) (\(submission.arraySize) array task(s) for \(tasks) share(s) of \(j.runs.count) runs)")
      say("queued aggregation job \(aggregateID) (afterany:\(sweepID))")
      say("watch: mfsweep status \(submission.output)")
    } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    }
  }
}

struct Compare: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare two point sets: W2 (exact), Sinkhorn, sliced W2 or kNN KL.",
    discussion: """
      A and B are a CSV file (one point per row, optional header), FILE.h5:/dataset (2-D, N × d) or \
      FILE.h5:/dataset[i] (slice i of a 3-D array such as /runs/r00000/particles; negative i \
      counts from the end).
      """)

  enum MetricName: String, ExpressibleByArgument, CaseIterable {
    case w2, sinkhorn, slicedW2 = "sliced-w2", kl
  }

  @Argument(help: "First point set.") var a: String
  @Argument(help: "Second point set.") var b: String
  @Option(help: "w2 | sinkhorn | sliced-w2 | kl") var metric: MetricName = .w2
  @Option(help: "Sinkhorn ε as a fraction of the largest squared distance.") var epsilon: Double = 0.05
  @Option(help: "Sinkhorn stopping tolerance on the marginal error.") var tolerance: Double = 1e-9
  @Option(help: "Directions of sliced W2.") var projections: Int = 200
  @Option(help: "Seed of the sliced-W2 directions.") var seed: UInt64 = 0
  @Option(help: "Neighbour rank of the KL estimator.") var k: Int = 5
  @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
  @Flag(help: "Print one JSON object.") var json = false

  func validate() throws {
    if epsilon <= 0 { throw ValidationError("--epsilon must be positive") }
    if projections < 1 { throw ValidationError("--projections must be positive") }
    if k < 1 { throw ValidationError("--k must be positive") }
    if threads < 1 { throw ValidationError("--threads must be positive") }
  }

  func run() throws {
    let result: PointSetComparison.Result
    do {
      let x = try PointSetComparison.load(a), y = try PointSetComparison.load(b)
      let options = PointSetComparison.Options(
        epsilonFraction: epsilon, tolerance: tolerance, projections: projections, seed: seed, neighbours: k, threads: threads)
      result = try PointSetComparison.compare(x, y, metric: metric.rawValue, options: options)
    } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    }
    if json {
      say(result.json)
    } else {
      say(result.text)
    }
  }
}
