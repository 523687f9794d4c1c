import Foundation

/// BAOAB splitting (Leimkuhler–Matthews) with the exact Ornstein–Uhlenbeck velocity step:
///
///     v ← v − (η/2)∇U(x);  x ← x + (η/2)v;
///     v ← e^{−γη} v + sqrt(λ(1 − e^{−2γη})) ξ;
///     x ← x + (η/2)v;  v ← v − (η/2)∇U(x)
///
/// one force evaluation per step: the force at the end of a step is kept for the next.
final class BAOAB<Model: MeanFieldModel, Exchange: BlockExchange>: Integrator, BlockKernel {
  unowned let engine: ParticleEngine<Model, Exchange>
  let half: Double, decay: Double, contraction: Double, noiseScale: Double, useNoise: Bool
  /// `∇U = G + 2λ'x` of the local particles at the current state, when ``forceIsCurrent``.
  let force: UnsafeMutableBufferPointer<Double>
  var forceIsCurrent = false

  enum Phase { case force, drift, kick }
  var phase = Phase.force

  init(_ p: Underdamped, engine: ParticleEngine<Model, Exchange>) {
    self.engine = engine
    let c = Foundation.exp(-p.friction * p.step)
    half = 0.5 * p.step
    decay = c
    contraction = 2 * p.l2
    noiseScale = (p.temperature * (1 - c * c)).squareRoot()
    useNoise = p.temperature > 0
    force = ParticleEngine<Model, Exchange>.buffer(engine.localCount * engine.d)
  }

  deinit { force.deallocate() }

  var report: SchemeReport { SchemeReport() }
  func stateChanged() { forceIsCurrent = false }

  func step() throws -> Divergence? {
    let e = engine
    if !forceIsCurrent {
      if let divergence = try e.prepareField() { return divergence }
      run(.force)
      forceIsCurrent = true
    }
    run(.drift)
    forceIsCurrent = false
    e.stepIndex += 1
    defer { e.stepIndex -= 1 }  // the engine counts the step after a healthy update
    if let divergence = try e.prepareField() { return divergence }
    run(.force)
    forceIsCurrent = true
    run(.kick)
    return nil
  }

  func run(_ phase: Phase) {
    self.phase = phase
    engine.runBlocks(self)
  }

  func perform(thread: Int, block b: Int) {
    let e = engine
    let rows = e.layout.particles(ofBlock: b)
    let xs = e.blockSlice(e.x, rows)
    let count = rows.count * e.d
    switch phase {
    case .force:
      let f = e.blockSlice(force, rows)
      e.modelDrift(thread: thread, rows: rows, at: xs, into: f)
      for i in 0..<count { f[i] += contraction * xs[i] }
    case .drift:
      let vs = e.blockSlice(e.v, rows), f = e.blockSlice(force, rows)
      if useNoise {
        // B, A, O with the normals read from the generator's chunks, and the health scan of
        // positions and velocities, in one pass.
        let half = half, decay = decay, noiseScale = noiseScale, limit = e.healthLimit
        let x = xs.baseAddress!, v = vs.baseAddress!, fp = f.baseAddress!
        e.updateWithNormals(thread: thread, block: b) { i, z in
          var vi = v[i] - half * fp[i]
          var xi = x[i] + half * vi
          vi = decay * vi + noiseScale * z
          xi += half * vi
          x[i] = xi
          v[i] = vi
          return ParticleEngine<Model, Exchange>.healthFlag(position: xi, velocity: vi, limit: limit)
        }
      } else {
        for i in 0..<count {
          var vi = vs[i] - half * f[i]
          var xi = xs[i] + half * vi
          vi = decay * vi + 0  // as the noisy step with no noise term: −0 becomes +0, same bits as before
          xi += half * vi
          xs[i] = xi
          vs[i] = vi
        }
        e.checkHealth(block: b)
      }
    case .kick:
      let vs = e.blockSlice(e.v, rows), f = e.blockSlice(force, rows)
      for i in 0..<count { vs[i] -= half * f[i] }
      e.checkHealth(block: b)
    }
  }
}
