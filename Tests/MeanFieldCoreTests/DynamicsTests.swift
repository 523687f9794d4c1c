import Foundation
import MeanFieldCore
import Testing

/// Sample mean and variance of the first coordinate of an engine's particles.
func moments(_ xs: [Double], dimension d: Int = 1, coordinate c: Int = 0) -> (mean: Double, variance: Double) {
  let n = xs.count / d
  var m = 0.0
  for i in 0..<n { m += xs[i * d + c] }
  m /= Double(n)
  var v = 0.0
  for i in 0..<n { v += (xs[i * d + c] - m) * (xs[i * d + c] - m) }
  return (m, v / Double(n - 1))
}

func freeParticles(
  count: Int, dynamics: Dynamics, potential: ConfiningPotential = .none, std: Double = 1, mean: Double = 0,
  threads: Int = 2, seed: UInt64 = 11
) -> ParticleEngine<PotentialSystem, LocalExchange> {
  ParticleEngine(
    model: PotentialSystem(potential: potential, interaction: .none, dimension: 1),
    exchange: LocalExchange(layout: BlockLayout(particleCount: count, blockSize: 4096)),
    dynamics: dynamics, initial: .gaussian(mean: [mean], std: [std]), initialVelocity: .zero,
    noise: GaussianField(seed: seed, runIndex: 0), threads: threads)
}

@Suite struct OverdampedExactnessTests {
  /// With F0 = 0 the chain is AR(1) per coordinate: `v_{k+1} = (1 − 2λ'η)² v_k + 2λη`.
  /// The particles are i.i.d. Gaussian at every step, so (N−1)s²/v_k ~ χ²_{N−1}: the sample
  /// variance is within 5 standard errors sqrt(2/(N−1)) of v_k (a false alarm has probability
  /// below 1e-6 per check).
  @Test func varianceFollowsTheDiscreteRecursion() throws {
    let n = 40_000, eta = 0.05, lambda = 0.3, l2 = 0.7
    let engine = freeParticles(count: n, dynamics: .overdamped(.init(step: eta, temperature: lambda, l2: l2)), std: 1.5)
    var v = 2.25
    let a = (1 - 2 * l2 * eta) * (1 - 2 * l2 * eta)
    let bound = 5 * (2.0 / Double(n - 1)).squareRoot()
    for k in 1...60 {
      _ = try engine.step()
      v = a * v + 2 * lambda * eta
      if k % 10 == 0 {
        let s2 = moments(engine.positions).variance
        #expect(abs(s2 / v - 1) < bound, "step \(k): sample \(s2), recursion \(v)")
      }
    }
  }

  /// At a large step the stationary variance is the discrete `2λη / (1 − (1 − 2λ'η)²)`, here
  /// 0.8333, measurably different from the continuous λ/(2λ') = 0.5: the scheme hits the
  /// discrete value (within 5 SE ≈ 3.5%) and is more than 20 SE away from the continuous one.
  @Test func largeStepHitsTheDiscreteStationaryVariance() throws {
    let n = 40_000, eta = 0.4, lambda = 1.0, l2 = 1.0
    let engine = freeParticles(count: n, dynamics: .overdamped(.init(step: eta, temperature: lambda, l2: l2)))
    for _ in 0..<100 { _ = try engine.step() }
    let s2 = moments(engine.positions).variance
    let discrete = 2 * lambda * eta / (1 - (1 - 2 * l2 * eta) * (1 - 2 * l2 * eta))
    let continuous = lambda / (2 * l2)
    let se = (2.0 / Double(n - 1)).squareRoot()
    #expect(abs(s2 / discrete - 1) < 5 * se, "sample \(s2) vs discrete \(discrete)")
    #expect(abs(s2 / continuous - 1) > 20 * se, "sample \(s2) vs continuous \(continuous)")
  }

