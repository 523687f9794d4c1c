import Foundation

/// The program that starts a launch's ranks inside the allocation.
public enum SlurmLauncher: String, Sendable, CaseIterable {
  /// `srun --mpi=PLUGIN`: Slurm's own launcher (the default; Open MPI needs a PMIx plugin).
  case srun
  /// `mpirun -np RANKS`, for clusters whose srun cannot start Open MPI.
  case mpirun
}

/// Renders the sbatch templates of `slurm/` for a sweep and submits them.
///
/// Nothing from the job file or the command line reaches the scripts unchecked: values used
/// by the shell are single-quoted words, values in `#SBATCH` lines are refused when they hold
/// a control character (a newline would start a new shell line) or a double quote.
public struct SlurmSubmission {
  public var job: Job
  /// Absolute paths.
  public var jobFile: String
  public var output: String
  public var executable: String
  public var tasks: Int
  public var ranks: Int
  public var time: String
  public var partition: String?
  public var account: String?
  /// Seconds of warning before the time limit (SIGUSR1 to the batch shell).
  public var grace: Int
  /// The cluster's MaxArraySize (array indices are below it).
  public var maxArraySize: Int
  /// Folder holding sweep.sbatch and aggregate.sbatch; nil: the templates built into the tool.
  public var templates: String?
  /// Further `#SBATCH` directives (`--mem=4G`, `--qos=long`, ...), given to both jobs.
  public var sbatchOptions: [String] = []
  /// Array tasks running at once (`--array=0-N%K`); nil: no throttle.
  public var arrayThrottle: Int? = nil
  /// Self-requeues of one array task on its time-limit warning.
  public var maxRequeues: Int = 10
  public var launcher: SlurmLauncher = .srun
  /// `srun --mpi=` plugin.
  public var srunMPI: String = "pmix"
  /// Time limit of the aggregation job.
  public var aggregateTime: String = "00:30:00"

  /// Array tasks actually submitted: shares beyond MaxArraySize are folded onto them.
  public var arraySize: Int { min(tasks, maxArraySize) }

  public init(
    job: Job, jobFile: String, output: String, executable: String, tasks: Int, ranks: Int, time: String,
    partition: String?, account: String?, grace: Int, maxArraySize: Int, templates: String?
  ) {
    self.job = job
    self.jobFile = jobFile
    self.output = output
    self.executable = executable
    self.tasks = tasks
    self.ranks = ranks
    self.time = time
    self.partition = partition
    self.account = account
    self.grace = grace
    self.maxArraySize = maxArraySize
    self.templates = templates
  }

  /// Seconds of a Slurm time limit: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M` or `D-H:M:S`
  /// (non-negative integers, minutes and seconds below 60 after the first field), or nil.
  public static func seconds(ofSlurmTime text: String) -> Int? {
    func number(_ s: Substring) -> Int? {
      guard !s.isEmpty, s.count <= 9, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
      return Int(s)
    }
    let dayParts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard dayParts.count <= 2 else { return nil }
    var days = 0
    var clock = Substring(text)
    if dayParts.count == 2 {
      guard let d = number(dayParts[0]) else { return nil }
      days = d
      clock = dayParts[1]
    }
    let fields = clock.split(separator: ":", omittingEmptySubsequences: false)
    guard (1...3).contains(fields.count) else { return nil }
    var values = [Int]()
    for f in fields {
      guard let v = number(f) else { return nil }
      values.append(v)
    }
    if values.dropFirst().contains(where: { $0 >= 60 }) { return nil }
    if dayParts.count == 2 {
      // D-H, D-H:M, D-H:M:S
      let h = values[0], m = values.count > 1 ? values[1] : 0, s = values.count > 2 ? values[2] : 0
      guard h < 24 else { return nil }
      return ((days * 24 + h) * 60 + m) * 60 + s
    }
    switch values.count {
    case 1: return values[0] * 60
    case 2: return values[0] * 60 + values[1]
    default: return (values[0] * 60 + values[1]) * 60 + values[2]
    }
  }

  /// Why a value cannot go into an `#SBATCH` line, or nil.
  static func directiveProblem(_ value: String) -> String? {
    if let c = value.unicodeScalars.first(where: {
      $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
    }) {
      return "holds a control character (U+\(String(c.value, radix: 16, uppercase: true)))"
    }
    if value.contains("\"") { return "holds a double quote" }
    return nil
  }

