import Foundation
import MeanFieldCore
import Testing

@Suite struct PhiloxTests {
  /// The Random123 known-answer vectors for philox4x32-10 (kat_vectors: counter, key, output).
  @Test func random123KnownAnswers() {
    let cases: [([UInt32], [UInt32], [UInt32])] = [
      ([0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
      (
        [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff], [0xffff_ffff, 0xffff_ffff],
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
      ),
      (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
      ),
    ]
    for (c, k, expected) in cases {
      let philox = Philox4x32(key0: k[0], key1: k[1])
      let out = philox.block(c[0], c[1], c[2], c[3])
      #expect([out.0, out.1, out.2, out.3] == expected)
      let wide = philox.wideBlock(UInt64(c[0]), UInt64(c[1]), UInt64(c[2]), UInt64(c[3]))
      #expect([wide.0, wide.1, wide.2, wide.3] == expected.map(UInt64.init))
    }
  }

  /// The vectorised fill gives exactly the scalar definition: every coordinate of
  /// `fillNormals` is the Box–Muller pair of its (particle, pair) counter, for even and odd
  /// dimensions.
  @Test func vectorisedFillIsTheScalarDefinition() {
    let field = GaussianField(seed: 11, runIndex: 4)
    for d in 1...5 {
      let n = 300
      var out = [Double](repeating: .nan, count: n * d)
      out.withUnsafeMutableBufferPointer {
        field.fillNormals($0, rows: n, dimension: d, firstParticle: 1000, step: 77, stream: .dynamicsSecond)
      }
      for i in 0..<n {
        for m in 0..<((d + 1) / 2) {
          let (z0, z1) = field.normalPair(
            stream: .dynamicsSecond, step: 77, particle: UInt64(1000 + i), pair: UInt32(m))
          #expect(out[i * d + 2 * m].bitPattern == z0.bitPattern)
          if 2 * m + 1 < d { #expect(out[i * d + 2 * m + 1].bitPattern == z1.bitPattern) }
        }
      }
    }
  }

  /// A particle's noise depends only on its global index, not on how rows are blocked.
  @Test func noiseIndependentOfBlocking() {
    let field = GaussianField(seed: 42, runIndex: 3)
    let d = 5, n = 37
    var whole = [Double](repeating: 0, count: n * d)
    whole.withUnsafeMutableBufferPointer {
      field.fillNormals($0, rows: n, dimension: d, firstParticle: 0, step: 9, stream: .dynamics)
    }
    var pieces = [Double]()
    for (lo, hi) in [(0, 5), (5, 6), (6, 30), (30, 37)] {
      var part = [Double](repeating: 0, count: (hi - lo) * d)
      part.withUnsafeMutableBufferPointer {
        field.fillNormals($0, rows: hi - lo, dimension: d, firstParticle: lo, step: 9, stream: .dynamics)
      }
      pieces += part
    }
    #expect(whole == pieces)
  }

  /// Box–Muller output is standard normal: mean, variance and kurtosis of 400k draws within
  /// 5 standard errors (SE of the mean 1/sqrt(n), of the variance sqrt(2/n), of the fourth
  /// moment sqrt(96/n)).
  @Test func normalMoments() {
    let field = GaussianField(seed: 1, runIndex: 0)
    let n = 200_000, d = 2
    var z = [Double](repeating: 0, count: n * d)
    z.withUnsafeMutableBufferPointer {
      field.fillNormals($0, rows: n, dimension: d, firstParticle: 0, step: 0, stream: .dynamics)
    }
    let m = Double(z.count)
    let mean = z.reduce(0, +) / m
    let m2 = z.reduce(0) { $0 + $1 * $1 } / m
    let m4 = z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / m
    #expect(abs(mean) < 5 / m.squareRoot())
    #expect(abs(m2 - 1) < 5 * (2 / m).squareRoot())
    #expect(abs(m4 - 3) < 5 * (96 / m).squareRoot())
  }

  /// Different streams, steps and keys give different numbers.
  @Test func streamsAreDistinct() {
    let f = GaussianField(seed: 7, runIndex: 0)
    let a = f.normalPair(stream: .dynamics, step: 1, particle: 2, pair: 0)
    let b = f.normalPair(stream: .initialPositions, step: 1, particle: 2, pair: 0)
    let c = GaussianField(seed: 7, runIndex: 1).normalPair(stream: .dynamics, step: 1, particle: 2, pair: 0)
    #expect(a != b)
    #expect(a != c)
  }
}

@Suite struct FastMathTests {
  /// Fast tanh, exp and sigmoid against libm over a wide range: at most 4 ulp of the result
  /// (relative 1e-15), and exact ±1 saturation.
  @Test func accuracyAgainstLibm() {
    var worstTanh = 0.0, worstExp = 0.0, worstSig = 0.0
    var u = -30.0
    while u < 30 {
      for v in [u, u * 0.37, u * 1e-3, -u * 1e-7] {
        let rt = Foundation.tanh(v)
        if rt != 0 { worstTanh = max(worstTanh, abs(FastMath.tanh(v) - rt) / abs(rt)) }
        let re = Foundation.exp(v)
        worstExp = max(worstExp, abs(FastMath.exp(v) - re) / re)
        let rs = 1 / (1 + Foundation.exp(-v))
        worstSig = max(worstSig, abs(FastMath.sigmoid(v) - rs) / rs)
      }
      u += 0.000731
    }
    #expect(worstTanh < 1e-15, "tanh worst relative error \(worstTanh)")
    #expect(worstExp < 1e-15, "exp worst relative error \(worstExp)")
    #expect(worstSig < 1e-15, "sigmoid worst relative error \(worstSig)")
    var worstLog = 0.0, worstSin = 0.0, worstCos = 0.0
    var x = 1e-16
    while x <= 1 {
      worstLog = max(
        worstLog, abs(FastMath.log(x) - Foundation.log(x)) / abs(Foundation.log(x) == 0 ? 1 : Foundation.log(x)))
      x *= 1.0001
    }
    for k in 0...100_000 {
      let u = Double(k) / 100_000
      let (s, c) = FastMath.sinCosTwoPi(u)
      // Absolute error: sin and cos are O(1) and cross zero, where relative error is meaningless.
      worstSin = max(worstSin, abs(s - Foundation.sin(2 * Double.pi * u)))
      worstCos = max(worstCos, abs(c - Foundation.cos(2 * Double.pi * u)))
    }
    #expect(worstLog < 1e-15, "log worst relative error \(worstLog)")
    // 2πu itself is rounded (about 4e-16 at u ≈ 1), so libm sees a slightly different angle.
    #expect(worstSin < 2e-15 && worstCos < 2e-15, "sin \(worstSin), cos \(worstCos)")
    #expect(FastMath.tanh(40) == 1)
    #expect(FastMath.tanh(-40) == -1)
    #expect(FastMath.tanh(0) == 0)
  }

  /// The fixed-order dot product equals the exact sum on integers (no rounding) for every
  /// length around the unroll width.
  @Test func dotProduct() {
    for n in 0..<20 {
      let a = (0..<n).map { Double($0 + 1) }, b = (0..<n).map { Double(2 * $0 - 3) }
      let expected = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
      #expect(FastMath.dot(a, b, count: n) == expected)
    }
  }
}
