/// An exact, order-independent sum of doubles: a fixed-point superaccumulator.
///
/// Every finite double is an integer multiple of 2⁻¹⁰⁷⁴ below 2¹⁰²⁴, so a sum of doubles is an
/// integer times 2⁻¹⁰⁷⁴. The accumulator holds that integer exactly, in ``digits`` signed 64-bit
/// words of 48 bits each (two's complement, base 2⁴⁸), followed by three counters of
/// non-finite terms (NaN, +∞, −∞). Adding a term adds at most three words; two accumulators are
/// added word by word. Integer addition is associative and commutative, so the sum of any
/// number of terms, taken in any order, split over any number of threads or ranks and merged
/// in any tree (an `MPI_Allreduce` or `MPI_Reduce_scatter` of 64-bit integers), holds the same integer; ``rounded(_:)``
/// rounds it once to the nearest double (ties to even). The result is the correctly rounded
/// sum of the terms: at least as accurate as any floating-point summation order.
///
/// Range: words 0..<45 cover 2160 bits, from 2⁻¹⁰⁷⁴ to 2¹⁰⁸⁶; the largest term is below 2¹⁰²⁴,
/// so 2⁶² terms cannot overflow the top word. A word takes 2¹⁴ deposits between carry passes
/// (``bound(_:)``, which moves each word's carry into the next); after one every word but the
/// top lies in [−2¹⁴, 2⁴⁸ + 2¹⁴), so up to ``maximumParts`` accumulators can be added word by
/// word without overflow (an `MPI_SUM` over that many ranks).
///
/// Non-finite terms: any NaN, or both infinities, give NaN; otherwise an infinity gives that
/// infinity; a finite sum beyond the largest double rounds to ±∞; an exact zero is +0.
public enum ExactSum {
  /// Words of the fixed-point integer.
  public static let digits = 45
  /// Words per accumulator: the digits and the NaN, +∞ and −∞ counters.
  public static let width = 48
  /// Deposits a word can take between two ``bound(_:)`` passes.
  public static let depositsBetweenBounds = 1 << 14
  /// How many bounded accumulators may be added word by word (ranks of one run).
  public static let maximumParts = 1 << 14

  @usableFromInline static let mask: UInt64 = (1 << 48) - 1

  /// Adds `x` to the accumulator at `a` (``width`` words).
  @inlinable @inline(__always)
  public static func deposit(_ x: Double, into a: UnsafeMutablePointer<Int64>) {
    let bits = x.bitPattern
    let e = Int(truncatingIfNeeded: (bits &>> 52) & 0x7FF)
    if e == 0x7FF {
      if x.isNaN {
        a[45] &+= 1
      } else if x > 0 {
        a[46] &+= 1
      } else {
        a[47] &+= 1
      }
      return
    }
    let fraction = bits & 0x000F_FFFF_FFFF_FFFF
    if e == 0 && fraction == 0 { return }
    // x = ±m · 2^(p − 1074), m < 2^53, p ≥ 0.
    let m = e == 0 ? fraction : fraction | (1 << 52)
    let p = e == 0 ? 0 : e - 1
    let i = p / 48
    let s = UInt64(truncatingIfNeeded: p - i * 48)
    let low = m &<< s
    let high = (m &>> 1) &>> (63 &- s)  // m >> (64 − s), 0 when s = 0
    let d0 = Int64(bitPattern: low & mask)
    let d1 = Int64(bitPattern: ((low &>> 48) | (high &<< 16)) & mask)
    let d2 = Int64(bitPattern: high &>> 32)
    let w = a + i
    if bits &>> 63 == 0 {
      w[0] &+= d0
      w[1] &+= d1
      w[2] &+= d2
    } else {
      w[0] &-= d0
      w[1] &-= d1
      w[2] &-= d2
    }
  }

  /// Adds accumulator `b` into `a`, word by word (both bounded, or few deposits in each).
  @inlinable
  public static func add(_ b: UnsafePointer<Int64>, into a: UnsafeMutablePointer<Int64>) {
    for k in 0..<width { a[k] &+= b[k] }
  }

  /// Moves each word's carry into the next word, in one pass without a carry chain (so the
  /// loop vectorises): afterwards every word but the top lies in [−2¹⁴, 2⁴⁸ + 2¹⁴), which is
  /// enough to add ``maximumParts`` accumulators, or 2¹⁴ more deposits. Needs |word| < 2⁶².
  @inlinable
  public static func bound(_ a: UnsafeMutablePointer<Int64>) {
    var previous: Int64 = 0
    for k in 0..<(digits - 1) {
      let v = a[k]
      a[k] = (v & Int64(bitPattern: mask)) &+ previous
      previous = v &>> 48
    }
    a[digits - 1] &+= previous
  }

