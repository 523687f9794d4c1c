import Foundation
import MeanFieldCore
import Testing

/// A digest of bit patterns (FNV-1a over 64-bit words), to pin trajectories.
func fingerprint(_ values: [Double]) -> UInt64 {
  var h: UInt64 = 0xcbf2_9ce4_8422_2325
  for v in values {
    h ^= v.bitPattern
    h = h &* 0x100_0000_01b3
  }
  return h
}

/// Trajectories of every scheme pinned bit for bit: a change to the arithmetic of a step (a
/// refactor of the engine, an integrator moved into its own type) must leave them unchanged.
/// The digests were recorded with the engine before the integrators became their own types;
/// changing one needs a stated reason. The network's steps are GEMMs, whose rounding depends on
/// the kernel OpenBLAS picks for the CPU: their digests are pinned per kernel family (Haswell
/// recorded with that engine; SkylakeX and Sandybridge by the same code, which reproduces every
/// Haswell digest).
/// On a kernel without digests the network cases check thread invariance only.
///
/// Two digests were re-recorded when the potential models got block kernels, with a changed
/// arithmetic: the Gaussian pair interaction sums each target's terms over the sources in order
/// with one fused multiply–add per term and applies the prefactor once (it multiplied every term
/// by it before), checked against an extended-precision loop to 1e-14 (PotentialKernelTests);
/// the flat-and-sharp shape g uses FastMath's exp and tanh instead of libm's (within 1e-15
/// relative, FastMath's tests).
///
/// Three digests were re-recorded when the sum over blocks became exact (docs/MATH.md §2a): the
/// statistic of the quadratic interaction (19 blocks) and of the network (7 blocks) is now the
/// correctly rounded sum of the block partials instead of their left-to-right fold (with one or
/// two blocks the two agree, which is why the other cases kept their digests). Recorded on an
/// AVX2 machine with the Haswell (= Zen) and Sandybridge kernels. The SkylakeX digests were
/// recorded afterwards on an AVX-512 machine (Zen 4, where OpenBLAS picks Cooperlake, whose
/// double-precision GEMM is SkylakeX's: the same digests, measured), by the same code, which
/// there reproduced the Haswell and Sandybridge digests under `OPENBLAS_CORETYPE`.
@Suite struct StoredTrajectoryTests {
  struct Case: CustomTestStringConvertible, Sendable {
    var label: String
    var dynamics: Dynamics
    var steps: Int
    var network: Bool
    var potential: ConfiningPotential
    var interaction: Interaction
    var dimension: Int
    var particles: Int
    var expected: UInt64
    /// Network cases: the digest per OpenBLAS kernel family (`expected` is Haswell's).
    var byKernel: [String: UInt64] = [:]
    var testDescription: String { label }
  }

