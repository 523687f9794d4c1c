import ArgumentParser
import Foundation
import ParallelRuntime
import SweepRunner
import SweepStore

/// Writes a line to standard output immediately (ranks interleave by line).
func say(_ text: String) {
  FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes a line to standard error.
func complain(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Loads a job, or prints the error and exits with status 2.
func loadJob(_ path: String, quiet: Bool = false, ignoreMemoryLimit: Bool = false) throws -> Job {
  do {
    return try Job.load(path: path, limits: ignoreMemoryLimit ? .unchecked : .machine)
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
    version: ToolVersion.current + " (" + InstructionSetDispatch.summary + ")",
    subcommands: [
      Validate.self, Plan.self, Run.self, Status.self, Aggregate.self, Report.self, Submit.self, Compare.self,
      Metrics.self,
    ])

  /// As ArgumentParser's own entry point, except that a bad command line exits with status 2
  /// (the documented status of every user-fixable mistake) instead of 64.
  static func main() {
    InstructionSetDispatch.handOver()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if exitCode(for: error) == ExitCode.validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(2)
      }
      exit(withError: error)
    }
  }
}

struct Validate: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Check a job file and print the size of its sweep.")

  @Argument(help: "The job file (YAML).") var job: String
  @Flag(
    name: .customLong("ignore-memory-limit"), help: "Accept runs that need more memory per rank than this machine has.")
  var ignoreMemoryLimit = false

  func run() throws {
    let j = try loadJob(job, ignoreMemoryLimit: ignoreMemoryLimit)
    let estimates = j.runs.map {
      $0.configuration.resources(
        ranksPerRun: j.parallel.ranksPerRun, cacheBytes: Double(j.parallel.cacheMegabytes) * 1_048_576)
    }
    say("\(job): ok")
    say("  name:   \(j.name)")
    say("  runs:   \(j.runs.count)" + (j.sweptKeys.isEmpty ? "" : " (swept: \(j.sweptKeys.joined(separator: ", ")))"))
    say("  output: \(j.output)")
    say("  memory: at most \(formatBytes(estimates.map(\.memoryPerRank).max() ?? 0)) per rank (estimate)")
    say("  file:   about \(formatBytes(estimates.reduce(0) { $0 + $1.fileBytes })) for the whole sweep (estimate)")
  }
}

