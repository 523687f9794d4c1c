import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import SweepStore

/// The `kind` words of the job file, one enum per choice: every switch over them is exhaustive,
/// so a kind that is added but not decoded is a compile error, never a silent default.
enum ModelKind: String, CaseIterable {
  case twoLayerNetwork = "two-layer-network"
  case potential
}
enum DataKind: String, CaseIterable { case teacher, file }
enum PotentialKind: String, CaseIterable {
  case none, quadratic
  case doubleWell = "double-well"
  case flatSharp = "flat-sharp"
  case tabulated, rosenbrock, expression
}
enum InteractionKind: String, CaseIterable { case none, quadratic, gaussian, expression }
enum LawKind: String, CaseIterable { case gaussian, uniform, file, zero }

extension Cursor {
  /// A mapping with a `kind` whose keys must be the kind's own (`allowed`), unless the grid
  /// sweeps the kind: the keys of the other kinds (`every`) then stay in the file for the points
  /// that use them, and this point ignores them.
  func kindMapping(allowed: [String], every: [String]) throws -> MappingReader {
    let swept = try mapping(allowed: every).optional("kind")?.origin != nil
    return try mapping(allowed: swept ? every : allowed)
  }

  /// The value as one of an enum's words (with "did you mean" for a misspelling).
  func kind<K: RawRepresentable & CaseIterable>(_ type: K.Type) throws -> K where K.RawValue == String {
    K(rawValue: try choice(K.allCases.map(\.rawValue)))!
  }
}

/// The model of a run, as the job file states it.
public enum ModelSpec: Sendable, Equatable {
  case twoLayerNetwork(NetworkSpec)
  case potential(PotentialSpec)

  /// Particle dimension d: the inputs (plus one for a bias) plus the output weight, or the
  /// potential's dimension.
  public var dimension: Int {
    switch self {
    case .twoLayerNetwork(let net): return net.data.inputs + (net.bias ? 1 : 0) + 1
    case .potential(let p): return p.dimension
    }
  }

  /// The job-file word for the kind.
  public var kind: String {
    switch self {
    case .twoLayerNetwork: return "two-layer-network"
    case .potential: return "potential"
    }
  }
}

/// `model: {kind: two-layer-network, ...}`.
public struct NetworkSpec: Sendable, Equatable {
  public var activation: Activation
  public var loss: Loss
  public var bias: Bool
  public var data: DataSpec
  public var parametrisation: TwoLayerNetwork.Parametrisation = .meanField
}

/// `model: {kind: potential, dimension, potential: {...}, interaction: {...}}`.
public struct PotentialSpec: Sendable, Equatable {
  public var dimension: Int
  public var potential: ConfiningPotential
  public var interaction: Interaction

  public init(dimension: Int, potential: ConfiningPotential, interaction: Interaction) {
    self.dimension = dimension
    self.potential = potential
    self.interaction = interaction
  }
}

/// The stationary law of mean-field dynamics in a potential, when it can be stated exactly.
public enum StationaryLaw: Sendable, Equatable {
  /// N(0, diag(λ/k_c)): a quadratic V (stiffness κ_c per coordinate, or 0 without V) with a
  /// quadratic interaction of strength c (or none) and L2 weight λ': the Gibbs law of the
  /// quadratic U = Σ k_c x_c²/2 with k_c = κ_c + 2λ' + c (one entry per coordinate).
  case gaussian(stiffness: [Double])
  /// `exp(−(V + λ'|x|²)/λ)/Z` with Z by quadrature (V without interaction, d ≤ 2).
  case gibbsByQuadrature
}

extension PotentialSpec {
  /// The stationary law at temperature λ > 0 with L2 weight λ', or why it cannot be stated
  /// (the one place the Gibbs law's form is decided: the metrics' requirements, the default
  /// reference Gaussian and the density of kl-to-gibbs all ask here).
  public func stationaryLaw(temperature lambda: Double, l2: Double) -> Result<StationaryLaw, StationaryLawProblem> {
    guard lambda > 0 else { return .failure(.noTemperature) }
    var stiffness: [Double]? = nil
    switch potential {
    case .quadratic(let k): stiffness = [Double](repeating: k + 2 * l2, count: dimension)
    case .anisotropicQuadratic(let k): stiffness = k.map { $0 + 2 * l2 }
    case .none: stiffness = [Double](repeating: 2 * l2, count: dimension)
    case .doubleWell, .flatSharp, .tabulated, .rosenbrock, .expression: stiffness = nil
    }
    var coupling = 0.0
    switch interaction {
    case .none: break
    case .quadraticAttraction(let c): coupling = c
    case .gaussianKernel, .expression: return .failure(.pairInteraction)
    }
    if let k = stiffness {
      let total = k.map { $0 + coupling }
      guard total.allSatisfy({ $0 > 0 }) else { return .failure(.notConfining) }
      return .success(.gaussian(stiffness: total))
    }
    if coupling != 0 { return .failure(.interactionWithoutClosedForm) }
    if dimension > 2 { return .failure(.dimensionTooLarge) }
    return .success(.gibbsByQuadrature)
  }
}

