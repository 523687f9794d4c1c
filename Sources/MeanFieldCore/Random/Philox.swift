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
/// The counter is laid out as
///
///     c0 = coordinate / 2,  c1 = particle (low 32 bits),
///     c2 = step (low 32 bits),  c3 = stream << 24 | step (bits 32..55)
///
/// One block gives four 32-bit words, hence two 53-bit uniforms and, by Box–Muller,
/// two normals: coordinates 2m and 2m+1 of a particle share the block with c0 = m.
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

  /// Two independent standard normals by Box–Muller for (stream, step, particle, pair):
  /// `(r cos θ, r sin θ)` with `r = sqrt(−2 log u1)`, `θ = 2π u2`.
  @inlinable @inline(__always)
  public func normalPair(stream: RandomStream, step: UInt64, particle: UInt64, pair: UInt32)
    -> (Double, Double)
  {
    let (u1, u2) = uniformPair(stream: stream, step: step, particle: particle, pair: pair)
    let r = abs(-2.0 * FastMath.log(u1)).squareRoot()
    let (s, c) = FastMath.sinCosTwoPi(u2)
    return (r * c, r * s)
  }

  /// Doubles of scratch that ``fillNormals(_:rows:dimension:firstParticle:step:stream:scratch:)``
  /// uses (pass a buffer this long to avoid a temporary allocation per call).
  public static let normalScratchLength = 4096

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
  /// table, sparing the row-major copy and a second pass. The loop runs over particles
  /// innermost, so the compiler vectorises Philox and Box–Muller (`abs` before the square root
  /// is a no-op, as the argument is ≥ 0, but spares sqrt its errno path, which would stop
  /// vectorisation).
  @inlinable @inline(__always)
  public func withNormalChunks(
    rows: Int, dimension d: Int, firstParticle: Int, step: UInt64, stream: RandomStream,
    scratch: UnsafeMutableBufferPointer<Double>? = nil,
    _ body: (_ start: Int, _ count: Int, _ table: UnsafePointer<Double>, _ stride: Int) -> Void
  ) {
    precondition(firstParticle + rows <= 1 << 32 && step < 1 << 56, "counter out of range")
    let c2 = UInt32(truncatingIfNeeded: step)
    let c3 = stream.rawValue << 24 | UInt32(truncatingIfNeeded: step >> 32)
    let pairs = (d + 1) / 2
    // Rows are generated in chunks into a small pair-major buffer (contiguous vector stores);
    // strided stores straight into a row-major output are several times slower.
    let chunk = max(1, Self.normalScratchLength / (2 * pairs))
    func generate(_ t: UnsafeMutablePointer<Double>) {
      var start = 0
      while start < rows {
        let count = min(chunk, rows - start)
        let first = UInt32(truncatingIfNeeded: firstParticle + start)
        for m in 0..<pairs {
          let cosines = t + (2 * m) * chunk, sines = cosines + chunk
          let pair = UInt32(truncatingIfNeeded: m)
          // Wrapping arithmetic only: an overflow check in the loop would stop vectorisation
          // (the ranges were checked above).
          for r in 0..<count {
            let b = philox.wideBlock(
              UInt64(pair), UInt64(first &+ UInt32(truncatingIfNeeded: r)), UInt64(c2), UInt64(c3))
            let radius = abs(-2.0 * FastMath.log(Self.unitInterval(wide: b.0, b.1))).squareRoot()
            let (sine, cosine) = FastMath.sinCosTwoPi(Self.unitInterval(wide: b.2, b.3))
            cosines[r] = radius * cosine
            sines[r] = radius * sine
          }
        }
        body(start, count, UnsafePointer(t), chunk)
        start += count
      }
    }
    if let scratch, scratch.count >= 2 * pairs * chunk {
      generate(scratch.baseAddress!)
    } else {
      withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * pairs * chunk) { generate($0.baseAddress!) }
    }
  }
}
