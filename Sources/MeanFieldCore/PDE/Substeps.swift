/// One interval of an explicit PDE solver's `advance(to:)`: `count` equal substeps of `dt`
/// (no longer than the stable step), of which `done` are taken. Taking them over several calls
/// performs the same arithmetic as taking them in one, so a caller can spread an interval over
/// work it wants to interrupt in between.
struct SubstepInterval: Sendable {
  let target: Double
  let count: Int
  let dt: Double
  var done = 0

  /// The interval from `time` to `target` in equal steps no longer than `maximalStep`; nil
  /// when `target ≤ time`.
  init?(from time: Double, to target: Double, maximalStep: Double) {
    let remaining = target - time
    guard remaining > 0 else { return nil }
    self.target = target
    count = max(1, Int((remaining / maximalStep).rounded(.up)))
    dt = remaining / Double(count)
  }

  /// Takes substeps with `step` until `limit` of them are taken in all (or the interval is
  /// complete); returns whether it is complete.
  mutating func take(upTo limit: Int, _ step: (Double) -> Void) -> Bool {
    while done < min(count, limit) {
      step(dt)
      done += 1
    }
    return done == count
  }
}

/// An explicit solver whose `advance(to:)` takes equal substeps no longer than `timeStep`.
protocol SubstepAdvancing {
  var time: Double { get set }
  var timeStep: Double { get }
  var interval: SubstepInterval? { get set }
  mutating func step(by dt: Double)
}

extension SubstepAdvancing {
  /// Advances toward `target` taking at most `limit` of the interval's equal substeps in all
  /// (counted over the calls with the same target); returns whether `target` was reached. A
  /// new target abandons an unfinished interval and plans anew from the current time.
  mutating func advanceInterval(to target: Double, substeps limit: Int) -> Bool {
    if interval?.target != target {
      guard let plan = SubstepInterval(from: time, to: target, maximalStep: timeStep) else { return true }
      interval = plan
    }
    var plan = interval!
    let maximal = timeStep
    let complete = plan.take(upTo: limit) { step(by: min($0, maximal)) }
    interval = complete ? nil : plan
    if complete { time = target }
    return complete
  }

  /// The number of substeps of the interval to `target` (the one in progress, or a new one).
  func intervalSubsteps(to target: Double) -> Int {
    if let interval, interval.target == target { return interval.count }
    return SubstepInterval(from: time, to: target, maximalStep: timeStep)?.count ?? 0
  }
}
