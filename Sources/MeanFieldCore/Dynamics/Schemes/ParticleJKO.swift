import Foundation

/// Particle JKO (minimising movement) steps of size τ (docs/MATH.md §2):
///
///     x^{k+1} = argmin_x  N·F(ρ_x) + λ N·Ent_ε(ρ_x) + λ' Σ|x_i|² + (1/2τ) Σ_i |x_i − x_i^k|²
///
/// with the blob entropy `Ent_ε(ρ) = (1/N) Σ_i log((1/N) Σ_j K_ε(x_i − x_j))`, K_ε the
/// Gaussian of standard deviation ε (Carrillo, Craig, Patacchini 2019). Solved by the damped
/// fixed-point (gradient) iteration `x ← x − θτ ∇Φ(x)` from `x = x^k` until the RMS of
/// `∇Φ` is at most `tolerance`, or `maxIterations`.
public struct JKO: Scheme {
  /// τ > 0.
  public var step: Double
  public var temperature: Double
  public var l2: Double
  /// ε > 0, the blob width (used when λ > 0).
  public var blob: Double
  public var tolerance: Double
  public var maxIterations: Int
  /// θ ∈ (0, 1], the damping of the inner iteration.
  public var damping: Double

  public init(
    step: Double, temperature: Double, l2: Double, blob: Double, tolerance: Double,
    maxIterations: Int, damping: Double
  ) {
    self.step = step
    self.temperature = temperature
    self.l2 = l2
    self.blob = blob
    self.tolerance = tolerance
    self.maxIterations = maxIterations
    self.damping = damping
  }

  public static let kinds = ["jko"]

  public static func fields(kind: String) -> [SchemeField] {
    [
      .positive("step", "the JKO step τ"), .temperature, .l2,
      .positive("blob", "the blob width ε of the entropy", default: 0.1),
      .positive("tolerance", "the RMS gradient at which an inner solve stops", default: 1e-8),
      SchemeField(
        "max-iterations", "the inner iterations at most",
        accepts: .integer(requirement: "a positive integer", isValid: { $0 >= 1 }), default: .integer(1000)),
      SchemeField(
        "damping", "θ, the damping of the inner iteration",
        accepts: .number(requirement: "a number in (0, 1]", isValid: { $0 > 0 && $0 <= 1 }), default: .number(1)),
    ]
  }

  public init(kind: String, values: [String: SchemeValue]) {
    self.init(
      step: values["step"]!.number, temperature: values["temperature"]!.number, l2: values["l2"]!.number,
      blob: values["blob"]!.number, tolerance: values["tolerance"]!.number,
      maxIterations: values["max-iterations"]!.integer, damping: values["damping"]!.number)
  }

  public var kind: String { "jko" }

  public var values: [(key: String, value: SchemeValue)] {
    [
      ("step", .number(step)), ("temperature", .number(temperature)), ("l2", .number(l2)), ("blob", .number(blob)),
      ("tolerance", .number(tolerance)), ("max-iterations", .integer(maxIterations)), ("damping", .number(damping)),
    ]
  }

  public var timeStep: Double { step }
  /// The blob entropy couples every pair of particles.
  public var needsAllPositions: Bool { temperature > 0 }

  public func makeIntegrator<Model: MeanFieldModel, Exchange: BlockExchange>(
    for engine: ParticleEngine<Model, Exchange>
  ) -> any Integrator {
    ParticleJKO(self, engine: engine)
  }
}

/// The inner solve of ``JKO``.
final class ParticleJKO<Model: MeanFieldModel, Exchange: BlockExchange>: Integrator, BlockKernel {
  unowned let engine: ParticleEngine<Model, Exchange>
  let p: JKO
  let contraction: Double
  /// The residual ∇Φ of the local particles, and the anchor x^k.
  let force: UnsafeMutableBufferPointer<Double>
  let anchor: UnsafeMutableBufferPointer<Double>
  /// The blob density ρ̃ of the local particles and of all particles.
  let localDensity: UnsafeMutableBufferPointer<Double>
  let allDensity: UnsafeMutableBufferPointer<Double>
  var lastProximal: ProximalReport?

  enum Phase { case gradient, density }
  var phase = Phase.gradient

  init(_ p: JKO, engine: ParticleEngine<Model, Exchange>) {
    self.engine = engine
    self.p = p
    contraction = 2 * p.l2
    let blob = p.temperature > 0
    force = ParticleEngine<Model, Exchange>.buffer(engine.localCount * engine.d)
    anchor = ParticleEngine<Model, Exchange>.buffer(engine.localCount * engine.d)
    localDensity = ParticleEngine<Model, Exchange>.buffer(blob ? engine.localCount : 0)
    allDensity = ParticleEngine<Model, Exchange>.buffer(blob ? engine.layout.particleCount : 0)
  }

  deinit {
    for b in [force, anchor, localDensity, allDensity] { b.deallocate() }
  }

  var report: SchemeReport { SchemeReport(proximal: lastProximal) }
  func stateChanged() {}

