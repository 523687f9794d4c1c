import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Yams

/// A law given by its density, an operand of `mfsweep compare`:
///
///     {gaussian: {mean: [0, 0], covariance: [[1, 0.3], [0.3, 2]]}}
///     {gibbs: {dimension: 2, potential: {kind: double-well}, temperature: 0.5, l2: 0}}
///
/// written inline (an argument that starts with `{`) or in a `.yaml`/`.yml` file. A Gaussian's
/// covariance is a full matrix (a list of rows), a list of d variances (diagonal) or one
/// variance (isotropic). The Gibbs law `exp(−(V + λ'|x|²)/λ)/Z` takes the potential as a job
/// file's `model.potential` does; Z is closed-form for quadratic V, by quadrature for d ≤ 2.
public struct GivenLaw: Sendable {
  /// The Gaussian, when the law is one (closed forms apply).
  public var gaussian: GaussianLaw?
  /// `log π(x)`.
  public var density: any LogDensity
  /// How the law was written, for messages and output.
  public var source: String
  public var dimension: Int { density.dimension }

  /// Whether a `compare` argument names a law rather than a point set.
  static func isLaw(_ argument: String) -> Bool {
    argument.hasPrefix("{") || argument.hasSuffix(".yaml") || argument.hasSuffix(".yml")
  }

  /// Reads a law from an argument: inline YAML, or the path of a YAML file.
  /// `label` names an inline law in messages ("law A"); relative paths inside it (a
  /// tabulated potential) are read from the current folder.
  static func load(_ argument: String, label: String = "A") throws -> GivenLaw {
    if argument.hasPrefix("{") {
      var law = try parse(yaml: argument, file: "law \(label)")
      law.source = argument
      return law
    }
    guard FileManager.default.fileExists(atPath: argument) else { throw LaunchError("\(argument): no such file") }
    guard let data = FileManager.default.contents(atPath: argument), let text = String(data: data, encoding: .utf8)
    else { throw LaunchError("\(argument): not a readable UTF-8 text file") }
    return try parse(yaml: text, file: argument)
  }

  static func parse(yaml text: String, file: String) throws -> GivenLaw {
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: text) else {
        throw LaunchError("\(file): empty; expected {gaussian: {...}} or {gibbs: {...}}")
      }
      root = node
    } catch let error as YamlError {
      throw LaunchError(jobError(error, file: file).description)
    }
    do {
      let top = try Cursor(node: root, path: "", file: file).mapping(
        "{gaussian: {...}} or {gibbs: {...}}", allowed: ["gaussian", "gibbs"])
      if let g = top.optional("gaussian") {
        if top.optional("gibbs") != nil { throw g.error("a law is either gaussian or gibbs, not both") }
        return try gaussian(g, file: file)
      }
      guard let g = top.optional("gibbs") else {
        throw top.cursor.error(
          "expected {gaussian: {mean, covariance}} or {gibbs: {dimension, potential, temperature, l2}}")
      }
      return try gibbs(g, file: file)
    } catch let error as JobError {
      throw LaunchError(error.description)
    }
  }

  static func gaussian(_ cursor: Cursor, file: String) throws -> GivenLaw {
    let m = try cursor.mapping(allowed: ["mean", "covariance"])
    let mean = try m.required("mean", "the mean (a list of numbers)").doubles(where: { $0.isFinite }, "a number")
    let d = mean.count
    let c = try m.required("covariance", "a d × d matrix (list of rows), d variances or one variance")
    var covariance = [Double](repeating: 0, count: d * d)
    let rows = c.isSequence ? try c.sequence() : []
    if let first = rows.first, first.isSequence {
      guard rows.count == d else {
        throw c.error("expected \(d) rows (the mean has \(d) entries), found \(rows.count)")
      }
      for (i, row) in rows.enumerated() {
        let r = try row.doubles(where: { $0.isFinite }, "a number")
        guard r.count == d else { throw row.error("expected \(d) entries, found \(r.count)") }
        for j in 0..<d { covariance[i * d + j] = r[j] }
      }
      for i in 0..<d {
        for j in 0..<i
        where abs(covariance[i * d + j] - covariance[j * d + i]) > 1e-12
          * max(abs(covariance[i * d + j]), abs(covariance[j * d + i]))
        {
          throw c.error(
            "not symmetric: entry (\(i + 1), \(j + 1)) is \(covariance[i * d + j]) but (\(j + 1), \(i + 1)) is \(covariance[j * d + i])"
          )
        }
      }
    } else {
      let v = try c.doubles(where: { $0 > 0 && $0.isFinite }, "a positive variance")
      guard v.count == 1 || v.count == d else {
        throw c.error("expected one variance, \(d) variances or a \(d) × \(d) matrix, found \(v.count) numbers")
      }
      for i in 0..<d { covariance[i * d + i] = v.count == 1 ? v[0] : v[i] }
    }
    do {
      let law = try GaussianLaw(mean: mean, covariance: covariance)
      return GivenLaw(gaussian: law, density: law, source: file)
    } catch {
      throw c.error("not positive definite (\(error)); a Gaussian law needs a positive definite covariance")
    }
  }

  static func gibbs(_ cursor: Cursor, file: String) throws -> GivenLaw {
    let m = try cursor.mapping(allowed: ["dimension", "potential", "temperature", "l2"])
    let d = try m.optional("dimension")?.int(where: { $0 >= 1 }, "a positive integer") ?? 1
    let lambda = try m.required("temperature", "the temperature λ > 0").double(where: { $0 > 0 }, "a positive number")
    let l2 = try m.optional("l2")?.double(where: { $0 >= 0 }, "a non-negative number") ?? 0
    let potentialCursor = try m.required("potential", "a potential, as model.potential of a job file")
    let v = try RunConfiguration.decodePotential(potentialCursor, dimension: d, cache: MatrixCache())
    let spec = PotentialSpec(dimension: d, potential: v, interaction: .none)
    do {
      return GivenLaw(gaussian: nil, density: try spec.gibbsDensity(temperature: lambda, l2: l2), source: file)
    } catch {
      let text = "\(error)"
      let reason = text.hasPrefix("kl-to-gibbs ") ? String(text.dropFirst(12)) : text
      throw cursor.error("no Gibbs law can be computed: \(reason)")
    }
  }
}

