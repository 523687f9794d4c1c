import Foundation

/// Elementary functions for the hot loops, written as straight-line scalar code without calls
/// so that the compiler vectorises the loops that use them.
///
/// Each is a fixed sequence of IEEE operations (no fast-math, no FMA contraction), so results
/// are bitwise reproducible and independent of the vector width chosen by the compiler;
/// accuracy against libm is checked in the tests (below 1e-15 relative).
public enum FastMath {
  /// `exp(x)` for `x` in [-708, 708] (inputs are clamped to that range).
  ///
  /// Cody–Waite reduction `x = k ln 2 + r`, `|r| <= ln2/2`, with k rounded by the 1.5·2^52
  /// shifter; a degree-13 Taylor polynomial of `e^r` (truncation error below 1e-17 relative);
  /// then scaling by `2^k` through the exponent bits.
  @inlinable @inline(__always)
  public static func exp(_ x: Double) -> Double {
    let xc = min(max(x, -708.0), 708.0)
    let shifted = xc * 1.4426950408889634 + 6755399441055744.0
    let k = shifted - 6755399441055744.0
    let r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    var p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    // The shifter's low mantissa bits hold k; move k + 1023 into the exponent field.
    let scale = Double(bitPattern: (shifted.bitPattern &+ 1023) &<< 52)
    return p * scale
  }

  /// `tanh(x)`.
  ///
  /// For `|x| < 0.625` the rational form of Cephes (`x + x z P(z)/Q(z)`, `z = x²`); otherwise
  /// `±(1 − 2 / (e^{2|x|} + 1))`; exactly ±1 beyond `|x| = 22`.
  @inlinable @inline(__always)
  public static func tanh(_ x: Double) -> Double {
    let ax = abs(x)
    let z = x * x
    var pn = -9.64399179425052238628e-1
    pn = pn * z - 9.92877231001918586564e1
    pn = pn * z - 1.61468768441708447952e3
    var qd = z + 1.12811678491632931402e2
    qd = qd * z + 2.23548839060100448583e3
    qd = qd * z + 4.84406305325125486048e3
    let small = x + x * z * pn / qd
    let e = exp(2.0 * min(ax, 22.0))
    let largeMagnitude = 1.0 - 2.0 / (e + 1.0)
    let large = x < 0 ? -largeMagnitude : largeMagnitude
    return ax < 0.625 ? small : large
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
      s0 += a[j] * b[j]
      s1 += a[j + 1] * b[j + 1]
      s2 += a[j + 2] * b[j + 2]
      s3 += a[j + 3] * b[j + 3]
      s4 += a[j + 4] * b[j + 4]
      s5 += a[j + 5] * b[j + 5]
      s6 += a[j + 6] * b[j + 6]
      s7 += a[j + 7] * b[j + 7]
      j += 8
    }
    var tail = 0.0
    while j < n {
      tail += a[j] * b[j]
      j += 1
    }
    return (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail
  }
}
