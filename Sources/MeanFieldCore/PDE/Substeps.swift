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
