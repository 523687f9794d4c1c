import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

/// `|a − b| ≤ ulps · ulp(max(|a|, |b|))`.
func closeInUlps(_ a: Double, _ b: Double, ulps: Double) -> Bool {
  abs(a - b) <= ulps * max(abs(a), abs(b)).ulp
}

@Suite struct DivergenceGaussianTests {
  /// KL(P‖P) is exactly 0 (the triangular solve of L against itself is the identity), for
  /// a full covariance.
  @Test func klOfALawToItselfIsZero() throws {
    let p = try GaussianLaw(
      mean: [0.3, -1, 2], covariance: [2, 0.4, -0.3, 0.4, 1.5, 0.2, -0.3, 0.2, 0.9])
    #expect(klDivergence(of: p, relativeTo: p) == 0)
  }

  /// 1-D by hand: KL(N(0,1) ‖ N(1,4)) = (1/2)(1/4 + 1/4 − 1 + log 4) = log 2 − 1/4.
  /// Tolerance 4 ulps: a handful of rounded operations on O(1) numbers.
  @Test func oneDimensionalKnownValue() throws {
    let p = GaussianLaw.standard(dimension: 1)
    let q = try GaussianLaw(mean: [1], covariance: [4])
    let exact = Foundation.log(2.0) - 0.25
    #expect(closeInUlps(klDivergence(of: p, relativeTo: q), exact, ulps: 4))
  }

  /// 2-D by hand, correlated P: P = N(0, [[2,1],[1,2]]), Q = N((1,−1), diag(1,3)):
  /// tr(Σq⁻¹Σp) = 2 + 2/3, quadratic = 1 + 1/3, log det Σq = log det Σp = log 3, so
  /// KL = (1/2)(8/3 + 4/3 − 2) = 1. Reversed: tr(Σp⁻¹Σq) = (2·1 + 2·3)/3 = 8/3 (Σp⁻¹ =
  /// [[2,−1],[−1,2]]/3), quadratic (1,−1)Σp⁻¹(1,−1)ᵀ = 6/3 = 2, so KL(Q‖P) = (1/2)(8/3 + 2 − 2)
  /// = 4/3. Tolerance 8 ulps.
  @Test func twoDimensionalKnownValues() throws {
    let p = try GaussianLaw(mean: [0, 0], covariance: [2, 1, 1, 2])
    let q = try GaussianLaw(mean: [1, -1], covariance: [1, 0, 0, 3])
    #expect(closeInUlps(klDivergence(of: p, relativeTo: q), 1, ulps: 8))
    #expect(closeInUlps(klDivergence(of: q, relativeTo: p), 4.0 / 3, ulps: 8))
    // H(P) = 1 + log 2π + (1/2) log 3.
    #expect(closeInUlps(p.entropy, 1 + Foundation.log(2 * Double.pi) + 0.5 * Foundation.log(3.0), ulps: 4))
    #expect(closeInUlps(p.logDeterminant, Foundation.log(3.0), ulps: 4))
  }

  /// Log-density of N(m, Σ) at a point, by hand for Σ = diag(1, 3), m = (1, −1), x = (2, 2):
  /// −log 2π − (1/2) log 3 − (1/2)(1 + 9/3).
  @Test func logDensityKnownValue() throws {
    let q = try GaussianLaw(mean: [1, -1], covariance: [1, 0, 0, 3])
    let exact = -Foundation.log(2 * Double.pi) - 0.5 * Foundation.log(3.0) - 2
    #expect(closeInUlps(q.logDensity(at: [2, 2]), exact, ulps: 8))
  }

