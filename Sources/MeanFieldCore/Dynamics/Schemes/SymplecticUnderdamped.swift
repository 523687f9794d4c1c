import Foundation

/// The velocity-first (semi-implicit, symplectic) variant of the plain kinetic scheme:
///
///     v_{k+1} = (1 − γη) v_k − η ∇U(x_k) + sqrt(2γλη) ξ_k
///     x_{k+1} = x_k + η v_{k+1}
///
/// Without friction and noise it is the symplectic Euler method, which conserves the modified
/// energy `|v|²/2 + U(x) − (η/2) v·∇U(x)` of a quadratic U exactly (docs/MATH.md §2).
final class SymplecticUnderdamped<Model: MeanFieldModel, Exchange: BlockExchange>: Integrator, BlockKernel {
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
        let xi = x[i]
        let kick = -eta * (gp[i] + contraction * xi)
        let vn = (1 - friction * eta) * v[i] + kick + noiseScale * z
        let xn = xi + eta * vn
        v[i] = vn
        x[i] = xn
        return ParticleEngine<Model, Exchange>.healthFlag(position: xn, velocity: vn, limit: limit)
      }
    } else {
      for i in 0..<count {
        let xi = xs[i]
        let kick = -eta * (g[i] + contraction * xi)
        let vi = (1 - friction * eta) * vs[i] + kick + 0  // as before: −0 becomes +0
        vs[i] = vi
        xs[i] = xi + eta * vi
      }
      e.checkHealth(block: b)
    }
  }
}
