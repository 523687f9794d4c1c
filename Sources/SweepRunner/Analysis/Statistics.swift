import Foundation

/// The statistics of the analyses: moments, Student's t quantiles, weighted least squares and a
/// seeded bootstrap. Everything here is deterministic: the same data and seed give the same
/// numbers, bit for bit.
public enum Statistics {
  /// The mean (NaN for no values).
  public static func mean(_ x: [Double]) -> Double {
    x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count)
  }

  /// The sample variance with n − 1 (NaN for fewer than two values).
  public static func variance(_ x: [Double]) -> Double {
    guard x.count > 1 else { return .nan }
    let m = mean(x)
    return x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)
  }

  /// The standard error of the mean (NaN for fewer than two values).
  public static func standardError(_ x: [Double]) -> Double {
    (variance(x) / Double(x.count)).squareRoot()
  }

  /// The regularised incomplete beta function I_x(a, b), by the continued fraction of
  /// Numerical Recipes (§6.4, modified Lentz), accurate to about 1e-14.
  public static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let logBeta: Double = Foundation.lgamma(a) + Foundation.lgamma(b) - Foundation.lgamma(a + b)
    let logPower: Double = a * Foundation.log(x) + b * Foundation.log(1 - x)
    let front = Foundation.exp(logPower - logBeta)
    func fraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
      let tiny = 1e-300
      var c = 1.0, d = 1 - (a + b) * x / (a + 1)
      if abs(d) < tiny { d = tiny }
      d = 1 / d
      var h = d
      for m in 1...500 {
        let m = Double(m)
        var aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 + aa * d
        if abs(d) < tiny { d = tiny }
        c = 1 + aa / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        h *= d * c
        aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 + aa * d
        if abs(d) < tiny { d = tiny }
        c = 1 + aa / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16 { break }
      }
      return h
    }
    if x < (a + 1) / (a + b + 2) { return front * fraction(x, a, b) / a }
    return 1 - front * fraction(1 - x, b, a) / b
  }

  /// The CDF of Student's t with `df` degrees of freedom.
  public static func studentCDF(_ t: Double, df: Double) -> Double {
    let x = df / (df + t * t)
    let tail = 0.5 * incompleteBeta(x, 0.5 * df, 0.5)
    return t >= 0 ? 1 - tail : tail
  }

  /// The quantile of Student's t (by bisection on the CDF, to 1e-12).
  public static func studentQuantile(_ p: Double, df: Double) -> Double {
    precondition(p > 0 && p < 1 && df > 0)
    var lo = -1e6, hi = 1e6
    for _ in 0..<200 {
      let mid = 0.5 * (lo + hi)
      if studentCDF(mid, df: df) < p { lo = mid } else { hi = mid }
      if hi - lo < 1e-12 * max(1, abs(mid)) { break }
    }
    return 0.5 * (lo + hi)
  }

  /// A straight-line fit `y = intercept + slope x`.
  public struct LineFit: Sendable, Equatable {
    public var slope: Double
    public var intercept: Double
    /// Standard errors from the fit (weights as inverse variances when given, else the
    /// residual variance).
    public var slopeError: Double
    public var interceptError: Double
    /// χ² of the residuals with the weights (the residual sum of squares without), and the
    /// degrees of freedom n − 2.
    public var chiSquare: Double
    public var degreesOfFreedom: Int
    /// The coefficient of determination.
    public var rSquared: Double
  }

  /// Weighted least squares of `y` on `x` (weights `w = 1/σ²`, or equal weights).
  public static func fitLine(x: [Double], y: [Double], weights: [Double]? = nil) -> LineFit {
    precondition(x.count == y.count && x.count >= 2)
    let w = weights ?? [Double](repeating: 1, count: x.count)
    var sw = 0.0, sx = 0.0, sy = 0.0
    for i in x.indices {
      sw += w[i]
      sx += w[i] * x[i]
      sy += w[i] * y[i]
    }
    let mx = sx / sw, my = sy / sw
    var sxx = 0.0, sxy = 0.0, syy = 0.0
    for i in x.indices {
      sxx += w[i] * (x[i] - mx) * (x[i] - mx)
      sxy += w[i] * (x[i] - mx) * (y[i] - my)
      syy += w[i] * (y[i] - my) * (y[i] - my)
    }
    let slope = sxy / sxx
    let intercept = my - slope * mx
    var chi2 = 0.0
    for i in x.indices {
      let r = y[i] - intercept - slope * x[i]
      chi2 += w[i] * r * r
    }
    let dof = x.count - 2
    // With weights the errors are the fit's own; without, scaled by the residual variance.
    let scale = weights == nil ? (dof > 0 ? chi2 / Double(dof) : .nan) : 1
    let slopeError = (scale / sxx).squareRoot()
    let interceptError = (scale * (1 / sw + mx * mx / sxx)).squareRoot()
    return LineFit(
      slope: slope, intercept: intercept, slopeError: slopeError, interceptError: interceptError, chiSquare: chi2,
      degreesOfFreedom: dof, rSquared: syy > 0 ? 1 - chi2 / syy : 1)
  }

  /// A confidence level as the percentage a method string prints: 0.95 → "95", 0.999 → "99.9"
  /// (a truncation to an integer printed 99.9% as 99%).
  public static func percentLabel(_ confidence: Double) -> String {
    String(format: "%g", (confidence * 100 * 1e6).rounded() / 1e6)
  }

  /// The percentile interval of a bootstrap distribution at `confidence` (values sorted in place;
  /// NaN replicates dropped).
  public static func percentileInterval(_ values: [Double], confidence: Double) -> (lower: Double, upper: Double) {
    let v = values.filter { $0.isFinite }.sorted()
    guard !v.isEmpty else { return (.nan, .nan) }
    func quantile(_ q: Double) -> Double {
      let position = q * Double(v.count - 1)
      let i = Int(position.rounded(.down)), f = position - Double(i)
      return i + 1 < v.count ? v[i] + f * (v[i + 1] - v[i]) : v[i]
    }
    let alpha = (1 - confidence) / 2
    return (quantile(alpha), quantile(1 - alpha))
  }
}
