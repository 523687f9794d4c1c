import Foundation
import MeanFieldDiagnostics
import Testing

/// Closed forms: Gaussian W2, one-dimensional W2 between known quantile functions, sliced W2
/// of a translation.
@Suite("Transport: closed forms")
struct TransportClosedFormTests {
  // MARK: - Gaussian W2

  /// Rotation by `angle` in the (0, 1) plane and by `angle / 3` in the (1, 2) plane.
  static func rotation3(_ angle: Double) -> [Double] {
    let c1 = cos(angle)
    let s1 = sin(angle)
    let c2 = cos(angle / 3)
    let s2 = sin(angle / 3)
    let r1: [Double] = [c1, -s1, 0, s1, c1, 0, 0, 0, 1]
    let r2: [Double] = [1, 0, 0, 0, c2, -s2, 0, s2, c2]
    return multiply(r1, r2, 3)
  }

  static func multiply(_ a: [Double], _ b: [Double], _ d: Int) -> [Double] {
    var out = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for k in 0..<d { for j in 0..<d { out[i * d + j] += a[i * d + k] * b[k * d + j] } }
    }
    return out
  }

  /// `Q diag(λ) Qᵀ`.
  static func conjugate(_ q: [Double], _ lambda: [Double]) -> [Double] {
    let d = lambda.count
    var out = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for j in 0..<d {
        for k in 0..<d { out[i * d + j] += q[i * d + k] * lambda[k] * q[j * d + k] }
      }
    }
    return out
  }

  @Test("commuting covariances: |m1 − m2|² + Σ (√λ1 − √λ2)²")
  func gaussianCommuting() throws {
    let m1 = [1.0, -2.0, 0.5]
    let m2 = [0.0, 1.0, 2.5]
    let l1 = [1.0, 4.0, 9.0]
    let l2 = [4.0, 1.0, 16.0]
    let meanGap = 1.0 + 9.0 + 4.0
    let expected = meanGap + 1 + 1 + 1  // (1−2)² + (2−1)² + (3−4)²
    // Diagonal, and the same spectra in a rotated common eigenbasis.
    for q in [[1.0, 0, 0, 0, 1, 0, 0, 0, 1], Self.rotation3(0.7)] {
      let w2 = try OptimalTransport.squaredGaussianWasserstein(
        mean1: m1, covariance1: Self.conjugate(q, l1), mean2: m2, covariance2: Self.conjugate(q, l2)
      )
      // Jacobi eigenvalues are accurate to ~1e-15 ‖Σ‖ (‖Σ‖ = 16): 1e-12 absolute is generous.
      #expect(abs(w2 - expected) <= 1e-12 * expected)
    }
    let w = try OptimalTransport.gaussianWasserstein(
      mean1: m1, covariance1: Self.conjugate(Self.rotation3(0.7), l1), mean2: m2,
      covariance2: Self.conjugate(Self.rotation3(0.7), l2))
    #expect(abs(w - expected.squareRoot()) <= 1e-12 * expected.squareRoot())
  }

  @Test("non-commuting 2 × 2: the 2 × 2 square-root identity")
  func gaussianTwoByTwo() throws {
    // For 2 × 2 PSD M, tr √M = sqrt(tr M + 2 sqrt(det M)); with M = Σ2^{1/2} Σ1 Σ2^{1/2}:
    // tr M = tr(Σ1 Σ2), det M = det Σ1 det Σ2 — an independent closed form.
    let cases: [([Double], [Double])] = [
      ([2, 0.5, 0.5, 1], [1, -0.3, -0.3, 3]),
      ([1, 0.99, 0.99, 1], [0.5, 0, 0, 2]),
      ([3, 1, 1, 0.5], [3, 1, 1, 0.5]),  // identical: trace term 0
      ([1, 0, 0, 0], [0, 0, 0, 1]),  // singular, orthogonal supports: W2² = 2
    ]
    for (s1, s2) in cases {
      let tr1 = s1[0] + s1[3]
      let tr2 = s2[0] + s2[3]
      let trProduct = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3]
      let det = (s1[0] * s1[3] - s1[1] * s1[2]) * (s2[0] * s2[3] - s2[1] * s2[2])
      let expected = 0.25 + max(0, tr1 + tr2 - 2 * (trProduct + 2 * det.squareRoot()).squareRoot())
      let w2 = try OptimalTransport.squaredGaussianWasserstein(
        mean1: [0, 0], covariance1: s1, mean2: [0.5, 0], covariance2: s2)
      // Both sides lose ~1e-16 · tr in the cancellation tr1 + tr2 − 2 tr√M: 1e-12 absolute.
      #expect(abs(w2 - expected) <= 1e-12)
    }
  }

  @Test("one dimension: (m1 − m2)² + (σ1 − σ2)²; symmetry; errors")
  func gaussianOneDimensionAndErrors() throws {
    let w2 = try OptimalTransport.squaredGaussianWasserstein(
      mean1: [1], covariance1: [4], mean2: [-2], covariance2: [0.25])
    #expect(abs(w2 - (9 + 2.25)) <= 1e-14 * 11.25)
    let s1 = Self.conjugate(Self.rotation3(0.3), [0.5, 2, 7])
    let s2 = Self.conjugate(Self.rotation3(1.9), [3, 0.1, 1])
    let ab = try OptimalTransport.squaredGaussianWasserstein(
      mean1: [0, 0, 0], covariance1: s1, mean2: [1, 1, 1], covariance2: s2)
    let ba = try OptimalTransport.squaredGaussianWasserstein(
      mean1: [1, 1, 1], covariance1: s2, mean2: [0, 0, 0], covariance2: s1)
    #expect(abs(ab - ba) <= 1e-12 * ab)
    #expect(throws: TransportError.self) {
      try OptimalTransport.gaussianWasserstein(
        mean1: [0, 0], covariance1: [1, 2, 2, 1], mean2: [0, 0], covariance2: [1, 0, 0, 1])
    }
    #expect(throws: TransportError.nonFiniteValue(argument: "mean2", index: 1)) {
      try OptimalTransport.gaussianWasserstein(
        mean1: [0, 0], covariance1: [1, 0, 0, 1], mean2: [0, .nan], covariance2: [1, 0, 0, 1])
    }
  }

  // MARK: - One-dimensional W2

  @Test("point masses and weighted atoms with hand-computed quantile integrals")
  func oneDimensionalAtoms() throws {
    #expect(try OptimalTransport.wasserstein1D([2.5], [-1]) == 3.5)
    // ½δ0 + ½δ1 against δ½: W2² = ¼.
    #expect(try OptimalTransport.squaredWasserstein1D([1, 0], [0.5]) == 0.25)
    // 0.3δ0 + 0.7δ2 against ½δ1 + ½δ3: |F⁻¹ − G⁻¹| = 1 on all of (0, 1).
    let w2 = try OptimalTransport.squaredWasserstein1D(
      [2, 0], [3, 1], sourceWeights: [0.7, 0.3], targetWeights: [0.5, 0.5])
    #expect(abs(w2 - 1) <= 1e-15)
  }

  @Test(
    "uniform samples of different sizes: exact rational value",
    arguments: [(6, 4), (7, 3), (5, 10), (12, 12)])
  func oneDimensionalRational(sizes: (Int, Int)) throws {
    let (n, m) = sizes
    // Integer atoms; on the grid of cells of width 1/(n m) the quantile functions are
    // constant, so n m W2² = Σ_c (x_{⌊c/m⌋} − y_{⌊c/n⌋})² is an integer, computed exactly here.
    let x = (0..<n).map { Double(($0 * 37 + 11) % 23) }
    let y = (0..<m).map { Double(($0 * 19 + 5) % 17) - 4 }
    let xs = x.sorted()
    let ys = y.sorted()
    var numerator = 0
    for c in 0..<(n * m) {
      let d = Int(xs[c / m]) - Int(ys[c / n])
      numerator += d * d
    }
    let expected = Double(numerator) / Double(n * m)
    let w2 = try OptimalTransport.squaredWasserstein1D(x, y)
    // Breakpoints (i+1)/n are correctly rounded; the sum of ≤ n + m terms: 1e-15 relative.
    #expect(abs(w2 - expected) <= 1e-15 * expected)
  }

  @Test("a shifted sample is at distance |shift|; clouds and weights")
  func oneDimensionalShift() throws {
    let x = TransportFixtures.cloud(2000, 1, seed: 3)
    let y = TransportFixtures.translated(x, by: [-3.25])
    let w = try OptimalTransport.wasserstein1D(between: x, and: y)
    // Each y_i − x_i is −3.25 up to one rounding (|x| ≲ 4): relative 1e-15 · 8 / 3.25.
    #expect(abs(w - 3.25) <= 1e-14)
    // Weighted: the shift relation holds for any weights.
    let weights = (0..<2000).map { 1 + Double($0 % 7) }
    let xw = PointCloud(values: x.values, dimension: 1, weights: weights)
    let yw = PointCloud(values: y.values, dimension: 1, weights: weights)
    #expect(abs(try OptimalTransport.wasserstein1D(between: xw, and: yw) - 3.25) <= 1e-12)
    #expect(throws: TransportError.nonFiniteValue(argument: "target", index: 1)) {
      try OptimalTransport.wasserstein1D([1, 2], [0, .infinity])
    }
    #expect(
      throws: TransportError.invalidParameter(
        name: "dimension", reason: "wasserstein1D needs one-dimensional clouds, got 2")
    ) {
      try OptimalTransport.wasserstein1D(
        between: TransportFixtures.cloud(3, 2, seed: 1), and: TransportFixtures.cloud(3, 2, seed: 2)
      )
    }
  }

  @Test("radix-sorted W2 equals the definition with a comparison sort, including clustered data")
  func oneDimensionalSorting() throws {
    // Values equal to within 2^-40 relative defeat the fast path's top-42-bit ordering and
    // exercise the full radix fallback; negative zero and exact ties are included.
    var x = (0..<3000).map { 1.0 + Double($0 % 1000) * 0x1p-45 }
    x += [-0.0, 0.0, -5, 5, 5, -5]
    let y = TransportFixtures.cloud(x.count, 1, seed: 9).values
    let xs = x.sorted()
    let ys = y.sorted()
    var s = 0.0
    for i in 0..<x.count { s += (xs[i] - ys[i]) * (xs[i] - ys[i]) }
    let expected = s / Double(x.count)
    let w2 = try OptimalTransport.squaredWasserstein1D(x, y)
    #expect(abs(w2 - expected) <= 1e-13 * expected)
  }

  // MARK: - Sliced W2

  @Test("translation: each direction gives (θ·v)², the mean tends to |v|²/d")
  func slicedShift() throws {
    let d = 5
    let x = TransportFixtures.cloud(500, d, seed: 13)
    let v = [1.0, -2.0, 0.5, 0.0, 1.5]
    let y = TransportFixtures.translated(x, by: v)
    let p = 4000
    let r = try OptimalTransport.slicedWasserstein(between: x, and: y, projections: p, seed: 42)
    let theta = OptimalTransport.slicingDirections(count: p, dimension: d, seed: 42)
    var exact = 0.0
    for k in 0..<p {
      var dot = 0.0
      for c in 0..<d { dot += theta[k * d + c] * v[c] }
      exact += dot * dot
    }
    exact /= Double(p)
    // Per direction the projected samples differ by θ·v up to rounding: 1e-12 relative.
    #expect(abs(r.squaredDistance - exact) <= 1e-12 * exact)
    // E(θ·u)² = 1/d for θ uniform on the sphere: SW2 = |v|/√d within the Monte Carlo error.
    let v2 = v.reduce(0) { $0 + $1 * $1 }
    let target = v2 / Double(d)
    #expect(abs(r.squaredDistance - target) <= 4 * r.standardError)
    // The standard error matches theory: Var (θ·u)² = 2(d − 1)/(d²(d + 2)), 10% agreement.
    let theory =
      v2 * (2 * Double(d - 1) / (Double(d * d) * Double(d + 2))).squareRoot()
      / Double(p).squareRoot()
    #expect(abs(r.standardError - theory) <= 0.1 * theory)
    #expect(
      abs(r.distance - (v2 / Double(d)).squareRoot()) <= 4 * r.standardError / (2 * r.distance))
  }

  @Test("sliced W2 is independent of the thread count and equals 1-D W2 of the projections for unequal sizes")
  func slicedDeterminismAndWeights() throws {
    let x = TransportFixtures.cloud(1000, 4, seed: 1)
    let y = TransportFixtures.cloud(1000, 4, seed: 2, shift: 0.5)
    let a = try OptimalTransport.slicedWasserstein(
      between: x, and: y, projections: 37, seed: 3, threads: 1)
    let b = try OptimalTransport.slicedWasserstein(
      between: x, and: y, projections: 37, seed: 3, threads: 2)
    #expect(a == b)
    // Unequal sizes: compare with 1-D W2 of the projections along the library's directions.
    let z = TransportFixtures.cloud(700, 4, seed: 4, shift: 0.5)
    let r = try OptimalTransport.slicedWasserstein(between: x, and: z, projections: 5, seed: 8)
    let theta = OptimalTransport.slicingDirections(count: 5, dimension: 4, seed: 8)
    var mean = 0.0
    for k in 0..<5 {
      let px = (0..<x.count).map { i in (0..<4).reduce(0.0) { $0 + theta[k * 4 + $1] * x[i, $1] } }
      let pz = (0..<z.count).map { i in (0..<4).reduce(0.0) { $0 + theta[k * 4 + $1] * z[i, $1] } }
      mean += try OptimalTransport.squaredWasserstein1D(px, pz)
    }
    mean /= 5
    // Projections differ only by FMA vs separate rounding: 1e-12 relative.
    #expect(abs(r.squaredDistance - mean) <= 1e-12 * mean)
  }
}
