import Dispatch
import Foundation

/// The particles of one run held by this process, and the scheme that moves them.
///
/// Every step is a fixed sequence: statistic partials per owned block, one ordered sum
/// through the exchange, the field, then each block's drift and update. Blocks are spread
/// over `threads` threads; BLAS runs single-threaded inside a block, so the arithmetic of a
/// block never depends on the thread or rank count. Nothing is allocated inside a step.
public final class ParticleEngine<Model: MeanFieldModel, Exchange: BlockExchange>: PoolWorker {
  public let model: Model
  public let exchange: Exchange
  public let dynamics: Dynamics
  public let noise: GaussianField
  /// Particles beyond this sup-norm mark the run diverged.
  public let bound: Double
  /// Worker threads for this process's blocks.
  public let threads: Int

  /// The step index k of the current state (t = kη).
  public private(set) var stepIndex: Int = 0
  /// The inner solve of the last JKO step (nil for other schemes).
  public internal(set) var lastProximal: ProximalReport?

  @usableFromInline let layout: BlockLayout
  @usableFromInline let owned: Range<Int>
  @usableFromInline let firstParticle: Int
  @usableFromInline let localCount: Int
  @usableFromInline let d: Int
  @usableFromInline let statLength: Int
  /// Local positions and velocities, `localCount × d`.
  @usableFromInline let x: UnsafeMutableBufferPointer<Double>
  @usableFromInline let v: UnsafeMutableBufferPointer<Double>
  /// Cached full drift `∇U = G + 2λ'x` of the local particles (BAOAB), and the JKO anchor.
  @usableFromInline let force: UnsafeMutableBufferPointer<Double>
  @usableFromInline var forceIsCurrent = false
  @usableFromInline let anchor: UnsafeMutableBufferPointer<Double>
  /// Per owned block: statistic partial followed by (non-finite count, out-of-bound count).
  @usableFromInline let partials: UnsafeMutableBufferPointer<Double>
  @usableFromInline let statistic: UnsafeMutableBufferPointer<Double>
  @usableFromInline let field: UnsafeMutableBufferPointer<Double>
  /// Every particle's position (pairwise models, blob entropy) and blob density ρ̃.
  @usableFromInline let allPositions: UnsafeMutableBufferPointer<Double>
  @usableFromInline let localDensity: UnsafeMutableBufferPointer<Double>
  @usableFromInline let allDensity: UnsafeMutableBufferPointer<Double>
  @usableFromInline let needsAll: Bool
  /// What the model keeps between statistic and drift (`localCount × cachePerParticle`), when it
  /// fits ``cacheBudget``.
  @usableFromInline let modelCache: UnsafeMutablePointer<Double>?
  /// Per owned block: (non-finite, out-of-bound) counts of its particles after the last update.
  @usableFromInline let health: UnsafeMutableBufferPointer<Double>
  /// Per owned block: a scalar partial (residual norms).
  @usableFromInline let scalarPartials: UnsafeMutableBufferPointer<Double>
  @usableFromInline let scalarResult: UnsafeMutableBufferPointer<Double>
  /// Per thread: drift of one block, and its noise.
  @usableFromInline let blockDrift: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let blockNoise: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let normalScratch: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let scratches: [Model.Scratch]
  @usableFromInline let threadBlocks: [Range<Int>]
  @usableFromInline let pool: WorkerPool