  /// The held sum rounded to the nearest double (ties to even). Leaves the accumulator
  /// normalised: every word but the top in [0, 2⁴⁸).
  public static func rounded(_ a: UnsafeMutablePointer<Int64>) -> Double {
    if a[45] > 0 || (a[46] > 0 && a[47] > 0) { return .nan }
    if a[46] > 0 { return .infinity }
    if a[47] > 0 { return -.infinity }
    // Normalise, and note (without branches, beside the carry chain) the lowest non-zero word
    // z, the highest non-zero word and the highest word other than 2⁴⁸ − 1 below the top.
    let top = digits - 1
    let ones = Int64(bitPattern: mask)
    var carry: Int64 = 0
    var z = top, highestNonZero = -1, highestNotOnes = -1
    for k in 0..<top {
      let v = a[k] &+ carry
      carry = v &>> 48
      let d = v & ones
      a[k] = d
      z = d != 0 && k < z ? k : z
      highestNonZero = d != 0 ? k : highestNonZero
      highestNotOnes = d != ones ? k : highestNotOnes
    }
    a[top] &+= carry
    if z == top && a[top] == 0 { return 0 }
    // The magnitude's words without a carry chain: for X < 0, −X = ~X + 1, and the +1 stops at
    // word z (the words below it are 0, word z is not): |X|_k = 0 (k < z), 2⁴⁸ − a_z (k = z),
    // 2⁴⁸ − 1 − a_k (z < k < top), −a_top − 1 (k = top > z), −a_top (k = top = z).
    let negative = a[top] < 0
    @inline(__always) func word(_ k: Int) -> UInt64 {
      if k < z { return 0 }
      if !negative { return UInt64(bitPattern: a[k]) }
      if k == top { return UInt64(bitPattern: z == top ? -a[top] : -a[top] - 1) }
      return UInt64(bitPattern: k == z ? ones + 1 - a[k] : ones - a[k])
    }
    // t: the magnitude's highest non-zero word.
    let t: Int
    if negative {
      t = a[top] != -1 || z == top ? top : max(highestNotOnes, z)
    } else {
      t = a[top] != 0 ? top : highestNonZero
    }
    // A window w of the magnitude's top bits (the top word may hold up to 63 bits, the others
    // 48): |X| = (w + tail) · 2^(48t − 64), 0 ≤ tail < 1, where the tail is the low 32 bits of
    // word t − 2 and the words below it (non-zero exactly when z < t − 2).
    let u = word(t)
    let w2 = t >= 2 ? word(t - 2) : 0
    let w = (UInt128(u) << 64) | (UInt128(t >= 1 ? word(t - 1) : 0) << 16) | UInt128(w2 >> 32)
    // The top 64 bits of w (its top bit set), and whether any bit below them is set.
    let lz = u.leadingZeroBitCount
    let aligned = w << lz
    let head = UInt64(truncatingIfNeeded: aligned >> 64)
    let sticky = z < t - 2 || w2 & 0xFFFF_FFFF != 0 || UInt64(truncatingIfNeeded: aligned) != 0
    // |X| ≈ m · 2^e with 53 bits kept, rounded to nearest, ties to even.
    var m = head >> 11
    let rest = head & 0x7FF
    if rest > 0x400 || (rest == 0x400 && (sticky || m & 1 == 1)) { m += 1 }
    var e = 48 * t - lz - 1063
    if m == 1 << 53 {
      m = 1 << 52
      e += 1
    }
    let biased = e + 1075
    let magnitude: Double
    if biased >= 2047 {
      magnitude = .infinity
    } else if biased >= 1 {
      magnitude = Double(bitPattern: UInt64(biased) << 52 | (m & 0x000F_FFFF_FFFF_FFFF))
    } else {
      // Below 2⁻¹⁰²²: the integer is below 2⁵², exact here, and a subnormal's bit pattern.
      magnitude = Double(bitPattern: m >> UInt64(-(e + 1074)))
    }
    return negative ? -magnitude : magnitude
  }

  /// The correctly rounded sum of `values`, in any order (allocates nothing).
  public static func sum(_ values: UnsafeBufferPointer<Double>) -> Double {
    withUnsafeTemporaryAllocation(of: Int64.self, capacity: width) { buffer in
      let a = buffer.baseAddress!
      a.update(repeating: 0, count: width)
      var pending = 0
      for v in values {
        deposit(v, into: a)
        pending += 1
        if pending == depositsBetweenBounds {
          bound(a)
          pending = 0
        }
      }
      return rounded(a)
    }
  }
}
