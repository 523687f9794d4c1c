import Foundation
import MeanFieldCore
import SweepRunner
import SweepStore
import Testing

/// Fault injection: signals at random moments, killed processes, diverging and failing runs.
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

  /// Every metric and snapshot of every run (bit patterns) and the statuses.
  func contents(_ path: String) throws -> [String: [UInt64]] { try TaskFile(path: path).contents() }

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
  /// equals an uninterrupted sweep bit for bit; after every kill `status` reads the folder, no
  /// run is reported running, and every run it calls completed has its final result.
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
      if status == 0 { break }
      interruptions += 1
      if signal == SIGTERM { #expect(status == 3, "attempt \(attempt): exit status \(status)") }
      // Whatever happened, the folder reads, nothing is called running, and the completed runs
      // are complete.
      if FileManager.default.fileExists(atPath: folder.appendingPathComponent("out/store/job.mfj").path) {
        let state = try SweepState(output: folder.appendingPathComponent("out").path)
        for p in 0..<4 {
          let run = try state.run(p, verify: true)
          #expect(run.status != "running" && run.damage == nil, "attempt \(attempt): \(run.status) \(run.damage ?? "")")
          if let result = run.result {
            #expect(result.status == .completed && result.stepsDone == 2500)
            #expect(result.metrics[0].values.allSatisfy { $0.isFinite })
          }
        }
      }
    }
    #expect(interruptions >= 2, "the sweep was interrupted only \(interruptions) time(s)")
    let final = try mfsweep(["run", path, "--output", "out"], in: folder)
    #expect(final.status == 0, "\(final.stderr)")
    let actual = try contents(folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    expectSameContents(actual, expected, "against the uninterrupted sweep:")
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
    let reader = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    let table = try reader.statusTable()
    #expect(table.map(\.status) == ["completed", "diverged", "completed", "failed"])
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
}
