import Dispatch
import Foundation

/// Why a run stopped early.
public enum Divergence: Sendable, Equatable, CustomStringConvertible {
  /// Some particle or the mean-field statistic became NaN or infinite.
  case nonFinite(step: Int)
  /// Some particle left the stated bound `max_c |x_c| ≤ bound`.
  case outOfBounds(step: Int, bound: Double)

  /// The step at which it was detected.
  public var step: Int {
    switch self {
    case .nonFinite(let s), .outOfBounds(let s, _): return s
    }
  }

  public var description: String {
    switch self {
    case .nonFinite(let s): return "non-finite particle or statistic at step \(s)"
    case .outOfBounds(let s, let b): return "a particle left the bound |x| <= \(b) at step \(s)"
    }
  }
}

/// The particles of one run held by this process, and the scheme that moves them.
///
/// Every step is a fixed sequence: statistic partials per owned block, one ordered sum
/// through the exchange, the field, then each block's drift and update. Blocks are spread
/// over `threads` threads; BLAS runs single-threaded inside a block, so the arithmetic of a
/// block never depends on the thread or rank count. Nothing is allocated inside a step.
public final class ParticleEngine<Model: MeanFieldModel, Exchange: BlockExchange> {
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

  @usableFromInline let layout: BlockLayout
  @usableFromInline let owned: Range<Int>
  @usableFromInline let firstParticle: Int
  @usableFromInline let localCount: Int
  @usableFromInline let d: Int
  @usableFromInline let statLength: Int
  /// Local positions, `localCount × d`.
  @usableFromInline let x: UnsafeMutableBufferPointer<Double>
  /// Per owned block: statistic partial followed by (non-finite count, out-of-bound count).
  @usableFromInline let partials: UnsafeMutableBufferPointer<Double>
  @usableFromInline let statistic: UnsafeMutableBufferPointer<Double>
  @usableFromInline let field: UnsafeMutableBufferPointer<Double>
  @usableFromInline let allPositions: UnsafeMutableBufferPointer<Double>
  /// Per owned block: (non-finite, out-of-bound) counts of its particles after the last update.
  @usableFromInline let health: UnsafeMutableBufferPointer<Double>
  /// Per thread: drift of one block, and its noise.
  @usableFromInline let blockDrift: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let blockNoise: [UnsafeMutableBufferPointer<Double>]
  @usableFromInline let scratches: [Model.Scratch]
  @usableFromInline let threadBlocks: [Range<Int>]

  /// Creates an engine for the blocks `exchange.ownedBlocks` of a run and draws their initial
  /// positions from `initial`.
  public init(
    model: Model, exchange: Exchange, dynamics: Dynamics, initial: InitialLaw,
    noise: GaussianField, bound: Double = .infinity, threads: Int = 1
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
    x = .allocate(capacity: max(1, localCount * d))
    x.initialize(repeating: 0)
    partials = .allocate(capacity: max(1, ownedCount * (statLength + 2)))
    partials.initialize(repeating: 0)
    statistic = .allocate(capacity: statLength + 2)
    statistic.initialize(repeating: 0)
    field = .allocate(capacity: max(1, model.fieldLength))
    field.initialize(repeating: 0)
    allPositions = .allocate(capacity: model.needsAllPositions ? layout.particleCount * d : 1)
    allPositions.initialize(repeating: 0)
    health = .allocate(capacity: max(1, ownedCount * 2))
    health.initialize(repeating: 0)
    var drifts = [UnsafeMutableBufferPointer<Double>]()
    var noises = [UnsafeMutableBufferPointer<Double>]()
    var scr = [Model.Scratch]()
    var ranges = [Range<Int>]()
    let t = self.threads
    for i in 0..<t {
      let g = UnsafeMutableBufferPointer<Double>.allocate(capacity: layout.blockSize * d)
      g.initialize(repeating: 0)
      let z = UnsafeMutableBufferPointer<Double>.allocate(capacity: layout.blockSize * d)
      z.initialize(repeating: 0)
      drifts.append(g)
      noises.append(z)
      scr.append(model.makeScratch(maxRows: layout.blockSize))
      let q = ownedCount / t, r = ownedCount % t
      let lo = i * q + min(i, r)
      ranges.append((owned.lowerBound + lo)..<(owned.lowerBound + lo + q + (i < r ? 1 : 0)))
    }
    blockDrift = drifts
    blockNoise = noises
    scratches = scr
    threadBlocks = ranges
    if localCount > 0 {
      initial.fill(x, rows: localCount, dimension: d, firstParticle: firstParticle, field: noise)
    }
    for b in owned { checkHealth(block: b) }
  }

  deinit {
    x.deallocate()
    partials.deallocate()
    statistic.deallocate()
    field.deallocate()
    allPositions.deallocate()
    health.deallocate()
    for g in blockDrift { g.deallocate() }
    for z in blockNoise { z.deallocate() }
  }

  // MARK: - State

  /// The global particle indices held here.
  public var ownedParticles: Range<Int> { firstParticle..<(firstParticle + localCount) }

  /// A copy of the local positions (`ownedParticles.count × d`, row-major).
  public var positions: [Double] { Array(x.prefix(localCount * d)) }

  /// Replaces the local positions (for a resume from a checkpoint) and the step index.
  public func restore(positions: [Double], step: Int) {
    precondition(positions.count == localCount * d, "checkpoint does not match the layout")
    for i in 0..<positions.count { x[i] = positions[i] }
    stepIndex = step
    for b in owned { checkHealth(block: b) }
  }

