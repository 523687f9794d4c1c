import Foundation
import MeanFieldDiagnostics

/// `mfsweep compare`: a distance or divergence between two point sets read from files.
public enum PointSetComparison {
  public struct Options: Sendable {
    public var epsilonFraction: Double
    public var tolerance: Double
    public var projections: Int
    public var seed: UInt64
    public var neighbours: Int
    public var threads: Int

    public init(epsilonFraction: Double, tolerance: Double, projections: Int, seed: UInt64, neighbours: Int, threads: Int) {
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
  }

  public struct Result: Sendable {
    public var metric: String
    /// W2 as a distance (not squared); KL in nats.
    public var value: Double
    public var method: String
    public var sizes: [Int]
    public var dimension: Int
    /// Further numbers (iterations, marginal error, standard error, ...).
    public var details: [(String, String)]

    public var json: String {
      func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
      var parts = [
        "\"metric\": \"\(metric)\"", "\"value\": \(number(value))", "\"method\": \"\(method)\"",
        "\"sizes\": [\(sizes.map(String.init).joined(separator: ", "))]", "\"dimension\": \(dimension)",
      ]
      for (k, v) in details { parts.append("\"\(k)\": \(v)") }
      return "{" + parts.joined(separator: ", ") + "}"
    }

    public var text: String {
      var s = "\(metric) = \(value)   (\(method); sizes \(sizes[0]) and \(sizes[1]); dimension \(dimension))"
      if !details.isEmpty { s += "\n  " + details.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
      return s
    }
  }

  /// Reads a point set; errors say which file and what is wrong.
  public static func load(_ text: String) throws -> Loaded {
    let source: MatrixSource
    do { source = try MatrixSource(parsing: text) } catch let e as MatrixError { throw LaunchError(e.description) }
    let matrix: Matrix
    do { matrix = try source.load() } catch let e as MatrixError { throw LaunchError(e.description) }
    guard matrix.rows >= 1 else { throw LaunchError("\(text): no points") }
    return Loaded(source: text, cloud: PointCloud(values: matrix.values, dimension: matrix.columns))
  }

  public static func compare(_ a: Loaded, _ b: Loaded, metric: String, options o: Options) throws -> Result {
    let x = a.cloud, y = b.cloud
    guard x.dimension == y.dimension else {
      throw LaunchError("the point sets have different dimensions: \(a.source) has \(x.dimension) columns, \(b.source) has \(y.dimension)")
    }
    let d = x.dimension
    do {
      switch metric {
      case "w2":
        if d == 1 {
          let v = try OptimalTransport.wasserstein1D(between: x, and: y)
          return Result(metric: metric, value: v, method: "exact (1-D quantile functions)", sizes: [x.count, y.count], dimension: d, details: [])
        }
        guard x.count == y.count else {
          throw LaunchError(
            "exact W2 in dimension \(d) needs equal sizes (\(x.count) and \(y.count) points); use --metric sinkhorn or sliced-w2")
        }
        let r = try OptimalTransport.exactWasserstein(between: x, and: y, threads: o.threads)
        return Result(
          metric: metric, value: r.distance, method: "exact (assignment)", sizes: [x.count, y.count], dimension: d,
          details: [("status", "\"\(r.status)\""), ("optimality_gap", "\(r.optimalityGap)")])
      case "sinkhorn":
        let maxCost = try OptimalTransport.maximumSquaredDistance(between: x, and: y, threads: o.threads)
        let epsilon = o.epsilonFraction * maxCost
        let r = try OptimalTransport.sinkhornDivergence(
          between: x, and: y, regularization: epsilon,
          options: SinkhornOptions(tolerance: o.tolerance, maxIterations: 100_000, threads: o.threads))
        return Result(
          metric: metric, value: max(0, r.divergence).squareRoot(), method: "debiased Sinkhorn divergence, sqrt(S_eps)",
          sizes: [x.count, y.count], dimension: d,
          details: [
            ("divergence", "\(r.divergence)"), ("epsilon", "\(epsilon)"), ("iterations", "\(r.cross.iterations)"),
            ("marginal_error", "\(r.cross.marginalError)"),
            ("single_precision_iterations", "\(r.cross.singlePrecisionIterations)"),
            ("converged", r.isConverged ? "true" : "false"),
          ])
      case "sliced-w2":
        let r = try OptimalTransport.slicedWasserstein(between: x, and: y, projections: o.projections, seed: o.seed, threads: o.threads)
        return Result(
          metric: metric, value: r.distance, method: "sliced W2, \(o.projections) directions, seed \(o.seed)",
          sizes: [x.count, y.count], dimension: d, details: [("standard_error", "\(r.standardError)")])
      default:
        let r = try klDivergence(of: x, relativeTo: y, k: o.neighbours, options: NeighbourSearchOptions(threads: o.threads))
        return Result(
          metric: "kl", value: r.value, method: "k-nearest neighbours (Wang-Kulkarni-Verdu), k = \(o.neighbours)",
          sizes: [x.count, y.count], dimension: d, details: [("zero_distance_pairs", "\(r.zeroDistancePairs)")])
      }
    } catch let error as TransportError {
      throw LaunchError("\(error)")
    } catch let error as DivergenceError {
      throw LaunchError("\(error)")
    }
  }
}
