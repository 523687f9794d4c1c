import Foundation
import MeanFieldDiagnostics

/// A JSON number, or null for NaN and infinities (which JSON cannot hold).
func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }

/// `mfsweep compare`: a distance or divergence between two point sets read from files.
public enum PointSetComparison {
  public struct Options: Sendable {
    public var epsilonFraction: Double
    public var tolerance: Double
    public var projections: Int
    public var seed: UInt64
    public var neighbours: Int
    public var threads: Int

    public init(
      epsilonFraction: Double, tolerance: Double, projections: Int, seed: UInt64, neighbours: Int, threads: Int
    ) {
      self.epsilonFraction = epsilonFraction
      self.tolerance = tolerance
      self.projections = projections
      self.seed = seed
      self.neighbours = neighbours
      self.threads = threads
    }
  }

  /// A point set and where it came from.
  public struct Loaded: Sendable {
    public var source: String
    public var cloud: PointCloud
    /// The weights' total as given (1 without weights); the cloud's weights are normalised.
    public var weightTotal: Double = 1
    /// Whether a header row was read, for messages about sizes.
    public var headerNote: String = ""
  }

  public struct Result: Sendable {
    public var metric: String
    /// W2 as a distance (not squared); KL in nats.
    public var value: Double
    public var method: String
    /// Points in each set; nil for a law.
    public var sizes: [Int?]
    public var dimension: Int
    /// Further numbers (iterations, marginal error, standard error, ...).
    public var details: [(String, String)]

    public var json: String {
      var parts = [
        "\"metric\": \"\(metric)\"", "\"value\": \(number(value))", "\"method\": \"\(method)\"",
        "\"sizes\": [\(sizes.map { $0.map(String.init) ?? "null" }.joined(separator: ", "))]",
        "\"dimension\": \(dimension)",
      ]
      for (k, v) in details { parts.append("\"\(k)\": \(v)") }
      return "{" + parts.joined(separator: ", ") + "}"
    }

    public var text: String {
      let size = { (n: Int?) in n.map { "\($0) points" } ?? "a law" }
      var s = "\(metric) = \(value)   (\(method); \(size(sizes[0])) and \(size(sizes[1])); dimension \(dimension))"
      if !details.isEmpty { s += "\n  " + details.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
      return s
    }
  }

  /// Reads a point set and, when `weights` names them, its weights (`column:NAME`, or a
  /// file); errors say which file and what is wrong.
  public static func load(
    _ text: String, weights: String? = nil, header: CSVHeader = .automatic, weightsHeader: CSVHeader = .automatic
  ) throws -> Loaded {
    do {
      var source = try MatrixSource(parsing: text)
      source.header = header
      let w = try weights.map { try WeightSource(parsing: $0, header: weightsHeader) }
      let read = try WeightedPoints.load(source, weights: w)
      let matrix = read.matrix
      guard matrix.rows >= 1 else { throw LaunchError("\(text): no points") }
      return Loaded(
        source: text, cloud: PointCloud(values: matrix.values, dimension: matrix.columns, weights: read.weights),
        weightTotal: read.total, headerNote: matrix.headerNote)
    } catch let e as MatrixError {
      throw LaunchError(e.description)
    }
  }

  /// The power of two that brings the largest coordinate magnitude of both sets into [1, 2).
  /// The comparison runs at that scale, so squared distances never overflow (1e200
  /// coordinates) or lose their digits to subnormals (1e-300), and the printed lengths are
  /// exactly equivariant: scaling by a power of two is exact, W2, the Sinkhorn divergence's
  /// square root (ε is relative to the largest cost) and sliced W2 scale with it, and the kNN
  /// KL divergence does not change.
  static func lengthScale(_ x: PointCloud, _ y: PointCloud) -> Double {
    var largest = 0.0
    for v in x.values { largest = max(largest, v.magnitude) }
    for v in y.values { largest = max(largest, v.magnitude) }
    guard largest.isFinite, largest > 0 else { return 1 }
    return Double(sign: .plus, exponent: largest.exponent, significand: 1)
  }

  /// Rejects NaN and infinite coordinates, naming the file and the row.
  static func checkFinite(_ loaded: Loaded) throws {
    let d = loaded.cloud.dimension
    if let i = loaded.cloud.values.firstIndex(where: { !$0.isFinite }) {
      throw LaunchError(
        "\(loaded.source): point \(i / d) (row \(i / d + 1) of the data), coordinate \(i % d + 1) is \(loaded.cloud.values[i]); every coordinate must be a finite number"
      )
    }
  }

  /// The comparisons `compare` makes.
  public enum ComparisonMetric: String, CaseIterable, Sendable {
    case w2
    case sinkhorn
    case slicedW2 = "sliced-w2"
    case kl
  }

