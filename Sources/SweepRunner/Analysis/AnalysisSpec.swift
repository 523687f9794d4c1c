import Foundation
import MeanFieldDiagnostics
import Yams

/// One entry of a job's `analysis:` list: a question asked of the sweep's runs.
///
///     analysis:
///       - name: slope
///         kind: power-law            # curves | reduction | power-law | order | richardson | exponential-rate | plateau | …
///         metric: ntk-discrepancy
///         component: sharp           # for a vector metric: a label or an index
///         against: particles         # power-law: the grid key on the x axis
///         over: [seed]               # the replicate keys (default: seed, when it is swept)
///         by: [model.parametrisation]  # the keys that define the groups (default: the rest)
///         where: {dynamics.temperature: [0.2, 0.3]}   # only the runs with these values
///         at: final                  # final | {time: t} | {window: [t0, t1]} (time average)
///         window: [t0, t1]           # exponential-rate, plateau: the fitted time window
///         baseline: 2.0              # exponential-rate: fit log|y − baseline| (a value or a theory)
///         finest: largest            # richardson: which end of `against` is the finest grid
///         expect: {value: -0.5, tolerance: 0.08}   # or {theory: gibbs-basin-mass, tolerance: …}
///         confidence: 0.95
///         bootstrap: {samples: 2000, seed: 1}
public struct AnalysisSpec: Sendable, Equatable {
  public enum Kind: String, Sendable, CaseIterable {
    /// The metric against time, one line per group, with bands over the replicates.
    case curves
    /// Mean, standard deviation, standard error and confidence interval over the replicates.
    case reduction
    /// `y = C x^p` in a grid key, fitted on log–log group means.
    case powerLaw = "power-law"
    /// The order of convergence of a deterministic error in a grid key (a step size): the local
    /// orders `log(e_i/e_j)/log(x_i/x_j)` of successive values; the estimate is the finest
    /// pair's, the interval spans the two finest pairs' (how far the order still moves).
    case order
    /// `|y − baseline| = A e^{−r t}` over a time window.
    case exponentialRate = "exponential-rate"
    /// The time average of the metric over a window (a stationary value).
    case plateau
    /// The largest change `|y(t) − y(t₀)|` over the samples of every run (a conserved quantity).
    case conservation
    /// The first time after which the replicates' mean stays at or below `threshold`.
    case hittingTime = "hitting-time"
    /// The grid-converged value of a discretised quantity from its three finest values in a
    /// resolution key (`reference.cells`, a step): observed order and Richardson extrapolation.
    case richardson
  }

  /// Which end of the `against` key is the finest resolution (richardson).
  public enum Finest: String, Sendable, CaseIterable {
    /// More is finer (cells, particles).
    case largest
    /// Less is finer (a step or a spacing).
    case smallest
  }

  /// Which samples a value is read from.
  public enum Selection: Sendable, Equatable {
    /// The last recorded sample.
    case final
    /// The sample nearest to a time.
    case time(Double)
    /// The mean of the samples in [t0, t1].
    case window(Double, Double)
  }

  /// The value a result is held against.
  public enum Expected: Sendable, Equatable {
    case value(Double)
    case theory(Theory)
  }

  public var name: String
  public var kind: Kind
  public var metric: String
  /// Component of a vector metric (a label or an index as text); nil for scalars.
  public var component: String?
  public var against: String?
  public var over: [String]
  /// Only the runs whose swept keys have one of these values (`where:`).
  public var filter: [(key: String, values: [String])]
  /// The keys whose values define the groups (`by:`); nil: every swept key that is not a
  /// replicate key, the x axis or a key moving with it.
  public var by: [String]? = nil
  public var at: Selection
  public var window: (lower: Double, upper: Double)?
  public var baseline: Expected?
  /// hitting-time: the level the mean must reach and stay at or below.
  public var threshold: Double?
  /// power-law, order: fit the relative deviation |y − baseline|/|baseline| (each run's own).
  public var relative: Bool = false
  /// richardson: which end of `against` is the finest.
  public var finest: Finest = .largest
  public var expect: Expected?
  public var tolerance: Double
  public var confidence: Double
  public var bootstrapSamples: Int
  public var bootstrapSeed: UInt64

