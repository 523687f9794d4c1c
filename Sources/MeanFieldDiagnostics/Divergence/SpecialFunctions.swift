import Foundation

/// The digamma function `ψ(x) = Γ'(x)/Γ(x)` for `x > 0`.
///
/// The recurrence `ψ(x) = ψ(x + 1) − 1/x` lifts x to at least 10, then the asymptotic series
///
///     ψ(x) ~ log x − 1/(2x) − 1/(12x²) + 1/(120x⁴) − 1/(252x⁶) + 1/(240x⁸)
///            − 1/(132x¹⁰) + 691/(32760x¹²)
///
/// (Abramowitz and Stegun 6.3.18) is summed; its truncation error at x ≥ 10 is below
/// `1/(12 x¹⁴) < 1e−15`. For x ≥ 10 the result is good to a few ulps; below, the recurrence
/// subtracts up to `Σ 1/(x+j)` from `ψ(x + J) ≈ 2.3`, so the error is absolute, below
/// 4e−15 (as for Cephes' `psi`). Checked in the tests against `ψ(n) = −γ + Σ_{j<n} 1/j` and
/// `ψ(1/2) = −γ − 2 log 2`. The estimators use ψ(n) − ψ(k), where this is far below the
/// statistical error.
///
/// - Complexity: O(max(1, 10 − x)).
public func digamma(_ x: Double) -> Double {
  precondition(x > 0, "digamma is implemented for x > 0")
  var x = x
  var shift = 0.0
  while x < 10 {
    shift -= 1 / x
    x += 1
  }
  let r = 1 / (x * x)
  var series = 691.0 / 32760
  series = series * r - 1.0 / 132
  series = series * r + 1.0 / 240
  series = series * r - 1.0 / 252
  series = series * r + 1.0 / 120
  series = series * r - 1.0 / 12
  series *= r
  return shift + (Foundation.log(x) - 0.5 / x + series)
}

/// `log V_d`, the logarithm of the volume of the Euclidean unit ball in R^d:
///
///     V_d = π^{d/2} / Γ(d/2 + 1)
///
/// (V₁ = 2, V₂ = π, V₃ = 4π/3).
public func logUnitBallVolume(dimension d: Int) -> Double {
  precondition(d >= 1)
  let h = 0.5 * Double(d)
  return h * Foundation.log(Double.pi) - Foundation.lgamma(h + 1)
}