  /// Reads the local positions without copying.
  public func withPositions<R>(_ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(rebasing: x.prefix(localCount * d)))
  }

  // MARK: - Stepping

  /// Advances one step. Returns a divergence (detected on the state before the step, which is
  /// then left unchanged) or nil.
  public func step() throws -> Divergence? {
    if let divergence = try prepareField() { return divergence }
    switch dynamics {
    case .overdamped(let p):
      let noiseScale = (2 * p.temperature * p.step).squareRoot()
      let useNoise = p.temperature > 0
      let contraction = 2 * p.l2
      let eta = p.step
      let step = UInt64(stepIndex)
      forEachOwnedBlock { thread, b in
        let rows = self.layout.particles(ofBlock: b)
        let local = rows.lowerBound - self.firstParticle
        let xs = UnsafeMutableBufferPointer(rebasing: self.x[(local * self.d)..<(rows.upperBound - self.firstParticle) * self.d])
        let g = self.blockDrift[thread], z = self.blockNoise[thread]
        self.model.drift(
          UnsafeBufferPointer(xs), rows: rows.count, context: self.context(first: rows.lowerBound),
          into: g, scratch: self.scratches[thread])
        if useNoise {
          self.noise.fillNormals(
            z, rows: rows.count, dimension: self.d, firstParticle: rows.lowerBound, step: step,
            stream: .dynamics)
        }
        let count = rows.count * self.d
        if useNoise {
          for i in 0..<count {
            xs[i] = xs[i] - eta * (g[i] + contraction * xs[i]) + noiseScale * z[i]
          }
        } else {
          for i in 0..<count {
            xs[i] = xs[i] - eta * (g[i] + contraction * xs[i])
          }
        }
        self.checkHealth(block: b)
      }
    }
    stepIndex += 1
    return nil
  }

  /// Computes the global statistic and the field for the current state; returns a divergence
  /// when the state is not healthy.
  @discardableResult
  public func prepareField() throws -> Divergence? {
    if model.needsAllPositions {
      try exchange.allGather(
        local: UnsafeBufferPointer(rebasing: x.prefix(localCount * d)), rowLength: d,
        into: allPositions)
    }
    let width = statLength + 2
    forEachOwnedBlock { thread, b in
      let rows = self.layout.particles(ofBlock: b)
      let local = rows.lowerBound - self.firstParticle
      let slot = (b - self.owned.lowerBound) * width
      let p = UnsafeMutableBufferPointer(rebasing: self.partials[slot..<(slot + width)])
      for j in 0..<width { p[j] = 0 }
      if self.statLength > 0 {
        self.model.accumulate(
          UnsafeBufferPointer(rebasing: self.x[(local * self.d)..<((local + rows.count) * self.d)]),
          rows: rows.count,
          into: UnsafeMutableBufferPointer(rebasing: p[0..<self.statLength]),
          scratch: self.scratches[thread])
      }
      let h = (b - self.owned.lowerBound) * 2
      p[self.statLength] = self.health[h]
      p[self.statLength + 1] = self.health[h + 1]
    }
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
    let energy: Double
    if model.needsAllPositions || statLength == 0 {
      let sums = try orderedReduce(length: 1) { thread, xs, rows, first, out in
        out[0] = self.model.energySum(
          xs, rows: rows, context: self.context(first: first), scratch: self.scratches[thread])
      }
      energy = sums[0]
    } else {
      energy = 0
    }
    return model.energy(
      sum: UnsafeBufferPointer(rebasing: statistic.prefix(statLength)), energySum: energy,
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

  @inlinable
  func context(first: Int) -> DriftContext {
    DriftContext(
      field: UnsafeBufferPointer(field),
      allPositions: model.needsAllPositions ? UnsafeBufferPointer(allPositions) : UnsafeBufferPointer(start: nil, count: 0),
      particleCount: layout.particleCount, firstParticle: first)
  }

  /// Counts non-finite and out-of-bound particles of block `b` into `health`.
  @usableFromInline
  func checkHealth(block b: Int) {
    let rows = layout.particles(ofBlock: b)
    let local = rows.lowerBound - firstParticle
    var nonFinite = 0, outside = 0
    for i in 0..<rows.count {
      var finite = true, inside = true
      for c in 0..<d {
        let v = x[(local + i) * d + c]
        if !v.isFinite { finite = false }
        if abs(v) > bound { inside = false }
      }
      if !finite { nonFinite += 1 } else if !inside { outside += 1 }
    }
    let h = (b - owned.lowerBound) * 2
    health[h] = Double(nonFinite)
    health[h + 1] = Double(outside)
  }

  /// Runs `body(thread, block)` for every owned block, blocks split over the threads in
  /// contiguous chunks.
  @usableFromInline
  func forEachOwnedBlock(_ body: (Int, Int) -> Void) {
    if threads == 1 {
      for b in owned { body(0, b) }
      return
    }
    let ranges = threadBlocks
    withoutActuallyEscaping(body) { body in
      let box = UncheckedBox(body)
      DispatchQueue.concurrentPerform(iterations: ranges.count) { t in
        for b in ranges[t] { box.value(t, b) }
      }
    }
  }
}

/// Carries a non-Sendable value into a concurrent region whose accesses are disjoint.
@usableFromInline
struct UncheckedBox<T>: @unchecked Sendable {
  @usableFromInline let value: T
  @usableFromInline init(_ value: T) { self.value = value }
}
