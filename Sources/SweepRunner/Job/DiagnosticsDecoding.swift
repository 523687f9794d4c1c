import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import SweepStore

/// Decoding of `diagnostics:`: sampling, metrics and what each metric needs from the run.
extension RunConfiguration {
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
      // A path, or {path: ..., weights: column:NAME | file, header: auto | yes | no}.
      var pathCursor = r, weights: Cursor? = nil, header = CSVHeader.automatic
      if r.isMapping {
        let rm = try r.mapping(allowed: ["path", "weights", "header"])
        pathCursor = try rm.required("path", "a CSV file or file.h5:/dataset of reference points")
        weights = rm.optional("weights")
        header = try csvHeader(rm)
      }
      let (source, read) = try cache.load(
        pathCursor, relativeTo: baseDirectory(cursor), header: header, weights: weights)!
      guard read.matrix.columns == d else {
        throw pathCursor.error(
          "\(source) has \(read.matrix.columns) coordinate columns (\(read.matrix.headerNote)); the particles have dimension \(d)"
        )
      }
      spec.referenceSample = read.matrix
      spec.referenceWeights = read.weights
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
          if metric == .klToReference && spec.referenceWeights != nil {
            throw fail(
              metric, "needs an unweighted reference sample (the kNN estimator takes samples, not weighted points)")
          }
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
              metric,
              "needs a potential with isolated minima (quadratic, flat-sharp, a 1-D double well, a table, or an expression with model.potential.minima)"
            )
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
