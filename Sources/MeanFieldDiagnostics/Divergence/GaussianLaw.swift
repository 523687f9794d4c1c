import Foundation
import MeanFieldCore

/// A non-degenerate Gaussian law `N(m, Σ)` on R^d with its Cholesky factor `Σ = L Lᵀ`.
///
/// Closed forms used as exact references for the sample estimators:
///
///     H(N(m, Σ)) = (d/2)(1 + log 2π) + (1/2) log det Σ
///     KL(N(m₀,Σ₀) ‖ N(m₁,Σ₁)) = (1/2)[tr(Σ₁⁻¹Σ₀) + (m₁−m₀)ᵀΣ₁⁻¹(m₁−m₀) − d
///                                      + log det Σ₁ − log det Σ₀]
///
/// (Cover and Thomas, *Elements of Information Theory*, 2nd ed., Thm 8.4.1; the KL form is
/// standard, e.g. Pardo, *Statistical Inference Based on Divergence Measures*, 2006, p. 45).
public struct GaussianLaw: Sendable, Equatable {
  /// The mean m (length d).
  public let mean: [Double]
  /// The covariance Σ, row-major d × d.
  public let covariance: [Double]
  /// The lower-triangular Cholesky factor L of Σ, row-major d × d (zeros above the diagonal).
  public let choleskyFactor: [Double]
  /// `log det Σ = 2 Σ_c log L_cc`.
  public let logDeterminant: Double

  /// The dimension d.
  public var dimension: Int { mean.count }

  /// `N(mean, covariance)`; throws if Σ is not symmetric positive definite (only the lower
  /// triangle is read).
  ///
  /// - Complexity: O(d³) for the Cholesky factorisation.
  public init(mean: [Double], covariance: [Double]) throws(DivergenceError) {
    let d = mean.count
    precondition(d >= 1 && covariance.count == d * d, "covariance must be d × d")
    self.mean = mean
    self.covariance = covariance
    let l: [Double]
    do {
      l = try Cholesky.lower(covariance, dimension: d)
    } catch {
      throw .notPositiveDefinite(pivot: error.pivot)
    }
    choleskyFactor = l
    var logDet = 0.0
    for c in 0..<d { logDet += 2 * Foundation.log(l[c * d + c]) }
    logDeterminant = logDet
  }

  /// `N(mean, variance · I)`.
  public static func isotropic(mean: [Double], variance: Double) -> GaussianLaw {
    precondition(variance > 0 && variance.isFinite, "variance must be positive")
    let d = mean.count
    var cov = [Double](repeating: 0, count: d * d)
    for c in 0..<d { cov[c * d + c] = variance }
    // A positive multiple of the identity always factors.
    guard let law = try? GaussianLaw(mean: mean, covariance: cov) else {
      preconditionFailure("isotropic covariance failed to factor")
    }
    return law
  }

  /// The standard normal law `N(0, I_d)`.
  public static func standard(dimension d: Int) -> GaussianLaw {
    isotropic(mean: [Double](repeating: 0, count: d), variance: 1)
  }

  /// Differential entropy `(d/2)(1 + log 2π) + (1/2) log det Σ` (nats).
  public var entropy: Double {
    0.5 * Double(dimension) * (1 + Foundation.log(2 * Double.pi)) + 0.5 * logDeterminant
  }

  /// `log` of the density at `x`: `−(d/2) log 2π − (1/2) log det Σ − (1/2)|L⁻¹(x − m)|²`.
  public func logDensity(at x: [Double]) -> Double {
    x.withUnsafeBufferPointer { logDensity(at: $0) }
  }

  /// `log` of the density at `x` (length d), without heap allocation (the triangular solve
  /// works in a stack buffer).
  ///
  /// - Complexity: O(d²).
  public func logDensity(at x: UnsafeBufferPointer<Double>) -> Double {
    let d = dimension
    precondition(x.count == d, "point dimension differs from the law's")
    let q = withUnsafeTemporaryAllocation(of: Double.self, capacity: d) { r in
      var q = 0.0
      for i in 0..<d {
        var s = x[i] - mean[i]
        for t in 0..<i { s -= choleskyFactor[i * d + t] * r[t] }
        r[i] = s / choleskyFactor[i * d + i]
        q += r[i] * r[i]
      }
      return q
    }
    return -0.5 * Double(d) * Foundation.log(2 * Double.pi) - 0.5 * logDeterminant - 0.5 * q
  }

  /// `count` independent draws `m + L z`, `z ~ N(0, I)` from `field`'s stream
  /// ``RandomStream/diagnostics`` at `step`, for sample indices `firstIndex ..< firstIndex +
  /// count` (the same index always gives the same point).
  public func sample(
    count: Int, field: GaussianField, step: UInt64 = 0, firstIndex: Int = 0
  ) -> PointCloud {
    let d = dimension
    var z = [Double](repeating: 0, count: count * d)
    z.withUnsafeMutableBufferPointer {
      field.fillNormals(
        $0, rows: count, dimension: d, firstParticle: firstIndex, step: step,
        stream: .diagnostics)
    }
    var x = [Double](repeating: 0, count: count * d)
    for i in 0..<count {
      for r in 0..<d {
        var s = mean[r]
        for c in 0...r { s += choleskyFactor[r * d + c] * z[i * d + c] }
        x[i * d + r] = s
      }
    }
    return PointCloud(values: x, dimension: d)
  }

}

/// `KL(p ‖ q)` between two Gaussian laws in closed form (nats):
///
///     (1/2)[ ‖L_q⁻¹ L_p‖_F² + |L_q⁻¹(m_q − m_p)|² − d + log det Σ_q − log det Σ_p ]
///
/// with `‖L_q⁻¹ L_p‖_F² = tr(Σ_q⁻¹ Σ_p)`. Exactly 0 when `p == q` (the triangular solve of L
/// against itself is the identity without rounding).
///
/// - Complexity: O(d³).
public func klDivergence(of p: GaussianLaw, relativeTo q: GaussianLaw) -> Double {
  let d = p.dimension
  precondition(q.dimension == d, "dimensions differ")
  var trace = 0.0
  for j in 0..<d {
    var column = (0..<d).map { p.choleskyFactor[$0 * d + j] }
    Cholesky.forwardSubstitute(q.choleskyFactor, dimension: d, &column)
    trace += column.reduce(0) { $0 + $1 * $1 }
  }
  var shift = (0..<d).map { q.mean[$0] - p.mean[$0] }
  Cholesky.forwardSubstitute(q.choleskyFactor, dimension: d, &shift)
  let quadratic = shift.reduce(0) { $0 + $1 * $1 }
  return 0.5 * (trace + quadratic - Double(d) + q.logDeterminant - p.logDeterminant)
}
