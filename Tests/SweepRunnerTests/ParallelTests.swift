import Foundation
import SweepRunner
import SweepStore
import Testing

/// One ensemble split across G ranks gives bitwise the same output as one rank.
@Suite(.serialized) struct SplitEnsembleTests {
  static let dynamicsCases = [
    "{ kind: overdamped, step: 0.05, steps: 12, temperature: 0.01, l2: 0.001 }",
    "{ kind: underdamped, scheme: baoab, step: 0.05, steps: 12, temperature: 0.02, friction: 1 }",
    "{ kind: underdamped, scheme: plain, step: 0.05, steps: 12, temperature: 0.02, friction: 1 }",
    "{ kind: jko, step: 0.05, steps: 4, temperature: 0.01, blob: 0.3, tolerance: 1.0e-9 }",
  ]

  func job(
    model: String, dynamics: String, particles: Int, ranks: Int, blockSize: Int,
    metrics: String = "[loss, second-moment]", threads: Int = 1
  ) -> String {
    """
    model: \(model)
    dynamics: \(dynamics)
    particles: \(particles)
    diagnostics: { every: 4, metrics: \(metrics), snapshots-every: 6 }
    parallel: { ranks-per-run: \(ranks), block-size: \(blockSize), threads: \(threads) }
    sweep: { grid: { seed: [1, 2] } }
    output: out
    """
  }

  /// Every dataset of every run, bit patterns.
  func snapshot(_ path: String) throws -> [String: [UInt64]] {
    var out = try TaskFile(path: path).contents()
    out["status"] = nil
    return out
  }

  /// Runs the job on one rank with one thread, then on every `(ranks, threads)` of `layouts`
  /// (with `environment` given to the ranks), and compares every dataset bit for bit.
  func compare(
    model: String, dynamics: String, particles: Int, blockSize: Int, ranks: [Int],
    metrics: String = "[loss, second-moment]", referencePDE: String = "", threads: [Int] = [],
    environment: [String: String] = [:], expectInStandardError: String? = nil
  ) throws {
    let folder = try temporaryFolder("split")
    defer { try? FileManager.default.removeItem(at: folder) }
    var reference: [String: [UInt64]]? = nil
    let layouts = [(1, 1)] + ranks.filter { $0 > 1 }.map { ($0, 1) } + threads.map { (1, $0) }
    for (g, t) in layouts {
      let text =
        job(
          model: model, dynamics: dynamics, particles: particles, ranks: g, blockSize: blockSize, metrics: metrics,
          threads: t) + (referencePDE.isEmpty ? "" : "\nreference: \(referencePDE)\n")
      let path = try writeJob(text, named: "g\(g)-t\(t).yaml", in: folder)
      let output = folder.appendingPathComponent("g\(g)-t\(t)").path
      let result =
        g == 1
        ? try mfsweep(["run", path, "--output", output], in: folder)
        : try mpirunMfsweep(np: g, ["run", path, "--output", output], in: folder, environment: environment)
      #expect(result.status == 0, "G = \(g): \(result.stderr)")
      if g > 1, let expectInStandardError {
        #expect(result.stderr.contains(expectInStandardError), "G = \(g): \(result.stderr)")
      }
      let data = try snapshot(output + "/task-0000-of-0001.h5")
      #expect(data.count > 0)
      if let reference {
        #expect(data.keys.sorted() == reference.keys.sorted())
        for (key, values) in reference where data[key] != values {
          Issue.record("G = \(g), \(t) thread(s): \(key) differs from G = 1")
        }
      } else {
        reference = data
      }
    }
  }

  /// 12 blocks over 1, 2, 3, 4, 6 and 8 ranks (8 processes share the machine's cores), and on
  /// one rank with 2 and 3 threads. 70 data points: the statistic's 72 numbers are
  /// reduce-scattered, each rank rounding its share (the skewed-assignment test below, with 37,
  /// takes the all-reduce path).
  @Test(arguments: dynamicsCases)
  func networkRunsAreIdenticalOnOneToEightRanks(dynamics: String) throws {
    try compare(
      model:
        "{ kind: two-layer-network, data: { kind: teacher, inputs: 3, samples: 70, teacher-width: 2, noise: 0.1, seed: 1 } }",
      dynamics: dynamics, particles: 45, blockSize: 4, ranks: [1, 2, 3, 4, 6, 8], threads: [2, 3])
  }

