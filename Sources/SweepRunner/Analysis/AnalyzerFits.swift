import Foundation
import MeanFieldCore
import SweepStore

/// The fits of the analyses that read a key on the x axis (power law, order, Richardson) and
/// the exponential rate in time.
extension Analyzer {
  /// The selected value of each run, by its positive value of the `against` key (runs without
  /// one, or with a non-finite value, are left out).
  static func valuesByAxis(_ spec: AnalysisSpec, _ data: AnalysisData, _ members: [Int]) -> [Double: [Double]] {
    var byX = [Double: [Double]]()
    for i in members {
      guard let x = data.axis(data.runs[i], spec.against!), x > 0 else { continue }
      let y = select(series(data.runs[i], metric: spec.metric, component: spec.component)!, spec.at)
      if y.isFinite { byX[x, default: []].append(y) }
    }
    return byX
  }

  /// `log y = log C + p log x` on the group means at each value of the key on the x axis; the
  /// interval is the bootstrap percentile interval over replicates (resampled within each x),
  /// or, with one replicate per x, the least-squares t-interval.
  static func powerLaw(_ g: inout GroupResult, _ spec: AnalysisSpec, _ data: AnalysisData, _ members: [Int]) {
    let against = spec.against!
    var byX = valuesByAxis(spec, data, members)
    var base = 0.0
    if let baseline = spec.baseline {
      // The baseline of each run (a theory may start from the run's own first sample).
      byX = [:]
      for i in members {
        guard let x = data.axis(data.runs[i], against), x > 0 else { continue }
        let s = series(data.runs[i], metric: spec.metric, component: spec.component)!
        let y = select(s, spec.at)
        guard y.isFinite else { continue }
        do {
          base = try resolve(
            baseline, spec, data.runs[i], time: time(of: spec, g, s.times.last),
            initial: ["mean", "pde-mean"].contains(spec.metric) ? s.values.first : nil)
        } catch {
          g.reason = "no baseline: \(error)"
          return
        }
        byX[x, default: []].append(spec.relative ? (y - base) / abs(base) : y - base)
      }
      g.baseline = base
    }
    let xs = byX.keys.sorted()
    guard xs.count >= 3 else {
      g.reason = "a power law needs at least 3 values of \(against) with finite, positive data (found \(xs.count))"
      return
    }
    var groups = xs.map { byX[$0]! }
    // With a baseline the fitted quantity is |mean − baseline|: the sign of the deviation is
    // the sign of all the group means (a deviation that changes sign is no power law).
    if spec.baseline != nil {
      let signs = Set(groups.map { Statistics.mean($0) > 0 })
      guard signs.count == 1 else {
        g.reason =
          "the mean minus the baseline \(formatValue(base)) changes sign across \(against): no power law (or the deviation is below the noise)"
        return
      }
      if signs.first == false { groups = groups.map { $0.map { -$0 } } }
    }
    g.points = zip(xs, groups).map { ($0, Statistics.mean($1), Statistics.standardError($1), $1.count) }
    guard g.points.allSatisfy({ $0.y > 0 }) else {
      g.reason = "a power law needs positive means"
      return
    }
    if spec.kind == .order {
      func order(_ means: [Double], _ i: Int) -> Double {
        Foundation.log(means[i + 1] / means[i]) / Foundation.log(xs[i + 1] / xs[i])
      }
      let means = g.points.map(\.y)
      let orders = (0..<(xs.count - 1)).map { order(means, $0) }
      g.estimate = orders[0]
      g.intercept = Foundation.log(g.points[0].y) - orders[0] * Foundation.log(xs[0])
      var lower = min(orders[0], orders[1]), upper = max(orders[0], orders[1])
      g.method =
        "local orders of successive values of \(against), finest first: "
        + orders.map { String(format: "%.4g", $0) }.joined(separator: ", ")
        + "; the interval spans the two finest"
      if groups.allSatisfy({ $0.count >= 2 }) {
        // Replicates: the finest order's bootstrap interval, joined with the next pair's order.
        var rng = SplitMix(seed: spec.bootstrapSeed)
        var finest = [Double]()
        for _ in 0..<spec.bootstrapSamples {
          let resampled = groups.map { values -> Double in
            var s = 0.0
            for _ in values.indices { s += values[rng.below(values.count)] }
            return s / Double(values.count)
          }
          if resampled[0] > 0 && resampled[1] > 0 { finest.append(order(resampled, 0)) }
        }
        let b = Statistics.percentileInterval(finest, confidence: spec.confidence)
        lower = min(b.lower, orders[1])
        upper = max(b.upper, orders[1])
        g.method +=
          " and the finest order's bootstrap interval over replicates (\(spec.bootstrapSamples) resamples, seed \(spec.bootstrapSeed))"
      }
      g.interval = (lower, upper)
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
      var rng = SplitMix(seed: spec.bootstrapSeed)
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
        "least squares on log-log means of \(xs.count) values of \(against); bootstrap over replicates (\(spec.bootstrapSamples) resamples, seed \(spec.bootstrapSeed)), percentile interval (\(Statistics.percentLabel(spec.confidence))%)"
    } else {
      let t = Statistics.studentQuantile(0.5 + spec.confidence / 2, df: Double(xs.count - 2))
      g.interval = (fit.slope - t * fit.slopeError, fit.slope + t * fit.slopeError)
      g.method =
        "least squares on log-log values of \(xs.count) values of \(against) (one replicate each): t-interval from the residuals"
    }
  }

  /// Roache's safety factor of a three-grid study: the extrapolated value's interval is
  /// `Q* ± (F − 1)|Q* − Q₁|`, the side of the grid convergence index band `Q₁ ± F|Q* − Q₁|`
  /// beyond the extrapolation.
  static let richardsonSafetyFactor = 1.25