  /// Euler–Maruyama has weak order 1: on the OU process dX = −κX dt + sqrt(2λ) dW from X_0 = 1,
  /// the error of E[X_T²] against `e^{−2κT} + (λ/κ)(1 − e^{−2κT})` falls like η. Fitted slope in
  /// log–log over η = 0.1 … 0.0125 within 1 ± 0.15 (the Monte-Carlo error of 2·10⁶ particles,
  /// ≈ 5e-4, is under 10% of the smallest weak error, ≈ 6e-3).
  @Test func eulerMaruyamaWeakOrderOne() throws {
    let kappa = 2.0, lambda = 1.0, horizon = 1.0
    let exact = Foundation.exp(-2 * kappa * horizon) + lambda / kappa * (1 - Foundation.exp(-2 * kappa * horizon))
    var logEta = [Double](), logErr = [Double]()
    for eta in [0.1, 0.05, 0.025, 0.0125] {
      let engine = freeParticles(
        count: 2_000_000, dynamics: .overdamped(.init(step: eta, temperature: lambda, l2: 0)),
        potential: .quadratic(stiffness: kappa), std: 0, mean: 1)
      for _ in 0..<Int((horizon / eta).rounded()) { _ = try engine.step() }
      let xs = engine.positions
      let m2 = xs.reduce(0) { $0 + $1 * $1 } / Double(xs.count)
      logEta.append(Foundation.log(eta))
      logErr.append(Foundation.log(abs(m2 - exact)))
    }
    let slope = fitSlope(logEta, logErr)
    #expect(abs(slope - 1) < 0.15, "weak order slope \(slope)")
  }
}

/// Least-squares slope of y against x.
func fitSlope(_ x: [Double], _ y: [Double]) -> Double {
  let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
  var sxy = 0.0, sxx = 0.0
  for i in x.indices {
    sxy += (x[i] - mx) * (y[i] - my)
    sxx += (x[i] - mx) * (x[i] - mx)
  }
  return sxy / sxx
}

/// Stationary covariance of x_{k+1} = T x_k + n ξ by fixed-point iteration of the discrete
/// Lyapunov equation Σ = T Σ Tᵀ + n nᵀ (T is stable).
func discreteLyapunov(_ t: [[Double]], _ noise: [Double]) -> [[Double]] {
  var s = [[0.0, 0.0], [0.0, 0.0]]
  for _ in 0..<200_000 {
    var next = [[0.0, 0.0], [0.0, 0.0]]
    for i in 0..<2 {
      for j in 0..<2 {
        var acc = noise[i] * noise[j]
        for a in 0..<2 { for b in 0..<2 { acc += t[i][a] * s[a][b] * t[j][b] } }
        next[i][j] = acc
      }
    }
    s = next
  }
  return s
}

func matmul(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
  (0..<2).map { i in (0..<2).map { j in a[i][0] * b[0][j] + a[i][1] * b[1][j] } }
}

