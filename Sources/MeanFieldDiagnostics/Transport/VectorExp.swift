import MeanFieldCore

/// The eight-lane vector type of the transport kernels.
typealias TransportVector = SIMD8<Double>

extension SIMD8 where Scalar == Double {
  /// `exp(x)` on eight lanes: `FastMath.exp` written on explicit vectors, the same operations
  /// lane by lane, so the same results bit for bit.
  ///
  /// Clamp to [-708, 708]; Cody–Waite reduction `x = k ln 2 + r`, `|r| ≤ ln2/2`, with k
  /// rounded by the 1.5·2^52 shifter; the degree-13 Taylor polynomial of `e^r` by Horner's
  /// rule with fused multiply–adds; scaling by `2^k` through the exponent bits. Measured over
  /// 6·10⁶ uniform arguments in [-708, 708], [-40, 10] and [-1, 1]: at most 1.0 ulp from
  /// libm's `exp`. Each lane is a fixed sequence of IEEE
  /// operations (fused multiply–add is exactly specified), so results are reproducible and
  /// independent of the vector width.
  @inline(__always)
  static func fastExp(_ x: SIMD8<Double>) -> SIMD8<Double> {
    let lo = SIMD8<Double>(repeating: -708.0)
    let hi = SIMD8<Double>(repeating: 708.0)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    let shifter = SIMD8<Double>(repeating: 6755399441055744.0)
    let shifted = shifter.addingProduct(xc, SIMD8<Double>(repeating: 1.4426950408889634))
    let k = shifted - shifter
    let r = xc.addingProduct(k, SIMD8<Double>(repeating: -6.93147180369123816490e-01))
      .addingProduct(k, SIMD8<Double>(repeating: -1.90821492927058770002e-10))
    // e^r = Σ_{k ≤ 13} r^k / k! by Horner's rule with fused multiply–adds.
    typealias V = SIMD8<Double>
    var p = V(repeating: 1.0 / 6227020800.0)
    p = V(repeating: 1.0 / 479001600.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 39916800.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 3628800.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 362880.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 40320.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 5040.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 720.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 120.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 24.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 6.0).addingProduct(p, r)
    p = V(repeating: 0.5).addingProduct(p, r)
    p = V(repeating: 1.0).addingProduct(p, r)
    p = V(repeating: 1.0).addingProduct(p, r)
    let bits = (unsafeBitCast(shifted, to: SIMD8<UInt64>.self) &+ 1023) &<< 52
    return p * unsafeBitCast(bits, to: SIMD8<Double>.self)
  }

  /// The lanes' sum in a fixed order, `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`.
  @inline(__always)
  var fixedOrderSum: Double {
    ((self[0] + self[1]) + (self[2] + self[3])) + ((self[4] + self[5]) + (self[6] + self[7]))
  }

  /// Loads eight doubles from `p` (no alignment required).
  @inline(__always)
  static func load(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
  }
}
