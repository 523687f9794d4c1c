import Foundation
import MeanFieldCore
import Testing

func potentialEngine(
  _ potential: ConfiningPotential, _ interaction: Interaction, dimension: Int, particles: Int,
  dynamics: Dynamics = .overdamped(.init(step: 0.01, temperature: 0, l2: 0)), threads: Int = 1, std: Double = 1
) -> ParticleEngine<PotentialSystem, LocalExchange> {
  ParticleEngine(
    model: PotentialSystem(potential: potential, interaction: interaction, dimension: dimension),
    exchange: LocalExchange(layout: BlockLayout(particleCount: particles, blockSize: 4)),
    dynamics: dynamics, initial: .gaussian(mean: [0.1], std: [std]), noise: GaussianField(seed: 9, runIndex: 0),
    threads: threads)
}

/// Relative error of the drift against central differences of N·F0 (step h).
func driftError(_ engine: ParticleEngine<PotentialSystem, LocalExchange>, h: Double = 1e-6) throws -> Double {
  let x0 = engine.positions
  let n = engine.ownedParticles.count
  try engine.prepareField()
  let g = engine.driftOfCurrentState()
  let scale = max(1e-12, g.map(abs).max()!)
  var worst = 0.0
  for k in 0..<x0.count {
    var xp = x0, xm = x0
    xp[k] += h
    xm[k] -= h
    engine.restore(positions: xp, step: 0)
    let fp = try engine.modelEnergy()
    engine.restore(positions: xm, step: 0)
    let fm = try engine.modelEnergy()
    worst = max(worst, abs(Double(n) * (fp - fm) / (2 * h) - g[k]) / scale)
  }
  engine.restore(positions: x0, step: 0)
  return worst
}

@Suite struct PotentialTests {
  static let table1D = TabulatedPotential(
    lower: [-2], upper: [2], points: [9],
    values: (0..<9).map { i in
      let s = -2 + 0.5 * Double(i); return s * s * s * s - s * s
    },
    wall: 3)
  static let table2D = TabulatedPotential(
    lower: [-2, -1], upper: [2, 1], points: [7, 5],
    values: (0..<35).map { k in
      let a = -2 + Double(k / 5) * 4 / 6, b = -1 + Double(k % 5) * 0.5; return a * a + 0.5 * b * b * b * b + a * b
    },
    wall: 2)

  /// The drift of every potential and interaction is the gradient of N·F0: central differences
  /// (h = 1e-6, truncation ~1e-12, rounding ~1e-10 relative) agree to 1e-6.
  @Test(arguments: [
    (ConfiningPotential.quadratic(stiffness: 1.7), Interaction.none, 2),
    (.doubleWell, .quadraticAttraction(strength: 0.8), 2),
    (.flatSharp(sharp: 8, flat: 1, transverse: 2), .none, 3),
    (.flatSharp(sharp: 1, flat: 5, transverse: 1), .gaussianKernel(strength: 0.7, width: 0.9), 2),
    (.none, .gaussianKernel(strength: 1.3, width: 0.5), 1),
    (.tabulated(table1D), .quadraticAttraction(strength: 0.3), 1),
    (.tabulated(table2D), .none, 2),
    (.anisotropicQuadratic(stiffness: [2, 8, 0.5]), .quadraticAttraction(strength: 0.4), 3),
    (.rosenbrock(a: 1, b: 100), .none, 2),
    (.rosenbrock(a: -0.5, b: 3), .gaussianKernel(strength: 0.4, width: 0.7), 2),
  ])
  func driftIsTheGradient(potential: ConfiningPotential, interaction: Interaction, dimension: Int) throws {
    let engine = potentialEngine(potential, interaction, dimension: dimension, particles: 9, std: 1.2)
    let error = try driftError(engine)
    #expect(error < 1e-6, "relative error \(error)")
  }

