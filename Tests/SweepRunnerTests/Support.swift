import Foundation
import SweepStore
import Testing

/// The folder holding the built products (…/.build/<triple>/<config>/), found from the running
/// test binary, so it works for debug, release and --scratch-path builds.
func productsDirectory() -> URL {
  URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}

/// The repository root (three levels above this file: Tests/SweepRunnerTests/Support.swift).
func repositoryRoot() -> URL {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

func findInPath(_ name: String) -> String? {
  for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
    let p = "\(dir)/\(name)"
    if FileManager.default.isExecutableFile(atPath: p) { return p }
  }
  return nil
}

struct ProcessResult {
  let status: Int32
  let stdout: String
  let stderr: String
}

struct TestFailure: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent(
      "mfsweep-test-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))-\(name)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Environment for child processes: without the variables an MPI parent leaves behind, with the
/// root override (harmless otherwise), a private Open MPI session folder, and BLAS on one thread.
func childEnvironment(sessionRoot: URL) -> [String: String] {
  var env = ProcessInfo.processInfo.environment.filter { key, _ in
    !["OMPI_", "PMIX_", "ORTE_", "OPAL_", "PMI_", "SLURM_"].contains { key.hasPrefix($0) }
  }
  env["OMPI_MCA_orte_tmpdir_base"] = sessionRoot.path
  env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
  env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
  env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
  env["OPENBLAS_NUM_THREADS"] = "1"
  return env
}

/// Runs a program to completion (output drained while it runs).
func runProcess(
  _ executable: String, _ arguments: [String], currentDirectory: URL? = nil,
  environment: [String: String]? = nil, timeout: TimeInterval = 600
) throws -> ProcessResult {
  let sessionRoot = FileManager.default.temporaryDirectory.appendingPathComponent("ompi-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: sessionRoot, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: sessionRoot) }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: executable)
  p.arguments = arguments
  p.environment = environment ?? childEnvironment(sessionRoot: sessionRoot)
  if let currentDirectory { p.currentDirectoryURL = currentDirectory }
  let out = Pipe(), err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  final class Box: @unchecked Sendable { var out = Data(); var err = Data() }
  let box = Box()
  let group = DispatchGroup()
  DispatchQueue.global().async(group: group) { box.out = out.fileHandleForReading.readDataToEndOfFile() }
  DispatchQueue.global().async(group: group) { box.err = err.fileHandleForReading.readDataToEndOfFile() }
  if group.wait(timeout: .now() + timeout) == .timedOut {
    p.terminate()
    _ = group.wait(timeout: .now() + 10)
  }
  p.waitUntilExit()
  return ProcessResult(
    status: p.terminationStatus, stdout: String(decoding: box.out, as: UTF8.self),
    stderr: String(decoding: box.err, as: UTF8.self))
}

/// The built `mfsweep` executable.
func mfsweepPath() throws -> String {
  let exe = productsDirectory().appendingPathComponent("mfsweep").path
  guard FileManager.default.isExecutableFile(atPath: exe) else { throw TestFailure("no mfsweep at \(exe)") }
  return exe
}

/// Starts `mfsweep args…` in `folder` in the background (standard output discarded; standard
/// error into `errorLog`, or discarded), for tests that signal or race it.
func startMfsweep(_ arguments: [String], in folder: URL, errorLog: URL? = nil) throws -> Process {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: try mfsweepPath())
  p.arguments = arguments
  p.currentDirectoryURL = folder
  p.environment = childEnvironment(sessionRoot: FileManager.default.temporaryDirectory)
  p.standardOutput = FileHandle.nullDevice
  if let errorLog {
    _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
    p.standardError = try FileHandle(forWritingTo: errorLog)
  } else {
    p.standardError = FileHandle.nullDevice
  }
  try p.run()
  return p
}

/// Waits up to `seconds` for a file to exist (a launch's lock: it has started its runs).
func waitForFile(_ path: String, seconds: Double = 12) {
  let deadline = Date().addingTimeInterval(seconds)
  while !FileManager.default.fileExists(atPath: path) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
}

/// `mfsweep args…` without mpirun (an MPI singleton when it runs a sweep).
func mfsweep(_ arguments: [String], in folder: URL? = nil) throws -> ProcessResult {
  try runProcess(try mfsweepPath(), arguments, currentDirectory: folder)
}

/// `mpirun -np N mfsweep args…`, with `environment` added to the ranks' environment.
func mpirunMfsweep(
  np: Int, _ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:]
) throws -> ProcessResult {
  guard let mpirun = findInPath("mpirun") else { throw TestFailure("mpirun is not on PATH") }
  let exported = environment.keys.sorted().flatMap { ["-x", "\($0)=\(environment[$0]!)"] }
  return try runProcess(
    mpirun, ["-np", String(np)] + exported + [try mfsweepPath()] + arguments, currentDirectory: folder)
}

/// Debian's python3 with h5py (installed by the test command), if present.
func pythonWithH5py() -> String? {
  for candidate in ["/usr/bin/python3", findInPath("python3")].compactMap({ $0 }) {
    if let r = try? runProcess(candidate, ["-c", "import h5py"], environment: ProcessInfo.processInfo.environment),
      r.status == 0
    {
      return candidate
    }
  }
  return nil
}

