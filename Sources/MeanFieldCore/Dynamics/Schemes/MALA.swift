import Foundation

/// The Metropolis-adjusted Langevin algorithm for particles in a potential without interaction:
/// every particle is its own Markov chain whose stationary law is exactly the Gibbs law
/// `π ∝ exp(−U/λ)`, `U = V + λ'|x|²`, for any step size (no Euler–Maruyama bias). Each step
/// proposes the Euler–Maruyama move and accepts it with probability
///
///     α = min(1, π(y) q(x | y) / (π(x) q(y | x))),   q(y | x) ∝ exp(−|y − x + η∇U(x)|² / 4λη)
///
/// (Roberts–Tweedie 1996); the uniform of the test comes from its own Philox stream, so the
/// chain is as reproducible as the other schemes. The fraction of accepted proposals of the
/// last step is the metric `acceptance-rate`.
public struct MALA: Scheme {
  public var step: Double
  /// λ > 0.
  public var temperature: Double
  public var l2: Double

  public init(step: Double, temperature: Double, l2: Double) {
    self.step = step
    self.temperature = temperature
    self.l2 = l2
  }

  public static let kinds = ["mala"]

  public static func fields(kind: String) -> [SchemeField] {
    [.step, .positive("temperature", "the temperature λ"), .l2]
  }

  public init(kind: String, values: [String: SchemeValue]) {
    self.init(step: values["step"]!.number, temperature: values["temperature"]!.number, l2: values["l2"]!.number)
  }

  public var kind: String { "mala" }

  public var values: [(key: String, value: SchemeValue)] {
    [("step", .number(step)), ("temperature", .number(temperature)), ("l2", .number(l2))]
  }

  public var timeStep: Double { step }

  public func makeIntegrator<Model: MeanFieldModel, Exchange: BlockExchange>(
    for engine: ParticleEngine<Model, Exchange>
  ) -> any Integrator {
    MetropolisAdjustedLangevin(self, engine: engine)
  }
}

/// The MALA step: an Euler–Maruyama proposal per particle, then its Metropolis test.
final class MetropolisAdjustedLangevin<Model: MeanFieldModel, Exchange: BlockExchange>: Integrator, BlockKernel {
  unowned let engine: ParticleEngine<Model, Exchange>
  let eta: Double, lambda: Double, contraction: Double, noiseScale: Double
  /// Per thread: the proposals of a block and their drifts.
  let proposal: [UnsafeMutableBufferPointer<Double>]
  let proposalDrift: [UnsafeMutableBufferPointer<Double>]
  var acceptance: Double?

  init(_ p: MALA, engine: ParticleEngine<Model, Exchange>) {
    precondition(
      engine.model.statisticLength == 0 && !engine.model.needsAllPositions,
      "MALA needs particles that do not interact (each is its own chain)")
    self.engine = engine
    eta = p.step
    lambda = p.temperature
    contraction = 2 * p.l2
    noiseScale = (2 * p.temperature * p.step).squareRoot()
    let n = engine.layout.blockSize * engine.d
    proposal = (0..<engine.threads).map { _ in ParticleEngine<Model, Exchange>.buffer(n) }
    proposalDrift = (0..<engine.threads).map { _ in ParticleEngine<Model, Exchange>.buffer(n) }
  }

  deinit {
    for b in proposal + proposalDrift { b.deallocate() }
  }

  var report: SchemeReport { SchemeReport(acceptance: acceptance) }
  func stateChanged() { acceptance = nil }

  func step() throws -> Divergence? {
    let e = engine
    if let divergence = try e.prepareField() { return divergence }
    e.runBlocks(self)
    acceptance = try e.sumScalarPartials() / Double(e.layout.particleCount)
    return nil
  }

  /// U(x) of one particle: V(x) + λ'|x|².
  @inline(__always)
  func energy(_ x: UnsafeMutablePointer<Double>, thread: Int, first: Int) -> Double {
    let e = engine
    var u = e.model.energySum(
      UnsafeBufferPointer(start: x, count: e.d), rows: 1, context: e.context(first: first), scratch: e.scratches[thread]
    )
    for c in 0..<e.d { u += 0.5 * contraction * x[c] * x[c] }
    return u
  }

  func perform(thread: Int, block b: Int) {
    let e = engine
    let d = e.d
    let rows = e.layout.particles(ofBlock: b)
    let xs = e.blockSlice(e.x, rows)
    let count = rows.count * d
    let g = e.blockDrift[thread], z = e.blockNoise[thread]
    let y = UnsafeMutableBufferPointer(rebasing: proposal[thread][0..<count])
    let gy = UnsafeMutableBufferPointer(rebasing: proposalDrift[thread][0..<count])
    e.modelDrift(thread: thread, rows: rows, at: xs, into: g)
    for i in 0..<count { g[i] += contraction * xs[i] }
    e.drawNormals(thread: thread, rows: rows, into: z)
    for i in 0..<count { y[i] = xs[i] - eta * g[i] + noiseScale * z[i] }
    e.modelDrift(thread: thread, rows: rows, at: y, into: gy)
    for i in 0..<count { gy[i] += contraction * y[i] }
    var accepted = 0.0
    let step = UInt64(e.stepIndex)
    for r in 0..<rows.count {
      let particle = rows.lowerBound + r
      let ux = energy(xs.baseAddress! + r * d, thread: thread, first: particle)
      let uy = energy(y.baseAddress! + r * d, thread: thread, first: particle)
      // log q(x | y) − log q(y | x), with the common factor 1/(4λη).
      var forward = 0.0, backward = 0.0
      for c in 0..<d {
        let i = r * d + c
        let f = y[i] - xs[i] + eta * g[i]
        let bw = xs[i] - y[i] + eta * gy[i]
        forward += f * f
        backward += bw * bw
      }
      let logAlpha = -(uy - ux) / lambda - (backward - forward) / (4 * lambda * eta)
      let (u, _) = e.noise.uniformPair(stream: .metropolis, step: step, particle: UInt64(particle), pair: 0)
      if logAlpha.isFinite && (logAlpha >= 0 || Foundation.log(u) < logAlpha) {
        for c in 0..<d { xs[r * d + c] = y[r * d + c] }
        accepted += 1
      }
    }
    e.scalarPartials[b - e.owned.lowerBound] = accepted
    e.checkHealth(block: b)
  }
}
