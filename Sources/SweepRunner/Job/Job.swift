import Foundation
import MeanFieldCore
import ParallelRuntime
import SweepStore
import Yams

/// A value of a hyperparameter, as recorded in the output.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
  case int(Int)
  case double(Double)
  case string(String)
  case bool(Bool)
  case list([ParameterValue])

  /// The value as a number, when it is one.
  public var number: Double? {
    switch self {
    case .int(let v): return Double(v)
    case .double(let v): return v
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }

  public var description: String {
    switch self {
    case .int(let v): return String(v)
    case .double(let v): return formatParameter(v)
    case .string(let s): return s
    case .bool(let b): return b ? "true" : "false"
    case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
    }
  }

  /// Reads a YAML node: integers, numbers, booleans, strings, lists; mappings become JSON-like text.
  init(_ node: Node) {
    switch node {
    case .scalar(let s):
      let text = s.string
      if s.style == .plain || s.style == .any {
        if let i = Int(text) { self = .int(i); return }
        if let d = Double(text), d.isFinite { self = .double(d); return }
        switch text.lowercased() {
        case "true", "yes", "on": self = .bool(true); return
        case "false", "no", "off": self = .bool(false); return
        default: break
        }
      }
      self = .string(text)
    case .sequence(let seq):
      self = .list(seq.map { ParameterValue($0) })
    case .mapping(let m):
      let parts = m.map { "\($0.key.string ?? "?"): \(ParameterValue($0.value))" }
      self = .string("{" + parts.joined(separator: ", ") + "}")
    case .alias:
      self = .string("*alias")
    }
  }
}

/// Shortest text for a parameter value (`1e-3` rather than `0.001000000000`).
func formatParameter(_ v: Double) -> String {
  if v.rounded() == v && abs(v) < 1e6 { return String(format: "%.1f", v) }
  return "\(v)"
}

/// `parallel: {ranks-per-run, block-size, threads}`.
public struct ParallelSpec: Sendable, Equatable {
  /// Ranks that share one run's particles.
  public var ranksPerRun: Int
  /// Particles per block, the unit of reproducible summation.
  public var blockSize: Int
  /// Threads per rank; nil: the node's cores divided by the ranks on the node.
  public var threads: Int?
  /// Memory (MiB) a rank may use to keep model values between statistic and drift.
  public var cacheMegabytes: Int = 1024
}

/// `checkpoint: {every, seconds}`: when runs save their state for a resume.
public struct CheckpointSpec: Sendable, Equatable {
  /// Every k steps (nil: not by steps).
  public var every: Int?
  /// Every s seconds of wall time (nil: not by time).
  public var seconds: Double?
}

/// One point of the sweep.
public struct RunSpec: Sendable {
  /// Position in the expanded grid (0-based); the run's identity across tasks and reruns.
  public var index: Int
  /// `r00012`.
  public var id: String
  /// The swept keys and their values at this point, in grid order.
  public var overrides: [(key: String, value: ParameterValue)]
  /// The decoded configuration.
  public var configuration: RunConfiguration
  /// The run's identity: the digest of its fully resolved configuration
  /// (``RunConfiguration/key(blockSize:)``). A rerun keeps a completed run whose identity is
  /// unchanged, whatever its index.
  public var key: RunKey

  /// The run id for an index.
  public static func id(for index: Int) -> String {
    let digits = String(index)
    return "r" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
  }
}

/// A job file, checked and expanded into its runs.
public struct Job: Sendable {
  /// The path as given.
  public var file: String
  /// The file's text (stored in the output).
  public var text: String
  /// `name`.
  public var name: String
  /// `output`, the folder for the results.
  public var output: String
  public var parallel: ParallelSpec
  public var checkpoint: CheckpointSpec
  /// The swept keys, in grid order (zip keys last).
  public var sweptKeys: [String]
  /// Every run of the sweep, in grid order.
  public var runs: [RunSpec]
  /// The questions `mfsweep report` answers (`analysis:`).
  public var analyses: [AnalysisSpec] = []