  /// Checks the options; messages say what to change.
  public func validate() throws {
    guard tasks >= 1 else { throw LaunchError("--tasks must be at least 1") }
    guard tasks <= job.runs.count else {
      throw LaunchError(
        "--tasks \(tasks) exceeds the \(job.runs.count) runs of the sweep; use at most \(job.runs.count)")
    }
    guard ranks >= 1, ranks % job.parallel.ranksPerRun == 0 else {
      throw LaunchError(
        "--ranks \(ranks) must be a positive multiple of parallel.ranks-per-run = \(job.parallel.ranksPerRun)")
    }
    guard let limit = Self.seconds(ofSlurmTime: time), limit > 0 else {
      throw LaunchError(
        "--time '\(time)' is not a Slurm time limit such as 30, 02:00:00 or 1-12:00:00 (minutes, H:M:S or D-H:M:S)")
    }
    guard grace >= 1, grace <= 65535 else { throw LaunchError("--grace \(grace) must be between 1 and 65535 seconds") }
    guard grace < limit else {
      throw LaunchError(
        "--grace \(grace) s is not shorter than the time limit --time \(time) (\(limit) s): the warning would come before the task starts; use a grace well below the limit"
      )
    }
    guard let aggregateLimit = Self.seconds(ofSlurmTime: aggregateTime), aggregateLimit > 0 else {
      throw LaunchError("--aggregate-time '\(aggregateTime)' is not a Slurm time limit such as 00:30:00")
    }
    guard maxArraySize >= 1 else { throw LaunchError("--max-array-size must be positive") }
    if let arrayThrottle, arrayThrottle < 1 { throw LaunchError("--array-throttle must be positive") }
    guard maxRequeues >= 0 else { throw LaunchError("--max-requeues must be zero or more") }
    guard !srunMPI.isEmpty, srunMPI.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
      throw LaunchError("--srun-mpi '\(srunMPI)' is not an MPI plugin name such as pmix, pmix_v4 or pmi2")
    }
    for (name, value) in [("--partition", partition), ("--account", account)] {
      guard let value else { continue }
      guard !value.isEmpty, value.allSatisfy({ !$0.isWhitespace }), Self.directiveProblem(value) == nil else {
        throw LaunchError("\(name) '\(value)' is not a Slurm name (no spaces, quotes or control characters)")
      }
    }
    for option in sbatchOptions {
      guard option.hasPrefix("-") else {
        throw LaunchError(
          "--sbatch-option '\(option)' is not an sbatch option; write it as on sbatch's command line, e.g. --sbatch-option=--mem=4G"
        )
      }
      if let problem = Self.directiveProblem(option) { throw LaunchError("--sbatch-option '\(option)' \(problem)") }
    }
    for (name, path) in [
      ("the job file path", jobFile), ("the output folder", output), ("the mfsweep executable path", executable),
    ] {
      if let problem = Self.directiveProblem(path) {
        throw LaunchError("\(name) \(path.debugDescription) \(problem); use a path without one")
      }
    }
  }

  /// The folder of rendered scripts and logs.
  public var scriptFolder: String { (output as NSString).appendingPathComponent("slurm") }

  /// A word the shell reads back as exactly `text` (single-quoted, `'` as `'\''`).
  public static func shellQuote(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// An `#SBATCH` file name: double-quoted for sbatch's parser, `%` doubled (Slurm's
  /// file-name patterns), then the pattern appended.
  static func directivePath(_ folder: String, pattern: String) -> String {
    "\"" + folder.replacingOccurrences(of: "%", with: "%%") + "/" + pattern + "\""
  }

  /// Renders `sweep.sbatch` and `aggregate.sbatch`.
  public func render() throws -> (sweep: String, aggregate: String) {
    func load(_ name: String, builtIn: String) throws -> String {
      guard let templates else { return builtIn }
      let path = (templates as NSString).appendingPathComponent(name)
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw LaunchError(
          "cannot read the template \(path); --templates names a folder holding sweep.sbatch and aggregate.sbatch")
      }
      return text
    }
    var extra = [String]()
    if let partition { extra.append("#SBATCH --partition=\(partition)") }
    if let account { extra.append("#SBATCH --account=\(account)") }
    for option in sbatchOptions { extra.append("#SBATCH \(option)") }
    let launch: String, forward: String, forwardHow: String
    switch launcher {
    case .srun:
      launch = "srun --mpi=\(srunMPI) --ntasks=\(ranks) --kill-on-bad-exit=0"
      // srun itself must not be signalled: on SIGTERM it kills its step at once.
      forward = "{ scancel --signal=TERM \"${SLURM_JOB_ID}\" 2>/dev/null || kill -TERM \"$child\" 2>/dev/null; }"
      forwardHow =
        "scancel --signal=TERM signals the job's steps, not srun (srun kills its step when it is signalled itself)"
    case .mpirun:
      launch = "mpirun -np \(ranks)"
      forward = "kill -TERM \"$child\" 2>/dev/null"
      forwardHow = "mpirun forwards the SIGTERM it is sent"
    }
    let values: [String: String] = [
      "NAME": "mfsweep-"
        + job.name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" }.map(
          String.init
        ).joined(),
      "LAST_INDEX": String(arraySize - 1),
      "THROTTLE": arrayThrottle.map { "%\($0)" } ?? "",
      "ARRAY_SIZE": String(arraySize),
      "SHARES": String(tasks),
      "RANKS": String(ranks),
      "TIME": time,
      "AGGREGATE_TIME": aggregateTime,
      "GRACE": String(grace),
      "MAX_REQUEUES": String(maxRequeues),
      "LOG": Self.directivePath(scriptFolder, pattern: "%x-%A_%a.out"),
      "AGGREGATE_LOG": Self.directivePath(scriptFolder, pattern: "%x-%j.out"),
      "EXTRA_DIRECTIVES": extra.joined(separator: "\n"),
      "LAUNCHER": launch,
      "FORWARD": forward,
      "FORWARD_HOW": forwardHow,
      "MFSWEEP": Self.shellQuote(executable),
      "JOB": Self.shellQuote(jobFile),
      "OUTPUT": Self.shellQuote(output),
    ]
    func fill(_ template: String) throws -> String {
      // One pass over the template: a value is never scanned for placeholders itself.
      var text = ""
      var rest = Substring(template)
      while let open = rest.range(of: "{{") {
        text += rest[..<open.lowerBound]
        guard let close = rest[open.upperBound...].range(of: "}}") else {
          throw LaunchError("template placeholder not closed: \(rest[open.lowerBound...].prefix(40))")
        }
        let key = String(rest[open.upperBound..<close.lowerBound])
        guard let value = values[key] else { throw LaunchError("unknown template placeholder {{\(key)}}") }
        text += value
        rest = rest[close.upperBound...]
      }
      return text + rest
    }
    return (
      try fill(load("sweep.sbatch", builtIn: SlurmTemplates.sweep)),
      try fill(load("aggregate.sbatch", builtIn: SlurmTemplates.aggregate))
    )
  }

  /// Writes the scripts and submits them: the array, then the aggregation with an afterany
  /// dependency. Returns the two job ids.
  public func submit() throws -> (sweep: String, aggregate: String) {
    let (sweep, aggregate) = try render()
    try FileManager.default.createDirectory(atPath: scriptFolder, withIntermediateDirectories: true)
    let sweepPath = (scriptFolder as NSString).appendingPathComponent("sweep.sbatch")
    let aggregatePath = (scriptFolder as NSString).appendingPathComponent("aggregate.sbatch")
    try sweep.write(toFile: sweepPath, atomically: true, encoding: .utf8)
    try aggregate.write(toFile: aggregatePath, atomically: true, encoding: .utf8)
    let sweepID = try Self.sbatch(["--parsable", sweepPath])
    let aggregateID = try Self.sbatch(["--parsable", "--dependency=afterany:\(sweepID)", aggregatePath])
    return (sweepID, aggregateID)
  }

  static func sbatch(_ arguments: [String]) throws -> String {
    let (status, out, err) = try runTool("sbatch", arguments)
    guard status == 0 else {
      throw LaunchError("sbatch failed (status \(status)): \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    // --parsable prints "jobid" or "jobid;cluster".
    return String(out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first ?? "")
  }

  /// MaxArraySize of the cluster (`scontrol show config`), or nil when scontrol is unavailable.
  public static func clusterMaxArraySize() -> Int? {
    guard let (status, out, _) = try? runTool("scontrol", ["show", "config"]), status == 0 else { return nil }
    for line in out.split(separator: "\n") where line.hasPrefix("MaxArraySize") {
      if let value = line.split(separator: "=").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
        return value
      }
    }
    return nil
  }

  /// Runs a program found on PATH.
  static func runTool(_ name: String, _ arguments: [String]) throws -> (Int32, String, String) {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
      .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let path else { throw LaunchError("\(name) is not on PATH (is this a Slurm login node?)") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}
