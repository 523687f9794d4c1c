import Dispatch
import Foundation

/// The particles of one run held by this process, and the block machinery every scheme shares:
/// the state, the layout of blocks over ranks and threads, the mean-field statistic and field
/// (one exact sum per evaluation), health checks, exact reductions. It knows no scheme: an
/// ``Integrator`` (made by the run's ``Scheme``) moves the particles.
///
/// Blocks are spread over `threads` threads; BLAS runs single-threaded inside a block, so the
/// arithmetic of a block never depends on the thread or rank count. Nothing is allocated inside
/// a step.
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
  public internal(set) var stepIndex: Int = 0

  @usableFromInline let layout: BlockLayout
  @usableFromInline let owned: Range<Int>
  @usableFromInline let firstParticle: Int
  @usableFromInline let localCount: Int
  @usableFromInline let d: Int
  @usableFromInline let statLength: Int
  /// Local positions and velocities, `localCount × d`.
  @usableFromInline let x: UnsafeMutableBufferPointer<Double>
  @usableFromInline let v: UnsafeMutableBufferPointer<Double>
  /// Per owned block: statistic partial followed by (non-finite count, out-of-bound count).
  @usableFromInline let partials: UnsafeMutableBufferPointer<Double>
  @usableFromInline let statistic: UnsafeMutableBufferPointer<Double>
  /// Exact accumulators (``ExactSum``) for the statistic and health counts, then one for scalar
  /// partials.
  @usableFromInline let accumulators: UnsafeMutableBufferPointer<Int64>
  @usableFromInline let field: UnsafeMutableBufferPointer<Double>
  /// Every particle's position (pairwise models, blob entropy).
  @usableFromInline let allPositions: UnsafeMutableBufferPointer<Double>
  @usableFromInline let needsAll: Bool
  /// What the model keeps between statistic and drift (`localCount × cachePerParticle`), when it
  /// fits ``cacheBudget``.
  @usableFromInline let modelCache: UnsafeMutablePointer<Double>?
  /// What the model precomputes per local particle at the gathered state (`localCount ×
  /// pairSumLength`; pairwise models).
  @usableFromInline let pairSums: UnsafeMutableBufferPointer<Double>
  @usableFromInline let pairLength: Int
  /// Whether the pool is running the pair phase (else the statistic phase).
  @usableFromInline var pairPhase = false
  /// Whether `pairSums` belong to the positions in `allPositions` (a gather without the pair
  /// phase leaves them stale).
  @usableFromInline var pairSumsCurrent = false
  /// Per owned block: (non-finite, out-of-bound) counts of its particles after the last update.
  @usableFromInline let health: UnsafeMutableBufferPointer<Double>
  /// Per owned block: a scalar partial (residual norms, acceptance counts).
  @usableFromInline let scalarPartials: UnsafeMutableBufferPointer<Double>
  @usableFromInline let scalarResult: UnsafeMutableBufferPointer<Double>
  /// Per thread: drift of one block, and its noise.
  @usableFromInline let blockDrift: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let blockNoise: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let normalScratch: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let scratches: [Model.Scratch]
  @usableFromInline let threadBlocks: [Range<Int>]
  @usableFromInline let pool: WorkerPool
  /// The scheme's integrator (made at the end of `init`).
  public private(set) var integrator: (any Integrator)!

  /// Creates an engine for the blocks `exchange.ownedBlocks` of a run, draws their initial
  /// positions (and velocities, when the scheme has them) from the given laws, and makes the
  /// scheme's integrator. `cacheBudget` bounds the bytes kept between statistic and drift (see
  /// ``MeanFieldModel/cachePerParticle``).
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
    needsAll = model.needsAllPositions || dynamics.needsAllPositions
    x = Self.buffer(localCount * d)
    v = Self.buffer(dynamics.hasVelocities ? localCount * d : 0)
    partials = Self.buffer(ownedCount * (statLength + 2))
    statistic = Self.buffer(statLength + 2)
    accumulators = .allocate(capacity: (statLength + 3) * ExactSum.width)
    accumulators.initialize(repeating: 0)
    field = Self.buffer(model.fieldLength)
    allPositions = Self.buffer(needsAll ? layout.particleCount * d : 0)
    pairLength = needsAll ? model.pairSumLength : 0
    pairSums = Self.buffer(localCount * pairLength)
    health = Self.buffer(ownedCount * 2)
    let cacheLength = localCount * model.cachePerParticle
    if cacheLength > 0 && cacheLength * MemoryLayout<Double>.stride <= cacheBudget {
      let c = UnsafeMutablePointer<Double>.allocate(capacity: cacheLength)
      c.initialize(repeating: 0, count: cacheLength)
      modelCache = c
    } else {
      modelCache = nil
    }
    scalarPartials = Self.buffer(ownedCount)
    scalarResult = Self.buffer(1)
    var drifts = [UnsafeMutableBufferPointer<Double>]()
    var noises = [UnsafeMutableBufferPointer<Double>]()
    var normalScratches = [UnsafeMutableBufferPointer<Double>]()
    var scr = [Model.Scratch]()
    var ranges = [Range<Int>]()
    let t = self.threads
    for i in 0..<t {
      drifts.append(Self.buffer(layout.blockSize * d))
      noises.append(Self.buffer(layout.blockSize * d))
      normalScratches.append(Self.buffer(max(GaussianField.normalScratchLength, 2 * (d + 1))))
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
    integrator = dynamics.scheme.makeIntegrator(for: self)
  }

  deinit {
    for b in [x, v, partials, statistic, field, allPositions, pairSums, health, scalarPartials, scalarResult] {
      b.deallocate()
    }
    for g in blockDrift { g.deallocate() }
    for z in blockNoise { z.deallocate() }
    for z in normalScratch { z.deallocate() }
    modelCache?.deallocate()
    accumulators.deallocate()
  }

  /// A zeroed buffer of `n` doubles (at least one).
  @usableFromInline
  static func buffer(_ n: Int) -> UnsafeMutableBufferPointer<Double> {
    let b = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, n))
    b.initialize(repeating: 0)
    return b
  }

  // MARK: - State

  /// The global particle indices held here.
  public var ownedParticles: Range<Int> { firstParticle..<(firstParticle + localCount) }

  /// A copy of the local positions (`ownedParticles.count × d`, row-major).
  public var positions: [Double] { Array(x.prefix(localCount * d)) }

  /// A copy of the local velocities (empty for schemes without velocities).
  public var velocities: [Double] { dynamics.hasVelocities ? Array(v.prefix(localCount * d)) : [] }

  /// What the scheme reports about its last step.
  public var schemeReport: SchemeReport { integrator.report }

  /// The inner solve of the last JKO step (nil for other schemes).
  public var lastProximal: ProximalReport? { integrator.report.proximal }

  /// Replaces the local state (a resume from a checkpoint) and the step index.
  public func restore(positions: [Double], velocities: [Double] = [], step: Int) {
    precondition(positions.count == localCount * d, "checkpoint does not match the layout")
    for i in 0..<positions.count { x[i] = positions[i] }
    if dynamics.hasVelocities {
      precondition(velocities.count == localCount * d, "checkpoint lacks velocities")
      for i in 0..<velocities.count { v[i] = velocities[i] }
    }
    stepIndex = step
    integrator.stateChanged()
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

  /// Advances one step by the run's scheme. Returns a divergence (detected on the state before
  /// the step, which is then left unchanged) or nil.
  public func step() throws -> Divergence? {
    if let divergence = try integrator.step() { return divergence }
    stepIndex += 1
    return nil
  }

  /// Runs `worker.poolWork(thread)` on every thread (the worker loops over
  /// `threadBlocks[thread]`), without closures: a step allocates nothing.
  @usableFromInline
  func runBlocks(_ worker: PoolWorker) {
    if threads == 1 {
      worker.poolWork(0)
    } else {
      pool.run(worker: worker)
    }
  }

  /// The statistic phase and the pair phase (the engine is its own worker for them).
  public func poolWork(_ thread: Int) {
    if pairPhase {
      let range = layout.particles(ofBlocks: threadBlocks[thread])
      guard !range.isEmpty else { return }
      model.computePairSums(
        range: range, allPositions: UnsafeBufferPointer(allPositions), particleCount: layout.particleCount,
        into: pairSums.baseAddress! + (range.lowerBound - firstParticle) * pairLength, scratch: scratches[thread])
      return
    }
    for b in threadBlocks[thread] { statisticPartial(thread: thread, block: b) }
  }

  @usableFromInline
  func statisticPartial(thread: Int, block b: Int) {
    let rows = layout.particles(ofBlock: b)
    let xs = blockSlice(x, rows)
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

  /// Computes the global statistic and the field for the current state (and, unless `pairs` is
  /// false, the model's pair sums); returns a divergence when the state is not healthy.
  /// Collective.
  @discardableResult
  public func prepareField(pairs: Bool = true) throws -> Divergence? {
    if needsAll {
      try exchange.allGather(
        local: UnsafeBufferPointer(rebasing: x.prefix(localCount * d)), rowLength: d, into: allPositions)
      if pairLength > 0 && pairs {
        pairPhase = true
        runBlocks(self)
        pairPhase = false
      }
      pairSumsCurrent = pairLength > 0 && pairs
    }
    let width = statLength + 2
    runBlocks(self)
    try exchange.exactSum(
      localPartials: UnsafeBufferPointer(rebasing: partials.prefix(owned.count * width)), length: width,
      accumulators: UnsafeMutableBufferPointer(rebasing: accumulators.prefix(width * ExactSum.width)),
      into: statistic)
    var finite = true
    for j in 0..<statLength where !statistic[j].isFinite { finite = false }
    if !finite || statistic[statLength] > 0 { return .nonFinite(step: stepIndex) }
    if statistic[statLength + 1] > 0 { return .outOfBounds(step: stepIndex, bound: bound) }
    model.makeField(
      sum: UnsafeBufferPointer(rebasing: statistic.prefix(statLength)),
      particleCount: layout.particleCount, into: field)
    return nil
  }

  /// The exact sum over all blocks of `scalarPartials` (one number per owned block).
  @usableFromInline
  func sumScalarPartials() throws -> Double {
    try exchange.exactSum(
      localPartials: UnsafeBufferPointer(rebasing: scalarPartials.prefix(owned.count)), length: 1,
      accumulators: UnsafeMutableBufferPointer(rebasing: accumulators.suffix(ExactSum.width)), into: scalarResult)
    return scalarResult[0]
  }

  /// The global statistic of the current state (valid after ``prepareField(pairs:)``).
  public var currentStatistic: [Double] { Array(statistic.prefix(statLength)) }

  /// The field of the current state (valid after ``prepareField(pairs:)``).
  public var currentField: [Double] { Array(field.prefix(model.fieldLength)) }

  /// The model drift `G0` of every local particle at the current state (valid after
  /// ``prepareField(pairs:)``), `ownedParticles.count × d`. Allocates; for tests and diagnostics.
  public func driftOfCurrentState() -> [Double] {
    var out = [Double](repeating: 0, count: localCount * d)
    out.withUnsafeMutableBufferPointer { o in
      forEachOwnedBlock { thread, b in
        let rows = self.layout.particles(ofBlock: b)
        let local = rows.lowerBound - self.firstParticle
        let range = (local * self.d)..<((local + rows.count) * self.d)
        self.model.drift(
          UnsafeBufferPointer(rebasing: self.x[range]), rows: rows.count,
          context: self.context(first: rows.lowerBound, at: UnsafeBufferPointer(rebasing: self.x[range])),
          into: UnsafeMutableBufferPointer(rebasing: o[range]), scratch: self.scratches[thread])
      }
    }
    return out
  }

  /// F0 of the current state (collective; recomputes the statistic).
  public func modelEnergy() throws -> Double {
    try prepareField(pairs: false)
    let sums = try exactReduce(length: 1) { thread, xs, rows, first, out in
      out[0] = self.model.energySum(
        xs, rows: rows, context: self.context(first: first), scratch: self.scratches[thread])
    }
    return model.energy(
      sum: UnsafeBufferPointer(rebasing: statistic.prefix(statLength)), energySum: sums[0],
      particleCount: layout.particleCount)
  }

  /// A reproducible sum over all particles of the run (collective; allocates).
  ///
  /// `body(thread, x, rows, firstParticle, partial)` adds the contribution of `rows` particles
  /// into `partial` (length `length`, zeroed); the block partials are summed exactly and rounded
  /// once (``BlockExchange/exactSum(localPartials:length:accumulators:into:)``).
  public func exactReduce(
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
    var scratch = [Int64](repeating: 0, count: length * ExactSum.width)
    try local.withUnsafeBufferPointer { lp in
      try result.withUnsafeMutableBufferPointer { rp in
        try scratch.withUnsafeMutableBufferPointer { ap in
          try exchange.exactSum(
            localPartials: UnsafeBufferPointer(rebasing: lp.prefix(owned.count * length)), length: length,
            accumulators: ap, into: rp)
        }
      }
    }
    return result
  }

  // MARK: - Block access for integrators

  /// The slice of a local `localCount × d` buffer holding global rows `rows`.
  @inlinable
  func blockSlice(_ buffer: UnsafeMutableBufferPointer<Double>, _ rows: Range<Int>) -> UnsafeMutableBufferPointer<
    Double
  > {
    let local = rows.lowerBound - firstParticle
    return UnsafeMutableBufferPointer(start: buffer.baseAddress! + local * d, count: rows.count * d)
  }

  /// The context of a drift evaluation of the rows starting at global particle `first`; when
  /// given the positions `xs` the drift is evaluated at, the model's pair sums are passed if
  /// `xs` are bitwise the gathered positions of those rows (the state the sums were computed
  /// from; a proposal or a moved block gets none).
  @inlinable
  func context(first: Int, at xs: UnsafeBufferPointer<Double>? = nil) -> DriftContext {
    var pairs: UnsafePointer<Double>? = nil
    if pairSumsCurrent, let xs, first >= firstParticle,
      memcmp(xs.baseAddress!, allPositions.baseAddress! + first * d, xs.count * MemoryLayout<Double>.stride) == 0
    {
      pairs = UnsafePointer(pairSums.baseAddress! + (first - firstParticle) * pairLength)
    }
    return DriftContext(
      field: UnsafeBufferPointer(field),
      allPositions: needsAll ? UnsafeBufferPointer(allPositions) : UnsafeBufferPointer(start: nil, count: 0),
      particleCount: layout.particleCount, firstParticle: first, cache: cachePointer(first: first), pairSums: pairs)
  }

  /// Writes the model drift `G0` of the rows of block `b` (at positions `xs`) into `g`.
  @inlinable
  func modelDrift(
    thread: Int, rows: Range<Int>, at xs: UnsafeMutableBufferPointer<Double>, into g: UnsafeMutableBufferPointer<Double>
  ) {
    model.drift(
      UnsafeBufferPointer(xs), rows: rows.count, context: context(first: rows.lowerBound, at: UnsafeBufferPointer(xs)),
      into: g, scratch: scratches[thread])
  }

  /// Fills `z` with the standard normals of rows `rows` at the current step.
  @inlinable
  func drawNormals(
    thread: Int, rows: Range<Int>, into z: UnsafeMutableBufferPointer<Double>, stream: RandomStream = .dynamics
  ) {
    noise.fillNormals(
      z, rows: rows.count, dimension: d, firstParticle: rows.lowerBound, step: UInt64(stepIndex), stream: stream,
      scratch: normalScratch[thread])
  }

  /// The standard normals of rows `rows` at the current step, handed to `body` chunk by chunk
  /// as ``GaussianField/withNormalChunks(rows:dimension:firstParticle:step:stream:scratch:_:)``
  /// does (row offsets relative to `rows.lowerBound`): the same values as
  /// ``drawNormals(thread:rows:into:stream:)``, without the row-major copy.
  @inlinable @inline(__always)
  func withNormals(
    thread: Int, rows: Range<Int>, stream: RandomStream = .dynamics,
    _ body: (_ start: Int, _ count: Int, _ table: UnsafePointer<Double>, _ stride: Int) -> Void
  ) {
    noise.withNormalChunks(
      rows: rows.count, dimension: d, firstParticle: rows.lowerBound, step: UInt64(stepIndex), stream: stream,
      scratch: normalScratch[thread], body)
  }

  /// Runs `update(i, z)` for every value `i` (`r * d + c`, relative to the block) of block `b`
  /// with its standard normal `z` at the current step (the values of
  /// ``drawNormals(thread:rows:into:stream:)``), read from the generator's chunks, and records
  /// the block's health from the or of the flags the updates return (``healthFlag(position:velocity:limit:)``
  /// of the new values: the health scan folded into the update). The plane case is written out:
  /// the loop then vectorises across particles, which the general loop's strided reads of a
  /// chunk prevent.
  @inlinable @inline(__always)
  func updateWithNormals(thread: Int, block b: Int, _ update: (_ i: Int, _ z: Double) -> Int64) {
    let rows = layout.particles(ofBlock: b)
    var suspicious: Int64 = 0
    withNormals(thread: thread, rows: rows) { start, n, t, stride in
      let d = self.d
      var flags: Int64 = 0
      if d == 2 {
        let t0 = t, t1 = t + stride, first = start &* 2
        for r in 0..<n {
          let i = first &+ r &* 2
          flags |= update(i, t0[r]) | update(i &+ 1, t1[r])
        }
      } else {
        specialisingDimension(d) { d in
          for r in 0..<n {
            for c in 0..<d { flags |= update((start &+ r) &* d &+ c, t[c &* stride &+ r]) }
          }
        }
      }
      suspicious |= flags
    }
    recordHealth(block: b, suspicious: suspicious != 0)
  }

  /// The model cache of the rows starting at global particle `first`, when the engine keeps one.
  @inlinable
  func cachePointer(first: Int) -> UnsafeMutablePointer<Double>? {
    guard let base = modelCache else { return nil }
    return base + (first - firstParticle) * model.cachePerParticle
  }

  /// Counts non-finite and out-of-bound particles of block `b` into `health` (a non-finite
  /// velocity counts as non-finite).
  ///
  /// One vectorised pass looks for any value that is not finite or beyond the bound (NaN fails
  /// every comparison); only a block where one is found is classified particle by particle.
  @usableFromInline
  func checkHealth(block b: Int) {
    let rows = layout.particles(ofBlock: b)
    let local = rows.lowerBound - firstParticle
    let count = rows.count * d
    let limit = healthLimit
    // A bitwise or of flags: the form the compiler vectorises (a count or a short-circuit
    // `&&` compiles to a branch per value).
    var suspicious: Int64 = 0
    let xp = x.baseAddress! + local * d
    for i in 0..<count { suspicious |= Self.healthFlag(position: xp[i], limit: limit) }
    if dynamics.hasVelocities {
      let vp = v.baseAddress! + local * d
      for i in 0..<count { suspicious |= Self.healthFlag(position: 0, velocity: vp[i], limit: limit) }
    }
    recordHealth(block: b, suspicious: suspicious != 0)
  }

  /// 1 when a position beyond `limit` in absolute value (or NaN) or a non-finite velocity makes
  /// a particle suspicious, else 0: the scan's flag, or-ed over a block (NaN fails every
  /// comparison).
  @inlinable @inline(__always)
  static func healthFlag(position x: Double, velocity v: Double = 0, limit: Double) -> Int64 {
    (abs(x) <= limit ? 0 : 1) | (abs(v) <= .greatestFiniteMagnitude ? 0 : 1)
  }

  /// What a position may reach in absolute value and still count as healthy: a value `x` with
  /// `abs(x) <= healthLimit` false is non-finite or beyond the bound.
  @inlinable
  var healthLimit: Double { min(bound, .greatestFiniteMagnitude) }

  /// Records the health of block `b` from a scan done by the caller (a scheme that folds the
  /// scan into its update): zero counts when no value was suspicious, else the block is
  /// classified particle by particle. Only for positions-only dynamics, or a scan that covered
  /// the velocities too.
  @usableFromInline
  func recordHealth(block b: Int, suspicious: Bool) {
    if suspicious {
      classifyHealth(block: b)
    } else {
      let h = (b - owned.lowerBound) * 2
      health[h] = 0
      health[h + 1] = 0
    }
  }

  /// ``checkHealth(block:)`` particle by particle.
  @usableFromInline
  func classifyHealth(block b: Int) {
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
  /// contiguous chunks (for diagnostics; a step uses ``runBlocks(_:)``, which allocates nothing).
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

/// A per-block kernel of an integrator, run on every owned block of its engine by
/// ``ParticleEngine/runBlocks(_:)``.
protocol BlockKernel: PoolWorker {
  associatedtype Model: MeanFieldModel
  associatedtype Exchange: BlockExchange
  var engine: ParticleEngine<Model, Exchange> { get }
  func perform(thread: Int, block: Int)
}

extension BlockKernel {
  public func poolWork(_ thread: Int) {
    for b in engine.threadBlocks[thread] { perform(thread: thread, block: b) }
  }
}
