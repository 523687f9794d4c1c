import Foundation
import MeanFieldCore

extension ConfiningPotential: ScalarPotential {
  /// V at one point (its length is the dimension).
  @inlinable
  public func value(at x: UnsafeBufferPointer<Double>) -> Double {
    value(x.baseAddress!, dimension: x.count)
  }
}

/// Assigns points to the basins of attraction of a potential's minima by running the
/// noise-free flow `ẋ = −∇V(x)` from each point (docs/MATH.md §4).
///
/// The flow is integrated by gradient descent with a step that halves whenever V would rise
/// (and grows while it does not) and never moves a point by more than an eighth of the capture
/// radius, so it follows the flow's path; the point belongs to a minimum as soon as the descent enters
/// the capture ball around it (a quarter of the distance to the nearest other minimum, and at
/// most 0.25), where V is convex around that minimum. A descent that stalls (a saddle) or does not
/// arrive within `maxIterations` leaves the point unassigned.
public struct BasinClassifier: Sendable {
  public let potential: ConfiningPotential
  public let dimension: Int
  /// The minima, one row of d numbers each, in a fixed order.
  public let minima: [[Double]]
  public var tolerance: Double = 1e-12
  public var maxIterations: Int = 20_000
  /// Radius of the capture ball around each minimum.
  public let radius: Double
  /// Largest move of one descent step (a fraction of the capture radius).
  public var maxMove: Double { radius / 8 }
  /// For a landscape whose basins are split along x₁ alone (flat-sharp in any dimension, the 1-D
  /// double well: the flow of x₁ does not depend on the other coordinates), the saddles of V
  /// along x₁ between consecutive minima: the basins of the flow are then exactly the intervals
  /// between them, and a point is classified by comparison instead of a descent.
  public let saddles: [Double]?

  /// A classifier for the minima of `potential` (closed-form minima, or the local minima of a
  /// tabulated potential refined by descent).
  public init(potential: ConfiningPotential, dimension: Int) {
    self.potential = potential
    self.dimension = dimension
    var found = potential.minima(dimension: dimension)
    if found.isEmpty, case .tabulated(let table) = potential {
      found = Self.tableMinima(table, dimension: dimension)
    }
    minima = found
    radius = Self.captureRadius(found)
    saddles = Self.separableSaddles(potential, dimension: dimension, minima: found)
  }

  /// The saddles along x₁ (where V's x₁-derivative changes sign from + to − between two minima,
  /// found by bisection to the last bit), for the potentials whose basins depend on x₁ alone.
  static func separableSaddles(_ potential: ConfiningPotential, dimension d: Int, minima: [[Double]]) -> [Double]? {
    switch potential {
    case .flatSharp: break
    case .doubleWell where d == 1: break
    default: return nil
    }
    var point = [Double](repeating: 0, count: d), g = point
    func slope(_ x1: Double) -> Double {
      point[0] = x1
      point.withUnsafeBufferPointer { p in
        g.withUnsafeMutableBufferPointer { potential.gradient(p.baseAddress!, dimension: d, into: $0.baseAddress!) }
      }
      return g[0]
    }
    let xs = minima.map { $0[0] }.sorted()
    var out = [Double]()
    for i in 0..<(xs.count - 1) {
      var a = xs[i], b = xs[i + 1]
      // V rises from the left minimum: the slope is positive just right of it.
      while true {
        let m = 0.5 * (a + b)
        if m <= a || m >= b { break }
        if slope(m) > 0 { a = m } else { b = m }
      }
      out.append(b)
    }
    return out
  }