  public init(
    name: String, kind: Kind, metric: String, component: String? = nil, against: String? = nil,
    over: [String] = [], filter: [(key: String, values: [String])] = [], at: Selection = .final,
    window: (lower: Double, upper: Double)? = nil, baseline: Expected? = nil, threshold: Double? = nil,
    expect: Expected? = nil, tolerance: Double = 0, confidence: Double = 0.95, bootstrapSamples: Int = 2000,
    bootstrapSeed: UInt64 = 1, relative: Bool = false, by: [String]? = nil, finest: Finest = .largest
  ) {
    self.finest = finest
    self.relative = relative
    self.by = by
    self.name = name
    self.kind = kind
    self.metric = metric
    self.component = component
    self.against = against
    self.over = over
    self.filter = filter
    self.at = at
    self.window = window
    self.baseline = baseline
    self.threshold = threshold
    self.expect = expect
    self.tolerance = tolerance
    self.confidence = confidence
    self.bootstrapSamples = bootstrapSamples
    self.bootstrapSeed = bootstrapSeed
  }

  public static func == (a: AnalysisSpec, b: AnalysisSpec) -> Bool {
    a.name == b.name && a.kind == b.kind && a.metric == b.metric && a.component == b.component && a.against == b.against
      && a.over == b.over && a.filter.map(\.key) == b.filter.map(\.key)
      && a.filter.map(\.values) == b.filter.map(\.values) && a.at == b.at && a.threshold == b.threshold
      && a.window?.lower == b.window?.lower && a.window?.upper == b.window?.upper
      && a.baseline == b.baseline && a.expect == b.expect && a.tolerance == b.tolerance && a.confidence == b.confidence
      && a.bootstrapSamples == b.bootstrapSamples && a.bootstrapSeed == b.bootstrapSeed && a.relative == b.relative
      && a.by == b.by && a.finest == b.finest
  }
}

/// What the analyses may refer to: the job's swept keys and recorded metrics.
struct AnalysisContext {
  var sweptKeys: [String]
  /// Recorded metric names and the component labels of each.
  var metrics: [String: [String]]
}

extension AnalysisSpec {
  static let keys = [
    "name", "kind", "metric", "component", "against", "over", "by", "where", "at", "window", "baseline", "relative",
    "threshold", "expect", "confidence", "bootstrap", "finest",
  ]

  /// Decodes `analysis:` (a list of analyses).
  static func decodeList(_ cursor: Cursor?, context: AnalysisContext) throws -> [AnalysisSpec] {
    guard let cursor else { return [] }
    var out = [AnalysisSpec]()
    for item in try cursor.sequence() {
      let a = try decode(item, context: context)
      if out.contains(where: { $0.name == a.name }) { throw item.error("two analyses are named '\(a.name)'") }
      out.append(a)
    }
    return out
  }

