import Foundation
import MeanFieldCore
import SweepStore

/// How a result compares with what it is held against.
public enum Verdict: String, Sendable, Codable {
  /// The expected value lies within the interval widened by the tolerance, and the interval is
  /// no wider than the tolerance allows.
  case consistent
  /// The expected value lies outside the interval widened by the tolerance.
  case inconsistent
  /// The expected value is within reach, but the interval is too wide to tell (more replicates
  /// or longer windows are needed).
  case inconclusive
}

/// One group of runs of an analysis (runs that differ only in the replicate keys, and for a
/// power law in the key on the x axis) and what was found for it.
public struct GroupResult: Sendable {
  /// The group's values of the other swept keys.
  public var labels: [(key: String, value: String)]
  /// Runs used.
  public var runs: [Int]
  /// Curves: times, mean, band (confidence interval of the mean), replicates per time.
  public var times: [Double] = []
  public var mean: [Double] = []
  public var lower: [Double] = []
  public var upper: [Double] = []
  /// Points of a fit or a reduction: x (the key's value or the time), mean, standard error, n.
  public var points: [(x: Double, y: Double, se: Double, n: Int)] = []
  /// The fitted or reduced value, its confidence interval, and how it was obtained.
  public var estimate: Double?
  public var interval: (lower: Double, upper: Double)?
  public var method: String = ""
  /// Fit details: intercept (power law: log C; rate: log A), χ²/dof, R².
  public var intercept: Double?
  public var chiSquarePerDegree: Double?
  public var rSquared: Double?
  /// Replicate statistics (reduction, plateau): standard deviation, standard error.
  public var standardDeviation: Double?
  public var standardError: Double?
  /// The baseline subtracted before a fit (exponential-rate, power-law), when there is one;
  /// for a Richardson estimate, the finest grid's value.
  public var baseline: Double?
  /// Richardson: the observed order of convergence.
  public var observedOrder: Double?
  /// What it is held against.
  public var expected: Double?
  public var tolerance: Double = 0
  public var verdict: Verdict?
  /// The numbers that decided the verdict, or why there is none.
  public var reason: String = ""

  public init(labels: [(key: String, value: String)], runs: [Int]) {
    self.labels = labels
    self.runs = runs
  }
}

/// The outcome of one analysis.
public struct AnalysisResult: Sendable {
  public var spec: AnalysisSpec
  public var groups: [GroupResult]
  /// Problems (runs without the metric, theory that could not be computed).
  public var notes: [String]
}

/// The data an analysis reads: the runs of a sweep with their settings and results.
public struct AnalysisData: Sendable {
  public var runs: [DatasetRun]
  public var sweptKeys: [String]

  public init(runs: [DatasetRun], sweptKeys: [String]) {
    self.runs = runs
    self.sweptKeys = sweptKeys
  }

  func setting(_ run: DatasetRun, _ key: String) -> SettingValue? {
    run.settings.first { $0.key == key }?.value
  }

  /// A setting as a number on an axis: numeric settings, and text holding one number (a 1-D
  /// `reference.cells` is stored as the text of its list).
  func axis(_ run: DatasetRun, _ key: String) -> Double? {
    switch setting(run, key) {
    case .string(let s)?:
      // One number, or a list of equal ones (`64 64`: a grid refined alike on every axis).
      let values = s.split(whereSeparator: { $0 == " " || $0 == "," }).map { Double($0) }
      guard let first = values.first ?? nil, values.allSatisfy({ $0 == first }) else { return nil }
      return first
    case let v?: return v.number
    case nil: return nil
    }
  }
}

/// Carries out analyses: groups the runs, reduces over replicates, fits, and decides verdicts.
/// The one place where the numbers of a report are computed.
public enum Analyzer {
  /// The samples (times and values) of a run's metric component; nil when the run has none.
  static func series(_ run: DatasetRun, metric: String, component: String?) -> (times: [Double], values: [Double])? {
    guard let r = run.result, let m = r.metrics.first(where: { $0.info.name == metric }) else { return nil }
    let w = m.info.width
    var c = 0
    if let component {
      guard let i = m.info.labels.firstIndex(of: component) else { return nil }
      c = i
    }
    let samples = m.samples
    let times = Array(r.sampleTimes.prefix(samples))
    let values = (0..<samples).map { m.values[$0 * w + c] }
    return (times, values)
  }

