import Foundation
import MeanFieldCore
import SweepStore

/// The landscape behind the theories: potentials rebuilt from settings, their minima, basins
/// and curvatures, Gibbs masses by quadrature and the Fokker–Planck spectral gap.
extension Theory {
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
    case "expression":
      let prefix = "model.potential.parameters."
      var parameters = [String: Double]()
      for (key, value) in settings where key.hasPrefix(prefix) {
        parameters[String(key.dropFirst(prefix.count))] = value.number
      }
      // The minima guesses, written as "[[a, b], [c, d]]".
      let flat = (settings["model.potential.minima"]?.description ?? "").split(whereSeparator: { "[], ".contains($0) })
        .compactMap { Double($0) }
      let minima = flat.count % d == 0 ? stride(from: 0, to: flat.count, by: d).map { Array(flat[$0..<($0 + d)]) } : []
      do {
        return .expression(
          try ExpressionPotential(
            settings["model.potential.V"]?.description ?? "", dimension: d, parameters: parameters, minima: minima))
      } catch {
        throw AnalysisError("the expression potential of the settings does not compile: \(error)")
      }
    default: throw AnalysisError("no analytic form of a \(kind) potential")
    }
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
    case "expression" where settings["model.dimension"]?.number == 1:
      let p = try potential(settings, dimension: 1)
      let minima = p.minima(dimension: 1).map { $0[0] }
      guard minima.count >= 2 else {
        throw AnalysisError("basin theories of an expression potential need two or more model.potential.minima")
      }
      return (
        { x in [x].withUnsafeBufferPointer { p.value(at: $0) } }, minima,
        minima.map { "minimum at (" + formatValue($0) + ")" }
      )
    default:
      throw AnalysisError(
        "basin theories need a flat-sharp potential, a 1-D double well or a 1-D expression potential with minima (the group has \(kind))"
      )
    }
  }

  /// V'' on the landscape's line: exact for an expression potential (its Hessian), a central
  /// difference of order h⁴ otherwise.
  static func curvatureFunction(_ settings: [String: SettingValue], _ v: @escaping (Double) -> Double) throws -> (
    Double
  ) -> Double {
    if settings["model.potential.kind"]?.description == "expression",
      case .expression(let e) = try potential(settings, dimension: 1)
    {
      return { e.hessian([$0])[0] }
    }
    return { curvature(v, at: $0) }
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