/// Cell masses of a density on a grid, by Gauss–Legendre quadrature in each cell.
enum CellMasses {
  /// The n-point Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_n from the
  /// Chebyshev guesses; converged to rounding for n ≤ 64).
  static func gaussLegendre(_ n: Int) -> (nodes: [Double], weights: [Double]) {
    precondition(n >= 2)
    var nodes = [Double](repeating: 0, count: n), weights = nodes
    for i in 0..<n {
      var x = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
      var derivative = 1.0
      for _ in 0..<100 {
        // P_{n−1}(x) and P_n(x) by the three-term recurrence.
        var previous = 1.0, current = x
        for k in 2...n {
          let next = (Double(2 * k - 1) * x * current - Double(k - 1) * previous) / Double(k)
          previous = current
          current = next
        }
        derivative = Double(n) * (x * current - previous) / (x * x - 1)
        let step = current / derivative
        x -= step
        if abs(step) <= 1e-15 * abs(x) { break }
      }
      nodes[i] = x
      weights[i] = 2 / ((1 - x * x) * derivative * derivative)
    }
    return (nodes, weights)
  }

  /// `∫_cell π` for every cell of `grid` (flat, axis 0 slowest), `points` Gauss–Legendre
  /// nodes per axis per cell.
  static func of(_ density: any LogDensity, on grid: UniformGrid, points: Int = 16) -> [Double] {
    let (t, w) = gaussLegendre(points)
    let h = grid.widths, d = grid.dimension
    var masses = [Double](repeating: 0, count: grid.cellCount)
    var x = [Double](repeating: 0, count: d)
    for c in 0..<grid.cellCount {
      let index = d == 1 ? [c] : [c / grid.cells[1], c % grid.cells[1]]
      var sum = 0.0
      let inner = d == 1 ? 1 : points
      for i in 0..<points {
        for j in 0..<inner {
          x[0] = grid.lower[0] + (Double(index[0]) + 0.5 + 0.5 * t[i]) * h[0]
          var weight = w[i]
          if d == 2 {
            x[1] = grid.lower[1] + (Double(index[1]) + 0.5 + 0.5 * t[j]) * h[1]
            weight *= w[j]
          }
          sum += weight * exp(x.withUnsafeBufferPointer { density.logDensity(at: $0) })
        }
      }
      masses[c] = sum * grid.cellVolume / Double(1 << d)
    }
    return masses
  }
}

extension PointSetComparison {
  /// A `compare` operand: a point set, or a law given by its density.
  public enum Operand: Sendable {
    case sample(Loaded)
    case law(GivenLaw)

    var dimension: Int {
      switch self {
      case .sample(let s): s.cloud.dimension
      case .law(let l): l.dimension
      }
    }
    var size: Int? {
      if case .sample(let s) = self { return s.cloud.count }
      return nil
    }
    var source: String {
      switch self {
      case .sample(let s): s.source
      case .law(let l): l.source
      }
    }
  }

