import Foundation

/// The plain kinetic scheme (docs/MATH.md §2), both updates from time k:
///
///     x_{k+1} = x_k + η v_k
///     v_{k+1} = (1 − γη) v_k − η ∇U(x_k) + sqrt(2γλη) ξ_k
///
/// Forward Euler in (x, v): stable for a quadratic U only when ηκ < γ, with a stationary law
/// biased at first order in η.
final class PlainUnderdamped<Model: MeanFieldModel, Exchange: BlockExchange>: Integrator, BlockKernel {
  unowned let engine: ParticleEngine<Model, Exchange>
  let eta: Double, friction: Double, contraction: Double, noiseScale: Double, useNoise: Bool

  init(_ p: Underdamped, engine: ParticleEngine<Model, Exchange>) {
    self.engine = engine
    eta = p.step
    friction = p.friction
    contraction = 2 * p.l2
    noiseScale = (2 * p.friction * p.temperature * p.step).squareRoot()
    useNoise = p.temperature > 0
  }

  var report: SchemeReport { SchemeReport() }
  func stateChanged() {}

  func step() throws -> Divergence? {
    if let divergence = try engine.prepareField() { return divergence }
    engine.runBlocks(self)
    return nil
  }

  func perform(thread: Int, block b: Int) {
    let e = engine
    let rows = e.layout.particles(ofBlock: b)
    let xs = e.blockSlice(e.x, rows), vs = e.blockSlice(e.v, rows)
    let count = rows.count * e.d
    let g = e.blockDrift[thread], z = e.blockNoise[thread]
    e.modelDrift(thread: thread, rows: rows, at: xs, into: g)
    if useNoise { e.drawNormals(thread: thread, rows: rows, into: z) }
    for i in 0..<count {
      let xi = xs[i], vi = vs[i]
      let kick = -eta * (g[i] + contraction * xi)
      xs[i] = xi + eta * vi
      vs[i] = (1 - friction * eta) * vi + kick + (useNoise ? noiseScale * z[i] : 0)
    }
    e.checkHealth(block: b)
  }
}
