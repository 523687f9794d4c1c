import Foundation
import SweepRunner
import SweepStore
import Testing

/// Fault injection: signals at random moments, killed processes, diverging and failing runs,
/// damaged files.
@Suite(.serialized) struct FaultTests {
  static let job = """
    model: { kind: two-layer-network, data: { kind: teacher, inputs: 4, samples: 120, teacher-width: 2, noise: 0.1, seed: 1 } }
    dynamics: { kind: underdamped, scheme: baoab, step: 0.02, steps: 2500, temperature: 0.01, friction: 1 }
    particles: 1500
    diagnostics: { every: 250, snapshots-every: 1000 }
    checkpoint: { every: 150 }
    parallel: { threads: 1 }
    sweep: { grid: { seed: [1, 2, 3, 4] } }
    output: out
    """

  /// Every dataset of every run (bit patterns) and the status codes.
  func contents(_ path: String) throws -> [String: [UInt64]] {
    let reader = try SweepFileReader(path: path)
    var out = [String: [UInt64]]()
    for id in try reader.runIDs() {
      for name in try reader.metricNames(run: id) {
        out["\(id)/\(name)"] = try reader.metric(run: id, name: name).map(\.bitPattern)
      }
      for k in 0..<3 { out["\(id)/particles[\(k)]"] = try reader.particles(run: id, snapshot: k).values.map(\.bitPattern) }
    }
    out["status"] = try reader.statusTable().map { UInt64($0.status.rawValue) }
    return out
  }