  /// The flat-and-sharp landscape has equal-depth minima at x₁ = ±1 with the stated
  /// curvatures (second differences, h = 1e-4: error O(h²) ≈ 1e-8 relative).
  @Test func flatSharpMinimaAndCurvatures() {
    let v = ConfiningPotential.flatSharp(sharp: 9, flat: 1.5, transverse: 2)
    func value(_ s: Double) -> Double { [s, 0.0].withUnsafeBufferPointer { v.value($0.baseAddress!, dimension: 2) } }
    #expect(abs(value(-1)) < 1e-15 && abs(value(1)) < 1e-15)
    let h = 1e-4
    let sharp = (value(-1 + h) - 2 * value(-1) + value(-1 - h)) / (h * h)
    let flat = (value(1 + h) - 2 * value(1) + value(1 - h)) / (h * h)
    #expect(abs(sharp - 9) < 1e-6 * 9, "\(sharp)")
    #expect(abs(flat - 1.5) < 1e-6 * 1.5, "\(flat)")
    // Positive away from the minima and confining.
    for s in stride(from: -4.0, through: 4.0, by: 0.01) where abs(abs(s) - 1) > 0.02 {
      #expect(value(s) > 0)
    }
    #expect(value(10) > value(5) && value(-10) > value(-5))
  }

  /// Rosenbrock's valley: V = (a − x)² + b(y − x²)² is 0 with zero gradient at (a, a²), and its
  /// Hessian there is [[2 + 8ba², −4ba], [−4ba, 2b]] (second differences, h = 1e-4); the
  /// anisotropic quadratic is ½Σκ_c x_c².
  @Test func rosenbrockAndAnisotropicQuadratic() {
    let a = 1.3, b = 7.0
    let v = ConfiningPotential.rosenbrock(a: a, b: b)
    func value(_ x: Double, _ y: Double) -> Double {
      [x, y].withUnsafeBufferPointer { v.value($0.baseAddress!, dimension: 2) }
    }
    var g = [1.0, 1.0]
    [a, a * a].withUnsafeBufferPointer { p in
      g.withUnsafeMutableBufferPointer { v.gradient(p.baseAddress!, dimension: 2, into: $0.baseAddress!) }
    }
    #expect(value(a, a * a) == 0 && g == [0, 0])
    #expect(v.minima(dimension: 2) == [[a, a * a]])
    let h = 1e-4, x0 = a, y0 = a * a
    let hxx = (value(x0 + h, y0) - 2 * value(x0, y0) + value(x0 - h, y0)) / (h * h)
    let hyy = (value(x0, y0 + h) - 2 * value(x0, y0) + value(x0, y0 - h)) / (h * h)
    let hxy =
      (value(x0 + h, y0 + h) - value(x0 + h, y0 - h) - value(x0 - h, y0 + h) + value(x0 - h, y0 - h)) / (4 * h * h)
    #expect(abs(hxx - (2 + 8 * b * a * a)) < 1e-5 * hxx && abs(hyy - 2 * b) < 1e-5 * hyy)
    #expect(abs(hxy + 4 * b * a) < 1e-5 * abs(hxy))
    let q = ConfiningPotential.anisotropicQuadratic(stiffness: [2, 8])
    #expect([1.5, 1.0].withUnsafeBufferPointer { q.value($0.baseAddress!, dimension: 2) } == 1.5 * 1.5 + 4)
  }