  /// The index of the job's runs written into the output folder: identities, costs and
  /// settings (a setting with one value in every run is stored once).
  public func makeIndex(created: String) -> JobIndex {
    var builder = SettingsTableBuilder()
    for run in runs { builder.add(run.configuration.settings(blockSize: parallel.blockSize)) }
    return JobIndex(
      jobName: name, jobFile: file, jobText: text, created: created, toolVersion: ToolVersion.current,
      sweptKeys: sweptKeys, runIDs: runs.map(\.id), keys: runs.map(\.key),
      costs: runs.map(\.configuration.cost), settings: builder.table)
  }

  /// Reads and checks a job file. Every mistake is a ``JobError`` naming the file, the key
  /// path and what was expected; nothing is written anywhere.
  public static func load(path: String, limits: ResourceLimits = .machine) throws -> Job {
    guard FileManager.default.fileExists(atPath: path) else {
      throw JobError(file: path, keyPath: "", message: "no such file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw JobError(file: path, keyPath: "", message: "cannot read the file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw JobError(file: path, keyPath: "", message: "the file is not UTF-8 text")
    }
    return try parse(text: text, file: path, limits: limits)
  }

  /// Checks and expands a job given as text (`file` names it in messages).
  public static func parse(text: String, file: String, limits: ResourceLimits = .machine) throws -> Job {
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: text) else {
        throw JobError(file: file, keyPath: "", message: "the file is empty; expected a job mapping")
      }
      root = node
    } catch let error as JobError {
      throw error
    } catch let error as YamlError {
      throw jobError(error, file: file)
    }
    let top = try Cursor(node: root, path: "", file: file)
      .mapping("a mapping of job settings", allowed: RunConfiguration.topLevelKeys)

    let name: String
    if let cursor = top.optional("name") {
      name = try cursor.string("a job name")
      if let problem = Job.nameProblem(name) { throw cursor.error(problem) }
    } else {
      name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
      if let problem = Job.nameProblem(name) {
        throw JobError(
          file: file, keyPath: "name", message: "the file name gives no usable job name (\(problem)); set 'name'")
      }
    }
    _ = try top.optional("description")?.string()
    let output: String
    if let cursor = top.optional("output") {
      output = try cursor.string("a folder path")
      if let problem = Job.pathProblem(output) { throw cursor.error(problem) }
    } else {
      output = "runs/\(name)"
    }
    let parallel = try decodeParallel(top.optional("parallel"))
    let checkpoint = try decodeCheckpoint(top.optional("checkpoint"))
    let grid = try SweepGrid.decode(top.optional("sweep"))

    // The values written in the file are checked even where every grid point replaces them;
    // keys the file leaves to the grid take the grid's first value for this check.
    let cache = MatrixCache()
    if let first = grid.points.first {
      var base = root
      var notes = [String: String]()
      for (key, value) in first {
        guard !contains(root, path: key.split(separator: ".").map(String.init)) else {
          notes[key] = "the file's value; sweep \(value.source) replaces it"
          continue
        }
        notes[key] = "set by sweep \(value.source)"
        base = try substitute(
          base, path: key.split(separator: ".").map(String.init), value: value.node, keyNode: value.keyNode, file: file)
      }
      _ = try RunConfiguration.decode(
        Cursor(node: base, path: "", file: file, origins: notes).mapping(allowed: RunConfiguration.topLevelKeys),
        cache: cache)
    }

