import Foundation

/// Philox-4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
/// "Parallel random numbers: as easy as 1, 2, 3" (SC 2011).
///
/// A draw is a pure function of a 64-bit key and a 128-bit counter:
///
///     (x0, x1, x2, x3) = philox(key: (k0, k1), counter: (c0, c1, c2, c3))
///
/// There is no state to carry, split or checkpoint, so a particle's noise is the same on any
/// number of ranks and after a resume. Checked against the Random123 known-answer vectors.
public struct Philox4x32: Sendable, Hashable {
  /// The two key words.
  public var key: (UInt32, UInt32)

  /// Creates a generator with the given key words.
  @inlinable
  public init(key0: UInt32, key1: UInt32) {
    self.key = (key0, key1)
  }

  public static func == (lhs: Philox4x32, rhs: Philox4x32) -> Bool {
    lhs.key.0 == rhs.key.0 && lhs.key.1 == rhs.key.1
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(key.0)
    hasher.combine(key.1)
  }

  /// The ten-round Philox block function (evaluated by ``wideBlock(_:_:_:_:)``).
  @inlinable @inline(__always)
  public func block(_ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32)
    -> (UInt32, UInt32, UInt32, UInt32)
  {
    let w = wideBlock(UInt64(c0), UInt64(c1), UInt64(c2), UInt64(c3))
    return (
      UInt32(truncatingIfNeeded: w.0), UInt32(truncatingIfNeeded: w.1), UInt32(truncatingIfNeeded: w.2),
      UInt32(truncatingIfNeeded: w.3)
    )
  }

  /// The block function with each 32-bit word held in a 64-bit integer (values below 2^32 in,
  /// and out). A vectorised loop then works on 64-bit lanes throughout: the 32 × 32 → 64-bit
  /// products are one instruction per lane and no words are widened or narrowed, which makes a
  /// block about 1.25× cheaper than on 32-bit lanes.
  @inlinable @inline(__always)
  public func wideBlock(_ c0: UInt64, _ c1: UInt64, _ c2: UInt64, _ c3: UInt64) -> (UInt64, UInt64, UInt64, UInt64) {
    let mask: UInt64 = 0xffff_ffff
    var x0 = c0, x1 = c1, x2 = c2, x3 = c3
    var k0 = UInt64(key.0), k1 = UInt64(key.1)
    for round in 0..<10 {
      if round > 0 {
        k0 = (k0 &+ 0x9E37_79B9) & mask
        k1 = (k1 &+ 0xBB67_AE85) & mask
      }
      let p0 = 0xD251_1F53 &* x0
      let p1 = 0xCD9E_8D57 &* x2
      x0 = (p1 >> 32) ^ x1 ^ k0
      x1 = p1 & mask
      x2 = (p0 >> 32) ^ x3 ^ k1
      x3 = p0 & mask
    }
    return (x0, x1, x2, x3)
  }
}

/// Where a random draw is used. Each purpose has its own counter space, so changing how
/// many draws one purpose takes never shifts another's.
public enum RandomStream: UInt32, Sendable {
  /// Per-step dynamics noise (positions in the overdamped scheme, velocities underdamped).
  case dynamics = 0
  /// Initial positions.
  case initialPositions = 1
  /// Initial velocities (underdamped runs).
  case initialVelocities = 2
  /// Synthetic data (teacher inputs and label noise).
  case data = 3
  /// Diagnostics that need randomness (projections of sliced W2, ...).
  case diagnostics = 4
  /// A second dynamics stream for schemes that draw two Gaussians per step (BAOAB).
  case dynamicsSecond = 5
  /// The uniforms of Metropolis acceptance tests (MALA).
  case metropolis = 6
}