@Suite struct UnderdampedExactnessTests {
  /// Sample covariance of (x, v) after relaxation against the 2×2 discrete Lyapunov solution,
  /// for U = κx²/2. Each entry within 5 standard errors, SE(Σ_ij) = sqrt((Σ_ii Σ_jj + Σ_ij²)/N).
  func check(
    scheme: UnderdampedIntegrator, expected: [[Double]], eta: Double, gamma: Double, kappa: Double, lambda: Double
  ) throws {
    let n = 50_000
    let engine = freeParticles(
      count: n, dynamics: .underdamped(.init(step: eta, temperature: lambda, l2: 0, friction: gamma, scheme: scheme)),
      potential: .quadratic(stiffness: kappa), std: 1)
    for _ in 0..<600 { _ = try engine.step() }
    let xs = engine.positions, vs = engine.velocities
    var sxx = 0.0, sxv = 0.0, svv = 0.0
    let mx = xs.reduce(0, +) / Double(n), mv = vs.reduce(0, +) / Double(n)
    for i in 0..<n {
      sxx += (xs[i] - mx) * (xs[i] - mx)
      sxv += (xs[i] - mx) * (vs[i] - mv)
      svv += (vs[i] - mv) * (vs[i] - mv)
    }
    let sample = [[sxx, sxv], [sxv, svv]].map { $0.map { $0 / Double(n - 1) } }
    for i in 0..<2 {
      for j in 0..<2 {
        let se = ((expected[i][i] * expected[j][j] + expected[i][j] * expected[i][j]) / Double(n)).squareRoot()
        #expect(
          abs(sample[i][j] - expected[i][j]) < 5 * se,
          "\(scheme) Σ[\(i)][\(j)]: sample \(sample[i][j]) vs \(expected[i][j])")
      }
    }
  }

  @Test func plainSchemeStationaryCovariance() throws {
    let eta = 0.2, gamma = 1.0, kappa = 1.0, lambda = 0.5
    let t = [[1, eta], [-eta * kappa, 1 - gamma * eta]]
    let expected = discreteLyapunov(t, [0, (2 * gamma * lambda * eta).squareRoot()])
    // The plain scheme is visibly biased at this step: Var(x) is not λ/κ.
    #expect(abs(expected[0][0] - lambda / kappa) > 0.05)
    try check(scheme: .plain, expected: expected, eta: eta, gamma: gamma, kappa: kappa, lambda: lambda)
  }

  @Test func baoabStationaryCovariance() throws {
    let eta = 0.5, gamma = 1.0, kappa = 1.0, lambda = 0.5
    let h = eta / 2, c = Foundation.exp(-gamma * eta), s = (lambda * (1 - c * c)).squareRoot()
    let kick = [[1.0, 0.0], [-h * kappa, 1.0]], drift = [[1.0, h], [0.0, 1.0]], ou = [[1.0, 0.0], [0.0, c]]
    let t = matmul(kick, matmul(drift, matmul(ou, matmul(drift, kick))))
    let after = matmul(kick, drift)
    let noise = [after[0][1] * s, after[1][1] * s]
    let expected = discreteLyapunov(t, noise)
    try check(scheme: .baoab, expected: expected, eta: eta, gamma: gamma, kappa: kappa, lambda: lambda)
  }
}

@Suite struct GradientFlowTests {
  /// An independent, straightforward implementation of noise-free mean-field gradient descent
  /// on the network (loops, libm tanh), against which the engine's BLAS/vectorised path must
  /// agree to 1e-12 relative over 60 steps (the engine's tanh is within 4e-16 of libm's;
  /// the flow is contracting, so rounding differences stay near 1e-15).
  @Test func trajectoryMatchesAStraightforwardImplementation() throws {
    let model = Fixtures.network(inputs: 3, samples: 10, activation: .tanh)
    let n = 12, eta = 0.1, l2 = 0.01
    let engine = Fixtures.engine(model, particles: n, blockSize: 5, step: eta, temperature: 0, l2: l2)
    var x = engine.positions
    let d = model.dimension, q = model.inputWeights
    let z = model.data.inputs, y = model.data.labels, m = model.data.count
    for step in 1...60 {
      _ = try engine.step()
      var f = [Double](repeating: 0, count: m)
      for j in 0..<m {
        for i in 0..<n {
          var u = 0.0
          for c in 0..<q { u += x[i * d + c] * z[j * q + c] }
          f[j] += x[i * d + q] * Foundation.tanh(u) / Double(n)
        }
      }
      var next = x
      for i in 0..<n {
        var g = [Double](repeating: 0, count: d)
        for j in 0..<m {
          var u = 0.0
          for c in 0..<q { u += x[i * d + c] * z[j * q + c] }
          let t = Foundation.tanh(u), r = (f[j] - y[j]) / Double(m)
          for c in 0..<q { g[c] += r * x[i * d + q] * (1 - t * t) * z[j * q + c] }
          g[q] += r * t
        }
        for c in 0..<d { next[i * d + c] = x[i * d + c] - eta * (g[c] + 2 * l2 * x[i * d + c]) }
      }
      x = next
      let e = engine.positions
      let scale = x.map(abs).max()!
      let err = zip(e, x).map { abs($0 - $1) }.max()! / scale
      #expect(err <= 1e-12, "step \(step): relative difference \(err)")
    }
  }