  /// The value a run gives under a selection.
  static func select(_ s: (times: [Double], values: [Double]), _ at: AnalysisSpec.Selection) -> Double {
    switch at {
    case .final:
      return s.values.last(where: { $0.isFinite }) ?? .nan
    case .time(let t):
      guard let i = s.times.indices.min(by: { abs(s.times[$0] - t) < abs(s.times[$1] - t) }) else { return .nan }
      return s.values[i]
    case .window(let lo, let hi):
      let inside = s.times.indices.filter { s.times[$0] >= lo && s.times[$0] <= hi && s.values[$0].isFinite }
      return inside.isEmpty ? .nan : inside.reduce(0) { $0 + s.values[$1] } / Double(inside.count)
    }
  }

  /// Runs grouped by the swept keys other than `excluded`, in first-seen order.
  static func groups(_ data: AnalysisData, excluding excluded: [String], runs selected: [Int]) -> [(
    labels: [(key: String, value: String)], runs: [Int]
  )] {
    let keys = data.sweptKeys.filter { !excluded.contains($0) }
    var order = [String]()
    var members = [String: (labels: [(key: String, value: String)], runs: [Int])]()
    for i in selected {
      let run = data.runs[i]
      let labels = keys.map { ($0, data.setting(run, $0)?.description ?? "") }
      let id = labels.map { "\($0.0)=\($0.1)" }.joined(separator: "\u{1F}")
      if members[id] == nil {
        order.append(id)
        members[id] = (labels, [])
      }
      members[id]!.runs.append(i)
    }
    return order.map { members[$0]! }
  }

  /// Runs every analysis.
  public static func run(_ specs: [AnalysisSpec], on data: AnalysisData) -> [AnalysisResult] {
    specs.map { analyse($0, data) }
  }

  /// Whether a run's setting is one of the values a `where:` names (numbers compared as numbers).
  static func matches(_ value: SettingValue?, _ wanted: [String]) -> Bool {
    guard let value else { return false }
    if let x = value.number {
      return wanted.contains { Double($0) == x || $0 == value.description }
    }
    return wanted.contains(value.description)
  }

  static func analyse(_ spec: AnalysisSpec, _ data: AnalysisData) -> AnalysisResult {
    var notes = [String]()
    var excluded = spec.over
    if let against = spec.against { excluded.append(against) }
    // The key of a `where:` with one value is the same for every run: it labels no group.
    excluded += spec.filter.filter { $0.values.count == 1 }.map(\.key)
    let selected = data.runs.indices.filter { i in
      spec.filter.allSatisfy { matches(data.setting(data.runs[i], $0.key), $0.values) }
    }
    if selected.isEmpty && !spec.filter.isEmpty {
      notes.append(
        "no run has "
          + spec.filter.map { "\($0.key) in [\($0.values.joined(separator: ", "))]" }.joined(separator: " and "))
    }
    // A key with one value among the selected runs labels no group.
    for key in data.sweptKeys where !excluded.contains(key) {
      let values = Set(selected.map { data.setting(data.runs[$0], key)?.description ?? "" })
      if values.count == 1 { excluded.append(key) }
    }
    // Keys that move with the x axis (a zip partner: `dynamics.steps` beside `dynamics.step`)
    // are part of the x value, not groups of their own.
    if let against = spec.against {
      for key in data.sweptKeys where !excluded.contains(key) {
        var partner = [String: String]()
        var distinct = Set<String>()
        var functional = true
        for i in selected {
          let x = data.setting(data.runs[i], against)?.description ?? ""
          let y = data.setting(data.runs[i], key)?.description ?? ""
          distinct.insert(y)
          if let seen = partner[x], seen != y {
            functional = false
            break
          }
          partner[x] = y
        }
        if functional && distinct.count > 1 { excluded.append(key) }
      }
    }
    if let by = spec.by { excluded = data.sweptKeys.filter { !by.contains($0) } }
    var results = [GroupResult]()
    for (labels, members) in groups(data, excluding: excluded, runs: selected) {
      var g = GroupResult(labels: labels, runs: members)
      let usable = members.filter { series(data.runs[$0], metric: spec.metric, component: spec.component) != nil }
      if usable.count < members.count {
        notes.append("\(members.count - usable.count) run(s) of group \(describe(labels)) have no \(spec.metric) yet")
      }
      guard !usable.isEmpty else {
        g.reason = "no run of the group has recorded \(spec.metric)"
        results.append(g)
        continue
      }
      let all = usable.map { series(data.runs[$0], metric: spec.metric, component: spec.component)! }
      switch spec.kind {
      case .curves:
        curves(&g, all, confidence: spec.confidence)
      case .reduction:
        let values = all.map { select($0, spec.at) }.filter(\.isFinite)
        meanInterval(&g, values, confidence: spec.confidence)
      case .plateau:
        let window = spec.window!
        let values = all.map { select($0, .window(window.lower, window.upper)) }.filter(\.isFinite)
        curves(&g, all, confidence: spec.confidence)
        meanInterval(&g, values, confidence: spec.confidence)
      case .powerLaw, .order:
        powerLaw(&g, spec, data, usable)
      case .exponentialRate:
        exponentialRate(&g, spec, data, usable, all)
      case .conservation:
        curves(&g, all, confidence: spec.confidence)
        conservation(&g, all)
      case .hittingTime:
        curves(&g, all, confidence: spec.confidence)
        hittingTime(&g, spec, all)
      case .richardson:
        richardson(&g, spec, data, usable)
      }
      if let expect = spec.expect, g.estimate != nil {
        do {
          g.expected = try resolve(
            expect, spec, data.runs[usable[0]], time: time(of: spec, g, all.compactMap { $0.times.last }.max()))
          g.tolerance = spec.tolerance
          decide(&g)
        } catch {
          g.reason = "no expected value: \(error)"
        }
      }
      results.append(g)
    }
    return AnalysisResult(spec: spec, groups: results, notes: notes)
  }

