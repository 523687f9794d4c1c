extension OptimalTransport {
  /// W2 between two Gaussian measures `N(m1, Σ1)` and `N(m2, Σ2)` in closed form.
  ///
  ///     W2² = |m1 − m2|² + tr(Σ1 + Σ2 − 2 (Σ2^{1/2} Σ1 Σ2^{1/2})^{1/2})
  ///
  /// with symmetric positive semidefinite square roots. `Σ2^{1/2}` comes from a Jacobi
  /// eigendecomposition of `Σ2`, and the trace of `(Σ2^{1/2} Σ1 Σ2^{1/2})^{1/2}` is the sum of
  /// the square roots of that matrix's eigenvalues (clamped at 0 against rounding). When Σ1
  /// and Σ2 commute this is `|m1 − m2|² + Σ_k (√λ1_k − √λ2_k)²` in a common eigenbasis.
  ///
  /// - Parameters:
  ///   - mean1: `m1`, length d.
  ///   - covariance1: `Σ1`, row-major d × d, symmetric positive semidefinite.
  ///   - mean2: `m2`, length d.
  ///   - covariance2: `Σ2`, row-major d × d, symmetric positive semidefinite.
  /// - Returns: `W2` (not squared); see `squaredGaussianWasserstein`.
  /// - Throws: `TransportError` for non-finite entries, wrong sizes, an asymmetric matrix
  ///   (beyond `1e-12` relative) or one with an eigenvalue below `−1e-12 ‖Σ‖` (not PSD).
  /// - Complexity: O(d³) per Jacobi sweep, a handful of sweeps.
  /// - Reference: Dowson & Landau, "The Fréchet distance between multivariate normal
  ///   distributions", J. Multivariate Anal. 12 (1982); Givens & Shortt, Michigan Math. J. 31
  ///   (1984); Peyré & Cuturi (2019), Remark 2.31.
  public static func gaussianWasserstein(
    mean1: [Double], covariance1: [Double], mean2: [Double], covariance2: [Double]
  ) throws(TransportError) -> Double {
    try squaredGaussianWasserstein(
      mean1: mean1, covariance1: covariance1, mean2: mean2, covariance2: covariance2
    ).squareRoot()
  }

  /// `W2²` between two Gaussian measures; see `gaussianWasserstein`.
  public static func squaredGaussianWasserstein(
    mean1: [Double], covariance1: [Double], mean2: [Double], covariance2: [Double]
  ) throws(TransportError) -> Double {
    let d = mean1.count
    if d == 0 { throw .empty(argument: "mean1") }
    if mean2.count != d { throw .dimensionMismatch(source: d, target: mean2.count) }
    for (name, m) in [("covariance1", covariance1), ("covariance2", covariance2)]
    where m.count != d * d {
      throw .invalidParameter(
        name: name, reason: "need \(d) × \(d) = \(d * d) entries, got \(m.count)")
    }
    try TransportError.checkFinite(mean1, argument: "mean1")
    try TransportError.checkFinite(mean2, argument: "mean2")
    try TransportError.checkFinite(covariance1, argument: "covariance1")
    try TransportError.checkFinite(covariance2, argument: "covariance2")
    let e1 = try SymmetricEigen(covariance1, dimension: d, argument: "covariance1")
    let e2 = try SymmetricEigen(covariance2, dimension: d, argument: "covariance2")
    // Σ2^{1/2} = Q diag(√λ) Qᵀ, then M = Σ2^{1/2} Σ1 Σ2^{1/2}.
    let root2 = e2.matrixFunction { $0.squareRoot() }
    let m = SymmetricEigen.multiply(SymmetricEigen.multiply(root2, covariance1, d), root2, d)
    // Symmetrise against rounding before the eigensolve.
    var sym = m
    for i in 0..<d {
      for j in 0..<d { sym[i * d + j] = 0.5 * (m[i * d + j] + m[j * d + i]) }
    }
    let em = try SymmetricEigen(
      sym, dimension: d, argument: "Σ2^{1/2} Σ1 Σ2^{1/2}", checkSymmetry: false)
    var meanGap = CompensatedSum()
    for k in 0..<d { meanGap.add((mean1[k] - mean2[k]) * (mean1[k] - mean2[k])) }
    var trace = CompensatedSum()
    for k in 0..<d {
      trace.add(e1.values[k])
      trace.add(e2.values[k])
      trace.add(-2 * em.values[k].squareRoot())
    }
    // The trace term is ≥ 0 mathematically (it is W2² between the centred Gaussians).
    return meanGap.value + max(0, trace.value)
  }
}