  /// Along a small-step gradient flow the objective F0 + λ'E|x|² decreases at every step.
  @Test func energyDecreasesMonotonically() throws {
    let model = Fixtures.network(inputs: 4, samples: 30, activation: .tanh)
    let l2 = 0.01
    let engine = Fixtures.engine(model, particles: 40, blockSize: 16, step: 0.02, temperature: 0, l2: l2)
    func objective() throws -> Double {
      let m2 = engine.positions.reduce(0) { $0 + $1 * $1 } / 40
      return try engine.modelEnergy() + l2 * m2
    }
    var previous = try objective()
    for k in 0..<300 {
      _ = try engine.step()
      let current = try objective()
      #expect(current < previous, "step \(k): \(current) ≥ \(previous)")
      previous = current
    }
  }

  /// Particle JKO with λ = 0 is implicit Euler for the gradient flow: against the flow itself
  /// (explicit Euler at η = 1e-5, whose own error is 1e-4 of the smallest JKO error) the error
  /// at T = 1 is O(τ): fitted order within 1 ± 0.15.
  @Test func jkoConvergesToTheFlowAtOrderOne() throws {
    func run(_ dynamics: Dynamics, steps: Int) throws -> [Double] {
      let engine = ParticleEngine(
        model: PotentialSystem(potential: .doubleWell, interaction: .quadraticAttraction(strength: 0.5), dimension: 1),
        exchange: LocalExchange(layout: BlockLayout(particleCount: 40, blockSize: 16)),
        dynamics: dynamics, initial: .gaussian(mean: [0.2], std: [0.8]), noise: GaussianField(seed: 2, runIndex: 0))
      for _ in 0..<steps {
        let divergence = try engine.step()
        #expect(divergence == nil)
        if dynamics.scheme is JKO { #expect(engine.lastProximal?.isConverged == true) }
      }
      return engine.positions
    }
    let reference = try run(.overdamped(.init(step: 1e-5, temperature: 0, l2: 0)), steps: 100_000)
    var logTau = [Double](), logErr = [Double]()
    for tau in [0.1, 0.05, 0.025, 0.0125] {
      let x = try run(
        .jko(.init(step: tau, temperature: 0, l2: 0, blob: 0.1, tolerance: 1e-12, maxIterations: 2000, damping: 1)),
        steps: Int((1 / tau).rounded()))
      let err = zip(x, reference).map { abs($0 - $1) }.max()!
      logTau.append(Foundation.log(tau))
      logErr.append(Foundation.log(err))
    }
    let slope = fitSlope(logTau, logErr)
    #expect(abs(slope - 1) < 0.15, "JKO order \(slope)")
  }

  /// The JKO inner iteration reports non-convergence as a value.
  @Test func jkoReportsNonConvergence() throws {
    let engine = ParticleEngine(
      model: PotentialSystem(potential: .doubleWell, interaction: .none, dimension: 1),
      exchange: LocalExchange(layout: BlockLayout(particleCount: 10, blockSize: 4)),
      dynamics: .jko(
        .init(step: 0.1, temperature: 0, l2: 0, blob: 0.1, tolerance: 1e-14, maxIterations: 2, damping: 1)),
      initial: .gaussian(mean: [0], std: [1]), noise: GaussianField(seed: 2, runIndex: 0))
    _ = try engine.step()
    let report = try #require(engine.lastProximal)
    #expect(report.iterations == 2 && !report.isConverged && report.residual > 1e-14)
  }
}

/// MALA: its stationary law is the Gibbs law itself, whatever the step (Euler–Maruyama's is
/// biased by O(η)), checked against closed forms and quadrature with many independent chains.
@Suite struct MALATests {
  func engine(_ potential: ConfiningPotential, step: Double, temperature: Double, count: Int, initial: InitialLaw)
    -> ParticleEngine<PotentialSystem, LocalExchange>
  {
    ParticleEngine(
      model: PotentialSystem(potential: potential, interaction: .none, dimension: 1),
      exchange: LocalExchange(layout: BlockLayout(particleCount: count, blockSize: 512)),
      dynamics: .mala(.init(step: step, temperature: temperature, l2: 0)), initial: initial,
      noise: GaussianField(seed: 21, runIndex: 4), threads: 2)
  }