  /// ΔV in closed form against central second differences (h = 1e-4: error O(h²) plus rounding
  /// ~1e-8 relative), at random points of every analytic potential.
  @Test func laplaciansAreExact() {
    let cases: [(ConfiningPotential, Int)] = [
      (.quadratic(stiffness: 1.7), 3), (.anisotropicQuadratic(stiffness: [2, 8]), 2), (.rosenbrock(a: 1, b: 100), 2),
      (.doubleWell, 2), (.doubleWell, 1), (.flatSharp(sharp: 8, flat: 1, transverse: 2), 3),
      (.flatSharp(sharp: 1, flat: 5, transverse: 1), 1), (.none, 2),
    ]
    var state: UInt64 = 7
    func uniform() -> Double {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Double(state >> 11) * 0x1.0p-53 * 3 - 1.5
    }
    for (v, d) in cases {
      for _ in 0..<20 {
        let x = (0..<d).map { _ in uniform() }
        let h = 1e-4
        var fd = 0.0
        for c in 0..<d {
          var a = x, b = x
          a[c] += h
          b[c] -= h
          let va = a.withUnsafeBufferPointer { v.value($0.baseAddress!, dimension: d) }
          let vb = b.withUnsafeBufferPointer { v.value($0.baseAddress!, dimension: d) }
          let v0 = x.withUnsafeBufferPointer { v.value($0.baseAddress!, dimension: d) }
          fd += (va - 2 * v0 + vb) / (h * h)
        }
        let exact = x.withUnsafeBufferPointer { v.laplacian($0.baseAddress!, dimension: d) }!
        #expect(abs(exact - fd) < 1e-5 * max(1, abs(exact)), "\(v) at \(x): \(exact) vs \(fd)")
      }
    }
    #expect(
      [0.1].withUnsafeBufferPointer {
        ConfiningPotential.tabulated(Self.table1D).laplacian($0.baseAddress!, dimension: 1)
      } == nil)
  }

  /// The tabulated potential reproduces the tabulated values at the nodes.
  @Test func tabulatedInterpolatesNodes() {
    let t = Self.table2D
    for i in 0..<7 {
      for j in 0..<5 {
        let p = [-2 + Double(i) * 4 / 6, -1 + Double(j) * 0.5]
        let value = p.withUnsafeBufferPointer { t.value($0.baseAddress!, dimension: 2) }
        #expect(abs(value - t.values[i * 5 + j]) < 1e-12)
      }
    }
  }

  /// The blob entropy gradient used by particle JKO is the gradient of N·Ent_ε. A JKO engine at
  /// λ = 1 with V = 0, τ = 1e-3, one inner iteration and no damping moves x^k by −τ r with
  /// r = ∇(N·Ent_ε)(x^k); we recover r and compare it, component by component, with central
  /// differences of N·Ent_ε (h = 1e-6: truncation ~1e-12, rounding ~1e-10) to 1e-6 relative.
  @Test func blobEntropyGradient() throws {
    let eps = 0.4, n = 7, tau = 1e-3
    let engine = potentialEngine(
      .none, .none, dimension: 2, particles: n,
      dynamics: .jko(.init(step: tau, temperature: 1, l2: 0, blob: eps, tolerance: 0, maxIterations: 1, damping: 1)))
    let x0 = engine.positions
    _ = try engine.step()
    let x1 = engine.positions
    let r = zip(x0, x1).map { ($0 - $1) / tau }
    let h = 1e-6
    var fd = [Double]()
    for k in 0..<x0.count {
      var xp = x0, xm = x0
      xp[k] += h
      xm[k] -= h
      engine.restore(positions: xp, step: 0)
      let ep = try engine.blobEntropy(width: eps)
      engine.restore(positions: xm, step: 0)
      let em = try engine.blobEntropy(width: eps)
      fd.append(Double(n) * (ep - em) / (2 * h))
    }
    let scale = fd.map(abs).max()!
    let worst = zip(r, fd).map { abs($0 - $1) }.max()! / scale
    #expect(worst < 1e-6, "relative error \(worst): engine \(r) vs differences \(fd)")
  }

  /// Results do not depend on the number of threads (blocks are the unit of arithmetic).
  @Test(arguments: [
    Dynamics.overdamped(.init(step: 0.01, temperature: 0.2, l2: 0.1)),
    .underdamped(.init(step: 0.05, temperature: 0.2, l2: 0, friction: 1, scheme: .baoab)),
    .jko(.init(step: 0.05, temperature: 0.1, l2: 0, blob: 0.3, tolerance: 1e-10, maxIterations: 100, damping: 1)),
  ])
  func threadCountDoesNotChangeResults(dynamics: Dynamics) throws {
    var results = [[Double]]()
    for threads in [1, 2, 3] {
      let engine = potentialEngine(
        .doubleWell, .gaussianKernel(strength: 0.5, width: 0.7), dimension: 2, particles: 37, dynamics: dynamics,
        threads: threads)
      for _ in 0..<20 { _ = try engine.step() }
      results.append(engine.positions + engine.velocities)
    }
    #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))
    #expect(results[0].map(\.bitPattern) == results[2].map(\.bitPattern))
  }

  /// Particle JKO with blob entropy samples the Gibbs law: for V = κ|x|²/2 at temperature λ the
  /// stationary particle variance approaches λ/κ; the blob regularisation adds O(ε²), and with
  /// N = 200 the sample variance has SE ≈ 0.1·λ/κ, so |var − λ/κ| < 0.35·λ/κ.
  @Test func jkoWithEntropySpreadsToTheGibbsVariance() throws {
    let kappa = 1.0, lambda = 0.5
    let engine = potentialEngine(
      .quadratic(stiffness: kappa), .none, dimension: 1, particles: 200,
      dynamics: .jko(
        .init(step: 0.1, temperature: lambda, l2: 0, blob: 0.15, tolerance: 1e-9, maxIterations: 500, damping: 1)),
      std: 0.2)
    for _ in 0..<60 { _ = try engine.step() }
    let variance = moments(engine.positions).variance
    #expect(abs(variance - lambda / kappa) < 0.35 * lambda / kappa, "variance \(variance)")
  }
}
