import Foundation
import SweepStore
import Testing

/// The portable build (docs/PORTABILITY.md): the same jobs run with the kernels forced to every
/// x86-64 level this CPU runs give the same bits; without forcing, mfsweep hands over to the
/// widest variant; a level that is unknown, missing or beyond the CPU is refused.
@Suite(.serialized) struct InstructionSetTests {
  /// The widest level the CPU runs, as `mfsweep --version` reports it.
  func cpuLevel() throws -> Int {
    let r = try mfsweep(["--version"])
    guard let range = r.stdout.range(of: "this CPU runs up to x86-64-v"),
      let level = Int(String(r.stdout[range.upperBound]))
    else { throw TestFailure("mfsweep --version does not name the CPU's level: \(r.stdout)") }
    return level
  }

  func environment(forcing level: String?) -> [String: String] {
    var env = childEnvironment(sessionRoot: FileManager.default.temporaryDirectory)
    env["MFSWEEP_ISA"] = level
    env["MFSWEEP_ISA_ACTIVE"] = nil
    return env
  }

  static let jobs = [
    // The network step (GEMMs, ReLU), with its moments, NTK and kNN entropy.
    """
    model: { kind: two-layer-network, activation: relu, data: { kind: teacher, inputs: 5, samples: 70, teacher-width: 2, noise: 0.05, seed: 3 } }
    dynamics: { kind: overdamped, step: 0.05, steps: 20, temperature: 0.001, l2: 0.001 }
    particles: 300
    diagnostics: { every: 10, metrics: [loss, second-moment, entropy, ntk-discrepancy], snapshots-every: 10 }
    sweep: { grid: { seed: [1, 2] } }
    output: out
    """,
    // Particles: a Gaussian pair interaction (the vectorised exponentials), an expression
    // potential, underdamped BAOAB, the Gibbs law, basins, and the three W2 methods against a
    // reference sample (assignment, Sinkhorn, sliced).
    """
    model:
      kind: potential
      dimension: 2
      potential: { kind: expression, V: "(x1^2 - 1)^2 + 0.3*x1 + x2^2", minima: [[-1, 0], [1, 0]] }
      interaction: { kind: gaussian, strength: 0.5, width: 0.7 }
    dynamics: { kind: underdamped, scheme: baoab, step: 0.02, steps: 20, temperature: 0.3, friction: 1 }
    particles: 400
    diagnostics: { every: 10, metrics: [mean, w2-to-reference, kl-to-reference, basin-mass, free-energy], reference-sample: reference.csv, snapshots-every: 10 }
    sweep: { grid: { diagnostics.w2-method: [exact, sinkhorn, sliced] } }
    output: out
    """,
  ]

  @Test func everyLevelGivesTheSameBits() throws {
    let cpu = try cpuLevel()
    try #require(cpu >= 3, "this test needs a CPU with AVX2 to compare two levels")
    let folder = try temporaryFolder("isa")
    defer { try? FileManager.default.removeItem(at: folder) }
    var reference = ""
    for i in 0..<400 {
      reference += "\(Foundation.sin(Double(i) * 1.3) * 1.5), \(Foundation.cos(Double(i) * 0.7))\n"
    }
    try reference.write(to: folder.appendingPathComponent("reference.csv"), atomically: true, encoding: .utf8)
    for (j, text) in Self.jobs.enumerated() {
      let path = try writeJob(text, named: "job\(j).yaml", in: folder)
      var first: [String: [UInt64]]? = nil
      for level in 2...min(cpu, 4) {
        let name = "x86-64-v\(level)"
        let env = environment(forcing: name)
        let version = try runProcess(try mfsweepPath(), ["--version"], environment: env)
        #expect(version.stdout.contains("kernels \(name)"), "\(name): \(version.stdout)\(version.stderr)")
        let output = "out-\(j)-\(level)"
        let r = try runProcess(
          try mfsweepPath(), ["run", path, "--output", output], currentDirectory: folder, environment: env)
        #expect(r.status == 0, "\(name): \(r.stderr)")
        var data = try TaskFile(path: folder.appendingPathComponent("\(output)/task-0000-of-0001.h5").path).contents()
        data["status"] = nil
        #expect(data.count > 4)
        if let first { expectSameContents(data, first, "job \(j), \(name) against x86-64-v2:") } else { first = data }
      }
    }
  }

  @Test func theWidestVariantRunsByDefaultAndBadLevelsAreRefused() throws {
    let cpu = try cpuLevel()
    let plain = try runProcess(try mfsweepPath(), ["--version"], environment: environment(forcing: nil))
    #expect(plain.stdout.contains("kernels x86-64-v\(min(cpu, 4))"), "\(plain.stdout)")
    // An inherited marker of another build (a Slurm job's environment) does not stop the choice.
    var inherited = environment(forcing: nil)
    inherited["MFSWEEP_ISA_ACTIVE"] = "x86-64-v3"
    let again = try runProcess(try mfsweepPath(), ["--version"], environment: inherited)
    #expect(again.stdout.contains("kernels x86-64-v\(min(cpu, 4))"), "\(again.stdout)")
    for (level, phrase) in [("x86-64-v9", "expected x86-64-v2"), ("avx2", "expected x86-64-v2")] {
      let r = try runProcess(try mfsweepPath(), ["--version"], environment: environment(forcing: level))
      #expect(r.status == 2 && r.stderr.contains(phrase), "\(level): \(r.status) \(r.stderr)")
    }
    if cpu < 4 {
      let r = try runProcess(try mfsweepPath(), ["--version"], environment: environment(forcing: "x86-64-v4"))
      #expect(r.status == 2 && r.stderr.contains("this CPU runs up to"), "\(r.stderr)")
    }
  }
}