  /// Quadratic V = κx²/2 at ηκ = 0.6: the exact Gibbs variance λ/κ = 0.25, while the
  /// Euler–Maruyama chain's is λ/(κ(1 − ηκ/2)) = 0.357. Started at the Gibbs law, the sample
  /// variance of 40 000 chains stays within 5 standard errors (0.25·√(2/N) each) of 0.25 at
  /// every check: MALA leaves the law invariant exactly.
  @Test func quadraticGibbsLawIsInvariantAtALargeStep() throws {
    let n = 40_000, kappa = 2.0, lambda = 0.5, eta = 0.3
    let e = engine(
      .quadratic(stiffness: kappa), step: eta, temperature: lambda, count: n, initial: .gaussian(mean: [0], std: [0.5]))
    let se = 0.25 * (2.0 / Double(n)).squareRoot()
    for k in 1...200 {
      #expect(try e.step() == nil)
      if k % 50 == 0 {
        let v = moments(e.positions).variance
        #expect(abs(v - 0.25) < 5 * se, "step \(k): variance \(v)")
        #expect(abs(v - 0.25 / 0.7) > 20 * se)
      }
    }
    let rate = try #require(e.schemeReport.acceptance)
    #expect(rate > 0.3 && rate < 1, "acceptance \(rate)")
  }