  public static func compare(_ a: Loaded, _ b: Loaded, metric: String, options o: Options) throws -> Result {
    try checkSameDimension(.sample(a), .sample(b))
    if metric == ComparisonMetric.kl.rawValue && (a.cloud.weights != nil || b.cloud.weights != nil) {
      throw LaunchError(
        "the kNN KL estimator needs unweighted samples; drop the weights, or compare weighted measures with --metric w2, sinkhorn, sliced-w2 or histogram-kl"
      )
    }
    try checkFinite(a)
    try checkFinite(b)
    let scale = lengthScale(a.cloud, b.cloud)
    var result = try compareScaled(
      scale == 1
        ? a.cloud
        : PointCloud(values: a.cloud.values.map { $0 / scale }, dimension: a.cloud.dimension, weights: a.cloud.weights),
      scale == 1
        ? b.cloud
        : PointCloud(values: b.cloud.values.map { $0 / scale }, dimension: b.cloud.dimension, weights: b.cloud.weights),
      metric: metric, options: o, scale: scale)
    if !result.value.isFinite {
      throw LaunchError("\(metric) is \(result.value) for these point sets; no finite value could be computed")
    }
    result.details.append(("length_scale", "\(scale)"))
    if a.cloud.weights != nil || b.cloud.weights != nil {
      result.details.append(("weights_total", "[\(number(a.weightTotal)), \(number(b.weightTotal))]"))
    }
    do {
      let overflowed = result.details.filter { $0.1 == "null" }.map(\.0)
      if !overflowed.isEmpty {
        result.details.append(
          (
            "null_reason",
            "\"\(overflowed.joined(separator: ", ")) exceed double precision in the input's units (squared lengths); the value itself was computed at length scale \(scale)\""
          ))
      }
    }
    return result
  }

  /// The comparison of clouds already scaled by `1/scale`; lengths are reported in the
  /// original units (squared ones may overflow to infinity there, and print as null).
  static func compareScaled(_ x: PointCloud, _ y: PointCloud, metric: String, options o: Options, scale: Double) throws
    -> Result
  {
    let d = x.dimension
    let s2 = scale * scale
    guard let kind = ComparisonMetric(rawValue: metric) else {
      throw LaunchError(
        "unknown metric \(metric); expected one of \(ComparisonMetric.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    do {
      switch kind {
      case .w2:
        if d == 1 {
          let v = try OptimalTransport.wasserstein1D(between: x, and: y) * scale
          return Result(
            metric: metric, value: v, method: "exact (1-D quantile functions)", sizes: [x.count, y.count], dimension: d,
            details: [])
        }
        if !OptimalTransport.isAssignment(x, y) {
          let r = try OptimalTransport.exactTransport(between: x, and: y, threads: o.threads)
          return Result(
            metric: metric, value: r.distance * scale, method: "exact (network simplex)", sizes: [x.count, y.count],
            dimension: d,
            details: [
              ("status", "\"\(r.status)\""),
              ("optimality_gap", number(r.optimalityGap == 0 ? 0 : r.optimalityGap * s2)),
              ("marginal_error", number(r.marginalError)), ("plan_entries", "\(r.plan.count)"),
              ("pivots", "\(r.pivots)"), ("pricing_rounds", "\(r.pricingRounds)"),
            ])
        }
        let r = try OptimalTransport.exactWasserstein(between: x, and: y, threads: o.threads)
        return Result(
          metric: metric, value: r.distance * scale, method: "exact (assignment)", sizes: [x.count, y.count],
          dimension: d,
          details: [
            ("status", "\"\(r.status)\""), ("optimality_gap", number(r.optimalityGap == 0 ? 0 : r.optimalityGap * s2)),
          ])
      case .sinkhorn:
        let maxCost = try OptimalTransport.maximumSquaredDistance(between: x, and: y, threads: o.threads)
        let epsilon = o.epsilonFraction * maxCost
        let r = try OptimalTransport.sinkhornDivergence(
          between: x, and: y, regularization: epsilon,
          options: SinkhornOptions(tolerance: o.tolerance, maxIterations: 100_000, threads: o.threads))
        return Result(
          metric: metric, value: max(0, r.divergence).squareRoot() * scale,
          method: "debiased Sinkhorn divergence, sqrt(S_eps)",
          sizes: [x.count, y.count], dimension: d,
          details: [
            ("divergence", number(r.divergence * s2)), ("epsilon", number(epsilon * s2)),
            ("iterations", "\(r.cross.iterations)"),
            ("marginal_error", number(r.cross.marginalError)),
            ("single_precision_iterations", "\(r.cross.singlePrecisionIterations)"),
            ("converged", r.isConverged ? "true" : "false"),
          ])
      case .slicedW2:
        let r = try OptimalTransport.slicedWasserstein(
          between: x, and: y, projections: o.projections, seed: o.seed, threads: o.threads)
        return Result(
          metric: metric, value: r.distance * scale, method: "sliced W2, \(o.projections) directions, seed \(o.seed)",
          sizes: [x.count, y.count], dimension: d, details: [("standard_error", number(r.standardError * scale))])
      case .kl:
        let r = try klDivergence(
          of: x, relativeTo: y, k: o.neighbours, options: NeighbourSearchOptions(threads: o.threads))
        return Result(
          metric: "kl", value: r.value, method: "k-nearest neighbours (Wang-Kulkarni-Verdu), k = \(o.neighbours)",
          sizes: [x.count, y.count], dimension: d, details: [("zero_distance_pairs", "\(r.zeroDistancePairs)")])
      }
    } catch let error as TransportError {
      throw LaunchError("\(error)")
    } catch let error as DivergenceError {
      throw LaunchError(metric == "kl" ? "\(error) for the kNN estimator with --k \(o.neighbours)" : "\(error)")
    }
  }
}