struct Plan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show which array task and rank group runs which grid point, and the estimated cost.")

  @Argument(help: "The job file (YAML).") var job: String
  @Option(help: "Ranks per launch (default: the MPI world size when under mpirun, else 1).") var ranks: Int?
  @Option(help: "Array tasks.") var tasks: Int = 1
  @Flag(
    name: .customLong("ignore-memory-limit"), help: "Accept runs that need more memory per rank than this machine has.")
  var ignoreMemoryLimit = false

  func validate() throws {
    if let ranks, ranks < 1 { throw ValidationError("--ranks must be positive") }
    if tasks < 1 { throw ValidationError("--tasks must be positive") }
  }

  func run() throws {
    let j = try loadJob(job, ignoreMemoryLimit: ignoreMemoryLimit)
    guard tasks <= j.runs.count else {
      complain("error: --tasks \(tasks) exceeds the \(j.runs.count) runs of the sweep")
      throw ExitCode(2)
    }
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
      let (_, assignment) = SweepPlan.plan(job: j, task: t, count: tasks, worldSize: p)
      for (gi, runs) in assignment.enumerated() {
        let ranksText = g == 1 ? "\(gi)" : "\(gi * g)-\(gi * g + g - 1)"
        let cost = runs.reduce(0.0) { $0 + j.runs[$1].configuration.cost }
        let ids = runs.map { j.runs[$0].id }
        let shown =
          ids.count <= 6
          ? ids.joined(separator: " ") : ids.prefix(5).joined(separator: " ") + " … \(ids.last!) (\(ids.count))"
        rows.append([String(t), String(gi), ranksText, String(runs.count), String(format: "%.3g", cost), shown])
      }
    }
    say(
      TextTable.render(header: ["task", "group", "ranks", "runs", "est. cost", "run ids"], rows: rows), terminator: "")
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
  @Option(name: .customLong("array-task"), help: "This launch's array task (default: SLURM_ARRAY_TASK_ID or 0).")
  var arrayTask: Int?
  @Option(name: .customLong("array-count"), help: "Number of array tasks (default: SLURM_ARRAY_TASK_COUNT or 1).")
  var arrayCount: Int?
  @Flag(
    name: .customLong("ignore-memory-limit"), help: "Accept runs that need more memory per rank than this machine has.")
  var ignoreMemoryLimit = false

  func validate() throws {
    if let output, let problem = Job.pathProblem(output) { throw ValidationError("--output: \(problem)") }
  }

  func run() throws {
    // Everything that can be refused is refused before MPI starts or anything is written.
    let env = ProcessInfo.processInfo.environment
    let j = try loadJob(
      job, quiet: (env["OMPI_COMM_WORLD_RANK"] ?? env["PMIX_RANK"] ?? env["SLURM_PROCID"] ?? "0") != "0",
      ignoreMemoryLimit: ignoreMemoryLimit)
    try MPIEnvironment.initialize()
    defer { MPIEnvironment.finalize() }
    let world = MPIEnvironment.world
    let isRoot = world.rank == 0
    // srun without an MPI plugin starts every task as a world of one: each would run the
    // whole share into the same file.
    if world.size == 1, let tasks = env["SLURM_STEP_NUM_TASKS"].flatMap(Int.init), tasks > 1, env["SLURM_PROCID"] != nil
    {
      if env["SLURM_PROCID"] == "0" {
        complain(
          "error: srun started \(tasks) tasks but each sees an MPI world of 1 rank: srun has no MPI plugin for Open MPI here; launch with srun --mpi=pmix (or the cluster's PMIx plugin), or with mpirun"
        )
      }
      throw ExitCode(2)
    }
    // Slurm job arrays: the task is the array index relative to the first index.
    let slurmTask = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init).map {
      $0 - (env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0)
    }
    let count = arrayCount ?? env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) ?? 1
    let task = arrayTask ?? slurmTask ?? 0
    guard count >= 1, task >= 0, task < count else {
      if isRoot { complain("error: --array-task \(task) is outside 0..<\(count)") }
      throw ExitCode(2)
    }
    let driver = SweepDriver(
      job: j, options: RunOptions(output: output, arrayTask: task, arrayCount: count), world: world)
    let result: SweepDriver<MPICommunicator>.Result
    do {
      result = try driver.run { say($0) }
    } catch let error as LaunchError {
      if isRoot { complain("error: \(error)") }
      throw ExitCode(2)
    }
    try world.barrier()
    if isRoot {
      say("")
      say(result.table, terminator: "")
      if result.storageFailure == nil { say("output: \(driver.taskView)") }
    }
    if let failure = result.storageFailure {
      if isRoot { complain("error: \(failure)") }
      throw ExitCode(2)
    }
    if result.interrupted {
      if isRoot {
        let why = result.signal.map { Interruption.name($0) } ?? "a stop request"
        complain("interrupted by \(why): runs in flight were checkpointed; run the same command again to resume")
        if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil {
          complain(
            "(the ranks exit with status 3; a report of Open MPI that a process returned a non-zero exit code is this interruption, not a crash)"
          )
        }
      }
      throw ExitCode(3)
    }
  }
}

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Count completed, running, interrupted, pending, diverged, failed and damaged runs, per array task.")

  @Argument(help: "The output folder of a sweep.") var output: String
  @Option(help: "Report one array task only.") var task: Int?
  @Option(
    name: .customLong("array-count"),
    help: "The number of array tasks the sweep is split into (default: that of its latest launch).")
  var arrayCount: Int?
  @Flag(
    help:
      "Verify every stored result and snapshot; exit with status 0 when every run has finished, 3 when runs are left that a rerun resumes or recomputes, 2 when the folder cannot be read."
  )
  var check = false

  func run() throws {
    let report: (text: String, state: StatusReport.State)
    do {
      report = try StatusReport.make(output: output, task: task, arrayCount: arrayCount, verify: check)
    } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    } catch let error as StoreError {
      complain("error: \(error)")
      throw ExitCode(2)
    }
    say(report.text, terminator: "")
    if check && report.state == .resumable { throw ExitCode(3) }
  }
}