  /// The time at which a time-dependent theory is evaluated: the selected time, or the last
  /// sample's for `at: final`; nil for a window.
  static func time(of spec: AnalysisSpec, _ g: GroupResult, _ lastTime: Double?) -> Double? {
    switch spec.at {
    case .final: return lastTime
    case .time(let t): return t
    case .window: return nil
    }
  }

  /// The value of an expectation or baseline for a group (its first run's settings).
  static func resolve(
    _ e: AnalysisSpec.Expected, _ spec: AnalysisSpec, _ run: DatasetRun, time: Double?, initial: Double? = nil
  ) throws -> Double {
    switch e {
    case .value(let v): return v
    case .theory(let t):
      let settings = Dictionary(run.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
      let key =
        "\(t.rawValue)|\(spec.component ?? "")|\(time.map { "\($0)" } ?? "")|\(spec.threshold.map { "\($0)" } ?? "")|"
        + "\(initial.map { "\($0)" } ?? "")|"
        + settings.filter { $0.key != "seed" || initial != nil }.map { "\($0.key)=\($0.value)" }.sorted().joined(
          separator: ";")
      if let cached = theoryCache.value(key) { return cached }
      let v = try t.value(
        settings: settings, component: spec.component, time: time, threshold: spec.threshold, initial: initial)
      theoryCache.store(key, v)
      return v
    }
  }

  /// Theory values already computed in this process (a quadrature or an ODE solve per group,
  /// not per run).
  static let theoryCache = TheoryCache()

  final class TheoryCache: @unchecked Sendable {
    private var values = [String: Double]()
    private let lock = NSLock()
    func value(_ key: String) -> Double? { lock.withLock { values[key] } }
    func store(_ key: String, _ v: Double) { lock.withLock { values[key] = v } }
  }

  /// The largest `|y(t) − y(t₀)|` over the samples of every run.
  static func conservation(_ g: inout GroupResult, _ all: [(times: [Double], values: [Double])]) {
    var largest = 0.0, samples = 0
    for s in all {
      guard let first = s.values.first else { continue }
      for y in s.values {
        let change = abs(y - first)
        largest = change.isNaN ? .infinity : max(largest, change)
        samples += 1
      }
    }
    g.estimate = largest
    g.interval = (largest, largest)
    g.method = "largest |y(t) − y(t₀)| over \(all.count) run(s) and \(samples) samples (exact: no interval)"
  }

  /// The first sample time from which the mean curve stays at or below the threshold; bootstrap
  /// over replicates.
  static func hittingTime(_ g: inout GroupResult, _ spec: AnalysisSpec, _ all: [(times: [Double], values: [Double])]) {
    let threshold = spec.threshold!
    let times = g.times
    func hit(_ curve: [Double]) -> Double? {
      var first: Int? = nil
      for j in curve.indices.reversed() {
        guard curve[j].isFinite && curve[j] <= threshold else { break }
        first = j
      }
      return first.map { times[$0] }
    }
    guard let t = hit(g.mean) else {
      g.reason = "the mean does not stay at or below \(formatValue(threshold)) by the last sample"
      return
    }
    g.estimate = t
    g.points = [(t, threshold, 0, all.count)]
    if all.count >= 2 {
      var rng = SplitMix(seed: spec.bootstrapSeed)
      var hits = [Double]()
      for _ in 0..<spec.bootstrapSamples {
        let picks = (0..<all.count).map { _ in all[rng.below(all.count)] }
        let curve = times.indices.map { j in
          Statistics.mean(picks.compactMap { j < $0.values.count ? $0.values[j] : nil })
        }
        hits.append(hit(curve) ?? .infinity)
      }
      g.interval = Statistics.percentileInterval(hits, confidence: spec.confidence)
      g.method =
        "first sample from which the mean of \(all.count) replicates stays ≤ \(formatValue(threshold)); bootstrap (\(spec.bootstrapSamples) resamples, seed \(spec.bootstrapSeed)), percentile interval; resolution one sample interval"
    } else {
      g.method = "first sample from which the run stays ≤ \(formatValue(threshold)) (one run: no interval)"
    }
  }

  static func describe(_ labels: [(key: String, value: String)]) -> String {
    labels.isEmpty ? "(all runs)" : labels.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
  }

  /// The mean and its t-interval over the replicates.
  static func meanInterval(_ g: inout GroupResult, _ values: [Double], confidence: Double) {
    guard !values.isEmpty else {
      g.reason = "no finite value to reduce"
      return
    }
    let m = Statistics.mean(values)
    g.estimate = m
    g.points = [(0, m, Statistics.standardError(values), values.count)]
    if values.count >= 2 {
      let sd = Statistics.variance(values).squareRoot(), se = sd / Double(values.count).squareRoot()
      let t = Statistics.studentQuantile(0.5 + confidence / 2, df: Double(values.count - 1))
      g.standardDeviation = sd
      g.standardError = se
      g.interval = (m - t * se, m + t * se)
      g.method = "mean of \(values.count) replicates, Student-t interval (\(Statistics.percentLabel(confidence))%)"
    } else {
      g.method = "one replicate: no interval"
    }
  }

  /// Mean curves with t-bands over the replicates (runs on one schedule).
  static func curves(_ g: inout GroupResult, _ all: [(times: [Double], values: [Double])], confidence: Double) {
    let longest = all.max { $0.times.count < $1.times.count }!.times
    g.times = longest
    var quantiles = [Int: Double]()
    for (j, _) in longest.enumerated() {
      let v = all.compactMap { j < $0.values.count ? $0.values[j] : nil }.filter(\.isFinite)
      let m = Statistics.mean(v)
      g.mean.append(m)
      if v.count >= 2 {
        let t =
          quantiles[v.count]
          ?? {
            let q = Statistics.studentQuantile(0.5 + confidence / 2, df: Double(v.count - 1))
            quantiles[v.count] = q
            return q
          }()
        let se = Statistics.standardError(v)
        g.lower.append(m - t * se)
        g.upper.append(m + t * se)
      } else {
        g.lower.append(m)
        g.upper.append(m)
      }
    }
  }

  /// The verdict of a group against its expected value and tolerance.
  public static func decide(_ g: inout GroupResult) {
    guard let e = g.expected, let estimate = g.estimate else { return }
    let t = g.tolerance
    guard let interval = g.interval, interval.lower.isFinite, interval.upper.isFinite else {
      g.verdict = .inconclusive
      // Keep the analysis' own account of why there is no interval (a failed bootstrap).
      let why = g.reason.isEmpty ? "no interval (one replicate)" : g.reason
      g.reason = "\(why): \(formatValue(estimate)) against \(formatValue(e))"
      return
    }
    let half = (interval.upper - interval.lower) / 2
    let text =
      "estimate \(format(estimate)), interval [\(format(interval.lower)), \(format(interval.upper))], expected \(format(e)) ± \(format(t))"
    if e < interval.lower - t || e > interval.upper + t {
      g.verdict = .inconsistent
      g.reason = text + ": the expected value lies outside the interval widened by the tolerance"
    } else if t > 0 && half > t {
      g.verdict = .inconclusive
      g.reason = text + ": the interval's half-width \(format(half)) exceeds the tolerance"
    } else {
      g.verdict = .consistent
      g.reason = text + ": the expected value lies within the interval widened by the tolerance"
    }
  }

  static func format(_ v: Double) -> String { String(format: "%.6g", v) }
}
