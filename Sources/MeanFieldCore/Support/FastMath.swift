import Foundation

/// Elementary functions for the hot loops, written as straight-line scalar code without calls
/// so that the compiler vectorises the loops that use them.
///
/// Each is a fixed sequence of IEEE operations, with fused multiply-adds written out explicitly
/// (`addingProduct`, correctly rounded by definition) and nothing left to contraction or
/// reassociation, so results are bitwise reproducible and independent of the vector width the
/// compiler chooses; accuracy against libm is checked in the tests (below 1e-15 relative).
public enum FastMath {
  /// `exp(x)` for `x` in [-708, 708] (inputs are clamped to that range).
  ///
  /// Cody–Waite reduction `x = k ln 2 + r`, `|r| <= ln2/2`, with k rounded by the 1.5·2^52
  /// shifter; a degree-13 Taylor polynomial of `e^r` (truncation error below 1e-17 relative);
  /// then scaling by `2^k` through the exponent bits.
  @inlinable @inline(__always)
  public static func exp(_ x: Double) -> Double {
    let xc = min(max(x, -708.0), 708.0)
    let shifted = (6755399441055744.0).addingProduct(xc, 1.4426950408889634)
    let k = shifted - 6755399441055744.0
    let r = xc.addingProduct(k, -6.93147180369123816490e-01).addingProduct(k, -1.90821492927058770002e-10)
    var p = 1.0 / 6227020800.0
    p = (1.0 / 479001600.0).addingProduct(p, r)
    p = (1.0 / 39916800.0).addingProduct(p, r)
    p = (1.0 / 3628800.0).addingProduct(p, r)
    p = (1.0 / 362880.0).addingProduct(p, r)
    p = (1.0 / 40320.0).addingProduct(p, r)
    p = (1.0 / 5040.0).addingProduct(p, r)
    p = (1.0 / 720.0).addingProduct(p, r)
    p = (1.0 / 120.0).addingProduct(p, r)
    p = (1.0 / 24.0).addingProduct(p, r)
    p = (1.0 / 6.0).addingProduct(p, r)
    p = (0.5).addingProduct(p, r)
    p = (1.0).addingProduct(p, r)
    p = (1.0).addingProduct(p, r)
    // The shifter's low mantissa bits hold k; move k + 1023 into the exponent field.
    let scale = Double(bitPattern: (shifted.bitPattern &+ 1023) &<< 52)
    return p * scale
  }

  /// `tanh(x)`.
  ///
  /// For `|x| < 0.625` the rational form of Cephes, `x + x z P(z)/Q(z)` with `z = x²`; otherwise
  /// `sign(x) (e − 1)/(e + 1)` with `e = e^{2|x|}`; exactly ±1 beyond `|x| = 22`. Both branches
  /// are evaluated and one division serves the selected one.
  @inlinable @inline(__always)
  public static func tanh(_ x: Double) -> Double {
    let ax = abs(x)
    let z = x * x
    var pn = -9.64399179425052238628e-1
    pn = (-9.92877231001918586564e1).addingProduct(pn, z)
    pn = (-1.61468768441708447952e3).addingProduct(pn, z)
    var qd = z + 1.12811678491632931402e2
    qd = (2.23548839060100448583e3).addingProduct(qd, z)
    qd = (4.84406305325125486048e3).addingProduct(qd, z)
    let e = exp(2.0 * min(ax, 22.0))
    let small = ax < 0.625
    let numerator = small ? x * qd.addingProduct(z, pn) : (x < 0 ? 1.0 - e : e - 1.0)
    let denominator = small ? qd : e + 1.0
    return numerator / denominator
  }

  /// The logistic sigmoid `1 / (1 + e^{-x})`.
  @inlinable @inline(__always)
  public static func sigmoid(_ x: Double) -> Double {
    1.0 / (1.0 + exp(-x))
  }

  /// `Σ_i a[i] b[i]` in a fixed order: eight interleaved partial sums, combined pairwise,
  /// then the tail. Deterministic for given inputs; the compiler may vectorise the lanes.
  @inlinable @inline(__always)
  public static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    var j = 0
    while j + 8 <= n {
      s0 = s0.addingProduct(a[j], b[j])
      s1 = s1.addingProduct(a[j + 1], b[j + 1])
      s2 = s2.addingProduct(a[j + 2], b[j + 2])
      s3 = s3.addingProduct(a[j + 3], b[j + 3])
      s4 = s4.addingProduct(a[j + 4], b[j + 4])
      s5 = s5.addingProduct(a[j + 5], b[j + 5])
      s6 = s6.addingProduct(a[j + 6], b[j + 6])
      s7 = s7.addingProduct(a[j + 7], b[j + 7])
      j += 8
    }
    var tail = 0.0
    while j < n {
      tail = tail.addingProduct(a[j], b[j])
      j += 1
    }
    return (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail
  }