  /// Double well (x² − 1)² at λ = 0.3 from a uniform start: after burn-in the mean of x² over
  /// 40 000 chains matches the Gibbs value by quadrature within 5 standard errors.
  @Test func doubleWellMatchesQuadrature() throws {
    let lambda = 0.3, n = 40_000
    // E x² under exp(−(x²−1)²/λ) by the trapezoid rule on [−4, 4] (error far below 1e-10).
    var z = 0.0, m2 = 0.0, m4 = 0.0
    let h = 8.0 / 200_000
    for i in 0...200_000 {
      let x = -4 + Double(i) * h
      let w = (i == 0 || i == 200_000 ? 0.5 : 1) * Foundation.exp(-pow(x * x - 1, 2) / lambda)
      z += w
      m2 += w * x * x
      m4 += w * x * x * x * x
    }
    let exact = m2 / z, variance = m4 / z - exact * exact
    let e = engine(.doubleWell, step: 0.05, temperature: lambda, count: n, initial: .uniform(lower: [-2], upper: [2]))
    for _ in 0..<1500 { #expect(try e.step() == nil) }
    let x = e.positions
    let sample = x.reduce(0) { $0 + $1 * $1 } / Double(n)
    #expect(abs(sample - exact) < 5 * (variance / Double(n)).squareRoot(), "E x² \(sample) against \(exact)")
  }
}

/// The velocity-first (symplectic) variant of the plain underdamped scheme.
@Suite struct SymplecticUnderdampedTests {
  /// Without friction and noise it is symplectic Euler: for U = κx²/2 the modified energy
  /// v² + κx² − ηκxv is conserved exactly (to rounding), while the plain scheme's energy grows
  /// by the factor (1 + η²κ) per step.
  @Test func modifiedEnergyIsConserved() throws {
    let kappa = 3.0, eta = 0.1
    func run(_ scheme: UnderdampedIntegrator) throws -> (first: [Double], last: [Double]) {
      let e = ParticleEngine(
        model: PotentialSystem(potential: .quadratic(stiffness: kappa), interaction: .none, dimension: 1),
        exchange: LocalExchange(layout: BlockLayout(particleCount: 16, blockSize: 8)),
        dynamics: .underdamped(.init(step: eta, temperature: 0, l2: 0, friction: 0, scheme: scheme)),
        initial: .gaussian(mean: [0], std: [1]), initialVelocity: .gaussian(mean: [0], std: [1]),
        noise: GaussianField(seed: 2, runIndex: 0))
      func energies() -> [Double] {
        zip(e.positions, e.velocities).map { x, v in v * v + kappa * x * x - eta * kappa * x * v }
      }
      let first = energies()
      for _ in 0..<1000 { #expect(try e.step() == nil) }
      return (first, energies())
    }
    let symplectic = try run(.symplectic)
    for (a, b) in zip(symplectic.first, symplectic.last) {
      #expect(abs(a - b) <= 1e-12 * max(1, abs(a)), "\(a) → \(b)")
    }
    let plain = try run(.plain)
    #expect(zip(plain.first, plain.last).allSatisfy { $1 > 10 * $0 })
  }

  /// With friction and noise its stationary law for U = κx²/2 is the Gaussian whose covariance
  /// solves the discrete Lyapunov equation Σ = AΣAᵀ + Q of the linear recursion; the sample
  /// variances of 40 000 particles after burn-in match it within 5 standard errors.
  @Test func stationaryCovarianceMatchesTheDiscreteLyapunovSolution() throws {
    let kappa = 2.0, gamma = 1.5, lambda = 0.4, eta = 0.1, n = 40_000
    // (v, x) ← A (v, x) + noise: v' = (1−γη)v − ηκx + s ξ, x' = x + ηv'.
    let a = [[1 - gamma * eta, -eta * kappa], [eta * (1 - gamma * eta), 1 - eta * eta * kappa]]
    let s2 = 2 * gamma * lambda * eta
    let q = [[s2, eta * s2], [eta * s2, eta * eta * s2]]
    var sigma = [[0.0, 0.0], [0.0, 0.0]]
    for _ in 0..<20_000 {
      var next = q
      for i in 0..<2 {
        for j in 0..<2 {
          var t = 0.0
          for k in 0..<2 { for l in 0..<2 { t += a[i][k] * sigma[k][l] * a[j][l] } }
          next[i][j] += t
        }
      }
      sigma = next
    }
    let e = ParticleEngine(
      model: PotentialSystem(potential: .quadratic(stiffness: kappa), interaction: .none, dimension: 1),
      exchange: LocalExchange(layout: BlockLayout(particleCount: n, blockSize: 1024)),
      dynamics: .underdamped(.init(step: eta, temperature: lambda, l2: 0, friction: gamma, scheme: .symplectic)),
      initial: .gaussian(mean: [0], std: [0.4]), initialVelocity: .gaussian(mean: [0], std: [0.6]),
      noise: GaussianField(seed: 8, runIndex: 1), threads: 2)
    for _ in 0..<800 { #expect(try e.step() == nil) }
    let vx = moments(e.positions).variance, vv = moments(e.velocities).variance
    #expect(
      abs(vx - sigma[1][1]) < 5 * sigma[1][1] * (2.0 / Double(n)).squareRoot(), "Var x \(vx) against \(sigma[1][1])")
    #expect(
      abs(vv - sigma[0][0]) < 5 * sigma[0][0] * (2.0 / Double(n)).squareRoot(), "Var v \(vv) against \(sigma[0][0])")
    // (The plain scheme's stationary variances here are 0.2320 and 0.4963, against this one's
    // 0.2011 and 0.4348: the checks tell the two integrators apart by about 100 standard errors.)
  }
}
