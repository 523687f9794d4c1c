import Foundation
import MeanFieldCore
import SweepStore

/// Values the tool computes itself to hold a result against (`expect: {theory: …}`), from the
/// settings of each group of runs.
public enum Theory: String, Sendable, CaseIterable {
  /// The Gibbs law's mass in the basin of the analysis' component (a minimum of V), at the
  /// group's temperature: `∫_basin e^{−U/λ} / ∫ e^{−U/λ}`, `U = V + λ'|x|²`, by quadrature along
  /// x₁ (the potentials with basins are separable: the other coordinates cancel).
  case gibbsBasinMass = "gibbs-basin-mass"
  /// Its λ → 0 limit (Laplace): each minimum's mass ∝ (det ∇²V)^{−1/2}.
  case laplaceBasinMass = "laplace-basin-mass"
  /// The exact stationary `E (1/N)Σ|x_i|²` of the group's scheme for a quadratic V (stiffness κ,
  /// or none) with a quadratic interaction of strength c (or none), N particles in dimension d:
  /// the mean mode has stiffness a₀ = κ + 2λ', the N − 1 others a₁ = a₀ + c, and each mode's
  /// stationary variance is the scheme's own, e.g. `λ/(a(1 − ηa/2))` for Euler–Maruyama (exact
  /// in η), `λ/a` for MALA and BAOAB; so `d (v(a₀) + (N − 1) v(a₁)) / N`.
  case stationarySecondMoment = "stationary-second-moment"
  /// The mean-field (N → ∞, continuous-time) limit of the same, `d λ/(κ + 2λ' + c)`.
  case meanFieldSecondMoment = "mean-field-second-moment"

  /// The value for a group with `settings` (job-file keys), or why it cannot be computed.
  public func value(settings: [String: SettingValue], component: String?) throws -> Double {
    func number(_ key: String, default value: Double? = nil) throws -> Double {
      if let v = settings[key]?.number { return v }
      if let value { return value }
      throw AnalysisError("\(rawValue) needs the setting \(key)")
    }
    func text(_ key: String) -> String { settings[key]?.description ?? "" }
    let lambda = try number("dynamics.temperature", default: 0), l2 = try number("dynamics.l2", default: 0)
    switch self {
    case .gibbsBasinMass, .laplaceBasinMass:
      let (v, minima, labels) = try Self.landscape(settings)
      guard let component, let which = labels.firstIndex(of: component) else {
        throw AnalysisError("\(rawValue) needs the component of a basin (\(labels.joined(separator: ", ")))")
      }
      if self == .laplaceBasinMass {
        let weights = minima.map { 1 / Self.curvature(v, at: $0).squareRoot() }
        return weights[which] / weights.reduce(0, +)
      }
      guard lambda > 0 else { throw AnalysisError("\(rawValue) needs λ > 0") }
      return try Self.gibbsMass(v, l2: l2, temperature: lambda, minima: minima, basin: which)
    case .stationarySecondMoment, .meanFieldSecondMoment:
      let kind = text("model.potential.kind")
      var kappa = 0.0
      switch kind {
      case "quadratic": kappa = try number("model.potential.stiffness")
      case "none": kappa = 0
      default: throw AnalysisError("\(rawValue) needs a quadratic potential (the group has \(kind))")
      }
      var c = 0.0
      switch text("model.interaction.kind") {
      case "none", "": c = 0
      case "quadratic": c = try number("model.interaction.strength")
      default: throw AnalysisError("\(rawValue) has no closed form with a Gaussian interaction")
      }
      let d = try number("model.dimension"), n = try number("particles")
      let a0 = kappa + 2 * l2, a1 = a0 + c
      guard a0 > 0, a1 > 0 else { throw AnalysisError("\(rawValue) needs κ + 2λ' > 0 and κ + 2λ' + c > 0") }
      if self == .meanFieldSecondMoment { return d * lambda / a1 }
      let scheme = text("dynamics.kind")
      let eta = try number("dynamics.step")
      func variance(_ a: Double) throws -> Double {
        switch scheme {
        case "overdamped", "gradient-flow": return lambda / (a * (1 - eta * a / 2))
        case "mala": return lambda / a
        case "underdamped":
          let gamma = try number("dynamics.friction")
          switch text("dynamics.scheme") {
          case "baoab": return lambda / a
          case "plain":
            return Self.lyapunovPositionVariance(a: a, gamma: gamma, lambda: lambda, eta: eta, velocityFirst: false)
          case "symplectic":
            return Self.lyapunovPositionVariance(a: a, gamma: gamma, lambda: lambda, eta: eta, velocityFirst: true)
          default: throw AnalysisError("\(rawValue): unknown underdamped scheme")
          }
        default: throw AnalysisError("\(rawValue) has no closed form for \(scheme) dynamics")
        }
      }
      return d * (try variance(a0) + (n - 1) * variance(a1)) / n
    }
  }