  /// A matrix that is not positive definite is rejected with the failing pivot.
  @Test func indefiniteCovarianceThrows() {
    #expect(throws: DivergenceError.notPositiveDefinite(pivot: 1)) {
      try GaussianLaw(mean: [0, 0], covariance: [1, 2, 2, 1])
    }
    #expect(throws: DivergenceError.notPositiveDefinite(pivot: 0)) {
      try GaussianLaw(mean: [0], covariance: [0])
    }
  }

  /// The sampler draws N(m, Σ): sample mean and covariance of 40 000 draws within 5
  /// standard errors (SE of a mean: sqrt(Σ_cc/n) ≤ 0.008; of a covariance entry:
  /// sqrt((Σ_aa Σ_bb + Σ_ab²)/n) ≤ 0.012).
  @Test func samplerHasTheRequestedMoments() throws {
    let law = try GaussianLaw(mean: [1, -2], covariance: [2, 0.6, 0.6, 1])
    let n = 40_000
    let x = law.sample(count: n, field: GaussianField(seed: 3, runIndex: 1))
    var mean = [0.0, 0.0]
    for i in 0..<n { for c in 0..<2 { mean[c] += x[i, c] / Double(n) } }
    var cov = [0.0, 0.0, 0.0, 0.0]
    for i in 0..<n {
      for a in 0..<2 { for b in 0..<2 { cov[a * 2 + b] += (x[i, a] - mean[a]) * (x[i, b] - mean[b]) / Double(n - 1) } }
    }
    for c in 0..<2 {
      #expect(abs(mean[c] - law.mean[c]) < 5 * (law.covariance[c * 3] / Double(n)).squareRoot())
    }
    for a in 0..<2 {
      for b in 0..<2 {
        let s = law.covariance
        let se = ((s[a * 3] * s[b * 3] + s[a * 2 + b] * s[a * 2 + b]) / Double(n)).squareRoot()
        #expect(abs(cov[a * 2 + b] - s[a * 2 + b]) < 5 * se, "cov[\(a),\(b)]")
      }
    }
  }

  /// ψ at known points: ψ(1) = −γ, ψ(1/2) = −γ − 2 log 2, ψ(n) = −γ + H_{n−1}. Below 10
  /// the documented bound is absolute, 4e−15 (the recurrence's cancellation); from 10 on,
  /// 8 ulps of the result plus the rounding of the reference harmonic sum (n ulps of H).
  @Test func digammaKnownValues() {
    let gamma = 0.57721566490153286060651209
    #expect(abs(digamma(1) + gamma) <= 4e-15)
    #expect(abs(digamma(0.5) - (-gamma - 2 * 0.69314718055994530941723212)) <= 4e-15)
    var harmonic = 0.0
    for n in 1...200 {
      if [2, 3, 5, 9].contains(n) {
        #expect(abs(digamma(Double(n)) - (-gamma + harmonic)) <= 4e-15, "ψ(\(n))")
      }
      if [10, 11, 50, 200].contains(n) {
        let reference = -gamma + harmonic
        #expect(
          abs(digamma(Double(n)) - reference) <= 8 * reference.ulp + Double(n) * harmonic.ulp,
          "ψ(\(n))")
      }
      harmonic += 1 / Double(n)
    }
    // Large argument: ψ(10⁴) = log 10⁴ − 1/(2·10⁴) − 1/(12·10⁸) + O(10⁻¹⁸).
    #expect(closeInUlps(digamma(10_000), Foundation.log(10_000.0) - 5e-5 - 1 / 1.2e9, ulps: 4))
  }

  /// log V_d: V₁ = 2, V₂ = π, V₃ = 4π/3, V₁₀ = π⁵/120.
  @Test func unitBallVolumes() {
    #expect(closeInUlps(logUnitBallVolume(dimension: 1), Foundation.log(2.0), ulps: 4))
    #expect(closeInUlps(logUnitBallVolume(dimension: 2), Foundation.log(Double.pi), ulps: 4))
    #expect(closeInUlps(logUnitBallVolume(dimension: 3), Foundation.log(4 * Double.pi / 3), ulps: 4))
    #expect(
      closeInUlps(
        logUnitBallVolume(dimension: 10), 5 * Foundation.log(Double.pi) - Foundation.log(120.0),
        ulps: 8))
  }
}