/// Why a stationary law cannot be stated.
public enum StationaryLawProblem: Error, Sendable, CustomStringConvertible {
  case noTemperature, pairInteraction, notConfining, interactionWithoutClosedForm, dimensionTooLarge

  public var description: String {
    switch self {
    case .noTemperature: return "needs λ > 0 (at λ = 0 there is no Gibbs law)"
    case .pairInteraction:
      return
        "has no closed-form stationary law with a pair interaction (Gaussian or expression); give a reference instead"
    case .notConfining:
      return "needs κ + 2λ' + c > 0 (a confining quadratic potential, an L2 weight, or a stronger attraction)"
    case .interactionWithoutClosedForm:
      return
        "has a closed-form stationary law with a quadratic interaction only for a quadratic V (its self-consistent law is not the Gibbs law of V)"
    case .dimensionTooLarge: return "needs a quadratic potential or dimension ≤ 2 (log Z by quadrature)"
    }
  }
}

/// Where a network's data come from.
public enum DataSpec: Sendable, Equatable {
  case teacher(inputs: Int, samples: Int, teacherWidth: Int, noise: Double, seed: UInt64)
  /// Rows (z_1 … z_p, y) from a file.
  case file(source: MatrixSource, matrix: Matrix)

  /// Number of data points n.
  public var samples: Int {
    switch self {
    case .teacher(_, let n, _, _, _): return n
    case .file(_, let m): return m.rows
    }
  }

  /// Input dimension p (without bias).
  public var inputs: Int {
    switch self {
    case .teacher(let p, _, _, _, _): return p
    case .file(_, let m): return m.columns - 1
    }
  }
}

/// `diagnostics: {every, metrics, snapshots-every}`.
public struct DiagnosticsSpec: Sendable, Equatable {
  /// Metrics are recorded at steps 0, every, 2·every, ... and at the last step.
  public var every: Int
  /// Metrics, in the order given.
  public var metrics: [Metric]
  /// Particle snapshots at steps 0, k, 2k, ... and the last step; nil: the last step only;
  /// 0: none.
  public var snapshotsEvery: Int?
  /// The reference point set of w2-to-reference and kl-to-reference.
  public var referenceSample: Matrix? = nil
  /// Its weights as given (normalised where they are used), or nil for equal weights.
  public var referenceWeights: [Double]? = nil
  public var wassersteinMethod: WassersteinMethod = .automatic
  /// k of the kNN estimators.
  public var neighbours: Int = 5
  /// Particles entering the sample-based estimators at most.
  public var sampleLimit: Int = 20_000
  /// The reference Gaussian of w2-to-gaussian.
  public var gaussian: GaussianSpec? = nil
  /// f(w_i) per basin for the Duy integral (nil: V at each minimum).
  public var duyWeights: [Double]? = nil
  /// Number of basins (minima of V) when basin metrics are requested.
  public var basinCount: Int = 0
  /// A label per basin (`sharp`, `flat`, or the minimum's coordinates).
  public var basinLabels: [String] = []
  /// The terminal cost g of hopf-cole (`diagnostics.terminal`, a potential).
  public var terminal: ConfiningPotential? = nil
  /// Summary statistics per metric (`diagnostics.summary`); a metric not named here gets its
  /// definition's defaults.
  public var summary: [Metric: [SummaryStatistic]] = [:]

  /// The statistics `aggregate` reports for a metric.
  public func statistics(of metric: Metric) -> [SummaryStatistic] {
    summary[metric] ?? metric.definition.summaries
  }

  /// The steps at which metrics are recorded for a run of `steps` steps.
  public func sampleSteps(totalSteps steps: Int) -> [Int] {
    var s = Array(stride(from: 0, through: steps, by: every))
    if s.last != steps { s.append(steps) }
    return s
  }