/// Eigendecomposition `A = Q diag(λ) Qᵀ` of a small symmetric matrix by cyclic Jacobi
/// rotations; eigenvalues clamped at 0 (the matrices here are PSD up to rounding).
///
/// - Complexity: O(d³) per sweep; quadratic convergence, stops when the off-diagonal mass is
///   below `1e-30` of the total (or after 64 sweeps).
/// - Reference: Golub & Van Loan, "Matrix Computations", 4th ed., §8.5.
struct SymmetricEigen {
  /// Eigenvalues, clamped at 0.
  var values: [Double]
  /// Eigenvectors as columns of a row-major d × d matrix.
  var vectors: [Double]
  let dimension: Int

  init(_ matrix: [Double], dimension d: Int, argument: String, checkSymmetry: Bool = true)
    throws(TransportError)
  {
    dimension = d
    var a = matrix
    var scale = 0.0
    for x in a { scale = max(scale, abs(x)) }
    if checkSymmetry {
      for i in 0..<d {
        for j in (i + 1)..<max(i + 1, d)
        where abs(a[i * d + j] - a[j * d + i]) > 1e-12 * max(scale, 1e-300) {
          throw .invalidParameter(name: argument, reason: "not symmetric at (\(i), \(j))")
        }
      }
      for i in 0..<d {
        for j in (i + 1)..<max(i + 1, d) {
          let s = 0.5 * (a[i * d + j] + a[j * d + i])
          a[i * d + j] = s
          a[j * d + i] = s
        }
      }
    }
    var q = [Double](repeating: 0, count: d * d)
    for i in 0..<d { q[i * d + i] = 1 }
    for _ in 0..<64 {
      var off = 0.0
      var total = 0.0
      for i in 0..<d {
        for j in 0..<d {
          total += a[i * d + j] * a[i * d + j]
          if i != j { off += a[i * d + j] * a[i * d + j] }
        }
      }
      if off <= 1e-30 * total || off == 0 { break }
      for p in 0..<d {
        for r in (p + 1)..<max(p + 1, d) {
          let apr = a[p * d + r]
          if apr == 0 { continue }
          // Rotation zeroing a[p][r]: tan θ = t solves t² + 2τ t − 1 = 0, smaller root.
          let tau = (a[r * d + r] - a[p * d + p]) / (2 * apr)
          let t = (tau >= 0 ? 1.0 : -1.0) / (abs(tau) + (1 + tau * tau).squareRoot())
          let c = 1 / (1 + t * t).squareRoot()
          let s = t * c
          for k in 0..<d {
            let akp = a[k * d + p]
            let akr = a[k * d + r]
            a[k * d + p] = c * akp - s * akr
            a[k * d + r] = s * akp + c * akr
          }
          for k in 0..<d {
            let apk = a[p * d + k]
            let ark = a[r * d + k]
            a[p * d + k] = c * apk - s * ark
            a[r * d + k] = s * apk + c * ark
          }
          for k in 0..<d {
            let qkp = q[k * d + p]
            let qkr = q[k * d + r]
            q[k * d + p] = c * qkp - s * qkr
            q[k * d + r] = s * qkp + c * qkr
          }
        }
      }
    }
    var lambda = [Double](repeating: 0, count: d)
    for i in 0..<d { lambda[i] = a[i * d + i] }
    let largest = lambda.map(abs).max() ?? 0
    if let most = lambda.min(), most < -1e-12 * max(largest, scale) {
      throw .invalidParameter(
        name: argument, reason: "not positive semidefinite (eigenvalue \(most))")
    }
    values = lambda.map { max($0, 0) }
    vectors = q
  }

  /// `Q diag(f(λ)) Qᵀ`.
  func matrixFunction(_ f: (Double) -> Double) -> [Double] {
    let d = dimension
    var out = [Double](repeating: 0, count: d * d)
    for k in 0..<d {
      let fk = f(values[k])
      for i in 0..<d {
        let qik = vectors[i * d + k] * fk
        for j in 0..<d { out[i * d + j] += qik * vectors[j * d + k] }
      }
    }
    return out
  }

  /// Row-major `A B` for d × d matrices.
  static func multiply(_ a: [Double], _ b: [Double], _ d: Int) -> [Double] {
    var out = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for k in 0..<d {
        let aik = a[i * d + k]
        for j in 0..<d { out[i * d + j] += aik * b[k * d + j] }
      }
    }
    return out
  }
}