  /// Richardson extrapolation from the three finest values Q₁ (finest), Q₂, Q₃ of a resolution
  /// key with a constant refinement ratio r: observed order p = log((Q₃ − Q₂)/(Q₂ − Q₁))/log r,
  /// grid-converged value Q* = Q₁ + (Q₁ − Q₂)/(r^p − 1). With replicates, the interval also
  /// holds the bootstrap interval of Q* over them (resampled within each grid).
  static func richardson(_ g: inout GroupResult, _ spec: AnalysisSpec, _ data: AnalysisData, _ members: [Int]) {
    let against = spec.against!
    let byX = valuesByAxis(spec, data, members)
    let ascending = byX.keys.sorted()
    g.points = ascending.map { x in
      let v = byX[x]!
      return (x, Statistics.mean(v), Statistics.standardError(v), v.count)
    }
    guard ascending.count >= 3 else {
      g.reason = "a Richardson estimate needs at least 3 values of \(against) (found \(ascending.count))"
      return
    }
    // The three finest, finest first, and their spacings (h ∝ 1/x when more is finer).
    let finest = Array((spec.finest == .largest ? ascending.reversed() : ascending).prefix(3))
    let h = finest.map { spec.finest == .largest ? 1 / $0 : $0 }
    let r = h[1] / h[0], r2 = h[2] / h[1]
    guard abs(r - r2) <= 1e-9 * r else {
      g.reason =
        "a Richardson estimate needs a constant refinement ratio: the three finest values of \(against) (\(finest.map(formatValue).joined(separator: ", "))) have ratios \(format(r)) and \(format(r2))"
      return
    }
    let groups = finest.map { byX[$0]! }
    func extrapolate(_ q: [Double]) -> (value: Double, order: Double)? {
      let ratio = (q[2] - q[1]) / (q[1] - q[0])
      guard ratio.isFinite, ratio > 1 else { return nil }
      let p = Foundation.log(ratio) / Foundation.log(r)
      return (q[0] + (q[0] - q[1]) / (Foundation.pow(r, p) - 1), p)
    }
    let means = groups.map(Statistics.mean)
    guard let (value, order) = extrapolate(means) else {
      let ratio = (means[2] - means[1]) / (means[1] - means[0])
      g.reason =
        "no Richardson estimate: the successive differences of the three finest values have ratio \(format(ratio)) (monotone convergence needs a ratio above 1; below it the grids are not in the asymptotic range or the noise exceeds the discretisation error)"
      return
    }
    let correction = value - means[0]
    let half = (richardsonSafetyFactor - 1) * abs(correction)
    g.estimate = value
    g.baseline = means[0]
    var lower = value - half, upper = value + half
    g.method =
      "Richardson extrapolation from \(against) = \(finest.map(formatValue).joined(separator: ", ")) (ratio \(format(r))): observed order \(String(format: "%.4g", order)), finest value \(format(means[0])), correction \(format(correction)); interval ± \(format(richardsonSafetyFactor - 1))·|correction| (safety factor \(format(richardsonSafetyFactor)))"
    g.observedOrder = order
    // Replicates that vary on any of the three grids carry their noise into the interval
    // (a grid with one run, or identical runs, resamples to itself).
    if groups.contains(where: { Set($0).count > 1 }) {
      var rng = SplitMix(seed: spec.bootstrapSeed)
      var values = [Double]()
      for _ in 0..<spec.bootstrapSamples {
        let resampled = groups.map { v -> Double in
          var s = 0.0
          for _ in v.indices { s += v[rng.below(v.count)] }
          return s / Double(v.count)
        }
        if let e = extrapolate(resampled) { values.append(e.value) }
      }
      if values.count * 10 >= spec.bootstrapSamples * 9 {
        let b = Statistics.percentileInterval(values, confidence: spec.confidence)
        lower = min(lower, b.lower)
        upper = max(upper, b.upper)
        g.method +=
          ", joined with the bootstrap interval over replicates (\(spec.bootstrapSamples) resamples, seed \(spec.bootstrapSeed))"
      } else {
        g.reason =
          "the replicates' noise hides the discretisation error: most bootstrap resamples converge non-monotonically"
        lower = -.infinity
        upper = .infinity
      }
    }
    g.interval = (lower, upper)
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
      do { base = try resolve(baseline, spec, data.runs[members[0]], time: nil) } catch {
        g.reason = "no baseline: \(error)"
        return
      }
    }
    g.baseline = base
    curves(&g, all, confidence: spec.confidence)
    let times = g.times
    let inside = times.indices.filter { times[$0] >= window.lower && times[$0] <= window.upper }
    /// `curve` holds the values at the samples `inside`.
    func fit(_ curve: [Double]) -> Statistics.LineFit? {
      let use = curve.indices.filter { curve[$0].isFinite && abs(curve[$0] - base) > 0 }
      guard use.count >= 3 else { return nil }
      return Statistics.fitLine(x: use.map { times[inside[$0]] }, y: use.map { Foundation.log(abs(curve[$0] - base)) })
    }
    guard let f = fit(inside.map { g.mean[$0] }) else {
      g.reason = "fewer than 3 samples in the window [\(window.lower), \(window.upper)] away from the baseline"
      return
    }
    g.points = inside.map { (times[$0], abs(g.mean[$0] - base), 0, all.count) }
    g.estimate = -f.slope
    g.intercept = f.intercept
    g.rSquared = f.rSquared
    if all.count >= 2 {
      var rng = SplitMix(seed: spec.bootstrapSeed)
      var rates = [Double]()
      for _ in 0..<spec.bootstrapSamples {
        let picks = (0..<all.count).map { _ in all[rng.below(all.count)] }
        let curve = inside.map { j in
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
}