  /// The steps at which particles are saved.
  public func snapshotSteps(totalSteps steps: Int) -> [Int] {
    guard let k = snapshotsEvery else { return [steps] }
    if k == 0 { return [] }
    var s = Array(stride(from: 0, through: steps, by: k))
    if s.last != steps { s.append(steps) }
    return s
  }
}

/// A Gaussian law given in the job (mean and row-major covariance).
public struct GaussianSpec: Sendable, Equatable {
  public var mean: [Double]
  public var covariance: [Double]
}

/// Everything one run needs, decoded from the job file with a grid point applied.
public struct RunConfiguration: Sendable, Equatable {
  /// Seed of the run's noise (the job's `seed`, or the grid's).
  public var seed: UInt64
  public var model: ModelSpec
  public var dynamics: Dynamics
  /// Number of steps.
  public var steps: Int
  /// Number of particles N.
  public var particles: Int
  public var initial: InitialLaw
  /// Law of the initial velocities (underdamped schemes).
  public var initialVelocity: InitialLaw
  public var diagnostics: DiagnosticsSpec
  /// Particles beyond this sup-norm mark the run diverged.
  public var bound: Double
  /// A PDE solved alongside, if any.
  public var reference: ReferenceSpec? = nil

  /// Labels of the basins of V (empty without basin metrics).
  public var basinLabels: [String] { diagnostics.basinLabels }

  /// Particle dimension d.
  public var dimension: Int { model.dimension }

  /// Work per particle and step beyond O(d): data points, or N for pairwise interactions.
  public var interactionWork: Int {
    switch model {
    case .twoLayerNetwork(let net): return net.data.samples
    case .potential(let p):
      var work = 1
      if p.interaction.isPairwise { work = particles }
      if dynamics.needsAllPositions { work = particles }
      return work
    }
  }

  /// Estimated cost: particles × steps × interaction work × dimension.
  public var cost: Double {
    Double(particles) * Double(steps) * Double(max(1, interactionWork)) * Double(dimension)
  }
}

/// Files read while decoding, shared by all runs that name the same source.
final class MatrixCache {
  var loaded: [String: WeightedPoints] = [:]

  /// Reads the matrix named by the string at `cursor` (a path relative to `base`, or
  /// `file.h5:/dataset[i]`), its CSV header read as `header` says; errors point at the cursor.
  func load(_ cursor: Cursor, relativeTo base: String, header: CSVHeader = .automatic) throws -> (MatrixSource, Matrix)
  {
    try load(cursor, relativeTo: base, header: header, weights: nil).map { ($0.0, $0.1.matrix) }!
  }

  /// Reads points and their weights (`column:NAME` or a file); see `WeightedPoints`.
  func load(_ cursor: Cursor, relativeTo base: String, header: CSVHeader, weights: Cursor?) throws -> (
    MatrixSource, WeightedPoints
  )? {
    do {
      var source = try MatrixSource(parsing: try cursor.string("a file path"), relativeTo: base)
      source.header = header
      // weights: column:NAME, a file, or {path: file, header: yes | no} (its own CSV rule).
      var weightsHeader = CSVHeader.automatic
      let weightSource = try weights.map { w -> WeightSource in
        var text = w
        if w.isMapping {
          let wm = try w.mapping(allowed: ["path", "header"])
          text = try wm.required("path", "a file of one weight per point")
          weightsHeader = try csvHeader(wm)
        }
        return try WeightSource(
          parsing: try text.string("column:NAME or a file"), relativeTo: base, header: weightsHeader)
      }
      let key = "\(source.description)|\(header.rawValue)|\(weightSource?.description ?? "")|\(weightsHeader.rawValue)"
      if let m = loaded[key] { return (source, m) }
      let m = try WeightedPoints.load(source, weights: weightSource)
      // Squared distances and sums of squares of job data must stay finite in every metric.
      if let i = m.matrix.values.firstIndex(where: { $0.magnitude > RunConfiguration.largestCoordinate }) {
        throw MatrixError(
          "\(source): row \(i / max(1, m.matrix.columns)) holds \(m.matrix.values[i]); job data must lie within ±1e100 (the metrics square and sum coordinates): rescale the units"
        )
      }
      loaded[key] = m
      return (source, m)
    } catch let error as MatrixError {
      throw cursor.error(error.description)
    }
  }
}

/// `header: auto | yes | no` of a mapping that names a file (default auto).
func csvHeader(_ m: MappingReader) throws -> CSVHeader {
  try m.optional("header").map { CSVHeader(rawValue: try $0.choice(CSVHeader.allCases.map(\.rawValue)))! } ?? .automatic
}