  /// The stationary position variance of the plain (or velocity-first) underdamped scheme for
  /// U = a x²/2, from the 2×2 discrete Lyapunov equation Σ = AΣAᵀ + Q (iterated to its fixed
  /// point).
  static func lyapunovPositionVariance(a: Double, gamma: Double, lambda: Double, eta: Double, velocityFirst: Bool)
    -> Double
  {
    let s2 = 2 * gamma * lambda * eta
    // State (v, x).
    let m: [[Double]], q: [[Double]]
    if velocityFirst {
      m = [[1 - gamma * eta, -eta * a], [eta * (1 - gamma * eta), 1 - eta * eta * a]]
      q = [[s2, eta * s2], [eta * s2, eta * eta * s2]]
    } else {
      m = [[1 - gamma * eta, -eta * a], [eta, 1]]
      q = [[s2, 0], [0, 0]]
    }
    var s = [[0.0, 0.0], [0.0, 0.0]]
    for _ in 0..<1_000_000 {
      var next = q
      for i in 0..<2 {
        for j in 0..<2 {
          var t = 0.0
          for k in 0..<2 { for l in 0..<2 { t += m[i][k] * s[k][l] * m[j][l] } }
          next[i][j] += t
        }
      }
      let change = abs(next[1][1] - s[1][1])
      s = next
      if change <= 1e-15 * abs(s[1][1]) { break }
    }
    return s[1][1]
  }

  /// The one-dimensional landscape along x₁ of a potential with basins, its minima and their
  /// labels (as the basin metric labels them).
  static func landscape(_ settings: [String: SettingValue]) throws -> (
    v: (Double) -> Double, minima: [Double], labels: [String]
  ) {
    let kind = settings["model.potential.kind"]?.description ?? ""
    switch kind {
    case "flat-sharp":
      guard let ks = settings["model.potential.sharp"]?.number, let kf = settings["model.potential.flat"]?.number else {
        throw AnalysisError("the flat-sharp settings are missing")
      }
      let p = ConfiningPotential.flatSharp(sharp: ks, flat: kf, transverse: 1)
      return ({ x in [x].withUnsafeBufferPointer { p.value(at: $0) } }, [-1, 1], ["sharp", "flat"])
    case "double-well":
      guard settings["model.dimension"]?.number == 1 else {
        throw AnalysisError("basins of the double well are known in d = 1")
      }
      return ({ x in (x * x - 1) * (x * x - 1) }, [-1, 1], ["minimum at (-1)", "minimum at (1)"])
    default:
      throw AnalysisError("basin theories need a flat-sharp potential or a 1-D double well (the group has \(kind))")
    }
  }

  /// V'' by a central difference of order h⁴.
  static func curvature(_ v: (Double) -> Double, at x: Double) -> Double {
    let h = 1e-3
    return (-v(x + 2 * h) + 16 * v(x + h) - 30 * v(x) + 16 * v(x - h) - v(x - 2 * h)) / (12 * h * h)
  }

  /// The Gibbs mass of basin `basin` (the interval between saddles around its minimum) under
  /// `e^{−(V + λ'x²)/λ}`, by Simpson's rule on a grid of 400 001 points over a range that holds
  /// all but e^{−60} of the mass.
  static func gibbsMass(
    _ v: @escaping (Double) -> Double, l2: Double, temperature lambda: Double, minima: [Double], basin: Int
  ) throws
    -> Double
  {
    // Saddles: the maxima of V between consecutive minima (golden section).
    var saddles = [Double]()
    for i in 0..<(minima.count - 1) {
      var a = minima[i], b = minima[i + 1]
      let r = (5.0.squareRoot() - 1) / 2
      for _ in 0..<200 {
        let c = b - r * (b - a), d = a + r * (b - a)
        if v(c) > v(d) { b = d } else { a = c }
      }
      saddles.append(0.5 * (a + b))
    }
    let u = { (x: Double) in v(x) + l2 * x * x }
    let floor = minima.map(u).min() ?? 0
    var radius = 2.0
    while (u(radius) - floor) / lambda < 60 || (u(-radius) - floor) / lambda < 60 {
      radius *= 1.5
      if radius > 1e6 { throw AnalysisError("the Gibbs law is not confined") }
    }
    let n = 400_000
    let h = 2 * radius / Double(n)
    var total = 0.0, inside = 0.0
    let lower = basin == 0 ? -Double.infinity : saddles[basin - 1]
    let upper = basin == minima.count - 1 ? Double.infinity : saddles[basin]
    for i in 0...n {
      let x = -radius + Double(i) * h
      let w = (i == 0 || i == n) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0)
      let f = w * Foundation.exp(-(u(x) - floor) / lambda)
      total += f
      if x >= lower && x < upper { inside += f }
    }
    return inside / total
  }
}

/// An analysis that cannot be carried out as stated.
public struct AnalysisError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
