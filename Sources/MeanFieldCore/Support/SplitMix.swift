/// SplitMix64: a small seeded generator, the same sequence on every platform (the analyses'
/// bootstrap, the tests' random data and fault timings). Not for the dynamics' noise, which is
/// counter-based (``Philox``).
public struct SplitMix: RandomNumberGenerator, Sendable {
  public var state: UInt64

  public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in 0..<n (Lemire's multiply-shift, unbiased enough for n ≪ 2⁶⁴).
  public mutating func below(_ n: Int) -> Int {
    Int((UInt128(next()) * UInt128(UInt64(n))) >> 64)
  }

  /// Uniform in [0, 1), 53 bits.
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