  static let cases: [Case] = [
    Case(
      label: "overdamped, double well with a quadratic interaction",
      dynamics: .overdamped(.init(step: 0.01, temperature: 0.2, l2: 0.05)), steps: 40, network: false,
      potential: .doubleWell, interaction: .quadraticAttraction(strength: 0.5), dimension: 2, particles: 300,
      expected: 0xd1ce_37b0_30ca_5506),
    Case(
      label: "gradient flow, Gaussian pair interaction",
      dynamics: .overdamped(.init(step: 0.02, temperature: 0, l2: 0.1)), steps: 30, network: false,
      potential: .quadratic(stiffness: 1), interaction: .gaussianKernel(strength: 0.7, width: 0.5), dimension: 2,
      particles: 64, expected: 0x2633ccfb3c142271),
    Case(
      label: "underdamped plain, flat-sharp",
      dynamics: .underdamped(.init(step: 0.01, temperature: 0.3, l2: 0, friction: 1.5, scheme: .plain)), steps: 50,
      network: false, potential: .flatSharp(sharp: 8, flat: 1, transverse: 2), interaction: .none, dimension: 2,
      particles: 200, expected: 0x7f43c01bc4989d2d),
    Case(
      label: "BAOAB, network",
      dynamics: .underdamped(.init(step: 0.05, temperature: 0.01, l2: 0.001, friction: 1, scheme: .baoab)),
      steps: 30, network: true, potential: .none, interaction: .none, dimension: 0, particles: 100,
      expected: 10_219_195_716_274_275_657,
      byKernel: [
        "Haswell": 10_219_195_716_274_275_657, "Zen": 10_219_195_716_274_275_657,
        "Sandybridge": 15_021_288_902_009_499_587,
        "SkylakeX": 4_990_264_769_844_839_749, "Cooperlake": 4_990_264_769_844_839_749,
      ]),
    Case(
      label: "overdamped, network",
      dynamics: .overdamped(.init(step: 0.05, temperature: 1e-3, l2: 1e-3)), steps: 30, network: true,
      potential: .none, interaction: .none, dimension: 0, particles: 100, expected: 11_289_018_402_369_667_458,
      byKernel: [
        "Haswell": 11_289_018_402_369_667_458, "Zen": 11_289_018_402_369_667_458,
        "Sandybridge": 14_243_791_602_763_991_361,
        "SkylakeX": 15_927_831_333_532_176_379, "Cooperlake": 15_927_831_333_532_176_379,
      ]),
    Case(
      label: "particle JKO with blob entropy",
      dynamics: .jko(
        .init(step: 0.05, temperature: 0.1, l2: 0, blob: 0.2, tolerance: 1e-9, maxIterations: 200, damping: 1)),
      steps: 4, network: false, potential: .doubleWell, interaction: .none, dimension: 1, particles: 40,
      expected: 0xa2e24a43af80bdf8),
  ]

  func run(_ c: Case, threads: Int) throws -> [Double] {
    let layout = BlockLayout(particleCount: c.particles, blockSize: 16)
    let noise = GaussianField(seed: 9, runIndex: 0x1234_5678_9abc)
    let velocity: InitialLaw = c.dynamics.hasVelocities ? .gaussian(mean: [0], std: [0.4]) : .zero
    if c.network {
      let model = Fixtures.network(inputs: 4, samples: 30)
      let engine = ParticleEngine(
        model: model, exchange: LocalExchange(layout: layout), dynamics: c.dynamics,
        initial: .gaussian(mean: [0], std: [1]), initialVelocity: velocity, noise: noise, threads: threads)
      for _ in 0..<c.steps { #expect(try engine.step() == nil) }
      return engine.positions + engine.velocities
    }
    let model = PotentialSystem(potential: c.potential, interaction: c.interaction, dimension: c.dimension)
    let engine = ParticleEngine(
      model: model, exchange: LocalExchange(layout: layout), dynamics: c.dynamics,
      initial: .uniform(lower: [-2], upper: [2]), initialVelocity: velocity, noise: noise, threads: threads)
    for _ in 0..<c.steps { #expect(try engine.step() == nil) }
    return engine.positions + engine.velocities
  }

  @Test(arguments: cases)
  func trajectoriesAreUnchanged(_ c: Case) throws {
    let one = try run(c, threads: 1)
    let two = try run(c, threads: 2)
    #expect(one.map(\.bitPattern) == two.map(\.bitPattern), "thread count changed the trajectory")
    #expect(one.allSatisfy { $0.isFinite })
    if !c.network {
      #expect(fingerprint(one) == c.expected, "fingerprint \(String(fingerprint(one), radix: 16))")
    } else if let expected = c.byKernel[BLAS.coreName] {
      #expect(fingerprint(one) == expected, "\(BLAS.coreName): fingerprint \(String(fingerprint(one), radix: 16))")
    } else {
      print(
        "\(c.label): no digest recorded for OpenBLAS kernel \(BLAS.coreName) (fingerprint \(fingerprint(one))): thread invariance checked only"
      )
    }
  }
}