  static func decode(_ cursor: Cursor, context: AnalysisContext) throws -> AnalysisSpec {
    let m = try cursor.mapping("a mapping with name, kind and metric", allowed: keys)
    let name = try m.required("name", "a name for the analysis").string("a name")
    if name.isEmpty || name.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
      throw try m.required("name", "").error("a name is letters, digits, '-' and '_'")
    }
    let kind = try m.required("kind", "one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))").kind(Kind.self)
    let metricCursor = try m.required("metric", "a metric the job records")
    let metric = try metricCursor.string("a metric name")
    guard let labels = context.metrics[metric] else {
      var message =
        "'\(metric)' is not among the job's metrics (\(context.metrics.keys.sorted().joined(separator: ", ")))"
      if let close = closestMatch(metric, in: Array(context.metrics.keys)) { message += " (did you mean '\(close)'?)" }
      throw metricCursor.error(message)
    }
    var component: String? = nil
    if let c = m.optional("component") {
      guard !labels.isEmpty else { throw c.error("\(metric) is a scalar metric; it has no components") }
      let text = c.scalarText ?? ""
      if let i = Int(text) {
        guard i >= 0 && i < labels.count else { throw c.error("component \(i) is out of range 0..<\(labels.count)") }
        component = labels[i]
      } else {
        guard labels.contains(text) else {
          throw c.error(
            "'\(text)' is not a component of \(metric); expected one of \(labels.joined(separator: ", ")) or an index")
        }
        component = text
      }
    } else if labels.count > 1 && kind != .curves {
      throw cursor.error("\(metric) has components (\(labels.joined(separator: ", "))): name one with 'component'")
    }
    func gridKey(_ c: Cursor) throws -> String {
      let key = try c.string("a swept key")
      guard context.sweptKeys.contains(key) else {
        throw c.error(
          "'\(key)' is not swept in this job (swept: \(context.sweptKeys.isEmpty ? "nothing" : context.sweptKeys.joined(separator: ", ")))"
        )
      }
      return key
    }
    var against: String? = nil
    if let c = m.optional("against") {
      guard kind == .powerLaw || kind == .order || kind == .richardson else {
        throw c.error("only a power-law, an order or a richardson estimate is fitted against a grid key")
      }
      against = try gridKey(c)
    } else if kind == .powerLaw || kind == .order || kind == .richardson {
      _ = try m.required("against", "the swept key on the x axis, e.g. particles")
    }
    var over = [String]()
    if let c = m.optional("over") {
      over = try c.isSequence ? c.sequence().map(gridKey) : [gridKey(c)]
    } else if context.sweptKeys.contains("seed") {
      over = ["seed"]
    }
    if let against, over.contains(against) { throw cursor.error("'\(against)' cannot be both 'against' and 'over'") }
    var by: [String]? = nil
    if let c = m.optional("by") {
      let keys = try c.isSequence ? c.sequence().map(gridKey) : [gridKey(c)]
      if let clash = keys.first(where: { over.contains($0) || $0 == against }) {
        throw c.error("'\(clash)' cannot both define the groups and be 'over' or 'against'")
      }
      by = keys
    }
    var filter = [(key: String, values: [String])]()
    if let c = m.optional("where") {
      let entries = try c.mappingOfAnyKeys("a mapping of swept keys to a value or a list of values")
      for name in entries.keys {
        let key = try gridKey(entries.keyCursor(name))
        let valueCursor = entries.optional(name)!
        let items = valueCursor.isSequence ? try valueCursor.sequence() : [valueCursor]
        let values = try items.map { item -> String in
          guard let text = item.scalarText else { throw item.error("expected a value of \(key)") }
          return text
        }
        guard !values.isEmpty else { throw valueCursor.error("expected at least one value of \(key)") }
        filter.append((key, values))
      }
    }
    var at = Selection.final
    if let c = m.optional("at") {
      if c.scalarText == "final" {
        at = .final
      } else {
        let a = try c.mapping("final, {time: t} or {window: [t0, t1]}", allowed: ["time", "window"])
        if let t = a.optional("time") {
          at = .time(try t.double(where: { $0 >= 0 }, "a time ≥ 0"))
        } else if let w = a.optional("window") {
          let (lo, hi) = try window(w)
          at = .window(lo, hi)
        } else {
          throw c.error("expected final, {time: t} or {window: [t0, t1]}")
        }
      }
    }
    var window: (lower: Double, upper: Double)? = nil
    if let c = m.optional("window") {
      guard kind == .exponentialRate || kind == .plateau else {
        throw c.error("a window belongs to exponential-rate and plateau")
      }
      window = try Self.window(c)
    } else if kind == .exponentialRate || kind == .plateau {
      _ = try m.required("window", "the time window [t0, t1]")
    }
    var baseline: Expected? = nil
    if let c = m.optional("baseline") {
      guard kind == .exponentialRate || kind == .powerLaw || kind == .order else {
        throw c.error("a baseline belongs to exponential-rate, power-law and order")
      }
      baseline = try expected(c)
    }
    var relative = false
    if let c = m.optional("relative") {
      guard baseline != nil, kind == .powerLaw || kind == .order else {
        throw c.error("relative belongs to a power-law or an order with a baseline")
      }
      relative = try c.bool()
    }
    var threshold: Double? = nil
    if let c = m.optional("threshold") {
      guard kind == .hittingTime else { throw c.error("a threshold belongs to hitting-time") }
      threshold = try c.double()
    } else if kind == .hittingTime {
      _ = try m.required("threshold", "the level the metric must reach and stay at or below")
    }
    var expect: Expected? = nil
    var tolerance = 0.0
    if let c = m.optional("expect") {
      guard kind != .curves else { throw c.error("curves are drawn, not tested; use reduction, plateau or a fit") }
      let e = try c.mapping(
        "{value: v, tolerance: t} or {theory: name, tolerance: t}", allowed: ["value", "theory", "tolerance"])
      if e.optional("value") != nil && e.optional("theory") != nil { throw c.error("give value or theory, not both") }
      if let v = e.optional("value") {
        expect = .value(try v.double())
      } else if let t = e.optional("theory") {
        expect = .theory(try t.kind(Theory.self))
      } else {
        throw c.error("expected {value: v} or {theory: name}")
      }
      tolerance = try e.optional("tolerance")?.double(where: { $0 >= 0 && $0.isFinite }, "a non-negative number") ?? 0
    }
    var finest = Finest.largest
    if let c = m.optional("finest") {
      guard kind == .richardson else { throw c.error("finest belongs to a richardson analysis") }
      finest = try c.kind(Finest.self)
    } else if kind == .richardson, let against {
      if against.hasSuffix("cells") || against == "particles" {
        finest = .largest
      } else if against.hasSuffix("step") {
        finest = .smallest
      } else {
        _ = try m.required("finest", "largest or smallest: which end of \(against) is the finest resolution")
      }
    }
    let confidence =
      try m.optional("confidence")?.double(where: { $0 > 0.5 && $0 < 1 }, "a level in (0.5, 1), e.g. 0.95") ?? 0.95
    var samples = 2000, seed: UInt64 = 1
    if let c = m.optional("bootstrap") {
      let b = try c.mapping(allowed: ["samples", "seed"])
      samples =
        try b.optional("samples")?.int(where: { $0 >= 100 && $0 <= 1_000_000 }, "between 100 and 1000000") ?? 2000
      seed = UInt64(try b.optional("seed")?.int(where: { $0 >= 0 }, "a non-negative integer") ?? 1)
    }
    return AnalysisSpec(
      name: name, kind: kind, metric: metric, component: component, against: against, over: over, filter: filter,
      at: at, window: window, baseline: baseline, threshold: threshold, expect: expect, tolerance: tolerance,
      confidence: confidence, bootstrapSamples: samples, bootstrapSeed: seed, relative: relative, by: by,
      finest: finest)
  }

  static func window(_ c: Cursor) throws -> (Double, Double) {
    let values = try c.sequence().map { try $0.double() }
    guard values.count == 2, values[0] >= 0, values[1] > values[0] else {
      throw c.error("expected [t0, t1] with 0 ≤ t0 < t1")
    }
    return (values[0], values[1])
  }

  static func expected(_ c: Cursor) throws -> Expected {
    if let text = c.scalarText, let v = Double(text) { return .value(v) }
    let m = try c.mapping("a number or {theory: name}", allowed: ["theory"])
    return .theory(try m.required("theory", "a theory name").kind(Theory.self))
  }

  /// The analyses of a job's text (read again from an output folder's job index): the
  /// `analysis` list, checked against the job's swept keys and metrics.
  static func decode(jobText: String, file: String, context: AnalysisContext) throws -> [AnalysisSpec] {
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: jobText) else { return [] }
      root = node
    } catch let error as YamlError {
      throw jobError(error, file: file)
    }
    let top = try Cursor(node: root, path: "", file: file).mappingOfAnyKeys()
    return try decodeList(top.optional("analysis"), context: context)
  }
}