/// Writes a job file into `folder` and returns its path.
func writeJob(_ text: String, named name: String = "job.yaml", in folder: URL) throws -> String {
  let path = folder.appendingPathComponent(name).path
  try text.write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

/// A small, fast network job used by the integration tests.
let smallJob = """
  name: small
  seed: 3
  model:
    kind: two-layer-network
    activation: tanh
    data: { kind: teacher, inputs: 3, samples: 40, teacher-width: 2, noise: 0.05, seed: 7 }
  dynamics: { kind: overdamped, step: 0.05, steps: 30, temperature: 1.0e-3, l2: 1.0e-3 }
  particles: 50
  init: { kind: gaussian, std: 1.0 }
  diagnostics: { every: 10, metrics: [loss, second-moment], snapshots-every: 15 }
  parallel: { block-size: 16 }
  sweep:
    grid:
      particles: [20, 50]
      dynamics.temperature: { logspace: [1.0e-4, 1.0e-2, 3] }
  output: out
  """

/// One row of a view's per-run state, as the tests read it.
struct RunRow: Equatable {
  var status: String
  var stepsDone: Int
  var ranks: Int
  var divergenceStep: Int
  var message: String
}

/// A task view (or summary) read through ``DatasetReader`` with the accessors the tests use.
struct TaskFile {
  let reader: DatasetReader

  init(path: String) throws { reader = try DatasetReader(path: path) }

  func runIDs() -> [String] { reader.runIDs }

  /// Every run's status row.
  func statusTable() throws -> [RunRow] {
    let status = try reader.strings("status"), steps = try reader.ints("steps_done"), ranks = try reader.ints("ranks")
    let divergence = try reader.ints("divergence_step"), message = try reader.strings("message")
    return status.indices.map {
      RunRow(
        status: status[$0], stepsDone: steps[$0], ranks: ranks[$0], divergenceStep: divergence[$0], message: message[$0]
      )
    }
  }

  /// The metric variables of the view (job-file names).
  func metricNames() throws -> [String] {
    try reader.file.root.memberNames().compactMap { name in
      guard let ds = try? reader.file.root.openDataset(name), case .string(let metric)? = try? ds.attribute("metric")
      else { return nil }
      return metric
    }
  }

  /// A metric's row of a run, sample axis padded with NaN (`samples × width`).
  func metric(run id: String, name: String) throws -> [Double] {
    let variable = DatasetWriter.metricVariable(name)
    let ds = try reader.file.root.openDataset(variable)
    let p = try reader.position(of: id)
    let s = ds.shape[1], w = ds.shape.count > 2 ? ds.shape[2] : 1
    return try ds.readDoubles(
      start: ds.shape.count > 2 ? [p, 0, 0] : [p, 0], count: ds.shape.count > 2 ? [1, s, w] : [1, s])
  }

  /// The sample times of a run.
  func times(run id: String) throws -> [Double] {
    let ds = try reader.file.root.openDataset("time")
    if ds.shape.count == 1 { return try ds.readDoubles() }
    let p = try reader.position(of: id)
    return try ds.readDoubles(start: [p, 0], count: [1, ds.shape[1]])
  }

  /// Snapshots of a run.
  func snapshotCount(run id: String) throws -> Int {
    let ds = try reader.file.root.openDataset("snapshot_start")
    let p = try reader.position(of: id)
    return try ds.readInts(start: [p, 0], count: [1, ds.shape[1]]).filter { $0 >= 0 }.count
  }

  func particles(run id: String, snapshot: Int) throws -> (values: [Double], rows: Int, dimension: Int) {
    try reader.particles(run: try reader.position(of: id), snapshot: snapshot)
  }

  /// Every metric and snapshot of every run (bit patterns), and the statuses.
  func contents() throws -> [String: [UInt64]] {
    var out = [String: [UInt64]]()
    let names = try metricNames()
    for id in runIDs() {
      for name in names { out["\(id)/\(name)"] = try metric(run: id, name: name).map(\.bitPattern) }
      if reader.has("snapshot_start") {
        for k in 0..<(try snapshotCount(run: id)) {
          out["\(id)/particles[\(k)]"] = try particles(run: id, snapshot: k).values.map(\.bitPattern)
        }
      }
      out["\(id)/time"] = try times(run: id).map(\.bitPattern)
    }
    let order = ["pending", "running", "completed", "diverged", "failed", "interrupted", "damaged"]
    out["status"] = try statusTable().map { UInt64(order.firstIndex(of: $0.status) ?? 99) }
    return out
  }
}

/// Records an issue naming the keys whose values differ (never the values themselves).
func expectSameContents(
  _ actual: [String: [UInt64]], _ expected: [String: [UInt64]], _ label: String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let keys = Set(actual.keys).union(expected.keys).sorted()
  let differing = keys.filter { actual[$0] != expected[$0] }
  if !differing.isEmpty {
    let shown = differing.prefix(8).map { key -> String in
      let a = actual[key], e = expected[key]
      if a == nil { return "\(key) (missing)" }
      if e == nil { return "\(key) (unexpected)" }
      let nan = a!.filter { Double(bitPattern: $0).isNaN }.count
      return "\(key) (\(a!.count) values, \(nan) NaN; expected \(e!.count))"
    }
    Issue.record(
      "\(label) \(differing.count) of \(keys.count) entries differ: \(shown.joined(separator: ", "))",
      sourceLocation: sourceLocation)
  }
}