  /// Any assignment of blocks to ranks: rank 0 one block, the others uneven shares
  /// (`MFSWEEP_BLOCK_SPLIT=skewed`), for the network and for every kind of collective metric.
  @Test func unevenBlockAssignmentsChangeNothing() throws {
    try compare(
      model:
        "{ kind: two-layer-network, data: { kind: teacher, inputs: 3, samples: 37, teacher-width: 2, noise: 0.1, seed: 1 } }",
      dynamics: Self.dynamicsCases[0], particles: 45, blockSize: 4, ranks: [3, 4],
      environment: ["MFSWEEP_BLOCK_SPLIT": "skewed"],
      expectInStandardError: "MFSWEEP_BLOCK_SPLIT=skewed: blocks per rank 1,")
    try compare(
      model:
        "{ kind: potential, dimension: 1, potential: { kind: double-well }, interaction: { kind: quadratic, strength: 0.5 } }",
      dynamics: "{ kind: overdamped, step: 0.01, steps: 12, temperature: 0.3 }", particles: 301, blockSize: 16,
      ranks: [3], metrics: "[loss, mean, second-moment, entropy, free-energy, basin-mass]",
      environment: ["MFSWEEP_BLOCK_SPLIT": "skewed"], expectInStandardError: "blocks per rank 1,6,12")
  }