    var runs = [RunSpec]()
    runs.reserveCapacity(grid.count)
    var firstWithKey = [RunKey: Int]()
    for (index, point) in grid.points.enumerated() {
      var tree = root
      var notes = [String: String]()
      for (key, value) in point {
        let description = "set by sweep \(value.source) for run \(RunSpec.id(for: index))"
        notes[key] = description
        tree = try substitute(
          tree, path: key.split(separator: ".").map(String.init), value: value.node, keyNode: value.keyNode, file: file)
      }
      let reader = try Cursor(node: tree, path: "", file: file, origins: notes)
        .mapping(allowed: RunConfiguration.topLevelKeys)
      let configuration = try RunConfiguration.decode(reader, cache: cache)
      try checkResources(
        configuration, run: RunSpec.id(for: index), reader: reader, parallel: parallel, limits: limits, file: file)
      let key = configuration.key(blockSize: parallel.blockSize)
      if let other = firstWithKey[key] {
        let sources = point.map(\.value.source).joined(separator: ", ")
        throw JobError(
          file: file, keyPath: "sweep",
          message:
            "runs \(RunSpec.id(for: other)) and \(RunSpec.id(for: index)) (\(sources)) have the same configuration; a sweep lists each configuration once (sweep 'seed' for replicates)"
        )
      }
      firstWithKey[key] = index
      runs.append(
        RunSpec(
          index: index, id: RunSpec.id(for: index),
          overrides: point.map { ($0.key, ParameterValue($0.value.node)) },
          configuration: configuration, key: key))
    }
    var job = Job(
      file: file, text: text, name: name, output: output, parallel: parallel, checkpoint: checkpoint,
      sweptKeys: grid.keys, runs: runs)
    job.analyses = try AnalysisSpec.decodeList(top.optional("analysis"), context: job.analysisContext)
    return job
  }

  /// What the job's analyses may refer to: its swept keys and recorded metrics (with the
  /// component labels of the first run that records each).
  var analysisContext: AnalysisContext {
    var metrics = [String: [String]]()
    for run in runs {
      let c = run.configuration
      for m in c.diagnostics.metrics where metrics[m.rawValue] == nil {
        metrics[m.rawValue] = RunExecutor<SerialCommunicator>.metricInfo(m, configuration: c).labels
      }
    }
    return AnalysisContext(sweptKeys: sweptKeys, metrics: metrics)
  }

  /// Refuses a run whose estimated memory per rank exceeds the limit, naming the key that
  /// dominates the estimate, the numbers, and the remedies.
  static func checkResources(
    _ c: RunConfiguration, run: String, reader: MappingReader, parallel: ParallelSpec, limits: ResourceLimits,
    file: String
  ) throws {
    guard let limit = limits.memoryPerRank else { return }
    let estimate = c.resources(
      ranksPerRun: parallel.ranksPerRun, cacheBytes: Double(parallel.cacheMegabytes) * 1_048_576)
    guard estimate.memoryPerRank > limit else { return }
    let what: String
    switch estimate.dominantKey {
    case "particles": what = "\(c.particles) particles in dimension \(c.dimension) over \(parallel.ranksPerRun) rank(s)"
    case "diagnostics.every":
      what =
        "\(String(format: "%.3g", c.sampleCount)) metric samples (dynamics.steps \(c.steps) / diagnostics.every \(c.diagnostics.every))"
    case "model.data": what = "the data set (\(c.interactionWork) samples)"
    default: what = "the reference grid"
    }
    let message =
      "run \(run) needs about \(formatBytes(estimate.memoryPerRank)) of memory per rank for \(what); this machine has \(formatBytes(limit)). "
      + "Lower the value, raise parallel.ranks-per-run, or pass --ignore-memory-limit if the compute nodes are larger"
    let head = String(estimate.dominantKey.split(separator: ".").first!)
    if let cursor = reader.optional(head) {
      var error = cursor.error(message)
      error.keyPath = estimate.dominantKey
      throw error
    }
    throw JobError(file: file, keyPath: estimate.dominantKey, message: message)
  }

  /// Why a text cannot be a job name, or nil. A name is one file-name component (it becomes
  /// the default output folder `runs/<name>` and the Slurm job name): no `/`, not `.` or `..`,
  /// no control characters, no leading `-`, at most 200 bytes.
  public static func nameProblem(_ name: String) -> String? {
    if name.isEmpty { return "expected a job name, found an empty string" }
    if name.utf8.count > 200 { return "a job name is at most 200 bytes; this one has \(name.utf8.count)" }
    if name == "." || name == ".." {
      return "'\(name)' is not a name; expected one file-name component such as my-sweep"
    }
    if name.contains("/") { return "a job name is one file-name component, without '/'; put the folder in 'output'" }
    if name.hasPrefix("-") { return "a job name cannot start with '-'" }
    if let c = name.unicodeScalars.first(where: {
      $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
    }) {
      return "a job name cannot hold control characters (found U+\(String(c.value, radix: 16, uppercase: true)))"
    }
    return nil
  }

  /// Why a text cannot be a folder path, or nil: empty, control characters (a newline or an
  /// escape in a path reaches logs and scripts), a NUL, or longer than PATH_MAX.
  public static func pathProblem(_ path: String) -> String? {
    if path.isEmpty { return "expected a folder path, found nothing" }
    if path.utf8.count > 4000 { return "a path is at most 4000 bytes; this one has \(path.utf8.count)" }
    if let c = path.unicodeScalars.first(where: {
      $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
    }) {
      return "a path cannot hold control characters (found U+\(String(c.value, radix: 16, uppercase: true)))"
    }
    return nil
  }

  static func decodeParallel(_ cursor: Cursor?) throws -> ParallelSpec {
    guard let cursor else { return ParallelSpec(ranksPerRun: 1, blockSize: 256, threads: nil) }
    let m = try cursor.mapping(allowed: ["ranks-per-run", "block-size", "threads", "cache-mb"])
    let ranks =
      try m.optional("ranks-per-run")?.int(
        where: { $0 >= 1 && $0 <= ExactSum.maximumParts },
        "a positive integer up to \(ExactSum.maximumParts) (the exact sums' bound)") ?? 1
    let block = try m.optional("block-size")?.int(where: { $0 >= 1 }, "a positive integer") ?? 256
    var threads: Int? = nil
    if let t = m.optional("threads"), t.scalarText != "auto" {
      threads = try t.int(where: { $0 >= 1 }, "a positive integer or 'auto'")
    }
    let cache = try m.optional("cache-mb")?.int(where: { $0 >= 0 }, "a non-negative number of MiB") ?? 1024
    return ParallelSpec(ranksPerRun: ranks, blockSize: block, threads: threads, cacheMegabytes: cache)
  }

  static func decodeCheckpoint(_ cursor: Cursor?) throws -> CheckpointSpec {
    guard let cursor else { return CheckpointSpec(every: nil, seconds: 600) }
    let m = try cursor.mapping(allowed: ["every", "seconds"])
    let every = try m.optional("every")?.int(where: { $0 >= 1 }, "a positive number of steps")
    let seconds = try m.optional("seconds")?.double(where: { $0 > 0 }, "a positive number of seconds")
    return CheckpointSpec(every: every, seconds: seconds)
  }

  /// Replaces (or adds) the value at a dotted path of the tree.
  static func substitute(_ node: Node, path: [String], value: Node, keyNode: Node, file: String) throws -> Node {
    guard let head = path.first else { return value }
    guard case .mapping(var mapping) = node else {
      throw JobError(
        file: file, line: keyNode.mark?.line, column: keyNode.mark?.column,
        keyPath: "sweep.grid." + path.joined(separator: "."),
        message: "the grid key goes inside a value that is not a mapping")
    }
    let rest = Array(path.dropFirst())
    if let index = mapping.firstIndex(where: { $0.key.string == head }) {
      let child = mapping[index].value
      let replaced = try substitute(child, path: rest, value: value, keyNode: keyNode, file: file)
      mapping[index] = (key: mapping[index].key, value: replaced)
    } else {
      let fresh: Node =
        rest.isEmpty
        ? value : try substitute(Node([(Node, Node)]()), path: rest, value: value, keyNode: keyNode, file: file)
      var key = Node(head)
      if case .scalar(var s) = key {
        s.mark = keyNode.mark
        key = .scalar(s)
      }
      var pairs = mapping.map { ($0.key, $0.value) }
      pairs.append((key, fresh))
      mapping = Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark)
    }
    return .mapping(mapping)
  }

  /// Whether a dotted path names a value of the tree.
  static func contains(_ node: Node, path: [String]) -> Bool {
    guard let head = path.first else { return true }
    guard case .mapping(let m) = node, let child = m.first(where: { $0.key.string == head })?.value else {
      return false
    }
    return contains(child, path: Array(path.dropFirst()))
  }
}

/// A YAML syntax error as a one-line job error at its line and column.
func jobError(_ error: YamlError, file: String) -> JobError {
  switch error {
  case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
    .composer(_, let problem, let mark, _):
    return JobError(
      file: file, line: mark.line, column: mark.column, keyPath: "", message: "not valid YAML: \(problem)")
  case .duplicatedKeysInMapping(let duplicates, let context):
    let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
    return JobError(
      file: file, line: context.mark.line, column: context.mark.column, keyPath: "",
      message: "the key \(keys) appears twice in one mapping")
  default:
    let text = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    return JobError(file: file, keyPath: "", message: "not valid YAML: \(text)")
  }
}
