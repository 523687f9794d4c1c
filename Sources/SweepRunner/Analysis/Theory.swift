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
        let weights = minima.map { 1 / Self.curvature(v, at: $0).squareRoot() }
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

  static func w2HittingTime(_ settings: [String: SettingValue], threshold: Double, lambda: Double, l2: Double) throws
    -> Double
  {
    func number(_ key: String) throws -> Double {
      guard let v = settings[key]?.number else { throw AnalysisError("w2-hitting-time needs the setting \(key)") }
      return v
    }
    func text(_ key: String) -> String { settings[key]?.description ?? "" }
    guard text("model.potential.kind") == "quadratic" else {
      throw AnalysisError("w2-hitting-time needs a quadratic potential")
    }
    guard ["", "none"].contains(text("model.interaction.kind")) else {
      throw AnalysisError("w2-hitting-time is stated without an interaction")
    }
    guard lambda > 0 else { throw AnalysisError("w2-hitting-time needs λ > 0") }
    let d = Int(try number("model.dimension"))
    let kappa = try vector(settings["model.potential.stiffness"], dimension: d).map { $0 + 2 * l2 }
    // The run's reference Gaussian (recorded with its settings; by default the stationary law).
    var referenceMean = [Double](repeating: 0, count: d)
    var referenceSD = kappa.map { (lambda / $0).squareRoot() }
    if let m = settings["diagnostics.gaussian.mean"], let cov = settings["diagnostics.gaussian.covariance"] {
      referenceMean = try vector(m, dimension: d)
      let c = try vector(cov, dimension: d * d)
      for i in 0..<d {
        for j in 0..<d where i != j && c[i * d + j] != 0 {
          throw AnalysisError("w2-hitting-time needs a reference Gaussian with a diagonal covariance")
        }
        referenceSD[i] = c[i * d + i].squareRoot()
      }
    }
    guard text("init.kind") == "gaussian" else { throw AnalysisError("w2-hitting-time needs a Gaussian start") }
    let mean = try vector(settings["init.mean"], dimension: d)
    let std = try vector(settings["init.std"], dimension: d)
    let eta = try number("dynamics.step")
    let steps = Int(try number("dynamics.steps")), every = Int(try number("diagnostics.every"))
    let kind = text("dynamics.kind")
    // Per coordinate: the mean (x, v), the covariance [[xx, xv], [xv, vv]], the one-step map M
    // and the noise covariance Q.
    var maps = [(m: [[Double]], q: [[Double]])]()
    var means = [[Double]](), covariances = [[[Double]]]()
    let underdamped = kind == "underdamped"
    var vMean = [Double](repeating: 0, count: d), vStd = [Double](repeating: 0, count: d)
    if underdamped {
      guard text("velocity-init.kind") == "gaussian" || text("velocity-init.kind") == "zero" else {
        throw AnalysisError("w2-hitting-time needs a Gaussian (or zero) start of the velocities")
      }
      if text("velocity-init.kind") == "gaussian" {
        vMean = try vector(settings["velocity-init.mean"], dimension: d)
        vStd = try vector(settings["velocity-init.std"], dimension: d)
      }
    }
    for c in 0..<d {
      let k = kappa[c]
      switch kind {
      case "overdamped", "gradient-flow":
        maps.append(([[1 - eta * k, 0], [0, 1]], [[2 * lambda * eta, 0], [0, 0]]))
      case "underdamped":
        let gamma = try number("dynamics.friction")
        let s2 = 2 * gamma * lambda * eta
        switch text("dynamics.scheme") {
        case "plain":
          maps.append(([[1, eta], [-eta * k, 1 - gamma * eta]], [[0, 0], [0, s2]]))
        case "symplectic":
          maps.append(
            (
              [[1 - eta * eta * k, eta * (1 - gamma * eta)], [-eta * k, 1 - gamma * eta]],
              [[eta * eta * s2, eta * s2], [eta * s2, s2]]
            ))
        case "baoab":
          let b = [[1.0, 0], [-eta * k / 2, 1]], a = [[1.0, eta / 2], [0, 1]]
          let e = Foundation.exp(-gamma * eta)
          let o = [[1.0, 0], [0, e]]
          let m = product(b, product(a, product(o, product(a, b))))
          let ba = product(b, a)
          let sO = (lambda * (1 - e * e)).squareRoot()
          let noise = [ba[0][1] * sO, ba[1][1] * sO]
          maps.append((m, [[noise[0] * noise[0], noise[0] * noise[1]], [noise[0] * noise[1], noise[1] * noise[1]]]))
        default: throw AnalysisError("w2-hitting-time: unknown underdamped scheme \(text("dynamics.scheme"))")
        }
      default: throw AnalysisError("w2-hitting-time has no recursion for \(kind) dynamics")
      }
      means.append([mean[c], vMean[c]])
      covariances.append([[std[c] * std[c], 0], [0, vStd[c] * vStd[c]]])
    }
    let n = try number("particles")
    func w2() -> Double {
      var s = 0.0
      for c in 0..<d {
        let deviation = covariances[c][0][0].squareRoot() - referenceSD[c]
        let offset = means[c][0] - referenceMean[c]
        s += offset * offset + deviation * deviation
      }
      // The sampling floor of the Gaussian fit of N independent points (first order in 1/N):
      // the mean's error tr Σ/N, and Σ̂^{1/2}'s, Σ_ij Var(Σ̂_ij)/(σ_i + σ_j)² with
      // Var(Σ̂_ij) = (σ_i²σ_j² + δ_ij σ_i⁴)/N.
      var floor = 0.0
      for i in 0..<d {
        let vi = covariances[i][0][0]
        floor += vi
        for j in 0..<d {
          let vj = covariances[j][0][0]
          let sum = vi.squareRoot() + vj.squareRoot()
          floor += (vi * vj + (i == j ? vi * vi : 0)) / (sum * sum)
        }
      }
      return (s + floor / n).squareRoot()
    }
    var hit: Double? = w2() <= threshold ? 0 : nil
    for step in 1...max(1, steps) {
      for c in 0..<d {
        let m = maps[c].m
        means[c] = [m[0][0] * means[c][0] + m[0][1] * means[c][1], m[1][0] * means[c][0] + m[1][1] * means[c][1]]
        var next = maps[c].q
        let s = covariances[c]
        for i in 0..<2 {
          for j in 0..<2 {
            var t = 0.0
            for a in 0..<2 { for b in 0..<2 { t += m[i][a] * s[a][b] * m[j][b] } }
            next[i][j] += t
          }
        }
        covariances[c] = next
      }
      guard step % max(1, every) == 0 || step == steps else { continue }
      let w = w2()
      if !(w <= threshold) {
        hit = nil
      } else if hit == nil {
        hit = Double(step) * eta
      }
    }
    guard let hit else {
      throw AnalysisError("the exact W2 does not stay at or below \(formatValue(threshold)) by the last step")
    }
    return hit
  }

  /// The potential of a group, rebuilt from its settings (the analytic kinds).
  static func potential(_ settings: [String: SettingValue], dimension d: Int) throws -> ConfiningPotential {
    let kind = settings["model.potential.kind"]?.description ?? ""
    func number(_ key: String) throws -> Double {
      guard let v = settings[key]?.number else { throw AnalysisError("the setting \(key) is missing") }
      return v
    }
    switch kind {
    case "none": return .none
    case "quadratic":
      let k = try vector(settings["model.potential.stiffness"], dimension: d)
      return Set(k).count == 1 ? .quadratic(stiffness: k[0]) : .anisotropicQuadratic(stiffness: k)
    case "double-well": return .doubleWell
    case "flat-sharp":
      return .flatSharp(
        sharp: try number("model.potential.sharp"), flat: try number("model.potential.flat"),
        transverse: try number("model.potential.transverse"))
    case "rosenbrock": return .rosenbrock(a: try number("model.potential.a"), b: try number("model.potential.b"))
    default: throw AnalysisError("no analytic form of a \(kind) potential")
    }
  }

  static func gradientFlowPosition(
    _ settings: [String: SettingValue], component: String?, time t: Double, l2: Double, initial: Double?
  ) throws -> Double {
    guard let d = settings["model.dimension"]?.number.map(Int.init) else {
      throw AnalysisError("gradient-flow-position needs model.dimension")
    }
    // A scalar metric (pde-mean: E x₁ of the PDE's marginal) is read against x1.
    let component = component ?? "x1"
    guard component.hasPrefix("x"), let c = Int(component.dropFirst()), c >= 1, c <= d else {
      throw AnalysisError("gradient-flow-position needs a coordinate of the mean (x1 … x\(d))")
    }
    guard ["", "none"].contains(settings["model.interaction.kind"]?.description ?? "") else {
      throw AnalysisError("gradient-flow-position is stated without an interaction")
    }
    let v = try potential(settings, dimension: d)
    // A linear drift moves the mean of any law like a point: from the run's own first sample
    // of the mean (the particles' initial mean), E m(t) = m(0) e^{−(κ_c + 2λ')t}, noise or not.
    switch v {
    case .quadratic(let k):
      if let initial { return initial * Foundation.exp(-(k + 2 * l2) * t) }
    case .anisotropicQuadratic(let k):
      if let initial { return initial * Foundation.exp(-(k[c - 1] + 2 * l2) * t) }
    default: break
    }
    guard settings["init.kind"]?.description == "gaussian",
      try vector(settings["init.std"], dimension: d).allSatisfy({ $0 == 0 })
    else {
      throw AnalysisError(
        "gradient-flow-position needs a start of standard deviation 0 (one point), or a quadratic V (whose flow moves the mean like a point)"
      )
    }
    let start = try vector(settings["init.mean"], dimension: d)
    switch v {
    case .quadratic(let k): return start[c - 1] * Foundation.exp(-(k + 2 * l2) * t)
    case .anisotropicQuadratic(let k): return start[c - 1] * Foundation.exp(-(k[c - 1] + 2 * l2) * t)
    default: break
    }
    func field(_ x: [Double]) -> [Double] {
      var g = [Double](repeating: 0, count: d)
      x.withUnsafeBufferPointer { p in
        g.withUnsafeMutableBufferPointer { v.gradient(p.baseAddress!, dimension: d, into: $0.baseAddress!) }
      }
      return (0..<d).map { -g[$0] - 2 * l2 * x[$0] }
    }
    func solve(_ n: Int) -> [Double] {
      let h = t / Double(n)
      var x = start
      for _ in 0..<n {
        let k1 = field(x)
        let k2 = field((0..<d).map { x[$0] + h / 2 * k1[$0] })
        let k3 = field((0..<d).map { x[$0] + h / 2 * k2[$0] })
        let k4 = field((0..<d).map { x[$0] + h * k3[$0] })
        x = (0..<d).map { x[$0] + h / 6 * (k1[$0] + 2 * k2[$0] + 2 * k3[$0] + k4[$0]) }
      }
      return x
    }
    var n = max(16, Int((t / 1e-5).rounded(.up)))
    var previous = solve(n)
    for _ in 0..<6 {
      n *= 2
      let next = solve(n)
      if abs(next[c - 1] - previous[c - 1]) <= 1e-12 * max(1, abs(next[c - 1])) { return next[c - 1] }
      previous = next
    }
    throw AnalysisError("the gradient flow did not converge to 1e-12 (a stiff or diverging flow)")
  }

  static func product(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
    [
      [a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1]],
      [a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1]],
    ]
  }

  /// E x and Var x at time t of dx = v dt, dv = −(γv + κx) dt + √(2γλ) dW from independent
  /// Gaussian x and v: the linear moment equations (mean 2, covariance 3 unknowns) by classical
  /// Runge–Kutta, the step halved until two solutions agree to 10⁻¹³ (relative).
  static func kineticMoments(
    stiffness k: Double, friction g: Double, temperature lambda: Double, mean: (Double, Double),
    variance: (Double, Double), time t: Double
  ) -> (mean: Double, variance: Double) {
    // y = (mx, mv, Sxx, Sxv, Svv)
    func rhs(_ y: [Double]) -> [Double] {
      [
        y[1], -k * y[0] - g * y[1],
        2 * y[3], y[4] - k * y[2] - g * y[3], -2 * k * y[3] - 2 * g * y[4] + 2 * g * lambda,
      ]
    }
    func solve(_ steps: Int) -> [Double] {
      var y = [mean.0, mean.1, variance.0, 0, variance.1]
      guard t > 0 else { return y }
      let h = t / Double(steps)
      for _ in 0..<steps {
        let k1 = rhs(y)
        let k2 = rhs(zip(y, k1).map { $0 + h / 2 * $1 })
        let k3 = rhs(zip(y, k2).map { $0 + h / 2 * $1 })
        let k4 = rhs(zip(y, k3).map { $0 + h * $1 })
        for i in 0..<5 { y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) }
      }
      return y
    }
    var steps = max(16, Int((t * max(1, k.squareRoot(), g) * 20).rounded(.up)))
    var previous = solve(steps)
    while steps < 1 << 24 {
      steps *= 2
      let next = solve(steps)
      let scale = max(1, abs(next[0]), abs(next[2]))
      if abs(next[0] - previous[0]) <= 1e-13 * scale && abs(next[2] - previous[2]) <= 1e-13 * scale {
        return (next[0], next[2])
      }
      previous = next
    }
    return (previous[0], previous[2])
  }

  /// A setting holding one number or a list `[a, b, …]`, as `dimension` numbers.
  static func vector(_ value: SettingValue?, dimension: Int) throws -> [Double] {
    guard let value else { throw AnalysisError("a setting of the start is missing") }
    if let x = value.number { return [Double](repeating: x, count: dimension) }
    let parts = value.description.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).split(separator: ",")
    let numbers = parts.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard numbers.count == parts.count, numbers.count == dimension else {
      throw AnalysisError("cannot read \(value) as \(dimension) numbers")
    }
    return numbers
  }

  /// The spectral gap of the 1-D Fokker–Planck generator `λ∂² − U'∂` on a grid of 4001 points
  /// covering all but e^{−40} of the Gibbs mass around the minima: the reversible jump process
  /// with rates `(λ/h²) e^{−(U_j − U_i)/2λ}` between neighbours, symmetrised to the tridiagonal
  /// matrix with off-diagonal λ/h², whose second-smallest eigenvalue of −S (the smallest is 0)
  /// is found by Sturm-sequence bisection.
  static func spectralGap(_ v: @escaping (Double) -> Double, l2: Double, temperature lambda: Double, centre: [Double])
    throws -> Double
  {
    let u = { (x: Double) in v(x) + l2 * x * x }
    let floor = centre.map(u).min() ?? u(0)
    var lo = (centre.min() ?? 0) - 1, hi = (centre.max() ?? 0) + 1
    while (u(lo) - floor) / lambda < 40 {
      lo -= 0.5
      if lo < -1e6 { throw AnalysisError("the Gibbs law is not confined") }
    }
    while (u(hi) - floor) / lambda < 40 {
      hi += 0.5
      if hi > 1e6 { throw AnalysisError("the Gibbs law is not confined") }
    }
    let n = 4001
    let h = (hi - lo) / Double(n - 1)
    let values = (0..<n).map { u(lo + Double($0) * h) }
    let k = lambda / (h * h)
    // A = −S: diagonal a_i, off-diagonal −k.
    var diagonal = [Double](repeating: 0, count: n)
    for i in 0..<n {
      if i > 0 { diagonal[i] += k * Foundation.exp(-(values[i - 1] - values[i]) / (2 * lambda)) }
      if i < n - 1 { diagonal[i] += k * Foundation.exp(-(values[i + 1] - values[i]) / (2 * lambda)) }
    }
    // Eigenvalues of A below x (Sturm count of the LDLᵀ pivots).
    func below(_ x: Double) -> Int {
      var count = 0
      var q = diagonal[0] - x
      if q < 0 { count += 1 }
      for i in 1..<n {
        q = diagonal[i] - x - k * k / (q == 0 ? 1e-300 : q)
        if q < 0 { count += 1 }
      }
      return count
    }
    var a = 0.0, b = diagonal.max()! * 2 + 4 * k
    for _ in 0..<200 {
      let mid = 0.5 * (a + b)
      if below(mid) >= 2 { b = mid } else { a = mid }
      if b - a <= 1e-13 * b { break }
    }
    return 0.5 * (a + b)
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
  static func landscape(_ settings: [String: SettingValue], basins: Bool = true) throws -> (
    v: (Double) -> Double, minima: [Double], labels: [String]
  ) {
    let kind = settings["model.potential.kind"]?.description ?? ""
    if !basins && kind == "quadratic" {
      guard let kappa = settings["model.potential.stiffness"]?.number else {
        throw AnalysisError("the quadratic potential's stiffness is missing")
      }
      return ({ x in 0.5 * kappa * x * x }, [0], [""])
    }
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
