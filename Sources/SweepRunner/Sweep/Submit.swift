import Foundation

/// Renders the sbatch templates of `slurm/` for a sweep and submits them.
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
  /// Seconds of warning before the time limit (SIGTERM to the batch shell).
  public var grace: Int
  /// The cluster's MaxArraySize (array indices are below it).
  public var maxArraySize: Int
  /// Folder holding sweep.sbatch and aggregate.sbatch.
  public var templates: String

  /// Array tasks actually submitted: shares beyond MaxArraySize are folded onto them.
  public var arraySize: Int { min(tasks, maxArraySize) }

  public init(
    job: Job, jobFile: String, output: String, executable: String, tasks: Int, ranks: Int, time: String,
    partition: String?, account: String?, grace: Int, maxArraySize: Int, templates: String
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

  /// Checks the options; messages say what to change.
  public func validate() throws {
    guard tasks >= 1 else { throw LaunchError("--tasks must be at least 1") }
    guard tasks <= job.runs.count else {
      throw LaunchError("--tasks \(tasks) exceeds the \(job.runs.count) runs of the sweep; use at most \(job.runs.count)")
    }
    guard ranks >= 1, ranks % job.parallel.ranksPerRun == 0 else {
      throw LaunchError("--ranks \(ranks) must be a positive multiple of parallel.ranks-per-run = \(job.parallel.ranksPerRun)")
    }
    let parts = time.split(separator: ":")
    guard (1...3).contains(parts.count), parts.allSatisfy({ Int($0) != nil }) || time.contains("-") else {
      throw LaunchError("--time '\(time)' is not a Slurm time such as 02:00:00 or 1-00:00:00")
    }
    guard maxArraySize >= 1 else { throw LaunchError("MaxArraySize must be positive") }
  }

  /// The folder of rendered scripts and logs.
  public var scriptFolder: String { (output as NSString).appendingPathComponent("slurm") }

  /// Renders `sweep.sbatch` and `aggregate.sbatch`.
  public func render() throws -> (sweep: String, aggregate: String) {
    func load(_ name: String) throws -> String {
      let path = (templates as NSString).appendingPathComponent(name)
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw LaunchError("cannot read the template \(path); pass --templates with the folder holding sweep.sbatch and aggregate.sbatch")
      }
      return text
    }
    var extra = [String]()
    if let partition { extra.append("#SBATCH --partition=\(partition)") }
    if let account { extra.append("#SBATCH --account=\(account)") }
    let values: [String: String] = [
      "NAME": "mfsweep-" + job.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }.map(String.init).joined(),
      "LAST_INDEX": String(arraySize - 1),
      "ARRAY_SIZE": String(arraySize),
      "SHARES": String(tasks),
      "RANKS": String(ranks),
      "TIME": time,
      "GRACE": String(grace),
      "LOGS": scriptFolder,
      "EXTRA_DIRECTIVES": extra.joined(separator: "\n"),
      "LAUNCHER": "mpirun -np \(ranks)",
      "MFSWEEP": executable,
      "JOB": jobFile,
      "OUTPUT": output,
    ]
    func fill(_ template: String) throws -> String {
      var text = template
      for (key, value) in values { text = text.replacingOccurrences(of: "{{\(key)}}", with: value) }
      if let range = text.range(of: "{{") {
        let rest = text[range.lowerBound...].prefix(40)
        throw LaunchError("template placeholder not filled: \(rest)")
      }
      return text
    }
    return (try fill(load("sweep.sbatch")), try fill(load("aggregate.sbatch")))
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
    guard status == 0 else { throw LaunchError("sbatch failed (status \(status)): \(err.trimmingCharacters(in: .whitespacesAndNewlines))") }
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

  /// The slurm/ folder next to the build: `<repo>/.build/<triple>/<config>/mfsweep` → `<repo>/slurm`,
  /// or `<prefix>/bin/mfsweep` → `<prefix>/share/mfsweep/slurm`.
  public static func defaultTemplates(executable: String) -> String? {
    let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
    let candidates = [
      exe.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("slurm"),
      exe.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("share/mfsweep/slurm"),
    ]
    return candidates.map(\.path).first { FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("sweep.sbatch")) }
  }
}
