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
    let g = e.blockDrift[thread]
    e.modelDrift(thread: thread, rows: rows, at: xs, into: g)
    if useNoise {
      // The update with the normals read from the generator's chunks, and the health scan of
      // positions and velocities, in one pass.
      let eta = eta, contraction = contraction, friction = friction, noiseScale = noiseScale
      let limit = e.healthLimit
      let x = xs.baseAddress!, v = vs.baseAddress!, gp = g.baseAddress!
      e.updateWithNormals(thread: thread, block: b) { i, z in
        let xi = x[i], vi = v[i]
        let kick = -eta * (gp[i] + contraction * xi)
        let xn = xi + eta * vi
        let vn = (1 - friction * eta) * vi + kick + noiseScale * z
        x[i] = xn
        v[i] = vn
        return ParticleEngine<Model, Exchange>.healthFlag(position: xn, velocity: vn, limit: limit)
      }
    } else {
      for i in 0..<count {
        let xi = xs[i], vi = vs[i]
        let kick = -eta * (g[i] + contraction * xi)
        xs[i] = xi + eta * vi
        vs[i] = (1 - friction * eta) * vi + kick + 0  // as before: −0 becomes +0
      }
      e.checkHealth(block: b)
    }
  }
}
