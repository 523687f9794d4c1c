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
  /// Its N → ∞ limit for the same scheme and step, `d v(a₁)` (the step's bias kept).
  case stationarySecondMomentLimit = "stationary-second-moment-limit"
  /// The mean-field (N → ∞, continuous-time) limit of the same, `d λ/(κ + 2λ' + c)`.
  case meanFieldSecondMoment = "mean-field-second-moment"
  /// The exact `E (1/N)Σ|x_i|²` at the analysis' time of the continuous-time dynamics (the
  /// flow the schemes discretise) for a quadratic V and a quadratic interaction (or none), from
  /// a Gaussian start N(μ₀, σ₀²I): the mean mode relaxes at a₀, the N − 1 others at a₁,
  /// `(1/N)[e^{−2a₀t}(N|μ₀|² + dσ₀²) + d(λ/a₀)(1 − e^{−2a₀t})] + d(1 − 1/N)[e^{−2a₁t}σ₀² + (λ/a₁)(1 − e^{−2a₁t})]`.
  case secondMomentAtTime = "second-moment-at-time"
  /// The same for the Euler–Maruyama chain itself (overdamped, step η, k = t/η steps): each
  /// mode contracts by (1 − ηa) per step towards its stationary variance λ/(a(1 − ηa/2)), so
  /// the value is exact for the scheme, step bias included.
  case schemeSecondMomentAtTime = "scheme-second-moment-at-time"
  /// For a hitting-time analysis of `w2-to-gaussian` (against the run's reference Gaussian, by
  /// default the stationary law N(0, diag(λ/k_c)); a diagonal covariance): the first sample time from which the exact W2 of the scheme's law stays
  /// at or below the threshold. A quadratic V (one stiffness per coordinate, k_c = κ_c + 2λ'),
  /// no interaction, Gaussian starts: each coordinate's law stays Gaussian, its mean and
  /// (x, v) covariance follow the scheme's linear recursion exactly (Euler–Maruyama; plain,
  /// symplectic or BAOAB underdamped), and W2² = Σ_c (m_c − m*_c)² + (σ_c − σ*_c)², plus the
  /// sampling floor of the Gaussian fit of N independent particles (first order in 1/N), which
  /// delays the crossing where W2 approaches the threshold slowly.
  case w2HittingTime = "w2-hitting-time"
  /// The position at the analysis' time of the gradient flow ẋ = −∇V(x) − 2λ'x from the start's
  /// mean (a start of standard deviation 0), the component named by the analysis (`x1`, …): the
  /// limit η → 0 of gradient descent. Closed form for a quadratic V; otherwise classical
  /// Runge–Kutta with steps of at most 10⁻⁵ (halved until two solutions agree to 10⁻¹²).
  case gradientFlowPosition = "gradient-flow-position"
  /// The energy dissipation ∫|∇δF/δμ|² dμ at the analysis' time of the Euler–Maruyama chain's
  /// law for a quadratic V (one stiffness k_c = κ_c + 2λ' per coordinate), no interaction, from
  /// N(m₀, diag σ₀²): the law stays N(m, diag v) with m_c = (1 − ηk_c)^k m₀_c and v_c the
  /// scheme's variance recursion, and the dissipation of a Gaussian is Σ_c k_c² m_c² +
  /// (k_c v_c − λ)²/v_c.
  case dissipationAtTime = "dissipation-at-time"
  /// The exact solution of the viscous Hamilton–Jacobi equation u_t + ½|∇u|² = νΔu, u(·, 0) = g
  /// for a quadratic g = ½Σ a_c y_c² (`diagnostics.terminal`), at the start point x₀ and the
  /// analysis' time, ν the temperature: by Hopf–Cole, u = −2ν log E e^{−g(x₀ + √(2νt) Z)/2ν} =
  /// Σ_c [a_c x₀_c²/(2(1 + a_c t)) + ν log(1 + a_c t)] (particles diffusing without potential).
  case hopfColeValue = "hopf-cole-value"
  /// The rate at which the overdamped Fokker–Planck equation relaxes along x₁: the spectral gap
  /// of `λ∂² − U'∂` (U = V + λ'x²) in L²(e^{−U/λ}), from the symmetrised finite-difference
  /// generator (4001 points; Sturm bisection). κ + 2λ' for a quadratic V; for two wells, the
  /// rate at which mass moves between the basins.
  case relaxationRate = "relaxation-rate"
  /// The mean E x_c (the analysis' component, `x1` by default) at the analysis' time of the
  /// continuous underdamped dynamics dx = v dt, dv = −(γv + κx) dt + √(2γλ) dW (the law the
  /// kinetic Fokker–Planck equation evolves) for a quadratic V, from Gaussian x and v: the
  /// moments solve m' = Am, Σ' = AΣ + ΣAᵀ + diag(0, 2γλ) with A = [[0, 1], [−κ, −γ]]
  /// (classical Runge–Kutta, steps halved until two solutions agree to 10⁻¹³).
  case kineticMeanAtTime = "kinetic-mean-at-time"
  /// The second moment Σ_c E x_c² of the same law (the `second-moment` metric; E x₁² of the
  /// PDE's marginal in 1-D).
  case kineticSecondMomentAtTime = "kinetic-second-moment-at-time"

  /// The value for a group with `settings` (job-file keys), or why it cannot be computed.
  public func value(
    settings: [String: SettingValue], component: String?, time: Double? = nil, threshold: Double? = nil,
    initial: Double? = nil
  ) throws -> Double {
    func number(_ key: String, default value: Double? = nil) throws -> Double {
      if let v = settings[key]?.number { return v }
      if let value { return value }
      throw AnalysisError("\(rawValue) needs the setting \(key)")
    }
    func text(_ key: String) -> String { settings[key]?.description ?? "" }
    let lambda = try number("dynamics.temperature", default: 0), l2 = try number("dynamics.l2", default: 0)
    let interaction = text("model.interaction.kind")
    if [.gibbsBasinMass, .laplaceBasinMass, .relaxationRate].contains(self) && !["", "none"].contains(interaction) {
      throw AnalysisError("\(rawValue) is the value without an interaction (the group has a \(interaction) one)")
    }
    switch self {
    case .gibbsBasinMass, .laplaceBasinMass:
      let (v, minima, labels) = try Self.landscape(settings)
      guard let component, let which = labels.firstIndex(of: component) else {
        throw AnalysisError("\(rawValue) needs the component of a basin (\(labels.joined(separator: ", ")))")
      }
      if self == .laplaceBasinMass {
        let curvature = try Self.curvatureFunction(settings, v)
        let weights = minima.map { 1 / curvature($0).squareRoot() }
        return weights[which] / weights.reduce(0, +)
      }
      guard lambda > 0 else { throw AnalysisError("\(rawValue) needs λ > 0") }
      return try Self.gibbsMass(v, l2: l2, temperature: lambda, minima: minima, basin: which)
    case .gradientFlowPosition:
      guard let t = time else { throw AnalysisError("\(rawValue) is a value at one time: use at: final or {time: t}") }
      return try Self.gradientFlowPosition(settings, component: component, time: t, l2: l2, initial: initial)
    case .hopfColeValue:
      guard let t = time else { throw AnalysisError("\(rawValue) is a value at one time: use at: final or {time: t}") }
      guard text("model.potential.kind") == "none", ["", "none"].contains(interaction) else {
        throw AnalysisError("\(rawValue) needs particles that only diffuse (no potential, no interaction)")
      }
      guard text("diagnostics.terminal.kind") == "quadratic" else {
        throw AnalysisError("\(rawValue) is stated for a quadratic terminal cost")
      }
      guard lambda > 0, l2 == 0 else { throw AnalysisError("\(rawValue) needs λ > 0 and no L2 weight") }
      let d = Int(try number("model.dimension"))
      guard text("init.kind") == "gaussian", try Self.vector(settings["init.std"], dimension: d).allSatisfy({ $0 == 0 })
      else { throw AnalysisError("\(rawValue) needs every particle started at one point (std 0)") }
      let x0 = try Self.vector(settings["init.mean"], dimension: d)
      let a = try Self.vector(settings["diagnostics.terminal.stiffness"], dimension: d)
      var u = 0.0
      for c in 0..<d { u += a[c] * x0[c] * x0[c] / (2 * (1 + a[c] * t)) + lambda * Foundation.log(1 + a[c] * t) }
      return u
    case .dissipationAtTime:
      guard let t = time else { throw AnalysisError("\(rawValue) is a value at one time: use at: final or {time: t}") }
      guard text("model.potential.kind") == "quadratic", ["", "none"].contains(interaction) else {
        throw AnalysisError("\(rawValue) needs a quadratic potential without interaction")
      }
      guard ["overdamped", "gradient-flow"].contains(text("dynamics.kind")), text("init.kind") == "gaussian" else {
        throw AnalysisError("\(rawValue) is stated for the overdamped scheme from a Gaussian start")
      }
      let d = Int(try number("model.dimension")), eta = try number("dynamics.step")
      let k = try Self.vector(settings["model.potential.stiffness"], dimension: d).map { $0 + 2 * l2 }
      let m0 = try Self.vector(settings["init.mean"], dimension: d)
      let s0 = try Self.vector(settings["init.std"], dimension: d)
      let steps = (t / eta).rounded()
      var total = 0.0
      for c in 0..<d {
        let a = 1 - eta * k[c]
        let decay = Foundation.pow(a, 2 * steps)
        let m = Foundation.pow(a, steps) * m0[c]
        let stationary = lambda / (k[c] * (1 - eta * k[c] / 2))
        let v = decay * s0[c] * s0[c] + stationary * (1 - decay)
        total += k[c] * k[c] * m * m + (v > 0 ? (k[c] * v - lambda) * (k[c] * v - lambda) / v : 0)
      }
      return total
    case .kineticMeanAtTime, .kineticSecondMomentAtTime:
      guard let t = time else { throw AnalysisError("\(rawValue) is a value at one time: use at: final or {time: t}") }
      guard text("model.potential.kind") == "quadratic", ["", "none"].contains(interaction) else {
        throw AnalysisError("\(rawValue) needs a quadratic potential without interaction")
      }
      guard text("dynamics.kind") == "underdamped" else {
        throw AnalysisError("\(rawValue) is the law of the underdamped dynamics")
      }
      guard text("init.kind") == "gaussian" else { throw AnalysisError("\(rawValue) needs a Gaussian start") }
      let d = Int(try number("model.dimension")), gamma = try number("dynamics.friction")
      let kappa = try Self.vector(settings["model.potential.stiffness"], dimension: d).map { $0 + 2 * l2 }
      let mean = try Self.vector(settings["init.mean"], dimension: d)
      let std = try Self.vector(settings["init.std"], dimension: d)
      var vMean = [Double](repeating: 0, count: d)
      var vStd = [Double](repeating: lambda.squareRoot(), count: d)  // the Maxwellian default
      switch text("velocity-init.kind") {
      case "": break
      case "zero": vStd = [Double](repeating: 0, count: d)
      case "gaussian":
        vMean = try Self.vector(settings["velocity-init.mean"], dimension: d)
        vStd = try Self.vector(settings["velocity-init.std"], dimension: d)
      default: throw AnalysisError("\(rawValue) needs a Gaussian (or zero) start of the velocities")
      }
      var coordinates = Array(0..<d)
      if self == .kineticMeanAtTime {
        let c = component ?? "x1"
        guard c.hasPrefix("x"), let i = Int(c.dropFirst()), i >= 1, i <= d else {
          throw AnalysisError("\(rawValue) needs a component x1 … x\(d)")
        }
        coordinates = [i - 1]
      }
      var total = 0.0
      for c in coordinates {
        let m = Self.kineticMoments(
          stiffness: kappa[c], friction: gamma, temperature: lambda, mean: (mean[c], vMean[c]),
          variance: (std[c] * std[c], vStd[c] * vStd[c]), time: t)
        total += self == .kineticMeanAtTime ? m.mean : m.variance + m.mean * m.mean
      }
      return total
    case .w2HittingTime:
      guard let threshold else { throw AnalysisError("\(rawValue) is the expectation of a hitting-time analysis") }
      return try Self.w2HittingTime(settings, threshold: threshold, lambda: lambda, l2: l2)
    case .relaxationRate:
      guard lambda > 0 else { throw AnalysisError("\(rawValue) needs λ > 0") }
      let (v, minima, _) = try Self.landscape(settings, basins: false)
      return try Self.spectralGap(v, l2: l2, temperature: lambda, centre: minima)
    case .stationarySecondMoment, .meanFieldSecondMoment, .stationarySecondMomentLimit, .secondMomentAtTime,
      .schemeSecondMomentAtTime:
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
      // The flow at a time has a limit at zero stiffness (free diffusion: variance σ₀² + 2λt);
      // the stationary values and the scheme's chain need confinement.
      let free = self == .secondMomentAtTime && a0 == 0 && a1 == 0
      guard (a0 > 0 && a1 > 0) || free else {
        throw AnalysisError("\(rawValue) needs κ + 2λ' > 0 and κ + 2λ' + c > 0")
      }
      if self == .meanFieldSecondMoment { return d * lambda / a1 }
      if self == .secondMomentAtTime || self == .schemeSecondMomentAtTime {
        guard text("dynamics.kind") != "underdamped" else {
          throw AnalysisError(
            "\(rawValue) is the overdamped law: use kinetic-second-moment-at-time for underdamped runs")
        }
        guard let t = time else {
          throw AnalysisError("\(rawValue) is a value at one time: use at: final or at: {time: t}")
        }
        guard text("init.kind") == "gaussian" else { throw AnalysisError("\(rawValue) needs a Gaussian start") }
        let mean = try Self.vector(settings["init.mean"], dimension: Int(d))
        let sd = try Self.vector(settings["init.std"], dimension: Int(d))
        guard Set(sd).count == 1 else { throw AnalysisError("\(rawValue) needs one standard deviation for every axis") }
        let s0 = sd[0] * sd[0], m2 = mean.reduce(0) { $0 + $1 * $1 }
        if free {
          // Brownian motion: each coordinate's variance grows by 2λt, the mean stays.
          return m2 + d * (s0 + 2 * lambda * t)
        }
        var e0 = Foundation.exp(-2 * a0 * t), e1 = Foundation.exp(-2 * a1 * t)
        var v0 = lambda / a0, v1 = lambda / a1
        if self == .schemeSecondMomentAtTime {
          guard ["overdamped", "gradient-flow"].contains(text("dynamics.kind")) else {
            throw AnalysisError("\(rawValue) is stated for the overdamped (Euler–Maruyama) scheme")
          }
          let eta = try number("dynamics.step")
          let k = (t / eta).rounded()
          e0 = Foundation.pow(1 - eta * a0, 2 * k)
          e1 = Foundation.pow(1 - eta * a1, 2 * k)
          v0 = lambda / (a0 * (1 - eta * a0 / 2))
          v1 = lambda / (a1 * (1 - eta * a1 / 2))
        }
        return (e0 * (n * m2 + d * s0) + d * v0 * (1 - e0)) / n + d * (1 - 1 / n) * (e1 * s0 + v1 * (1 - e1))
      }
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
      if self == .stationarySecondMomentLimit { return d * (try variance(a1)) }
      return d * (try variance(a0) + (n - 1) * variance(a1)) / n
    }
  }

}

/// An analysis that cannot be carried out as stated.
public struct AnalysisError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