extension RunConfiguration {
  /// The largest coordinate a run may hold (`dynamics.bound` and job data): squares and sums
  /// of squares of such numbers stay far from overflow in every metric.
  static let largestCoordinate = 1e100

  static let topLevelKeys = [
    "name", "description", "seed", "model", "dynamics", "particles", "init", "velocity-init",
    "diagnostics", "sweep", "parallel", "output", "checkpoint", "reference", "analysis",
  ]

  /// Decodes a run from the job's (grid-substituted) root mapping.
  static func decode(_ root: MappingReader, cache: MatrixCache) throws -> RunConfiguration {
    try root.rejectUnknownKeys(allowed: topLevelKeys)
    let seedValue = try root.optional("seed")?.int(where: { $0 >= 0 }, "a non-negative integer") ?? 0
    let particles = try root.required("particles", "the number of particles")
      .int(where: { $0 >= 1 }, "a positive integer")
    let model = try decodeModel(root.required("model", "a mapping with 'kind'"), cache: cache)
    let (dynamics, steps, bound) = try decodeDynamics(root.required("dynamics", "a mapping with 'kind'"))
    let d = model.dimension
    if dynamics.scheme is MALA {
      var independent = false
      if case .potential(let p) = model, case .none = p.interaction { independent = true }
      if !independent {
        throw try root.required("dynamics", "").error(
          "mala needs particles in a potential without interaction (each particle is its own Metropolis chain)")
      }
    }
    let initial = try decodeInitial(
      root.optional("init"), dimension: d, particles: particles, cache: cache,
      defaultLaw: .gaussian(mean: [0], std: [1]))
    var initialVelocity = InitialLaw.zero
    let kindIsSwept = (try? root.required("dynamics", "").mappingOfAnyKeys().optional("kind")?.origin) != nil
    if let velocity = root.optional("velocity-init"), dynamics.hasVelocities || !kindIsSwept {
      guard dynamics.hasVelocities else {
        throw velocity.error("only underdamped dynamics have velocities")
      }
      initialVelocity = try decodeInitial(velocity, dimension: d, particles: particles, cache: cache, defaultLaw: .zero)
    } else if dynamics.hasVelocities {
      // The Maxwellian at the run's temperature.
      let t = dynamics.temperature
      initialVelocity = t > 0 ? .gaussian(mean: [0], std: [t.squareRoot()]) : .zero
    }
    let diagnostics = try decodeDiagnostics(
      root.optional("diagnostics"), model: model, dynamics: dynamics, dimension: d, particles: particles, cache: cache)
    let reference = try decodeReference(
      root.optional("reference"), model: model, dynamics: dynamics, initial: initial, initialVelocity: initialVelocity,
      diagnostics: diagnostics)
    for metric in diagnostics.metrics where metric.definition.needs.contains(.referencePDE) && reference == nil {
      throw (root.optional("diagnostics") ?? root.cursor).error(
        "metric \(metric.rawValue) needs a reference PDE (the 'reference' block)")
    }
    if diagnostics.metrics.contains(.l1ToPDEPhaseSpace), let r = reference, r.kind != .kineticFokkerPlanck {
      throw (root.optional("diagnostics") ?? root.cursor).error(
        "l1-to-pde-phase-space needs a kinetic-fokker-planck reference (a density in x and v)")
    }
    if diagnostics.metrics.contains(.w2ToPDEMarginal), let r = reference, r.cells.count != 1 {
      throw (root.optional("diagnostics") ?? root.cursor).error("w2-to-pde-marginal needs a 1-D reference grid")
    }
    return RunConfiguration(
      seed: UInt64(seedValue), model: model, dynamics: dynamics, steps: steps, particles: particles,
      initial: initial, initialVelocity: initialVelocity, diagnostics: diagnostics, bound: bound, reference: reference)
  }

  static func baseDirectory(_ cursor: Cursor) -> String {
    parentFolder(cursor.file)
  }

