import Foundation
import MeanFieldCore
import SweepStore

/// The exact laws of the dynamics behind the theories: the schemes' Gaussian recursions and
/// hitting times, gradient-flow positions, the kinetic moment equations.
extension Theory {
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
}