  static func captureRadius(_ minima: [[Double]]) -> Double {
    var nearest = Double.infinity
    for i in minima.indices {
      for j in minima.indices where j > i {
        nearest = min(nearest, zip(minima[i], minima[j]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot())
      }
    }
    return min(0.25, nearest / 4)
  }

  /// Local minima of the table's nodes (strictly below their axis neighbours), refined by descent.
  static func tableMinima(_ t: TabulatedPotential, dimension d: Int) -> [[Double]] {
    var starts = [[Double]]()
    let h0 = (t.upper[0] - t.lower[0]) / Double(t.points[0] - 1)
    if t.points.count == 1 {
      for i in 0..<t.points[0] {
        let v = t.values[i]
        let left = i > 0 ? t.values[i - 1] : .infinity, right = i + 1 < t.points[0] ? t.values[i + 1] : .infinity
        if v < left && v < right { starts.append([t.lower[0] + Double(i) * h0] + [Double](repeating: 0, count: d - 1)) }
      }
    } else {
      let n0 = t.points[0], n1 = t.points[1]
      let h1 = (t.upper[1] - t.lower[1]) / Double(n1 - 1)
      for i in 0..<n0 {
        for j in 0..<n1 {
          let v = t.values[i * n1 + j]
          var isMin = true
          for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
            let a = i + di, b = j + dj
            if a >= 0 && a < n0 && b >= 0 && b < n1 && t.values[a * n1 + b] <= v { isMin = false }
          }
          if isMin {
            starts.append(
              [t.lower[0] + Double(i) * h0, t.lower[1] + Double(j) * h1] + [Double](repeating: 0, count: d - 2))
          }
        }
      }
    }
    let probe = BasinClassifier(potential: .tabulated(t), dimension: d, minima: [])
    var refined = [[Double]]()
    for s in starts {
      let end = probe.descend(s)
      if !refined.contains(where: { zip($0, end).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < 1e-8 }) {
        refined.append(end)
      }
    }
    return refined
  }

  /// A classifier for given minima; `bySaddles: false` always follows the flow (for tests).
  public init(potential: ConfiningPotential, dimension: Int, minima: [[Double]], bySaddles: Bool = true) {
    self.potential = potential
    self.dimension = dimension
    self.minima = minima
    radius = Self.captureRadius(minima)
    saddles = bySaddles ? Self.separableSaddles(potential, dimension: dimension, minima: minima) : nil
  }

  /// The index of the minimum whose capture ball holds `x`, if any.
  func captured(_ x: UnsafeMutableBufferPointer<Double>) -> Int? {
    for (i, m) in minima.enumerated() {
      var s = 0.0
      for c in 0..<dimension { s += (x[c] - m[c]) * (x[c] - m[c]) }
      if s <= radius * radius { return i }
    }
    return nil
  }

  /// The end point of the descent from `start` (run to `|∇V| ≤ tolerance`, or into a capture
  /// ball when `stopOnCapture`), and the captured minimum.
  public func descend(_ start: [Double], stopOnCapture: Bool = false) -> [Double] {
    descendAndCapture(start, stopOnCapture: stopOnCapture).end
  }

  func descendAndCapture(_ start: [Double], stopOnCapture: Bool) -> (end: [Double], basin: Int?) {
    var basin: Int? = nil
    var x = start
    var g = [Double](repeating: 0, count: dimension)
    var trial = x
    var step = 0.1
    x.withUnsafeMutableBufferPointer { xp in
      g.withUnsafeMutableBufferPointer { gp in
        trial.withUnsafeMutableBufferPointer { tp in
          var v = potential.value(xp.baseAddress!, dimension: dimension)
          for _ in 0..<maxIterations {
            if stopOnCapture, let i = captured(xp) {
              basin = i
              break
            }
            potential.gradient(xp.baseAddress!, dimension: dimension, into: gp.baseAddress!)
            var norm = 0.0
            for c in 0..<dimension { norm += gp[c] * gp[c] }
            if norm.squareRoot() <= tolerance || !norm.isFinite { break }
            // Follow the flow, not just any descent: a step moves at most `maxMove`, so it
            // cannot jump over a barrier into another basin.
            step = min(step, maxMove / norm.squareRoot())
            while true {
              for c in 0..<dimension { tp[c] = xp[c] - step * gp[c] }
              let vt = potential.value(tp.baseAddress!, dimension: dimension)
              if vt <= v || step < 1e-14 {
                for c in 0..<dimension { xp[c] = tp[c] }
                v = vt
                step = min(step * 1.5, 1.0)
                break
              }
              step *= 0.5
            }
          }
        }
      }
    }
    if stopOnCapture && basin == nil {
      basin = x.withUnsafeMutableBufferPointer { captured($0) }
    }
    return (x, basin)
  }

  /// The basin of one point: the index of the minimum its descent reaches, or nil.
  public func basin(of point: UnsafeBufferPointer<Double>) -> Int? {
    if let saddles {
      let x1 = point[0]
      guard x1.isFinite, !saddles.contains(x1) else { return nil }
      // Minima sorted along x₁ are in the classifier's order for these potentials.
      return saddles.firstIndex { x1 < $0 } ?? saddles.count
    }
    return descendAndCapture(Array(point), stopOnCapture: true).basin
  }
}
