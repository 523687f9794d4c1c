import Foundation
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
  static func groups(_ data: AnalysisData, excluding excluded: [String]) -> [(
    labels: [(key: String, value: String)], runs: [Int]
  )] {
    let keys = data.sweptKeys.filter { !excluded.contains($0) }
    var order = [String]()
    var members = [String: (labels: [(key: String, value: String)], runs: [Int])]()
    for (i, run) in data.runs.enumerated() {
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

  static func analyse(_ spec: AnalysisSpec, _ data: AnalysisData) -> AnalysisResult {
    var notes = [String]()
    var excluded = spec.over
    if let against = spec.against { excluded.append(against) }
    var results = [GroupResult]()
    for (labels, members) in groups(data, excluding: excluded) {
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
      case .powerLaw:
        powerLaw(&g, spec, data, usable)
      case .exponentialRate:
        exponentialRate(&g, spec, data, usable, all)
      }
      if let expect = spec.expect, g.estimate != nil {
        do {
          switch expect {
          case .value(let v): g.expected = v
          case .theory(let t):
            let settings = Dictionary(
              data.runs[usable[0]].settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            g.expected = try t.value(settings: settings, component: spec.component)
          }
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
      g.method = "mean of \(values.count) replicates, Student-t interval (\(Int(confidence * 100))%)"
    } else {
      g.method = "one replicate: no interval"
    }
  }

  /// Mean curves with t-bands over the replicates (runs on one schedule).
  static func curves(_ g: inout GroupResult, _ all: [(times: [Double], values: [Double])], confidence: Double) {
    let longest = all.max { $0.times.count < $1.times.count }!.times
    g.times = longest
    for (j, _) in longest.enumerated() {
      let v = all.compactMap { j < $0.values.count ? $0.values[j] : nil }.filter(\.isFinite)
      let m = Statistics.mean(v)
      g.mean.append(m)
      if v.count >= 2 {
        let t = Statistics.studentQuantile(0.5 + confidence / 2, df: Double(v.count - 1))
        let se = Statistics.standardError(v)
        g.lower.append(m - t * se)
        g.upper.append(m + t * se)
      } else {
        g.lower.append(m)
        g.upper.append(m)
      }
    }
  }

  /// `log y = log C + p log x` on the group means at each value of the key on the x axis; the
  /// interval is the bootstrap percentile interval over replicates (resampled within each x),
  /// or, with one replicate per x, the least-squares t-interval.
  static func powerLaw(_ g: inout GroupResult, _ spec: AnalysisSpec, _ data: AnalysisData, _ members: [Int]) {
    let against = spec.against!
    var byX = [Double: [Double]]()
    for i in members {
      guard let x = data.setting(data.runs[i], against)?.number, x > 0 else { continue }
      let y = select(series(data.runs[i], metric: spec.metric, component: spec.component)!, spec.at)
      if y.isFinite { byX[x, default: []].append(y) }
    }
    let xs = byX.keys.sorted()
    guard xs.count >= 3 else {
      g.reason = "a power law needs at least 3 values of \(against) with finite, positive data (found \(xs.count))"
      return
    }
    let groups = xs.map { byX[$0]! }
    g.points = zip(xs, groups).map { ($0, Statistics.mean($1), Statistics.standardError($1), $1.count) }
    guard g.points.allSatisfy({ $0.y > 0 }) else {
      g.reason = "a power law needs positive means"
      return
    }
    let lx = xs.map(Foundation.log)
    func slope(_ means: [Double]) -> Statistics.LineFit { Statistics.fitLine(x: lx, y: means.map(Foundation.log)) }
    let fit = slope(g.points.map(\.y))
    g.estimate = fit.slope
    g.intercept = fit.intercept
    g.rSquared = fit.rSquared
    // χ² with the standard errors of the log means (delta method), when every point has them.
    if g.points.allSatisfy({ $0.n >= 2 && $0.se > 0 }) {
      var chi2 = 0.0
      for (k, p) in g.points.enumerated() {
        let r = Foundation.log(p.y) - fit.intercept - fit.slope * lx[k]
        chi2 += r * r / ((p.se / p.y) * (p.se / p.y))
      }
      g.chiSquarePerDegree = chi2 / Double(max(1, xs.count - 2))
    }
    if groups.allSatisfy({ $0.count >= 2 }) {
      var rng = Statistics.SplitMix(seed: spec.bootstrapSeed)
      var slopes = [Double]()
      slopes.reserveCapacity(spec.bootstrapSamples)
      for _ in 0..<spec.bootstrapSamples {
        let means = groups.map { values -> Double in
          var s = 0.0
          for _ in values.indices { s += values[rng.below(values.count)] }
          return s / Double(values.count)
        }
        if means.allSatisfy({ $0 > 0 }) { slopes.append(slope(means).slope) }
      }
      g.interval = Statistics.percentileInterval(slopes, confidence: spec.confidence)
      g.method =
        "least squares on log-log means of \(xs.count) values of \(against); bootstrap over replicates (\(spec.bootstrapSamples) resamples, seed \(spec.bootstrapSeed)), percentile interval (\(Int(spec.confidence * 100))%)"
    } else {
      let t = Statistics.studentQuantile(0.5 + spec.confidence / 2, df: Double(xs.count - 2))
      g.interval = (fit.slope - t * fit.slopeError, fit.slope + t * fit.slopeError)
      g.method =
        "least squares on log-log values of \(xs.count) values of \(against) (one replicate each): t-interval from the residuals"
    }
  }

  /// `log|ȳ(t) − baseline| = log A − r t` over the window, ȳ the mean over the replicates;
  /// bootstrap over replicates.
  static func exponentialRate(
    _ g: inout GroupResult, _ spec: AnalysisSpec, _ data: AnalysisData, _ members: [Int],
    _ all: [(times: [Double], values: [Double])]
  ) {
    let window = spec.window!
    var base = 0.0
    if let baseline = spec.baseline {
      switch baseline {
      case .value(let v): base = v
      case .theory(let t):
        let settings = Dictionary(
          data.runs[members[0]].settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        do { base = try t.value(settings: settings, component: spec.component) } catch {
          g.reason = "no baseline: \(error)"
          return
        }
      }
    }
    curves(&g, all, confidence: spec.confidence)
    let times = g.times
    let inside = times.indices.filter { times[$0] >= window.lower && times[$0] <= window.upper }
    func fit(_ curve: [Double]) -> Statistics.LineFit? {
      let use = inside.filter { curve[$0].isFinite && abs(curve[$0] - base) > 0 }
      guard use.count >= 3 else { return nil }
      return Statistics.fitLine(x: use.map { times[$0] }, y: use.map { Foundation.log(abs(curve[$0] - base)) })
    }
    guard let f = fit(g.mean) else {
      g.reason = "fewer than 3 samples in the window [\(window.lower), \(window.upper)] away from the baseline"
      return
    }
    g.points = inside.map { (times[$0], abs(g.mean[$0] - base), 0, all.count) }
    g.estimate = -f.slope
    g.intercept = f.intercept
    g.rSquared = f.rSquared
    if all.count >= 2 {
      var rng = Statistics.SplitMix(seed: spec.bootstrapSeed)
      var rates = [Double]()
      for _ in 0..<spec.bootstrapSamples {
        let picks = (0..<all.count).map { _ in all[rng.below(all.count)] }
        let curve = times.indices.map { j in
          Statistics.mean(picks.compactMap { j < $0.values.count ? $0.values[j] : nil })
        }
        if let b = fit(curve) { rates.append(-b.slope) }
      }
      g.interval = Statistics.percentileInterval(rates, confidence: spec.confidence)
      g.method =
        "least squares on log|mean − \(formatValue(base))| over t ∈ [\(formatValue(window.lower)), \(formatValue(window.upper))]; bootstrap over \(all.count) replicates (\(spec.bootstrapSamples) resamples, seed \(spec.bootstrapSeed))"
    } else {
      let t = Statistics.studentQuantile(0.5 + spec.confidence / 2, df: Double(max(1, f.degreesOfFreedom)))
      g.interval = (-f.slope - t * f.slopeError, -f.slope + t * f.slopeError)
      g.method = "least squares on log|y − \(formatValue(base))| of one run: t-interval from the residuals"
    }
  }

  /// The verdict of a group against its expected value and tolerance.
  public static func decide(_ g: inout GroupResult) {
    guard let e = g.expected, let estimate = g.estimate else { return }
    let t = g.tolerance
    guard let interval = g.interval, interval.lower.isFinite, interval.upper.isFinite else {
      g.verdict = .inconclusive
      g.reason = "no interval (one replicate): \(formatValue(estimate)) against \(formatValue(e))"
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
