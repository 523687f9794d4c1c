/// Why a divergence or entropy could not be computed from the given data.
///
/// Misuse (mismatched dimensions, k < 1, a weighted cloud given to an estimator for equally
/// weighted samples) stops with a precondition; these are properties of the data.
public enum DivergenceError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A covariance matrix is not (numerically) symmetric positive definite: Cholesky met a
  /// non-positive pivot at row `pivot`.
  case notPositiveDefinite(pivot: Int)
  /// `queries` sample points have fewer than `k` neighbours at admissible (with the
  /// ``ZeroDistancePolicy/skip`` policy: strictly positive) distance.
  case tooFewNeighbours(queries: Int, k: Int)
  /// A coordinate (or a potential value) is NaN or infinite.
  case nonFinite
  /// A sample is too small for the estimator (`count` points, `required` needed).
  case sampleTooSmall(count: Int, required: Int)

  public var description: String {
    switch self {
    case .notPositiveDefinite(let pivot):
      return "covariance is not positive definite (Cholesky pivot \(pivot) is not positive)"
    case .tooFewNeighbours(let queries, let k):
      return "\(queries) points have fewer than \(k) neighbours at positive distance"
    case .nonFinite:
      return "a coordinate or potential value is not finite"
    case .sampleTooSmall(let count, let required):
      return "sample of \(count) points is too small (needs at least \(required))"
    }
  }
}