  /// A value the hook does not know stops the launch before any run, with the accepted values.
  @Test func unknownBlockSplitIsRefused() throws {
    let r = try launchTwoRankJob(np: 2, environment: ["MFSWEEP_BLOCK_SPLIT": "sideways"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("MFSWEEP_BLOCK_SPLIT must be 'balanced' or 'skewed', not 'sideways'"), "\(r.stderr)")
  }

  /// Launches a small job with `parallel.ranks-per-run: 2` on `np` ranks.
  func launchTwoRankJob(np: Int, environment: [String: String] = [:]) throws -> ProcessResult {
    let folder = try temporaryFolder("refused")
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = try writeJob(
      job(
        model: "{ kind: potential, dimension: 1 }", dynamics: Self.dynamicsCases[0], particles: 8, ranks: 2,
        blockSize: 4), in: folder)
    return try mpirunMfsweep(np: np, ["run", path], in: folder, environment: environment)
  }

  /// A genuinely pairwise interaction (positions all-gathered every step) and a potential; 300
  /// particles, so that each rank's range holds whole 64-source tiles (whose pairs' exponentials
  /// are shared) and tiles cut by its ends (computed directly), differently on every rank count.
  @Test func pairwiseRunsAreIdenticalOnOneToEightRanks() throws {
    try compare(
      model:
        "{ kind: potential, dimension: 2, potential: { kind: double-well }, interaction: { kind: gaussian, strength: 0.5, width: 0.7 } }",
      dynamics: Self.dynamicsCases[1], particles: 300, blockSize: 4, ranks: [1, 2, 3, 4, 6, 8], threads: [3])
  }

  /// Every kind of collective metric (reductions, gathered-sample estimators, basins, a PDE
  /// solved alongside) gives the same bits on a split ensemble.
  @Test func metricsAreIdenticalOnOneToFourRanks() throws {
    try compare(
      model: "{ kind: potential, dimension: 1, potential: { kind: flat-sharp, sharp: 4, flat: 1 } }",
      dynamics: "{ kind: overdamped, step: 0.01, steps: 12, temperature: 0.3 }", particles: 301, blockSize: 16,
      ranks: [1, 2, 3, 4],
      metrics:
        "[loss, mean, second-moment, entropy, free-energy, kl-to-gibbs, w2-to-gaussian, basin-mass, duy-integral, l1-to-pde, w2-to-pde-marginal], gaussian: { mean: 0.5, std: 1 }",
      referencePDE: "{ kind: fokker-planck, lower: -3, upper: 3, cells: 60 }", threads: [2])
  }

  /// The schemes the cases above leave out: MALA (its acceptance count is an exact sum over
  /// blocks) and the symplectic underdamped scheme.
  @Test(arguments: [
    ("{ kind: mala, step: 0.05, steps: 12, temperature: 0.3 }", "[loss, second-moment, acceptance-rate]"),
    (
      "{ kind: underdamped, scheme: symplectic, step: 0.05, steps: 12, temperature: 0.3, friction: 1 }",
      "[loss, second-moment]"
    ),
  ])
  func otherSchemesAreIdenticalOnSplitEnsembles(dynamics: String, metrics: String) throws {
    try compare(
      model: "{ kind: potential, dimension: 2, potential: { kind: double-well } }", dynamics: dynamics,
      particles: 301, blockSize: 16, ranks: [1, 3, 4], metrics: metrics, threads: [2])
  }

  /// The kinetic reference's metrics (phase-space L1 from positions and velocities, the PDE's
  /// moments) give the same bits on a split ensemble.
  @Test func kineticMetricsAreIdenticalOnOneToThreeRanks() throws {
    try compare(
      model: "{ kind: potential, dimension: 1, potential: { kind: quadratic } }",
      dynamics: "{ kind: underdamped, scheme: baoab, step: 0.05, steps: 12, temperature: 0.3, friction: 1 }",
      particles: 301, blockSize: 16, ranks: [1, 2, 3],
      metrics: "[l1-to-pde-phase-space, l1-to-pde, pde-mean, pde-second-moment, w2-to-pde-marginal]",
      referencePDE:
        "{ kind: kinetic-fokker-planck, lower: -3, upper: 3, cells: 64, velocity: { lower: -3, upper: 3, cells: 40 } }"
    )
  }

  /// Two blocks over three ranks: the third rank holds no particle and must neither hang nor
  /// change anything.
  @Test func aRankWithoutParticles() throws {
    try compare(
      model:
        "{ kind: potential, dimension: 1, potential: { kind: quadratic, stiffness: 2 }, interaction: { kind: quadratic, strength: 1 } }",
      dynamics: Self.dynamicsCases[0], particles: 6, blockSize: 4, ranks: [1, 3])
  }

  /// Four ranks in two groups of two: `mpirun -np 4` with ranks-per-run 2 equals `-np 1`.
  @Test func twoGroupsOfTwoRanks() throws {
    let folder = try temporaryFolder("groups")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = job(
      model:
        "{ kind: two-layer-network, data: { kind: teacher, inputs: 3, samples: 20, teacher-width: 2, noise: 0.1, seed: 1 } }",
      dynamics: Self.dynamicsCases[0], particles: 33, ranks: 2, blockSize: 4
    ).replacingOccurrences(of: "seed: [1, 2]", with: "seed: [1, 2, 3, 4, 5]")
    let path = try writeJob(text, in: folder)
    let four = try mpirunMfsweep(np: 4, ["run", path, "--output", "np4"], in: folder)
    #expect(four.status == 0, "\(four.stderr)")
    #expect(four.stdout.contains("[group 0]") && four.stdout.contains("[group 1]"), "\(four.stdout)")
    let one = try writeJob(
      text.replacingOccurrences(of: "ranks-per-run: 2", with: "ranks-per-run: 1"), named: "one.yaml", in: folder)
    #expect(try mfsweep(["run", one, "--output", "np1"], in: folder).status == 0)
    let a = try snapshot(folder.appendingPathComponent("np4/task-0000-of-0001.h5").path)
    let b = try snapshot(folder.appendingPathComponent("np1/task-0000-of-0001.h5").path)
    #expect(a == b)
    // The ranks used are recorded.
    let reader = try TaskFile(path: folder.appendingPathComponent("np4/task-0000-of-0001.h5").path)
    #expect(try reader.statusTable().allSatisfy { $0.ranks == 2 && $0.status == "completed" })
  }

  @Test func worldSizeMustBeAMultipleOfTheGroupSize() throws {
    let r = try launchTwoRankJob(np: 3)
    #expect(r.status == 2)
    #expect(r.stderr.contains("not a multiple of parallel.ranks-per-run = 2"), "\(r.stderr)")
  }
}
