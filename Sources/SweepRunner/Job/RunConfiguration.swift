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
  case tabulated, rosenbrock
}
enum InteractionKind: String, CaseIterable { case none, quadratic, gaussian }
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
    case .doubleWell, .flatSharp, .tabulated, .rosenbrock: stiffness = nil
    }
    var coupling = 0.0
    switch interaction {
    case .none: break
    case .quadraticAttraction(let c): coupling = c
    case .gaussianKernel: return .failure(.pairInteraction)
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
      return "has no closed-form stationary law with a Gaussian pair interaction; give a reference instead"
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
      if case .gaussianKernel = p.interaction { work = particles }
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
  var loaded: [String: Matrix] = [:]

  /// Reads the matrix named by the string at `cursor` (a path relative to `base`, or
  /// `file.h5:/dataset[i]`); errors point at the cursor.
  func load(_ cursor: Cursor, relativeTo base: String) throws -> (MatrixSource, Matrix) {
    do {
      let source = try MatrixSource(parsing: try cursor.string("a file path"), relativeTo: base)
      if let m = loaded[source.description] { return (source, m) }
      let m = try source.load()
      // Squared distances and sums of squares of job data must stay finite in every metric.
      if let i = m.values.firstIndex(where: { $0.magnitude > RunConfiguration.largestCoordinate }) {
        throw MatrixError(
          "\(source): row \(i / max(1, m.columns)) holds \(m.values[i]); job data must lie within ±1e100 (the metrics square and sum coordinates): rescale the units"
        )
      }
      loaded[source.description] = m
      return (source, m)
    } catch let error as MatrixError {
      throw cursor.error(error.description)
    }
  }
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

  static func decodeModel(_ cursor: Cursor, cache: MatrixCache) throws -> ModelSpec {
    guard cursor.isMapping else { throw cursor.error("expected a mapping with 'kind', found \(describe(cursor.node))") }
    let kind = try cursor.mapping(allowed: [
      "kind", "activation", "loss", "bias", "data", "parametrisation", "dimension", "potential", "interaction",
    ])
    .required("kind", "the model kind").kind(ModelKind.self)
    switch kind {
    case .potential:
      let m = try cursor.mapping(allowed: ["kind", "dimension", "potential", "interaction"])
      let d = try m.optional("dimension")?.int(where: { $0 >= 1 }, "a positive integer") ?? 1
      let v = try decodePotential(m.optional("potential"), dimension: d, cache: cache)
      let w = try decodeInteraction(m.optional("interaction"))
      return .potential(PotentialSpec(dimension: d, potential: v, interaction: w))
    case .twoLayerNetwork:
      let m = try cursor.mapping(allowed: ["kind", "activation", "loss", "bias", "data", "parametrisation"])
      let activation = try m.optional("activation")?.kind(Activation.self) ?? .tanh
      let loss = try m.optional("loss")?.kind(Loss.self) ?? .squared
      let bias = try m.optional("bias")?.bool() ?? false
      let data = try decodeData(
        m.required("data", "a mapping with 'kind: teacher' or 'kind: file'"), loss: loss, cache: cache)
      var spec = NetworkSpec(activation: activation, loss: loss, bias: bias, data: data)
      spec.parametrisation = try m.optional("parametrisation")?.kind(TwoLayerNetwork.Parametrisation.self) ?? .meanField
      return .twoLayerNetwork(spec)
    }
  }

  static func decodeData(_ cursor: Cursor, loss: Loss, cache: MatrixCache) throws -> DataSpec {
    let any = try cursor.mapping(allowed: ["kind", "inputs", "samples", "teacher-width", "noise", "seed", "path"])
    switch try any.required("kind", "the data kind").kind(DataKind.self) {
    case .file:
      let m = try cursor.mapping(allowed: ["kind", "path"])
      let pathCursor = try m.required("path", "a CSV file (columns z1..zp,y) or file.h5:/dataset")
      let (source, matrix) = try cache.load(pathCursor, relativeTo: baseDirectory(cursor))
      guard matrix.columns >= 2 else {
        throw pathCursor.error("\(source) has \(matrix.columns) column(s); expected the inputs z1..zp then the label y")
      }
      if loss == .logistic,
        let bad = stride(from: matrix.columns - 1, to: matrix.values.count, by: matrix.columns)
          .first(where: { matrix.values[$0] != 1 && matrix.values[$0] != -1 })
      {
        throw pathCursor.error(
          "the logistic loss needs labels ±1; row \(bad / matrix.columns) has \(matrix.values[bad])")
      }
      return .file(source: source, matrix: matrix)
    case .teacher:
      break
    }
    let m = try cursor.mapping(allowed: ["kind", "inputs", "samples", "teacher-width", "noise", "seed"])
    let inputs = try m.required("inputs", "the input dimension p").int(where: { $0 >= 1 }, "a positive integer")
    let samples = try m.required("samples", "the number of data points").int(where: { $0 >= 1 }, "a positive integer")
    let width = try m.optional("teacher-width")?.int(where: { $0 >= 1 }, "a positive integer") ?? 1
    let noise = try m.optional("noise")?.double(where: { $0 >= 0 }, "a non-negative number") ?? 0
    let seed = try m.optional("seed")?.int(where: { $0 >= 0 }, "a non-negative integer") ?? 0
    return .teacher(inputs: inputs, samples: samples, teacherWidth: width, noise: noise, seed: UInt64(seed))
  }

  static func decodePotential(_ cursor: Cursor?, dimension d: Int, cache: MatrixCache) throws -> ConfiningPotential {
    guard let cursor else { return .none }
    let every = [
      "kind", "stiffness", "sharp", "flat", "transverse", "lower", "upper", "values", "path", "wall", "a", "b",
    ]
    let any = try cursor.mapping(allowed: every)
    let kind = try any.required("kind", "one of \(PotentialKind.allCases.map(\.rawValue).joined(separator: ", "))")
      .kind(PotentialKind.self)
    let positive = { (v: Double) in v > 0 }
    switch kind {
    case .quadratic:
      let m = try cursor.kindMapping(allowed: ["kind", "stiffness"], every: every)
      let k = try m.optional("stiffness")?.doubles(where: positive, "a positive number") ?? [1]
      if k.count == 1 { return .quadratic(stiffness: k[0]) }
      guard k.count == d else {
        throw try m.required("stiffness", "").error(
          "has \(k.count) entries; expected one number or \(d) (one per coordinate)")
      }
      return Set(k).count == 1 ? .quadratic(stiffness: k[0]) : .anisotropicQuadratic(stiffness: k)
    case .rosenbrock:
      let m = try cursor.kindMapping(allowed: ["kind", "a", "b"], every: every)
      guard d == 2 else { throw try any.required("kind", "").error("rosenbrock is defined in model.dimension 2") }
      let a = try m.optional("a")?.double() ?? 1
      let b = try m.optional("b")?.double(where: positive, "a positive number") ?? 100
      return .rosenbrock(a: a, b: b)
    case .doubleWell:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .doubleWell
    case .flatSharp:
      let m = try cursor.kindMapping(allowed: ["kind", "sharp", "flat", "transverse"], every: every)
      let sharp = try m.required("sharp", "the curvature of the sharp minimum at x1 = -1").double(
        where: positive, "a positive number")
      let flat = try m.required("flat", "the curvature of the flat minimum at x1 = +1").double(
        where: positive, "a positive number")
      let transverse = try m.optional("transverse")?.double(where: positive, "a positive number") ?? 1
      return .flatSharp(sharp: sharp, flat: flat, transverse: transverse)
    case .tabulated:
      let m = try cursor.kindMapping(allowed: ["kind", "lower", "upper", "values", "path", "wall"], every: every)
      let lower = try m.required("lower", "the lower corner of the grid (1 or 2 numbers)").doubles(
        where: { _ in true }, "a number")
      let upper = try m.required("upper", "the upper corner of the grid").doubles(where: { _ in true }, "a number")
      guard lower.count == upper.count, lower.count <= 2 else {
        throw try m.required("upper", "").error("lower and upper must both have 1 or 2 entries")
      }
      for k in lower.indices where !(upper[k] > lower[k]) {
        throw try m.required("upper", "").error("upper must exceed lower in every coordinate")
      }
      if lower.count == 2 && d < 2 { throw try m.required("lower", "").error("a 2-D table needs model.dimension ≥ 2") }
      let wall = try m.optional("wall")?.double(where: positive, "a positive number") ?? 1
      var values: [Double], points: [Int]
      if let inline = m.optional("values") {
        if m.optional("path") != nil { throw inline.error("give either values or path, not both") }
        let rows = try inline.sequence()
        if lower.count == 1 {
          values = try rows.map { try $0.double() }
          points = [values.count]
        } else {
          let table = try rows.map { try $0.sequence().map { try $0.double() } }
          guard let width = table.first?.count, table.allSatisfy({ $0.count == width }) else {
            throw inline.error("a 2-D table is a list of rows of equal length")
          }
          values = table.flatMap { $0 }
          points = [table.count, width]
        }
      } else {
        let pathCursor = try m.required("path", "values: [...] or a file path")
        let (source, matrix) = try cache.load(pathCursor, relativeTo: baseDirectory(cursor))
        values = matrix.values
        points = lower.count == 1 ? [matrix.rows * matrix.columns] : [matrix.rows, matrix.columns]
        if lower.count == 1 && matrix.columns != 1 && matrix.rows != 1 {
          throw pathCursor.error(
            "a 1-D table needs one row or one column; \(source) is \(matrix.rows) × \(matrix.columns)")
        }
      }
      guard points.allSatisfy({ $0 >= 2 }) else {
        throw try m.required(m.optional("values") != nil ? "values" : "path", "").error(
          "a table needs at least 2 points per axis")
      }
      return .tabulated(TabulatedPotential(lower: lower, upper: upper, points: points, values: values, wall: wall))
    case .none:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .none
    }
  }

  static func decodeInteraction(_ cursor: Cursor?) throws -> Interaction {
    guard let cursor else { return .none }
    let kind = try cursor.mapping(allowed: ["kind", "strength", "width"])
      .required("kind", "one of \(InteractionKind.allCases.map(\.rawValue).joined(separator: ", "))").kind(
        InteractionKind.self)
    switch kind {
    case .quadratic:
      let m = try cursor.mapping(allowed: ["kind", "strength"])
      return .quadraticAttraction(strength: try m.optional("strength")?.double() ?? 1)
    case .gaussian:
      let m = try cursor.mapping(allowed: ["kind", "strength", "width"])
      let c = try m.optional("strength")?.double() ?? 1
      let s = try m.optional("width")?.double(where: { $0 > 0 }, "a positive number") ?? 1
      return .gaussianKernel(strength: c, width: s)
    case .none:
      _ = try cursor.mapping(allowed: ["kind"])
      return .none
    }
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
      let m = try cursor.kindMapping(allowed: ["kind", "path"], every: every)
      let pathCursor = try m.required("path", "a CSV file or file.h5:/dataset with N rows of d numbers")
      let (source, matrix) = try cache.load(pathCursor, relativeTo: baseDirectory(cursor))
      guard matrix.rows == particles, matrix.columns == d else {
        throw pathCursor.error(
          "\(source) is \(matrix.rows) × \(matrix.columns); expected \(particles) × \(d) (particles × dimension)")
      }
      return .points(matrix.values)
    case .zero:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .zero
    }
  }

  static func decodeDiagnostics(
    _ cursor: Cursor?, model: ModelSpec, dynamics: Dynamics, dimension d: Int, particles: Int, cache: MatrixCache
  ) throws -> DiagnosticsSpec {
    guard let cursor else { return DiagnosticsSpec(every: 10, metrics: [.loss, .secondMoment], snapshotsEvery: nil) }
    let m = try cursor.mapping(allowed: [
      "every", "metrics", "snapshots-every", "reference-sample", "w2-method", "neighbours", "sample-limit", "gaussian",
      "duy-weights", "summary", "terminal",
    ])
    let every = try m.optional("every")?.int(where: { $0 >= 1 }, "a positive integer") ?? 10
    var metrics: [Metric] = [.loss, .secondMoment]
    var metricCursors = [Metric: Cursor]()
    if let list = m.optional("metrics") {
      metrics = []
      for item in try list.sequence() {
        let metric = Metric(rawValue: try item.choice(Metric.allCases.map(\.rawValue)))!
        if metrics.contains(metric) { throw item.error("metric '\(metric.rawValue)' is listed twice") }
        metrics.append(metric)
        metricCursors[metric] = item
      }
    }
    var snapshots: Int? = nil
    if let c = m.optional("snapshots-every") {
      // `none`: no particle snapshots (sweeps of 10⁶ particles whose answer is in the metrics).
      snapshots = c.scalarText == "none" ? 0 : try c.int(where: { $0 >= 1 }, "a positive integer or none")
    }
    var spec = DiagnosticsSpec(every: every, metrics: metrics, snapshotsEvery: snapshots)
    spec.neighbours = try m.optional("neighbours")?.int(where: { $0 >= 1 }, "a positive integer") ?? 5
    spec.sampleLimit = try m.optional("sample-limit")?.int(where: { $0 >= 10 }, "an integer ≥ 10") ?? 20_000
    if let w = m.optional("w2-method") {
      spec.wassersteinMethod = WassersteinMethod(rawValue: try w.choice(WassersteinMethod.allCases.map(\.rawValue)))!
    }
    if let r = m.optional("reference-sample") {
      let (source, matrix) = try cache.load(r, relativeTo: baseDirectory(cursor))
      guard matrix.columns == d else {
        throw r.error("\(source) has \(matrix.columns) columns; the particles have dimension \(d)")
      }
      spec.referenceSample = matrix
    }
    // What each metric needs (its definition's requirements).
    func fail(_ metric: Metric, _ message: String) -> JobError {
      (metricCursors[metric] ?? cursor).error("metric \(metric.rawValue) \(message)")
    }
    let potential: PotentialSpec?
    if case .potential(let p) = model { potential = p } else { potential = nil }
    for metric in metrics {
      for need in metric.definition.needs {
        switch need {
        case .potentialModel:
          if potential == nil { throw fail(metric, "needs model.kind potential") }
        case .reluNetwork:
          guard case .twoLayerNetwork(let net) = model, net.activation == .relu else {
            throw fail(metric, "needs a two-layer-network with activation relu")
          }
        case .referenceSample:
          if spec.referenceSample == nil { throw fail(metric, "needs diagnostics.reference-sample (a file of points)") }
        case .referencePDE:
          break  // checked once the reference block is decoded
        case .neighbours:
          if min(particles, spec.sampleLimit) <= spec.neighbours {
            throw fail(metric, "needs more particles than diagnostics.neighbours = \(spec.neighbours)")
          }
        case .gibbsLaw:
          guard let p = potential else { throw fail(metric, "needs model.kind potential") }
          // At λ = 0 there is no Gibbs law: the metric is NaN with a note (a temperature sweep
          // may include 0).
          if dynamics.temperature > 0,
            case .failure(let problem) = p.stationaryLaw(temperature: dynamics.temperature, l2: dynamics.l2)
          {
            throw fail(metric, "\(problem)")
          }
          if case .none = p.potential, dynamics.l2 == 0 { throw fail(metric, "needs a confining potential or l2 > 0") }
        case .gaussian:
          break  // checked below with diagnostics.gaussian
        case .terminal:
          break  // checked below with diagnostics.terminal
        case .laplacian:
          if let p = potential, case .tabulated = p.potential {
            throw fail(metric, "needs a V with a closed-form Laplacian (a tabulated V is only C¹)")
          }
        case .minima:
          guard let p = potential else { throw fail(metric, "needs model.kind potential") }
          let classifier = BasinClassifier(potential: p.potential, dimension: p.dimension)
          guard !classifier.minima.isEmpty else {
            throw fail(
              metric, "needs a potential with isolated minima (quadratic, flat-sharp, a 1-D double well, or a table)")
          }
          spec.basinCount = classifier.minima.count
          if case .flatSharp = p.potential {
            spec.basinLabels = ["sharp", "flat"]
          } else {
            spec.basinLabels = classifier.minima.map {
              "minimum at (" + $0.map(formatValue).joined(separator: ", ") + ")"
            }
          }
        }
      }
    }
    if let list = m.optional("summary") {
      let table = try list.mappingOfAnyKeys()
      for name in table.keys {
        let keyCursor = table.keyCursor(name)
        guard let metric = Metric(rawValue: name) else {
          throw keyCursor.error(
            "'\(name)' is not a metric; expected one of \(Metric.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard metrics.contains(metric) else { throw keyCursor.error("metric \(name) is not in diagnostics.metrics") }
        let items = try table.optional(name)!.sequence()
        if items.isEmpty { throw keyCursor.error("needs at least one statistic (final, min, max, mean-last-K)") }
        spec.summary[metric] = try items.map { item in
          let text = try item.string("a statistic")
          guard let statistic = SummaryStatistic(text) else {
            throw item.error("'\(text)' is not a statistic; expected final, min, max or mean-last-K (K ≥ 1)")
          }
          return statistic
        }
      }
    }
    if let g = m.optional("gaussian") {
      let gm = try g.mapping(allowed: ["mean", "std", "covariance"])
      let mean = try gm.optional("mean")?.doubles(where: { _ in true }, "a number") ?? [0]
      guard mean.count == 1 || mean.count == d else {
        throw try gm.required("mean", "").error("needs 1 or \(d) numbers")
      }
      var covariance = [Double](repeating: 0, count: d * d)
      if let c = gm.optional("covariance") {
        let rows = try c.sequence().map { try $0.sequence().map { try $0.double() } }
        guard rows.count == d, rows.allSatisfy({ $0.count == d }) else {
          throw c.error("needs \(d) rows of \(d) numbers")
        }
        covariance = rows.flatMap { $0 }
      } else {
        let std = try gm.optional("std")?.doubles(where: { $0 > 0 }, "a positive number") ?? [1]
        guard std.count == 1 || std.count == d else {
          throw try gm.required("std", "").error("needs 1 or \(d) numbers")
        }
        for c in 0..<d { covariance[c * d + c] = pow(std.count == 1 ? std[0] : std[c], 2) }
      }
      spec.gaussian = GaussianSpec(
        mean: mean.count == 1 ? [Double](repeating: mean[0], count: d) : mean, covariance: covariance)
    } else if metrics.contains(.w2ToGaussian) {
      // The stationary law, when it is Gaussian (interactions accounted for).
      guard let p = potential,
        case .success(.gaussian(let stiffness)) = p.stationaryLaw(temperature: dynamics.temperature, l2: dynamics.l2)
      else {
        throw fail(
          .w2ToGaussian,
          "needs diagnostics.gaussian (mean and std or covariance), or a quadratic potential at λ > 0 (whose stationary law, with a quadratic interaction, is N(0, λ/(κ + 2λ' + c)))"
        )
      }
      var covariance = [Double](repeating: 0, count: d * d)
      for c in 0..<d { covariance[c * d + c] = dynamics.temperature / stiffness[c] }
      spec.gaussian = GaussianSpec(mean: [Double](repeating: 0, count: d), covariance: covariance)
    }
    if let t = m.optional("terminal") {
      guard metrics.contains(.hopfCole) else { throw t.error("terminal is the terminal cost of the hopf-cole metric") }
      let g = try decodePotential(t, dimension: d, cache: cache)
      if case .tabulated = g { throw t.error("the terminal cost is an analytic potential (not a table)") }
      spec.terminal = g
    } else if metrics.contains(.hopfCole) {
      throw fail(.hopfCole, "needs diagnostics.terminal, the terminal cost g (e.g. {kind: quadratic, stiffness: 2})")
    }
    if metrics.contains(.hopfCole) && !(dynamics.temperature > 0) {
      throw fail(.hopfCole, "needs λ > 0 (the viscosity ν of the equation is the temperature)")
    }
    if spec.basinCount > 0, let w = m.optional("duy-weights") {
      let weights = try w.doubles(where: { _ in true }, "a number")
      guard weights.count == spec.basinCount else {
        throw w.error("has \(weights.count) weights; the potential has \(spec.basinCount) minima")
      }
      spec.duyWeights = weights
    }
    return spec
  }
}