/// Independent standard normal draws addressed by (stream, step, particle, coordinate).
///
/// Normals come by Box–Muller from a 53-bit radius uniform and a 32-bit angle uniform, so one
/// Philox block of four words is not a whole number of pairs: three blocks give four pairs.
/// Particles form groups of 256 (`p = 256 S + 64 j + l`, `l < 64`, `j < 4`); the four particles
/// with the same S and l form a quad with index `Q = 64 S + l`, and for pair m (coordinates
/// 2m and 2m + 1) the quad draws the three blocks
///
///     c0 = 3m + b (b = 0, 1, 2),  c1 = Q,  c2 = step (low 32 bits),
///     c3 = stream << 24 | step (bits 32..55)
///
/// whose twelve words w0 … w11 (block b holds w4b … w4b+3) give member j the words
/// w3j, w3j+1 (radius) and w3j+2 (angle); docs/MATH.md, "Noise". A pair depends only on
/// (stream, step, particle, m): never on how rows are blocked or which ranks draw them. The
/// uniforms of ``uniformPair(stream:step:particle:pair:)`` keep one block per pair
/// (c0 = pair, c1 = particle).
public struct GaussianField: Sendable {
  /// The underlying generator.
  public let philox: Philox4x32

  /// A field keyed by a run's seed and its index in the sweep:
  /// `key = (seed mod 2^32, runIndex mod 2^32 xor seed / 2^32)`, one-to-one for seeds and
  /// run indices below 2^32.
  @inlinable
  public init(seed: UInt64, runIndex: UInt64) {
    philox = Philox4x32(
      key0: UInt32(truncatingIfNeeded: seed),
      key1: UInt32(truncatingIfNeeded: runIndex) ^ UInt32(truncatingIfNeeded: seed >> 32))
  }

  /// A field with explicit key words.
  @inlinable
  public init(philox: Philox4x32) { self.philox = philox }

  /// Uniform double in (0, 1] from 64 random bits (53 significant bits).
  @inlinable @inline(__always)
  public static func unitInterval(_ hi: UInt32, _ lo: UInt32) -> Double {
    unitInterval(wide: UInt64(hi), UInt64(lo))
  }

  /// ``unitInterval(_:_:)`` of two 32-bit words held in 64-bit integers.
  @inlinable @inline(__always)
  public static func unitInterval(wide hi: UInt64, _ lo: UInt64) -> Double {
    (Double((hi << 32 | lo) >> 11) + 1.0) * 0x1.0p-53
  }

  /// The raw block for a counter.
  @inlinable @inline(__always)
  public func bits(stream: RandomStream, step: UInt64, particle: UInt64, pair: UInt32)
    -> (UInt32, UInt32, UInt32, UInt32)
  {
    precondition(particle < (1 << 32) && step < (1 << 56), "counter out of range")
    return philox.block(
      pair, UInt32(truncatingIfNeeded: particle), UInt32(truncatingIfNeeded: step),
      stream.rawValue << 24 | UInt32(truncatingIfNeeded: step >> 32))
  }

  /// Two uniforms in (0, 1] for (stream, step, particle, pair).
  @inlinable @inline(__always)
  public func uniformPair(stream: RandomStream, step: UInt64, particle: UInt64, pair: UInt32)
    -> (Double, Double)
  {
    let b = bits(stream: stream, step: step, particle: particle, pair: pair)
    return (Self.unitInterval(b.0, b.1), Self.unitInterval(b.2, b.3))
  }

  /// The pair of normals of Box–Muller from the radius words `hi, lo` and the angle word `angle`
  /// (each a 32-bit value held in a 64-bit integer): `(r cos θ, r sin θ)` with
  /// `r = sqrt(−2 log u1)`, `u1 = ((hi·2^32 + lo) >> 11 + 1) 2^-53 ∈ (0, 1]`, `θ = 2π u2`,
  /// `u2 = (angle + ½) 2^-32 ∈ (0, 1)`. (`abs` before the square root is a no-op, as the
  /// argument is ≥ 0, but spares sqrt its errno path, which would stop vectorisation.)
  @inlinable @inline(__always)
  public static func boxMuller(_ hi: UInt64, _ lo: UInt64, angle: UInt64) -> (cos: Double, sin: Double) {
    let radius = abs(-2.0 * FastMath.log(unitInterval(wide: hi, lo))).squareRoot()
    let (sine, cosine) = FastMath.sinCosTwoPi((Double(angle) + 0.5) * 0x1.0p-32)
    return (radius * cosine, radius * sine)
  }

