/// Cholesky factorisation of small symmetric positive definite matrices (row-major, d × d;
/// only the lower triangle is read), and the triangular solves that use it: one implementation
/// for the Gaussian laws, the Fisher information of the dissipation and Newton's method.
public enum Cholesky {
  /// The matrix is not positive definite: pivot `pivot` is not a positive finite number.
  public struct NotPositiveDefinite: Error, Sendable, Equatable {
    public let pivot: Int
  }

  /// The lower factor L with `A = L Lᵀ` (row-major, zeros above the diagonal). Column by
  /// column; each entry subtracts its products in index order.
  public static func lower(_ a: [Double], dimension d: Int) throws(NotPositiveDefinite) -> [Double] {
    var l = [Double](repeating: 0, count: d * d)
    for j in 0..<d {
      var s = a[j * d + j]
      for t in 0..<j { s -= l[j * d + t] * l[j * d + t] }
      guard s > 0, s.isFinite else { throw NotPositiveDefinite(pivot: j) }
      let pivot = s.squareRoot()
      l[j * d + j] = pivot
      for i in (j + 1)..<max(j + 1, d) {
        var t = a[i * d + j]
        for u in 0..<j { t -= l[i * d + u] * l[j * d + u] }
        l[i * d + j] = t / pivot
      }
    }
    return l
  }

  /// Solves `L y = b` in place (L lower triangular, row-major).
  public static func forwardSubstitute(_ l: [Double], dimension d: Int, _ b: inout [Double]) {
    for i in 0..<d {
      var s = b[i]
      for t in 0..<i { s -= l[i * d + t] * b[t] }
      b[i] = s / l[i * d + i]
    }
  }

  /// Solves `Lᵀ y = b` in place.
  public static func backSubstitute(_ l: [Double], dimension d: Int, _ b: inout [Double]) {
    for i in stride(from: d - 1, through: 0, by: -1) {
      var s = b[i]
      for t in (i + 1)..<max(i + 1, d) { s -= l[t * d + i] * b[t] }
      b[i] = s / l[i * d + i]
    }
  }

  /// Solves `A x = b` given A's lower factor.
  public static func solve(_ l: [Double], dimension d: Int, _ b: [Double]) -> [Double] {
    var y = b
    forwardSubstitute(l, dimension: d, &y)
    backSubstitute(l, dimension: d, &y)
    return y
  }
}
