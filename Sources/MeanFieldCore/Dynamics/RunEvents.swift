// What a step can report besides the new state: a divergence, the JKO inner solve.

/// Why a run stopped early.
public enum Divergence: Sendable, Equatable, CustomStringConvertible {
  /// Some particle, velocity or the mean-field statistic became NaN or infinite.
  case nonFinite(step: Int)
  /// Some particle left the stated bound `max_c |x_c| ≤ bound`.
  case outOfBounds(step: Int, bound: Double)

  /// The step at which it was detected.
  public var step: Int {
    switch self {
    case .nonFinite(let s), .outOfBounds(let s, _): return s
    }
  }

  public var description: String {
    switch self {
    case .nonFinite(let s): return "non-finite particle or statistic at step \(s)"
    case .outOfBounds(let s, let b): return "a particle left the bound |x| <= \(b) at step \(s)"
    }
  }
}

/// How the last JKO step's inner iteration ended.
public struct ProximalReport: Sendable, Equatable {
  /// Inner iterations taken.
  public var iterations: Int
  /// RMS of the proximal objective's gradient at the returned point.
  public var residual: Double
  /// Whether the residual met the tolerance.
  public var isConverged: Bool
}