  /// Creates an engine for the blocks `exchange.ownedBlocks` of a run and draws their initial
  /// positions (and velocities, for underdamped schemes) from the given laws. `cacheBudget` bounds
  /// the bytes kept between statistic and drift (see ``MeanFieldModel/cachePerParticle``).
  public init(
    model: Model, exchange: Exchange, dynamics: Dynamics, initial: InitialLaw,
    initialVelocity: InitialLaw = .zero, noise: GaussianField, bound: Double = .infinity,
    threads: Int = 1, cacheBudget: Int = 1 << 30
  ) {
    self.model = model
    self.exchange = exchange
    self.dynamics = dynamics
    self.noise = noise
    self.bound = bound
    layout = exchange.layout
    owned = exchange.ownedBlocks
    let particles = layout.particles(ofBlocks: owned)
    firstParticle = particles.lowerBound
    localCount = particles.count
    d = model.dimension
    statLength = model.statisticLength
    let ownedCount = owned.count
    self.threads = max(1, min(threads, max(1, ownedCount)))
    func buffer(_ n: Int) -> UnsafeMutableBufferPointer<Double> {
      let b = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, n))
      b.initialize(repeating: 0)
      return b
    }
    var blob = false
    if case .jko(let p) = dynamics, p.temperature > 0 { blob = true }
    needsAll = model.needsAllPositions || blob
    x = buffer(localCount * d)
    v = buffer(dynamics.hasVelocities ? localCount * d : 0)
    var isBAOAB = false
    if case .underdamped(let p) = dynamics, p.scheme == .baoab { isBAOAB = true }
    var isJKO = false
    if case .jko = dynamics { isJKO = true }
    force = buffer(isBAOAB || isJKO ? localCount * d : 0)
    anchor = buffer(isJKO ? localCount * d : 0)
    partials = buffer(ownedCount * (statLength + 2))
    statistic = buffer(statLength + 2)
    field = buffer(model.fieldLength)
    allPositions = buffer(needsAll ? layout.particleCount * d : 0)
    localDensity = buffer(blob ? localCount : 0)
    allDensity = buffer(blob ? layout.particleCount : 0)
    health = buffer(ownedCount * 2)
    let cacheLength = localCount * model.cachePerParticle
    if cacheLength > 0 && cacheLength * MemoryLayout<Double>.stride <= cacheBudget {
      let c = UnsafeMutablePointer<Double>.allocate(capacity: cacheLength)
      c.initialize(repeating: 0, count: cacheLength)
      modelCache = c
    } else {
      modelCache = nil
    }
    scalarPartials = buffer(ownedCount)
    scalarResult = buffer(1)
    var drifts = [UnsafeMutableBufferPointer<Double>]()
    var noises = [UnsafeMutableBufferPointer<Double>]()
    var normalScratches = [UnsafeMutableBufferPointer<Double>]()
    var scr = [Model.Scratch]()
    var ranges = [Range<Int>]()
    let t = self.threads
    for i in 0..<t {
      drifts.append(buffer(layout.blockSize * d))
      noises.append(buffer(layout.blockSize * d))
      normalScratches.append(buffer(max(GaussianField.normalScratchLength, 2 * (d + 1))))
      scr.append(model.makeScratch(maxRows: layout.blockSize))
      let q = ownedCount / t, r = ownedCount % t
      let lo = i * q + min(i, r)
      ranges.append((owned.lowerBound + lo)..<(owned.lowerBound + lo + q + (i < r ? 1 : 0)))
    }
    blockDrift = drifts
    blockNoise = noises
    normalScratch = normalScratches
    scratches = scr
    threadBlocks = ranges
    pool = WorkerPool(count: self.threads)
    if localCount > 0 {
      initial.fill(x, rows: localCount, dimension: d, firstParticle: firstParticle, field: noise)
      if dynamics.hasVelocities {
        initialVelocity.fill(
          v, rows: localCount, dimension: d, firstParticle: firstParticle, field: noise,
          stream: .initialVelocities)
      }
    }
    for b in owned { checkHealth(block: b) }
  }

  deinit {
    for b in [x, v, force, anchor, partials, statistic, field, allPositions, localDensity, allDensity, health, scalarPartials, scalarResult] {
      b.deallocate()
    }
    for g in blockDrift { g.deallocate() }
    for z in blockNoise { z.deallocate() }
    for z in normalScratch { z.deallocate() }
    modelCache?.deallocate()
  }

  // MARK: - State

  /// The global particle indices held here.
  public var ownedParticles: Range<Int> { firstParticle..<(firstParticle + localCount) }

  /// A copy of the local positions (`ownedParticles.count × d`, row-major).
  public var positions: [Double] { Array(x.prefix(localCount * d)) }

  /// A copy of the local velocities (empty for schemes without velocities).
  public var velocities: [Double] { dynamics.hasVelocities ? Array(v.prefix(localCount * d)) : [] }

  /// Replaces the local state (a resume from a checkpoint) and the step index.
  public func restore(positions: [Double], velocities: [Double] = [], step: Int) {
    precondition(positions.count == localCount * d, "checkpoint does not match the layout")
    for i in 0..<positions.count { x[i] = positions[i] }
    if dynamics.hasVelocities {
      precondition(velocities.count == localCount * d, "checkpoint lacks velocities")
      for i in 0..<velocities.count { v[i] = velocities[i] }
    }
    stepIndex = step
    forceIsCurrent = false
    for b in owned { checkHealth(block: b) }
  }

  /// Reads the local positions without copying.
  public func withPositions<R>(_ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(rebasing: x.prefix(localCount * d)))
  }

  /// Reads the local velocities without copying (empty without velocities).
  public func withVelocities<R>(_ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(rebasing: v.prefix(dynamics.hasVelocities ? localCount * d : 0)))
  }

  // MARK: - Stepping

  /// Advances one step. Returns a divergence (detected on the state before the step, which is
  /// then left unchanged) or nil.
  public func step() throws -> Divergence? {
    switch dynamics {
    case .overdamped(let p):
      if let divergence = try prepareField() { return divergence }
      try overdampedStep(p)
    case .underdamped(let p):
      switch p.scheme {
      case .plain:
        if let divergence = try prepareField() { return divergence }
        plainUnderdampedStep(p)
      case .baoab:
        if let divergence = try baoabStep(p) { return divergence }
      }
    case .jko(let p):
      if let divergence = try prepareField() { return divergence }
      if let divergence = try jkoStep(p) { return divergence }
    }
    stepIndex += 1
    return nil
  }

  /// Parameters of the current per-block phase (set before ``runPhase(_:)``).
  @usableFromInline struct PhaseParameters {
    var eta = 0.0, noiseScale = 0.0, contraction = 0.0, friction = 0.0, decay = 0.0, half = 0.0
    var tau = 0.0, temperature = 0.0, blob = 0.0
    var useNoise = false
    var step: UInt64 = 0
  }

  /// The per-block work of a phase of a step. Phases are dispatched to the worker threads
  /// without closures, so that a step allocates nothing.
  @usableFromInline enum BlockPhase {
    case statistic, overdamped, plainUnderdamped, force, baoabDrift, baoabKick, jkoGradient, blobDensity
  }

  @usableFromInline var phase = BlockPhase.statistic
  @usableFromInline var parameters = PhaseParameters()

  /// Runs `phase` on every owned block, blocks split over the threads in contiguous chunks.
  @usableFromInline
  func runPhase(_ phase: BlockPhase) {
    self.phase = phase
    if threads == 1 {
      for b in owned { performBlock(0, b) }
    } else {
      pool.run(worker: self)
    }
  }

  public func poolWork(_ thread: Int) {
    for b in threadBlocks[thread] { performBlock(thread, b) }
  }

  @usableFromInline
  func performBlock(_ thread: Int, _ b: Int) {
    let p = parameters
    let rows = layout.particles(ofBlock: b)
    let xs = blockSlice(x, rows)
    let count = rows.count * d
    switch phase {
    case .statistic:
      let width = statLength + 2
      let slot = (b - owned.lowerBound) * width
      let partial = UnsafeMutableBufferPointer(rebasing: partials[slot..<(slot + width)])
      for j in 0..<width { partial[j] = 0 }
      if statLength > 0 {
        model.accumulate(
          UnsafeBufferPointer(xs), rows: rows.count, into: UnsafeMutableBufferPointer(rebasing: partial[0..<statLength]),
          scratch: scratches[thread], cache: cachePointer(first: rows.lowerBound))
      }
      let h = (b - owned.lowerBound) * 2
      partial[statLength] = health[h]
      partial[statLength + 1] = health[h + 1]
    case .overdamped:
      let g = blockDrift[thread], z = blockNoise[thread]
      model.drift(UnsafeBufferPointer(xs), rows: rows.count, context: context(first: rows.lowerBound), into: g, scratch: scratches[thread])
      if p.useNoise {
        noise.fillNormals(
          z, rows: rows.count, dimension: d, firstParticle: rows.lowerBound, step: p.step, stream: .dynamics,
          scratch: normalScratch[thread])
        for i in 0..<count { xs[i] = xs[i] - p.eta * (g[i] + p.contraction * xs[i]) + p.noiseScale * z[i] }
      } else {
        for i in 0..<count { xs[i] = xs[i] - p.eta * (g[i] + p.contraction * xs[i]) }
      }
      checkHealth(block: b)
    case .plainUnderdamped:
      let vs = blockSlice(v, rows)
      let g = blockDrift[thread], z = blockNoise[thread]
      model.drift(UnsafeBufferPointer(xs), rows: rows.count, context: context(first: rows.lowerBound), into: g, scratch: scratches[thread])
      if p.useNoise {
        noise.fillNormals(
          z, rows: rows.count, dimension: d, firstParticle: rows.lowerBound, step: p.step, stream: .dynamics,
          scratch: normalScratch[thread])
      }
      for i in 0..<count {
        let xi = xs[i], vi = vs[i]
        let kick = -p.eta * (g[i] + p.contraction * xi)
        xs[i] = xi + p.eta * vi
        vs[i] = (1 - p.friction * p.eta) * vi + kick + (p.useNoise ? p.noiseScale * z[i] : 0)
      }
      checkHealth(block: b)
    case .force:
      let f = blockSlice(force, rows)
      model.drift(UnsafeBufferPointer(xs), rows: rows.count, context: context(first: rows.lowerBound), into: f, scratch: scratches[thread])
      for i in 0..<count { f[i] += p.contraction * xs[i] }
    case .baoabDrift:
      let vs = blockSlice(v, rows), f = blockSlice(force, rows)
      let z = blockNoise[thread]
      if p.useNoise {
        noise.fillNormals(
          z, rows: rows.count, dimension: d, firstParticle: rows.lowerBound, step: p.step, stream: .dynamics,
          scratch: normalScratch[thread])
      }
      for i in 0..<count {
        var vi = vs[i] - p.half * f[i]
        var xi = xs[i] + p.half * vi
        vi = p.decay * vi + (p.useNoise ? p.noiseScale * z[i] : 0)
        xi += p.half * vi
        xs[i] = xi
        vs[i] = vi
      }
      checkHealth(block: b)
    case .baoabKick:
      let vs = blockSlice(v, rows), f = blockSlice(force, rows)
      for i in 0..<count { vs[i] -= p.half * f[i] }
      checkHealth(block: b)
    case .jkoGradient:
      // r = ∇Φ(x) = (x − x^k)/τ + G + 2λ'x + λ ∇(N·Ent_ε), kept in `force`.
      let g = blockDrift[thread]
      let a = blockSlice(anchor, rows), r = blockSlice(force, rows)
      model.drift(UnsafeBufferPointer(xs), rows: rows.count, context: context(first: rows.lowerBound), into: g, scratch: scratches[thread])
      if p.temperature > 0 { addBlobEntropyGradient(rows: rows, scale: p.temperature, width: p.blob, into: g) }
      var sq = 0.0
      for i in 0..<count {
        let ri = (xs[i] - a[i]) / p.tau + g[i] + p.contraction * xs[i]
        sq += ri * ri
        r[i] = ri
      }
      scalarPartials[b - owned.lowerBound] = sq
    case .blobDensity:
      let n = layout.particleCount, eps = p.blob
      let norm = Foundation.pow(2 * Double.pi * eps * eps, -0.5 * Double(d)) / Double(n)
      let inv = 1 / (2 * eps * eps)
      let all = allPositions.baseAddress!
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
        localDensity[i - firstParticle] = norm * s
      }
    }
  }

  func overdampedStep(_ p: Dynamics.Overdamped) throws {
    parameters.noiseScale = (2 * p.temperature * p.step).squareRoot()
    parameters.useNoise = p.temperature > 0
    parameters.contraction = 2 * p.l2
    parameters.eta = p.step
    parameters.step = UInt64(stepIndex)
    runPhase(.overdamped)
  }

  func plainUnderdampedStep(_ p: Dynamics.Underdamped) {
    parameters.eta = p.step
    parameters.friction = p.friction
    parameters.contraction = 2 * p.l2
    parameters.noiseScale = (2 * p.friction * p.temperature * p.step).squareRoot()
    parameters.useNoise = p.temperature > 0
    parameters.step = UInt64(stepIndex)
    runPhase(.plainUnderdamped)
  }

  /// Fills `force` with ∇U = G + 2λ'x at the current positions (after ``prepareField()``).
  func computeForce(l2: Double) {
    parameters.contraction = 2 * l2
    runPhase(.force)
    forceIsCurrent = true
  }

  func baoabStep(_ p: Dynamics.Underdamped) throws -> Divergence? {
    if !forceIsCurrent {
      if let divergence = try prepareField() { return divergence }
      computeForce(l2: p.l2)
    }
    let c = Foundation.exp(-p.friction * p.step)
    parameters.half = 0.5 * p.step
    parameters.decay = c
    parameters.noiseScale = (p.temperature * (1 - c * c)).squareRoot()
    parameters.useNoise = p.temperature > 0
    parameters.step = UInt64(stepIndex)
    runPhase(.baoabDrift)
    forceIsCurrent = false
    stepIndex += 1
    defer { stepIndex -= 1 }  // step() adds the step after a healthy update
    if let divergence = try prepareField() { return divergence }
    computeForce(l2: p.l2)
    parameters.half = 0.5 * p.step
    runPhase(.baoabKick)
    return nil
  }

  /// Every particle's position, `N × d` in global order, on every process (collective;
  /// allocates).
  public func gatherPositions() throws -> [Double] {
    var all = [Double](repeating: 0, count: max(1, layout.particleCount * d))
    try all.withUnsafeMutableBufferPointer { a in
      try exchange.allGather(local: UnsafeBufferPointer(rebasing: x.prefix(localCount * d)), rowLength: d, into: a)
    }
    return Array(all.prefix(layout.particleCount * d))
  }

  /// Computes the global statistic and the field for the current state; returns a divergence
  /// when the state is not healthy. Collective.
  @discardableResult
  public func prepareField() throws -> Divergence? {
    if needsAll {
      try exchange.allGather(
        local: UnsafeBufferPointer(rebasing: x.prefix(localCount * d)), rowLength: d, into: allPositions)
    }
    let width = statLength + 2
    runPhase(.statistic)
    try exchange.orderedSum(
      localPartials: UnsafeBufferPointer(rebasing: partials.prefix(owned.count * width)),
      length: width, into: statistic)
    var finite = true
    for j in 0..<statLength where !statistic[j].isFinite { finite = false }
    if !finite || statistic[statLength] > 0 { return .nonFinite(step: stepIndex) }
    if statistic[statLength + 1] > 0 { return .outOfBounds(step: stepIndex, bound: bound) }
    model.makeField(
      sum: UnsafeBufferPointer(rebasing: statistic.prefix(statLength)),
      particleCount: layout.particleCount, into: field)
    return nil
  }

  /// The global statistic of the current state (valid after ``prepareField()``).
  public var currentStatistic: [Double] { Array(statistic.prefix(statLength)) }

  /// The field of the current state (valid after ``prepareField()``).
  public var currentField: [Double] { Array(field.prefix(model.fieldLength)) }

  /// The model drift `G0` of every local particle at the current state (valid after
  /// ``prepareField()``), `ownedParticles.count × d`. Allocates; for tests and diagnostics.
  public func driftOfCurrentState() -> [Double] {
    var out = [Double](repeating: 0, count: localCount * d)
    out.withUnsafeMutableBufferPointer { o in
      forEachOwnedBlock { thread, b in
        let rows = self.layout.particles(ofBlock: b)
        let local = rows.lowerBound - self.firstParticle
        let range = (local * self.d)..<((local + rows.count) * self.d)
        self.model.drift(
          UnsafeBufferPointer(rebasing: self.x[range]), rows: rows.count,
          context: self.context(first: rows.lowerBound),
          into: UnsafeMutableBufferPointer(rebasing: o[range]), scratch: self.scratches[thread])
      }
    }
    return out
  }

  /// F0 of the current state (collective; recomputes the statistic).
  public func modelEnergy() throws -> Double {
    try prepareField()
    let sums = try orderedReduce(length: 1) { thread, xs, rows, first, out in
      out[0] = self.model.energySum(
        xs, rows: rows, context: self.context(first: first), scratch: self.scratches[thread])
    }
    return model.energy(
      sum: UnsafeBufferPointer(rebasing: statistic.prefix(statLength)), energySum: sums[0],
      particleCount: layout.particleCount)
  }

  /// A reproducible sum over all particles of the run (collective).
  ///
  /// `body(thread, x, rows, firstParticle, partial)` adds the contribution of `rows` particles
  /// into `partial` (length `length`, zeroed); partials are combined in block order.
  public func orderedReduce(
    length: Int,
    _ body: (Int, UnsafeBufferPointer<Double>, Int, Int, UnsafeMutableBufferPointer<Double>) -> Void
  ) throws -> [Double] {
    var local = [Double](repeating: 0, count: max(1, owned.count * length))
    var result = [Double](repeating: 0, count: length)
    local.withUnsafeMutableBufferPointer { lp in
      let base = lp.baseAddress!
      forEachOwnedBlock { thread, b in
        let rows = self.layout.particles(ofBlock: b)
        let local = rows.lowerBound - self.firstParticle
        let out = UnsafeMutableBufferPointer(start: base + (b - self.owned.lowerBound) * length, count: length)
        body(
          thread,
          UnsafeBufferPointer(rebasing: self.x[(local * self.d)..<((local + rows.count) * self.d)]),
          rows.count, rows.lowerBound, out)
      }
    }
    try local.withUnsafeBufferPointer { lp in
      try result.withUnsafeMutableBufferPointer { rp in
        try exchange.orderedSum(
          localPartials: UnsafeBufferPointer(rebasing: lp.prefix(owned.count * length)),
          length: length, into: rp)
      }
    }
    return result
  }

  // MARK: - Internals


  /// The slice of a local `localCount × d` buffer holding global rows `rows`.
  @inlinable
  func blockSlice(_ buffer: UnsafeMutableBufferPointer<Double>, _ rows: Range<Int>) -> UnsafeMutableBufferPointer<Double> {
    let local = rows.lowerBound - firstParticle
    return UnsafeMutableBufferPointer(start: buffer.baseAddress! + local * d, count: rows.count * d)
  }

  @inlinable
  func context(first: Int) -> DriftContext {
    DriftContext(
      field: UnsafeBufferPointer(field),
      allPositions: needsAll ? UnsafeBufferPointer(allPositions) : UnsafeBufferPointer(start: nil, count: 0),
      particleCount: layout.particleCount, firstParticle: first, cache: cachePointer(first: first))
  }

  /// The model cache of the rows starting at global particle `first`, when the engine keeps one.
  @inlinable
  func cachePointer(first: Int) -> UnsafeMutablePointer<Double>? {
    guard let base = modelCache else { return nil }
    return base + (first - firstParticle) * model.cachePerParticle
  }

  /// Counts non-finite and out-of-bound particles of block `b` into `health` (a non-finite
  /// velocity counts as non-finite).
  @usableFromInline
  func checkHealth(block b: Int) {
    let rows = layout.particles(ofBlock: b)
    let local = rows.lowerBound - firstParticle
    let hasV = dynamics.hasVelocities
    var nonFinite = 0, outside = 0
    for i in 0..<rows.count {
      var finite = true, inside = true
      for c in 0..<d {
        let value = x[(local + i) * d + c]
        if !value.isFinite { finite = false }
        if abs(value) > bound { inside = false }
        if hasV && !v[(local + i) * d + c].isFinite { finite = false }
      }
      if !finite { nonFinite += 1 } else if !inside { outside += 1 }
    }
    let h = (b - owned.lowerBound) * 2
    health[h] = Double(nonFinite)
    health[h + 1] = Double(outside)
  }

  /// Runs `body(thread, block)` for every owned block, blocks split over the threads in
  /// contiguous chunks (for diagnostics; a step uses ``runPhase(_:)``, which allocates nothing).
  @usableFromInline
  func forEachOwnedBlock(_ body: (Int, Int) -> Void) {
    if threads == 1 {
      for b in owned { body(0, b) }
      return
    }
    threadBlocks.withUnsafeBufferPointer { ranges in
      pool.run { t in
        for b in ranges[t] { body(t, b) }
      }
    }
  }
}