struct Aggregate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Merge the runs of one or more output folders into summary.h5 (an xarray Dataset with every time series) and summary.csv (one row per run)."
  )

  @Argument(help: "Output folders of sweeps (the summary goes into the first unless --into).") var outputs: [String]
  @Option(help: "Write summary.h5 and summary.csv into this folder instead (e.g. when OUT is read-only).") var into:
    String?
  @Flag(
    name: .customLong("include-stale"), help: "Also list runs of earlier versions of the job (not in its current grid)."
  )
  var includeStale = false

  func validate() throws {
    if outputs.isEmpty { throw ValidationError("name at least one output folder") }
    if let into, let problem = Job.pathProblem(into) { throw ValidationError("--into: \(problem)") }
  }

  func run() throws {
    let destination = into ?? outputs[0]
    if let problem = StorageProblem.check(destination) {
      complain(
        "error: cannot write the summary: \(problem)"
          + (into == nil ? "; mfsweep aggregate \(outputs[0]) --into DIR writes it elsewhere" : ""))
      throw ExitCode(2)
    }
    let written: (runs: Int, open: [DatasetRun])
    do {
      written = try SummaryWriter.write(outputs: outputs, into: destination, includeStale: includeStale)
    } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    } catch let error as StoreError {
      complain(
        "error: cannot write the summary: \(StorageProblem.describe(error, folder: destination)); the runs' results were not changed"
      )
      throw ExitCode(2)
    } catch {
      guard let problem = StorageProblem.explain(error, folder: destination) else { throw error }
      complain("error: cannot write the summary: \(problem); the runs' results were not changed")
      throw ExitCode(2)
    }
    say("wrote \((destination as NSString).appendingPathComponent("summary.h5")) and summary.csv: \(written.runs) runs")
    if !written.open.isEmpty {
      var groups = [String: [String]]()
      for r in written.open { groups[r.status, default: []].append(r.runID) }
      for (status, ids) in groups.sorted(by: { $0.key < $1.key }) {
        let shown =
          ids.count <= 10 ? ids.joined(separator: " ") : ids.prefix(10).joined(separator: " ") + " … (\(ids.count))"
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
  @Option(help: "Time limit per array task (a Slurm time: minutes, H:M:S or D-H:M:S).") var time: String
  @Option(help: "Slurm partition.") var partition: String?
  @Option(help: "Slurm account.") var account: String?
  @Option(help: "Seconds of warning (SIGUSR1) before the time limit, for the checkpoint and the self-requeue.")
  var grace: Int = 120
  @Option(help: "Output folder (overrides the job's 'output').") var output: String?
  @Option(name: .customLong("max-array-size"), help: "The cluster's MaxArraySize (default: from scontrol, else 1001).")
  var maxArraySize: Int?
  @Option(
    help: "Folder with edited copies of sweep.sbatch and aggregate.sbatch (default: the templates built into mfsweep).")
  var templates: String?
  @Option(
    name: .customLong("sbatch-option"), parsing: .unconditionalSingleValue,
    help: "An extra sbatch option for both jobs, e.g. --sbatch-option=--mem=4G (repeatable).")
  var sbatchOptions: [String] = []
  @Option(name: .customLong("array-throttle"), help: "Array tasks running at once (--array=0-N%K).") var arrayThrottle:
    Int?
  @Option(name: .customLong("max-requeues"), help: "Self-requeues of one array task on its time-limit warning.")
  var maxRequeues: Int = 10
  @Option(help: "How each array task starts its ranks: srun or mpirun.") var launcher: String = "srun"
  @Option(name: .customLong("srun-mpi"), help: "srun's MPI plugin (srun --mpi=...).") var srunMPI: String = "pmix"
  @Option(name: .customLong("aggregate-time"), help: "Time limit of the aggregation job.") var aggregateTime: String =
    "00:30:00"
  @Flag(
    name: .customLong("ignore-memory-limit"), help: "Accept runs that need more memory per rank than this machine has.")
  var ignoreMemoryLimit = false
  @Flag(name: .customLong("dry-run"), help: "Print the rendered scripts instead of submitting them.") var dryRun = false

  func validate() throws {
    if let output, let problem = Job.pathProblem(output) { throw ValidationError("--output: \(problem)") }
    if SlurmLauncher(rawValue: launcher) == nil {
      throw ValidationError("--launcher '\(launcher)' is not one of srun, mpirun")
    }
  }

  func run() throws {
    let j = try loadJob(job, ignoreMemoryLimit: ignoreMemoryLimit)
    let cwd = FileManager.default.currentDirectoryPath as NSString
    func absolute(_ p: String) -> String {
      ((p.hasPrefix("/") ? p : cwd.appendingPathComponent(p)) as NSString).standardizingPath
    }
    let executable = InstructionSetDispatch.entryExecutable
    var submission = SlurmSubmission(
      job: j, jobFile: absolute(job), output: absolute(output ?? j.output), executable: executable, tasks: tasks,
      ranks: ranks, time: time, partition: partition, account: account, grace: grace,
      maxArraySize: maxArraySize ?? SlurmSubmission.clusterMaxArraySize() ?? 1001, templates: templates)
    submission.sbatchOptions = sbatchOptions
    submission.arrayThrottle = arrayThrottle
    submission.maxRequeues = maxRequeues
    submission.launcher = SlurmLauncher(rawValue: launcher)!
    submission.srunMPI = srunMPI
    submission.aggregateTime = aggregateTime
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
      say(
        "submitted array job \(sweepID) (\(submission.arraySize) array task(s) for \(tasks) share(s) of \(j.runs.count) runs)"
      )
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
    abstract:
      "Compare two point sets or laws: W2 (exact), Sinkhorn, sliced W2, kNN KL, closed forms, histogram KL.",
    discussion: """
      A and B are a CSV file (one point per row, optional header), FILE.h5:/dataset (2-D, N × d), \
      FILE.h5:/dataset[i] (slice i of a 3-D array; negative i counts from the end), or a run's \
      snapshot in a task file, TASK.h5:r00003[-1]. Weighted measures: --weights-a and \
      --weights-b take column:NAME (a column of the same file, by header name or position from \
      1) or a one-column file or dataset. W2 is exact for any sizes and weights (an assignment \
      for equal sizes and uniform weights, the network simplex otherwise).

      A or B may instead be a law, inline or in a .yaml file: \
      '{gaussian: {mean: [0, 0], covariance: [[1, 0.3], [0.3, 2]]}}' or \
      '{gibbs: {dimension: 2, potential: {kind: double-well}, temperature: 0.5}}'. Two \
      Gaussians: w2 (Bures) and kl (both ways). A point set against a law: kl, the kNN \
      estimate of KL(sample ‖ law). Any two, in d ≤ 2: histogram-kl on --grid LO:HI:CELLS \
      per axis (counts and cell masses in the output).
      """)

  enum MetricName: String, ExpressibleByArgument, CaseIterable {
    case w2, sinkhorn
    case slicedW2 = "sliced-w2"
    case kl
    case histogramKL = "histogram-kl"
  }

  @Argument(help: "First point set or law.") var a: String
  @Argument(help: "Second point set or law.") var b: String
  @Option(help: "w2 | sinkhorn | sliced-w2 | kl | histogram-kl") var metric: MetricName = .w2
  @Option(
    parsing: .unconditional,
    help: "Histogram grid for histogram-kl: LO:HI:CELLS per axis, comma-separated (e.g. -3:3:60,-3:3:60).")
  var grid: String?
  @Option(help: "Sinkhorn ε as a fraction of the largest squared distance.") var epsilon: Double = 0.05
  @Option(help: "Sinkhorn stopping tolerance on the marginal error.") var tolerance: Double = 1e-9
  @Option(help: "Directions of sliced W2.") var projections: Int = 200
  @Option(help: "Seed of the sliced-W2 directions.") var seed: UInt64 = 0
  @Option(help: "Neighbour rank of the KL estimator.") var k: Int = 5
  @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: "Weights of A: column:NAME, column:K (from 1) or a one-column file or dataset.")
  var weightsA: String?
  @Option(help: "Weights of B, as --weights-a.") var weightsB: String?
  @Option(help: "CSV first row: auto (a row with a non-number is a header; 0,1,… is refused as ambiguous), yes, no.")
  var header: HeaderName = .auto
  @Option(help: "CSV first row of A only (overrides --header).") var headerA: HeaderName?
  @Option(help: "CSV first row of B only (overrides --header).") var headerB: HeaderName?
  @Option(help: "CSV first row of a weights file (its own rule, not the points' file's).")
  var weightsHeader: HeaderName = .auto
  @Flag(help: "Print one JSON object.") var json = false

  enum HeaderName: String, ExpressibleByArgument, CaseIterable {
    case auto, yes, no
  }

  func validate() throws {
    if !(epsilon > 0) || !epsilon.isFinite { throw ValidationError("--epsilon must be a positive number") }
    if !(tolerance > 0) || !tolerance.isFinite { throw ValidationError("--tolerance must be a positive number") }
    if projections < 1 { throw ValidationError("--projections must be positive") }
    if k < 1 { throw ValidationError("--k must be positive") }
    if threads < 1 { throw ValidationError("--threads must be positive") }
  }

  func run() throws {
    let result: PointSetComparison.Result
    do {
      let modeA = CSVHeader(rawValue: (headerA ?? header).rawValue)!
      let modeB = CSVHeader(rawValue: (headerB ?? header).rawValue)!
      let modeW = CSVHeader(rawValue: weightsHeader.rawValue)!
      let x = try PointSetComparison.loadOperand(a, weights: weightsA, header: modeA, weightsHeader: modeW, label: "A")
      let y = try PointSetComparison.loadOperand(b, weights: weightsB, header: modeB, weightsHeader: modeW, label: "B")
      let options = PointSetComparison.Options(
        epsilonFraction: epsilon, tolerance: tolerance, projections: projections, seed: seed, neighbours: k,
        threads: threads)
      result = try PointSetComparison.compare(
        x, y, metric: metric.rawValue, options: options, grid: try grid.map(PointSetComparison.parseGrid))
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

struct Metrics: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "List the metrics a job can record: what each measures, its units, components, requirements and default summary.")

  func run() throws {
    say(MetricTable.markdown(), terminator: "")
  }
}

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Answer the job's questions: its analyses (fits, intervals, verdicts) and figures, as OUT/report/index.html and report.json."
  )

  @Argument(help: "The output folder of a sweep.") var output: String
  @Option(help: "Take the analysis section of this job file instead of the one the sweep ran with.") var job: String?
  @Option(help: "Write the report into this folder (default OUT/report).") var into: String?
  @Option(help: "The python3 that draws the figures with matplotlib (default: /usr/bin/python3, then the PATH's).")
  var python: String?

  func validate() throws {
    if let into, let problem = Job.pathProblem(into) { throw ValidationError("--into: \(problem)") }
  }

  func run() throws {
    let written: ReportWriter.Written
    do {
      written = try ReportWriter.write(output: output, job: job, into: into, python: python)
    } catch let error as LaunchError {
      complain("error: \(error)")
      throw ExitCode(2)
    } catch let error as JobError {
      complain("error: \(error)")
      throw ExitCode(2)
    } catch let error as StoreError {
      complain("error: \(StorageProblem.describe(error, folder: into ?? output))")
      throw ExitCode(2)
    }
    say(
      "wrote \((written.folder as NSString).appendingPathComponent("index.html")), report.json and \(written.figures) figure(s)"
    )
    if let problem = written.figureProblem { complain("warning: \(problem)") }
    for v in written.verdicts { say("  \(v.analysis) \(v.group): \(v.verdict.rawValue)") }
  }
}