  func step() throws -> Divergence? {
    let e = engine
    if let divergence = try e.prepareField() { return divergence }
    let count = e.localCount * e.d
    for i in 0..<count { anchor[i] = e.x[i] }
    let tau = p.step
    let scaleN = Double(e.layout.particleCount * e.d)
    var iterations = 0
    var residual = Double.infinity, previous = Double.infinity
    var damping = p.damping
    while true {
      if iterations > 0, let divergence = try e.prepareField() {
        for i in 0..<count { e.x[i] = anchor[i] }
        for b in e.owned { e.checkHealth(block: b) }
        return divergence
      }
      if p.temperature > 0 { try prepareBlobDensity() }
      phase = .gradient
      e.runBlocks(self)
      residual = (try e.sumScalarPartials() / scaleN).squareRoot()
      if residual <= p.tolerance || iterations >= p.maxIterations || !residual.isFinite { break }
      // Gradient step x ← x − θτ r; θ is halved whenever the residual grows (the plain
      // fixed-point iteration θ = 1 diverges once τ·|∇²U| > 1).
      if residual > previous { damping *= 0.5 }
      previous = residual
      let move = damping * tau
      for i in 0..<count { e.x[i] -= move * force[i] }
      iterations += 1
    }
    lastProximal = ProximalReport(iterations: iterations, residual: residual, isConverged: residual <= p.tolerance)
    for b in e.owned { e.checkHealth(block: b) }
    return nil
  }

  /// ρ̃(x_i) = (1/N) Σ_j K_ε(x_i − x_j) for every particle (collective; positions gathered).
  func prepareBlobDensity() throws {
    phase = .density
    engine.runBlocks(self)
    try engine.exchange.allGather(
      local: UnsafeBufferPointer(rebasing: localDensity.prefix(engine.localCount)), rowLength: 1, into: allDensity)
  }

  func perform(thread: Int, block b: Int) {
    let e = engine
    let rows = e.layout.particles(ofBlock: b)
    let xs = e.blockSlice(e.x, rows)
    let count = rows.count * e.d
    switch phase {
    case .gradient:
      // r = ∇Φ(x) = (x − x^k)/τ + G + 2λ'x + λ ∇(N·Ent_ε), kept in `force`.
      let g = e.blockDrift[thread]
      let a = e.blockSlice(anchor, rows), r = e.blockSlice(force, rows)
      e.modelDrift(thread: thread, rows: rows, at: xs, into: g)
      if p.temperature > 0 { addBlobEntropyGradient(rows: rows, scale: p.temperature, width: p.blob, into: g) }
      var sq = 0.0
      for i in 0..<count {
        let ri = (xs[i] - a[i]) / p.step + g[i] + contraction * xs[i]
        sq += ri * ri
        r[i] = ri
      }
      e.scalarPartials[b - e.owned.lowerBound] = sq
    case .density:
      let d = e.d, n = e.layout.particleCount, eps = p.blob
      let norm = Foundation.pow(2 * Double.pi * eps * eps, -0.5 * Double(d)) / Double(n)
      let inv = 1 / (2 * eps * eps)
      let all = e.allPositions.baseAddress!
      for i in rows {
        let xi = all + i * d
        var s = 0.0
        for j in 0..<n {
          var r2 = 0.0
          for k in 0..<d {
            let z = xi[k] - all[j * d + k]
            r2 += z * z
          }
          s += FastMath.exp(-r2 * inv)
        }
        localDensity[i - e.firstParticle] = norm * s
      }
    }
  }

  /// Adds `λ ∇_{x_i} Σ_k log ρ̃(x_k) = λ (1/N) Σ_j ∇K_ε(x_i − x_j) (1/ρ̃_i + 1/ρ̃_j)` for `rows`.
  func addBlobEntropyGradient(
    rows: Range<Int>, scale: Double, width eps: Double, into g: UnsafeMutableBufferPointer<Double>
  ) {
    let d = engine.d, n = engine.layout.particleCount
    let norm = Foundation.pow(2 * Double.pi * eps * eps, -0.5 * Double(d)) / Double(n)
    let inv = 1 / (2 * eps * eps), invEps2 = 1 / (eps * eps)
    let all = engine.allPositions.baseAddress!, rho = allDensity.baseAddress!
    for (r, i) in rows.enumerated() {
      let xi = all + i * d
      let ri = 1 / rho[i]
      for j in 0..<n {
        var r2 = 0.0
        for k in 0..<d {
          let z = xi[k] - all[j * d + k]
          r2 += z * z
        }
        // ∇K(z) = −K(z) z / ε²
        let w = -scale * norm * FastMath.exp(-r2 * inv) * invEps2 * (ri + 1 / rho[j])
        for k in 0..<d { g[r * d + k] += w * (xi[k] - all[j * d + k]) }
      }
    }
  }
}

extension ParticleEngine {
  /// The blob entropy `Ent_ε(ρ) = (1/N) Σ_i log((1/N) Σ_j K_ε(x_i − x_j))` of the current
  /// state (collective; O(N²); allocates).
  public func blobEntropy(width eps: Double) throws -> Double {
    let n = layout.particleCount
    let gathered = try gatherPositions()
    let norm = Foundation.pow(2 * Double.pi * eps * eps, -0.5 * Double(d)) / Double(n)
    let inv = 1 / (2 * eps * eps)
    let sums = try gathered.withUnsafeBufferPointer { all -> [Double] in
      try exactReduce(length: 1) { _, _, rows, first, out in
        var total = 0.0
        for i in first..<(first + rows) {
          var s = 0.0
          for j in 0..<n {
            var r2 = 0.0
            for k in 0..<self.d {
              let z = all[i * self.d + k] - all[j * self.d + k]
              r2 += z * z
            }
            s += FastMath.exp(-r2 * inv)
          }
          total += Foundation.log(norm * s)
        }
        out[0] = total
      }
    }
    return sums[0] / Double(n)
  }
}