  /// `log(x)` for positive normal `x` (the Box–Muller radius needs it on (0, 1]).
  ///
  /// `x = 2^e m` with `m ∈ [√½, √2)`, `s = (m − 1)/(m + 1)`, and
  /// `log m = 2 atanh s = 2s Σ_{k≥0} s^{2k}/(2k+1)` to k = 11 (|s| ≤ 0.172, truncation below
  /// 1e-19 relative); `e·ln 2` is added in two parts.
  @inlinable @inline(__always)
  public static func log(_ x: Double) -> Double {
    let bits = x.bitPattern
    var e = Double(Int64(bitPattern: (bits >> 52) & 0x7ff) - 1023)
    var m = Double(bitPattern: (bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000)
    let large = m > 1.4142135623730951
    m = large ? 0.5 * m : m
    e = large ? e + 1 : e
    let s = (m - 1) / (m + 1)
    let w = s * s
    var p = 1.0 / 23.0
    p = (1.0 / 21.0).addingProduct(p, w)
    p = (1.0 / 19.0).addingProduct(p, w)
    p = (1.0 / 17.0).addingProduct(p, w)
    p = (1.0 / 15.0).addingProduct(p, w)
    p = (1.0 / 13.0).addingProduct(p, w)
    p = (1.0 / 11.0).addingProduct(p, w)
    p = (1.0 / 9.0).addingProduct(p, w)
    p = (1.0 / 7.0).addingProduct(p, w)
    p = (1.0 / 5.0).addingProduct(p, w)
    p = (1.0 / 3.0).addingProduct(p, w)
    p = (1.0).addingProduct(p, w)
    let logM = 2 * s * p
    return (logM.addingProduct(e, 1.90821492927058770002e-10)).addingProduct(e, 6.93147180369123816490e-01)
  }

  /// `(sin 2πu, cos 2πu)` for `u ∈ [0, 1]`.
  ///
  /// The quadrant is taken on u itself, `q = round(4u)`, `r = u − q/4 ∈ [−1/8, 1/8]` (exact),
  /// then Taylor polynomials of degree 17/16 in `φ = 2πr` (|φ| ≤ π/4, truncation below 1e-17)
  /// and a rotation by q quarter turns.
  @inlinable @inline(__always)
  public static func sinCosTwoPi(_ u: Double) -> (sin: Double, cos: Double) {
    let q = (4 * u).rounded(.toNearestOrEven)
    let r = u - 0.25 * q
    let phi = r * 6.283185307179586
    let f = phi * phi
    var sp = -1.0 / 355687428096000.0  // -1/17! coefficient chain, Horner in φ²
    sp = (1.0 / 1307674368000.0).addingProduct(sp, f)
    sp = (-1.0 / 6227020800.0).addingProduct(sp, f)
    sp = (1.0 / 39916800.0).addingProduct(sp, f)
    sp = (-1.0 / 362880.0).addingProduct(sp, f)
    sp = (1.0 / 5040.0).addingProduct(sp, f)
    sp = (-1.0 / 120.0).addingProduct(sp, f)
    sp = (1.0 / 6.0).addingProduct(sp, f)
    // sin φ = φ − φ³/6 + … = φ (1 − f (1/6 − f (…)))
    let sine = phi * (1.0).addingProduct(-f, sp)
    var cp = 1.0 / 20922789888000.0  // 1/16!
    cp = (-1.0 / 87178291200.0).addingProduct(cp, f)
    cp = (1.0 / 479001600.0).addingProduct(cp, f)
    cp = (-1.0 / 3628800.0).addingProduct(cp, f)
    cp = (1.0 / 40320.0).addingProduct(cp, f)
    cp = (-1.0 / 720.0).addingProduct(cp, f)
    cp = (1.0 / 24.0).addingProduct(cp, f)
    cp = (-0.5).addingProduct(cp, f)
    let cosine = (1.0).addingProduct(f, cp)
    // q ∈ {0, …, 4}; quarter turns q mod 4, kept in floating point so the loop vectorises.
    let quadrant = q == 4 ? 0 : q
    let s = quadrant == 0 ? sine : quadrant == 1 ? cosine : quadrant == 2 ? -sine : -cosine
    let c = quadrant == 0 ? cosine : quadrant == 1 ? -sine : quadrant == 2 ? -cosine : sine
    return (s, c)
  }
}