  /// Two independent standard normals for (stream, step, particle, pair): coordinates 2·pair
  /// and 2·pair + 1 of the particle, as the type's documentation lays out.
  @inlinable
  public func normalPair(stream: RandomStream, step: UInt64, particle: UInt64, pair: UInt32) -> (Double, Double) {
    precondition(particle < (1 << 32) && step < (1 << 56), "counter out of range")
    precondition(pair < UInt32.max / 3, "pair index out of range")
    let quad = UInt64((particle >> 8) << 6 | (particle & 63)), member = Int((particle >> 6) & 3)
    let c2 = UInt64(UInt32(truncatingIfNeeded: step)), c3 = UInt64(stream.rawValue << 24 | UInt32(step >> 32))
    let a = philox.wideBlock(UInt64(3 * pair), quad, c2, c3)
    let b = philox.wideBlock(UInt64(3 * pair) + 1, quad, c2, c3)
    let c = philox.wideBlock(UInt64(3 * pair) + 2, quad, c2, c3)
    let p: (cos: Double, sin: Double)
    switch member {
    case 0: p = Self.boxMuller(a.0, a.1, angle: a.2)
    case 1: p = Self.boxMuller(a.3, b.0, angle: b.1)
    case 2: p = Self.boxMuller(b.2, b.3, angle: c.0)
    default: p = Self.boxMuller(c.1, c.2, angle: c.3)
    }
    return (p.cos, p.sin)
  }

  /// Particles per noise group (four members of 64 quads); a range of rows that starts and ends
  /// on a multiple of it draws no normal it does not use.
  public static let groupSize = 256

  /// Doubles of scratch that ``fillNormals(_:rows:dimension:firstParticle:step:stream:scratch:)``
  /// and ``withNormalChunks(rows:dimension:firstParticle:step:stream:scratch:_:)`` use for a
  /// dimension (pass a buffer this long to avoid a temporary allocation per call): the table of
  /// one chunk, at least one group of rows.
  public static func normalScratchLength(dimension d: Int) -> Int {
    2 * ((d + 1) / 2) * chunkRows(dimension: d)
  }

  /// Rows per chunk: whole groups, about 4096 doubles of table, at least one group.
  @inlinable
  static func chunkRows(dimension d: Int) -> Int {
    max(1, 4096 / (2 * ((d + 1) / 2) * groupSize)) * groupSize
  }

  /// Fills `out` (rows × dimension, row-major) with standard normals for particles
  /// `firstParticle ..< firstParticle + rows` at `step`: coordinates 2m and 2m+1 of a particle
  /// are ``normalPair(stream:step:particle:pair:)`` with pair m.
  ///
  /// The values depend only on the global particle index, never on how rows are blocked.
  @inlinable
  public func fillNormals(
    _ out: UnsafeMutableBufferPointer<Double>, rows: Int, dimension d: Int,
    firstParticle: Int, step: UInt64, stream: RandomStream,
    scratch: UnsafeMutableBufferPointer<Double>? = nil
  ) {
    precondition(out.count >= rows * d, "output too short")
    let o = out.baseAddress!
    withNormalChunks(
      rows: rows, dimension: d, firstParticle: firstParticle, step: step, stream: stream, scratch: scratch
    ) { start, count, t, stride in
      let rowsOut = o + start * d
      specialisingDimension(d) { d in
        for r in 0..<count {
          for c in 0..<d { rowsOut[r &* d &+ c] = t[c &* stride &+ r] }
        }
      }
    }
  }

