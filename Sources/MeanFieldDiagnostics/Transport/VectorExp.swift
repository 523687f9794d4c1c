import MeanFieldCore

/// The eight-lane vector type of the transport kernels.
@usableFromInline
typealias TransportVector = SIMD8<Double>

extension SIMD8 where Scalar == Double {
  /// `FastMath.exp` applied lane by lane.
  ///
  /// The same sequence of IEEE operations as the scalar `FastMath.exp` (clamp to
  /// [-708, 708], Cody–Waite reduction with the 1.5·2^52 shifter, degree-13 Taylor polynomial
  /// by Horner without fused multiply–adds, scaling through the exponent bits), so every lane
  /// equals `FastMath.exp` of that lane bit for bit — checked in the tests. Written on SIMD
  /// vectors so that the streaming Sinkhorn kernel runs it eight lanes at a time.
  @inlinable @inline(__always)
  static func fastExp(_ x: SIMD8<Double>) -> SIMD8<Double> {
    let lo = SIMD8<Double>(repeating: -708.0), hi = SIMD8<Double>(repeating: 708.0)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    let shifter = SIMD8<Double>(repeating: 6755399441055744.0)
    let shifted = xc * 1.4426950408889634 + shifter
    let k = shifted - shifter
    let r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    var p = SIMD8<Double>(repeating: 1.0 / 6227020800.0)
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
    let bits = (unsafeBitCast(shifted, to: SIMD8<UInt64>.self) &+ 1023) &<< 52
    return p * unsafeBitCast(bits, to: SIMD8<Double>.self)
  }

  /// The lanes' sum in a fixed order, `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`.
  @inlinable @inline(__always)
  var fixedOrderSum: Double {
    ((self[0] + self[1]) + (self[2] + self[3])) + ((self[4] + self[5]) + (self[6] + self[7]))
  }

  /// Lane-wise `max(self, 0)`.
  @inlinable @inline(__always)
  var clampedAtZero: SIMD8<Double> {
    replacing(with: SIMD8<Double>(), where: self .< SIMD8<Double>())
  }

  /// Loads eight doubles from `p` (no alignment required).
  @inlinable @inline(__always)
  static func load(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
  }
}