  /// Reads an operand: a law (inline `{…}` or a `.yaml` file) or a point set.
  public static func loadOperand(
    _ text: String, weights: String?, header: CSVHeader, weightsHeader: CSVHeader = .automatic, label: String = "A"
  ) throws -> Operand {
    if GivenLaw.isLaw(text) {
      if weights != nil { throw LaunchError("\(text) is a law; weights belong to point sets") }
      return .law(try GivenLaw.load(text, label: label))
    }
    return .sample(try load(text, weights: weights, header: header, weightsHeader: weightsHeader))
  }

  /// A grid `LO:HI:CELLS` per axis, axes separated by commas (`-3:3:60,-2:2:40`).
  public static func parseGrid(_ text: String) throws -> UniformGrid {
    var lower = [Double](), upper = [Double](), cells = [Int]()
    for axis in text.split(separator: ",", omittingEmptySubsequences: false) {
      let f = axis.split(separator: ":", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard f.count == 3, let lo = Double(f[0]), let hi = Double(f[1]), let n = Int(f[2]), lo.isFinite, hi.isFinite,
        hi > lo, n >= 1, n <= 1_000_000
      else {
        throw LaunchError(
          "--grid \(text): each axis is LO:HI:CELLS with LO < HI finite and 1 ≤ CELLS ≤ 10⁶ (axes separated by commas), found '\(axis)'"
        )
      }
      guard (hi - lo).isFinite, (hi - lo) / Double(n) >= 1e-150 else {
        throw LaunchError("--grid \(text): the cells of '\(axis)' are too wide or too narrow for double precision")
      }
      lower.append(lo)
      upper.append(hi)
      cells.append(n)
    }
    let volume = (0..<cells.count).reduce(1.0) { $0 * (upper[$1] - lower[$1]) / Double(cells[$1]) }
    guard volume.isFinite, volume >= 1e-300 else {
      throw LaunchError("--grid \(text): a cell's volume (\(volume)) is outside double precision's range")
    }
    guard cells.count <= 2, cells.reduce(1, *) <= 1_000_000 else {
      throw LaunchError("--grid \(text): histograms have 1 or 2 axes and at most 10⁶ cells")
    }
    return UniformGrid(lower: lower, upper: upper, cells: cells)
  }

  /// Compares operands; point sets against point sets as ``compare(_:_:metric:options:)``,
  /// laws by their closed forms, samples against laws by the kNN estimator, and either on a
  /// histogram grid.
  public static func compare(_ a: Operand, _ b: Operand, metric: String, options o: Options, grid: UniformGrid?)
    throws -> Result
  {
    try checkSameDimension(a, b)
    if metric == "histogram-kl" {
      guard let grid else { throw LaunchError("--metric histogram-kl needs --grid LO:HI:CELLS[,LO:HI:CELLS]") }
      return try histogramKL(a, b, grid: grid)
    }
    if grid != nil { throw LaunchError("--grid is for --metric histogram-kl") }
    switch (a, b) {
    case (.sample(let x), .sample(let y)): return try compare(x, y, metric: metric, options: o)
    case (.law(let p), .law(let q)): return try closedForm(p, q, metric: metric)
    case (.sample(let x), .law(let q)):
      guard metric == "kl" else {
        throw LaunchError(
          "a point set against a law: --metric kl (the kNN estimate of KL(sample ‖ law)) or histogram-kl with --grid; \(metric) needs two point sets or two Gaussian laws"
        )
      }
      if x.cloud.weights != nil { throw LaunchError("the kNN KL estimator needs an unweighted sample") }
      try checkFinite(x)
      do {
        let r = try klDivergence(
          of: x.cloud, relativeTo: q.density, k: o.neighbours, options: NeighbourSearchOptions(threads: o.threads))
        return Result(
          metric: "kl", value: r.value,
          method: "k-nearest-neighbour entropy (Kozachenko-Leonenko), k = \(o.neighbours), and the law's log density",
          sizes: [x.cloud.count, nil], dimension: x.cloud.dimension,
          details: [
            ("entropy", number(r.entropy.value)), ("mean_log_density", number(r.meanLogDensity)),
            ("zero_distance_pairs", "\(r.entropy.zeroDistancePairs)"),
          ])
      } catch {
        throw LaunchError("\(error) for the kNN estimator with --k \(o.neighbours)")
      }
    case (.law, .sample):
      throw LaunchError(
        "a law against a point set: the kNN estimator gives KL(sample ‖ law); give the point set first and the law second"
      )
    }
  }

  /// Refuses operands of different dimensions, saying for a point set whether a header row was
  /// read (the usual cause).
  static func checkSameDimension(_ a: Operand, _ b: Operand) throws {
    guard a.dimension != b.dimension else { return }
    let describe = { (o: Operand) -> String in
      switch o {
      case .sample(let s): "\(s.source) has \(s.cloud.dimension) coordinate columns (\(s.headerNote))"
      case .law(let l): "\(l.source) has dimension \(l.dimension)"
      }
    }
    throw LaunchError("the point sets have different dimensions: \(describe(a)), \(describe(b))")
  }

  /// Closed forms between two Gaussian laws: W2 by the Bures formula, KL both ways.
  static func closedForm(_ p: GivenLaw, _ q: GivenLaw, metric: String) throws -> Result {
    guard let g = p.gaussian, let h = q.gaussian else {
      throw LaunchError(
        "closed forms are for two Gaussian laws; a Gibbs law is compared by --metric histogram-kl with --grid (d ≤ 2), or by kl against a sample"
      )
    }
    let result = try closedFormValue(g, h, metric: metric)
    guard result.value.isFinite, result.details.allSatisfy({ $0.1 != "null" }) else {
      throw LaunchError("\(metric) overflows double precision for these laws; rescale them")
    }
    return result
  }

  static func closedFormValue(_ g: GaussianLaw, _ h: GaussianLaw, metric: String) throws -> Result {
    let d = g.dimension
    switch metric {
    case "w2":
      let v = try OptimalTransport.gaussianWasserstein(
        mean1: g.mean, covariance1: g.covariance, mean2: h.mean, covariance2: h.covariance)
      return Result(
        metric: "w2", value: v, method: "closed form (Bures)", sizes: [nil, nil], dimension: d, details: [])
    case "kl":
      return Result(
        metric: "kl", value: klDivergence(of: g, relativeTo: h), method: "closed form, KL(A ‖ B)",
        sizes: [nil, nil], dimension: d, details: [("kl_reverse", number(klDivergence(of: h, relativeTo: g)))])
    default:
      throw LaunchError(
        "two Gaussian laws: --metric w2 (Bures), kl (both ways) or histogram-kl with --grid; not \(metric)")
    }
  }

  /// KL(A ‖ B) between histograms on a stated grid: a sample's binned mass (weighted or
  /// counts), a law's cell masses by quadrature; both normalised to their mass on the grid.
  static func histogramKL(_ a: Operand, _ b: Operand, grid: UniformGrid) throws -> Result {
    guard a.dimension == grid.dimension else {
      throw LaunchError("--grid has \(grid.dimension) axes but the sets have dimension \(a.dimension)")
    }
    var details = [(String, String)]()
    var masses = [[Double]]()
    for (operand, side) in [(a, "a"), (b, "b")] {
      switch operand {
      case .sample(let s):
        try checkFinite(s)
        let h = GridDensity.histogram(of: s.cloud, on: grid)
        if s.cloud.weights == nil {
          let n = Double(s.cloud.count)
          details.append(
            (
              "counts_\(side)",
              "[" + h.density.masses.map { "\(Int(($0 * n).rounded()))" }.joined(separator: ", ") + "]"
            ))
          details.append(("outside_count_\(side)", "\(h.outsideCount)"))
        }
        details.append(("outside_mass_\(side)", number(h.outsideMass)))
        masses.append(h.density.masses)
      case .law(let l):
        let m = CellMasses.of(l.density, on: grid)
        details.append(("masses_\(side)", "[" + m.map { number($0) }.joined(separator: ", ") + "]"))
        details.append(("outside_mass_\(side)", number(max(0, 1 - m.reduce(0, +)))))
        masses.append(m)
      }
    }
    for (m, operand) in zip(masses, [a, b]) where !(m.reduce(0, +) > 0) {
      throw LaunchError("\(operand.source) has no mass on the grid; widen --grid")
    }
    // klDivergence normalises each to its mass on the grid; +∞ is refused here, with the cell.
    if let c = masses[0].indices.first(where: { masses[0][$0] > 0 && masses[1][$0] == 0 }) {
      throw LaunchError(
        "KL(A ‖ B) is +∞ on this grid: cell \(c) holds \(masses[0][c] / masses[0].reduce(0, +)) of A's mass on the grid and none of B's; coarsen --grid or give B more points"
      )
    }
    let p = GridDensity(grid: grid, masses: masses[0])
    let q = GridDensity(grid: grid, masses: masses[1])
    let grids = (0..<grid.dimension).map { "[\(grid.lower[$0]), \(grid.upper[$0]), \(grid.cells[$0])]" }
    details.insert(("grid", "[" + grids.joined(separator: ", ") + "]"), at: 0)
    return Result(
      metric: "histogram-kl", value: klDivergence(of: p, relativeTo: q),
      method: "histograms on the grid (each normalised to its mass on the grid), KL(A ‖ B)",
      sizes: [a.size, b.size], dimension: grid.dimension, details: details)
  }
}