  /// The normals of ``fillNormals(_:rows:dimension:firstParticle:step:stream:scratch:)``
  /// handed over chunk by chunk, coordinate-major: `body(start, count, table, stride)` gets rows
  /// `start ..< start + count` (offsets from `firstParticle`), with coordinate c of row
  /// `start + r` at `table[c * stride + r]`.
  ///
  /// A caller that consumes the normals at once (the update of a step) reads them from the
  /// table, sparing the row-major copy and a second pass. Chunks are whole groups of
  /// ``groupSize`` particles (a range that cuts a group draws all of it); the loop runs over the
  /// 64 quads of a group innermost, three Philox blocks and four Box–Muller pairs per quad and
  /// pair index, which the compiler vectorises.
  @inlinable @inline(__always)
  public func withNormalChunks(
    rows: Int, dimension d: Int, firstParticle: Int, step: UInt64, stream: RandomStream,
    scratch: UnsafeMutableBufferPointer<Double>? = nil,
    _ body: (_ start: Int, _ count: Int, _ table: UnsafePointer<Double>, _ stride: Int) -> Void
  ) {
    precondition(firstParticle >= 0 && firstParticle + rows <= 1 << 32 && step < 1 << 56, "counter out of range")
    let pairs = (d + 1) / 2
    precondition(pairs < Int(UInt32.max / 3), "dimension out of range")
    guard rows > 0 else { return }
    let c2 = UInt64(UInt32(truncatingIfNeeded: step))
    let c3 = UInt64(stream.rawValue << 24 | UInt32(truncatingIfNeeded: step >> 32))
    let chunk = Self.chunkRows(dimension: d), groupsPerChunk = chunk / Self.groupSize
    let end = firstParticle + rows
    let firstGroup = firstParticle / Self.groupSize, endGroup = (end + Self.groupSize - 1) / Self.groupSize
    func generate(_ t: UnsafeMutablePointer<Double>) {
      var group = firstGroup
      while group < endGroup {
        let groups = min(groupsPerChunk, endGroup - group)
        fillGroups(t, stride: chunk, firstGroup: group, groups: groups, pairs: pairs, c2: c2, c3: c3)
        // The table holds particles group·256 ..< (group + groups)·256; hand over the asked ones.
        let tableFirst = group * Self.groupSize
        let lower = max(firstParticle, tableFirst), upper = min(end, tableFirst + groups * Self.groupSize)
        body(lower - firstParticle, upper - lower, UnsafePointer(t + (lower - tableFirst)), chunk)
        group += groups
      }
    }
    let length = 2 * pairs * chunk
    if let scratch, scratch.count >= length {
      generate(scratch.baseAddress!)
    } else {
      withUnsafeTemporaryAllocation(of: Double.self, capacity: length) { generate($0.baseAddress!) }
    }
  }

  /// Fills the table (coordinate c of row r at `t[c * stride + r]`) with the normals of the
  /// particles of groups `firstGroup ..< firstGroup + groups` (rows from `firstGroup · 256`).
  /// Compiled once in this module, not inlined: the callers' loops around it stay small enough
  /// to be inlined with their consumers.
  @usableFromInline
  func fillGroups(
    _ t: UnsafeMutablePointer<Double>, stride: Int, firstGroup: Int, groups: Int, pairs: Int, c2: UInt64, c3: UInt64
  ) {
    let philox = philox
    for m in 0..<pairs {
      let cosines = t + (2 * m) * stride, sines = cosines + stride
      let c0 = UInt64(3 * m)
      for g in 0..<groups {
        // Quads 64 S ..< 64 S + 64 of group S; member j's rows start at 64 j. A 32-bit quad
        // index widened: the compiler then knows the words stay below 2^32 and multiplies with
        // one 32 × 32 → 64-bit instruction per lane.
        let quadBase = UInt32(truncatingIfNeeded: (firstGroup + g) &* 64)
        let co = cosines + g &* Self.groupSize, si = sines + g &* Self.groupSize
        // Wrapping arithmetic only: an overflow check in the loop would stop vectorisation
        // (the ranges were checked by the caller).
        for l in 0..<64 {
          let quad = UInt64(quadBase &+ UInt32(truncatingIfNeeded: l))
          let a = philox.wideBlock(c0, quad, c2, c3)
          let b = philox.wideBlock(c0 &+ 1, quad, c2, c3)
          let c = philox.wideBlock(c0 &+ 2, quad, c2, c3)
          let p0 = Self.boxMuller(a.0, a.1, angle: a.2)
          co[l] = p0.cos
          si[l] = p0.sin
          let p1 = Self.boxMuller(a.3, b.0, angle: b.1)
          co[64 &+ l] = p1.cos
          si[64 &+ l] = p1.sin
          let p2 = Self.boxMuller(b.2, b.3, angle: c.0)
          co[128 &+ l] = p2.cos
          si[128 &+ l] = p2.sin
          let p3 = Self.boxMuller(c.1, c.2, angle: c.3)
          co[192 &+ l] = p3.cos
          si[192 &+ l] = p3.sin
        }
      }
    }
  }
}