  /// Decodes `dynamics`: the kind selects a scheme (``Dynamics/schemes``), whose declared fields
  /// say which keys it takes, what each accepts and its default.
  static func decodeDynamics(_ cursor: Cursor) throws -> (Dynamics, Int, Double) {
    let kinds = Dynamics.kinds
    /// `kind`, the fields (with `steps` after `step`), `bound`: the order of messages.
    func keys(_ fields: [String]) -> [String] {
      var out = ["kind"]
      for f in fields where !out.contains(f) {
        out.append(f)
        if f == "step" { out.append("steps") }
      }
      if !out.contains("steps") { out.append("steps") }
      return out + ["bound"]
    }
    var fieldKeys = [String]()
    for type in Dynamics.schemes {
      for kind in type.kinds {
        for f in type.fields(kind: kind) where !fieldKeys.contains(f.key) { fieldKeys.append(f.key) }
      }
    }
    let everyKey = keys(fieldKeys)
    let kind = try cursor.mapping(allowed: everyKey).required("kind", "one of \(kinds.joined(separator: ", "))").choice(
      kinds)
    guard let type = Dynamics.scheme(ofKind: kind) else { throw cursor.error("unknown dynamics kind \(kind)") }
    let fields = type.fields(kind: kind)
    // When the grid sweeps the kind, the keys of the other kinds (friction, scheme, blob, …) stay
    // in the file for the points that use them: this point ignores them.
    let kindIsSwept = try cursor.mapping(allowed: everyKey).optional("kind")?.origin != nil
    let m = try cursor.mapping(allowed: kindIsSwept ? everyKey : keys(fields.map(\.key)))
    var values = [String: SchemeValue]()
    for field in fields {
      guard let c = m.optional(field.key) else {
        guard let value = field.defaultValue else { _ = try m.required(field.key, field.meaning); continue }
        values[field.key] = value
        continue
      }
      switch field.accepts {
      case .number(let requirement, let isValid): values[field.key] = .number(try c.double(where: isValid, requirement))
      case .integer(let requirement, let isValid): values[field.key] = .integer(try c.int(where: isValid, requirement))
      case .choice(let words): values[field.key] = .choice(try c.choice(words))
      }
    }
    let steps = try m.required("steps", "the number of steps").int(where: { $0 >= 1 }, "a positive integer")
    let bound =
      try m.optional("bound")?.double(
        where: { $0 > 0 && $0 <= largestCoordinate }, "a positive number of at most 1e100") ?? 1e8
    return (Dynamics(type.init(kind: kind, values: values)), steps, bound)
  }

  static func decodeInitial(
    _ cursor: Cursor?, dimension d: Int, particles: Int, cache: MatrixCache, defaultLaw: InitialLaw
  ) throws -> InitialLaw {
    guard let cursor else { return defaultLaw }
    let every = ["kind", "mean", "std", "lower", "upper", "path"]
    let kind = try cursor.mapping(allowed: every)
      .required("kind", "one of \(LawKind.allCases.map(\.rawValue).joined(separator: ", "))").kind(LawKind.self)
    func checkCount(_ m: MappingReader, _ key: String, _ values: [Double]) throws {
      if values.count != 1 && values.count != d {
        throw try m.required(key, "").error(
          "has \(values.count) entries; expected one number or \(d) (the particle dimension)")
      }
    }
    switch kind {
    case .gaussian:
      let m = try cursor.kindMapping(allowed: ["kind", "mean", "std"], every: every)
      let mean = try m.optional("mean")?.doubles(where: { _ in true }, "a number") ?? [0]
      let std = try m.optional("std")?.doubles(where: { $0 >= 0 }, "a non-negative number") ?? [1]
      try checkCount(m, "mean", mean)
      try checkCount(m, "std", std)
      return .gaussian(mean: mean, std: std)
    case .uniform:
      let m = try cursor.kindMapping(allowed: ["kind", "lower", "upper"], every: every)
      let lower = try m.required("lower", "the lower corner").doubles(where: { _ in true }, "a number")
      let upper = try m.required("upper", "the upper corner").doubles(where: { _ in true }, "a number")
      try checkCount(m, "lower", lower)
      try checkCount(m, "upper", upper)
      for c in 0..<d where !((upper.count == 1 ? upper[0] : upper[c]) > (lower.count == 1 ? lower[0] : lower[c])) {
        throw try m.required("upper", "").error("must exceed lower in every coordinate")
      }
      return .uniform(lower: lower, upper: upper)
    case .file:
      let m = try cursor.kindMapping(allowed: ["kind", "path", "header"], every: every)
      let pathCursor = try m.required("path", "a CSV file or file.h5:/dataset with N rows of d numbers")
      let (source, matrix) = try cache.load(pathCursor, relativeTo: baseDirectory(cursor), header: try csvHeader(m))
      guard matrix.rows == particles, matrix.columns == d else {
        throw pathCursor.error(
          "\(source) is \(matrix.rows) × \(matrix.columns) (\(matrix.headerNote)); expected \(particles) × \(d) (particles × dimension)"
        )
      }
      return .points(matrix.values)
    case .zero:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .zero
    }
  }

}