  /// Starts `mfsweep run`, sends `signal` after `delay` seconds, waits; returns the exit status.
  func runAndSignal(_ job: String, output: String, in folder: URL, signal: Int32, after delay: Double) throws -> Int32 {
    let sessionRoot = FileManager.default.temporaryDirectory.appendingPathComponent("ompi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: sessionRoot, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: sessionRoot) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try mfsweepPath())
    p.arguments = ["run", job, "--output", output]
    p.currentDirectoryURL = folder
    p.environment = childEnvironment(sessionRoot: sessionRoot)
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    Thread.sleep(forTimeInterval: delay)
    kill(p.processIdentifier, signal)
    p.waitUntilExit()
    return p.terminationStatus
  }

  /// SIGTERM, then SIGKILL, at seeded random moments; reruns until the sweep is done. The result
  /// equals an uninterrupted sweep bit for bit, and after every kill the completed runs stay
  /// readable.
  @Test(arguments: [SIGTERM, SIGKILL])
  func interruptedSweepsFinishIdentically(signal: Int32) throws {
    let folder = try temporaryFolder("faults")
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = try writeJob(Self.job, in: folder)
    let reference = try mfsweep(["run", path, "--output", "reference"], in: folder)
    #expect(reference.status == 0, "\(reference.stderr)")
    let expected = try contents(folder.appendingPathComponent("reference/task-0000-of-0001.h5").path)
    var generator = SplitMix(seed: UInt64(signal))
    var interruptions = 0
    for attempt in 0..<12 {
      let delay = 0.5 + 2.0 * generator.unit()
      let status = try runAndSignal(path, output: "out", in: folder, signal: signal, after: delay)
      let file = folder.appendingPathComponent("out/task-0000-of-0001.h5").path
      if status == 0 { break }
      interruptions += 1
      if signal == SIGTERM { #expect(status == 3, "attempt \(attempt): exit status \(status)") }
      // Whatever happened, the file opens and every completed run is readable.
      if FileManager.default.fileExists(atPath: file) {
        let reader = try SweepFileReader(path: file)
        for (slot, row) in try reader.statusTable().enumerated() where row.status == .completed {
          let id = try reader.runIDs()[slot]
          #expect(try reader.metric(run: id, name: "loss").allSatisfy(\.isFinite))
        }
      }
    }
    #expect(interruptions >= 2, "the sweep was interrupted only \(interruptions) time(s)")
    let final = try mfsweep(["run", path, "--output", "out"], in: folder)
    #expect(final.status == 0, "\(final.stderr)")
    let actual = try contents(folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    #expect(actual.keys.sorted() == expected.keys.sorted())
    for (key, value) in expected where actual[key] != value {
      Issue.record("\(key) differs from the uninterrupted sweep")
    }
  }

  /// A step size that blows up marks its runs diverged (with the step and the reason); an
  /// exception marks a run failed; the other runs complete; status and aggregate list them.
  @Test func divergedAndFailedRunsDoNotStopTheSweep() throws {
    let folder = try temporaryFolder("diverge")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = """
      model: { kind: potential, dimension: 1, potential: { kind: double-well } }
      dynamics: { kind: overdamped, step: 0.01, steps: 200, temperature: 0.1 }
      particles: 50
      diagnostics: { every: 20 }
      sweep: { grid: { dynamics.step: [0.01, 0.5, 0.02, 0.03] } }
      output: out
      """
    let path = try writeJob(text, in: folder)
    let sessionRoot = FileManager.default.temporaryDirectory.appendingPathComponent("ompi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: sessionRoot, withIntermediateDirectories: true)
    var env = childEnvironment(sessionRoot: sessionRoot)
    env["MFSWEEP_FAIL_RUNS"] = "r00003"
    let r = try runProcess(try mfsweepPath(), ["run", path], currentDirectory: folder, environment: env)
    #expect(r.status == 0, "\(r.stderr)")
    let reader = try SweepFileReader(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    let table = try reader.statusTable()
    #expect(table.map(\.status) == [.completed, .diverged, .completed, .failed])
    #expect(table[1].divergenceStep > 0 && table[1].divergenceStep < 200)
    #expect(table[1].message.contains("non-finite") || table[1].message.contains("bound"), "\(table[1].message)")
    #expect(table[3].message.contains("injected failure"))
    // Samples after the divergence are NaN; earlier ones are recorded.
    let loss = try reader.metric(run: "r00001", name: "loss")
    #expect(loss.first!.isFinite && loss.last!.isNaN)
    let agg = try mfsweep(["aggregate", "out"], in: folder)
    #expect(agg.status == 0, "\(agg.stderr)")
    #expect(agg.stdout.contains("diverged: r00001") && agg.stdout.contains("failed: r00003"), "\(agg.stdout)")
    // A rerun leaves diverged and failed runs alone.
    let again = try mfsweep(["run", path], in: folder)
    #expect(!again.stdout.contains("started"), "\(again.stdout)")
  }

  /// A truncated task file gets a clear message from status and aggregate; the other tasks are
  /// still aggregated, and their runs are listed as missing or not.
  @Test func truncatedTaskFile() throws {
    let folder = try temporaryFolder("truncated")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = """
      model: { kind: potential, dimension: 1, potential: { kind: quadratic } }
      dynamics: { kind: overdamped, step: 0.01, steps: 20, temperature: 0.1 }
      particles: 20
      sweep: { grid: { seed: [1, 2, 3, 4] } }
      output: out
      """
    let path = try writeJob(text, in: folder)
    for t in 0..<2 {
      let r = try mfsweep(["run", path, "--array-task", String(t), "--array-count", "2"], in: folder)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let damaged = folder.appendingPathComponent("out/task-0001-of-0002.h5").path
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: damaged))
    try handle.truncate(atOffset: 1000)
    try handle.close()
    let status = try mfsweep(["status", "out"], in: folder)
    #expect(status.status == 0, "\(status.stderr)")
    #expect(status.stdout.contains("task-0001-of-0002.h5 (unreadable"), "\(status.stdout)")
    #expect(try mfsweep(["status", "out", "--check"], in: folder).status == 1)
    let agg = try mfsweep(["aggregate", "out"], in: folder)
    #expect(agg.status == 0, "\(agg.stderr)")
    #expect(agg.stderr.contains("task-0001-of-0002.h5 is unreadable"), "\(agg.stderr)")
    let csv = try String(contentsOf: folder.appendingPathComponent("out/summary.csv"), encoding: .utf8)
    let lines = csv.split(separator: "\n")
    #expect(lines.count == 5)
    #expect(lines.filter { $0.contains(",missing,") }.count == 2)
    #expect(lines.filter { $0.contains(",completed,") }.count == 2)
    // Aggregating twice gives identical files.
    let first = try Data(contentsOf: folder.appendingPathComponent("out/summary.h5"))
    _ = try mfsweep(["aggregate", "out"], in: folder)
    #expect(try Data(contentsOf: folder.appendingPathComponent("out/summary.h5")) == first)
    #expect(try String(contentsOf: folder.appendingPathComponent("out/summary.csv"), encoding: .utf8) == csv)
    // Rerunning the damaged task refuses with a clear message rather than overwriting it.
    let rerun = try mfsweep(["run", path, "--array-task", "1", "--array-count", "2"], in: folder)
    #expect(rerun.status == 2 && rerun.stderr.contains("not a readable HDF5 file"), "\(rerun.stderr)")
  }
}

/// A small seeded generator for test timings.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
