import Foundation

/// A uniform cell-centred grid on an interval `[lower, upper]`: the finite-volume mesh of the
/// reference PDE solvers.
///
/// Cell `i` (0-based) is `[lower + i h, lower + (i+1) h]` with `h = (upper − lower) / cellCount`;
/// its centre is `lower + (i + 1/2) h`. Face `k` (0…cellCount) is `lower + k h`; face `i + 1`
/// separates cells `i` and `i + 1`. Densities on such a grid are cell values (cell averages), and
/// `Σ_i ρ_i h` is the mass.
public struct CellGrid: Sendable, Equatable, Hashable {
  /// Left end of the interval.
  public let lower: Double
  /// Right end of the interval.
  public let upper: Double
  /// Number of cells (≥ 2).
  public let cellCount: Int

  /// A grid of `cells` equal cells on `[lower, upper]`.
  ///
  /// - Precondition: `lower < upper`, both finite, and `cells ≥ 2`.
  public init(lower: Double, upper: Double, cells: Int) {
    precondition(lower.isFinite && upper.isFinite && lower < upper, "CellGrid needs lower < upper")
    precondition(cells >= 2, "CellGrid needs at least two cells")
    self.lower = lower
    self.upper = upper
    self.cellCount = cells
  }

  /// Cell width `h = (upper − lower) / cellCount`.
  @inlinable public var spacing: Double { (upper - lower) / Double(cellCount) }

  /// Centre of cell `i`, `lower + (i + 1/2) h`.
  @inlinable public func centre(_ i: Int) -> Double {
    lower + (Double(i) + 0.5) * spacing
  }

  /// Position of face `k` (k = 0 is `lower`, k = cellCount is `upper`).
  @inlinable public func face(_ k: Int) -> Double {
    lower + Double(k) * spacing
  }

  /// All cell centres. O(cellCount), allocates.
  public var centres: [Double] { (0..<cellCount).map(centre) }

  /// All faces, `cellCount + 1` values. O(cellCount), allocates.
  public var faces: [Double] { (0...cellCount).map(face) }

  /// `f` evaluated at every cell centre (the midpoint value, a second-order approximation of
  /// the cell average).
  public func sample(_ f: (Double) -> Double) -> [Double] {
    (0..<cellCount).map { f(centre($0)) }
  }
}

/// Summation helpers shared by the PDE solvers.
public enum GridSum {
  /// `Σ_i x[i]` by Neumaier's compensated summation: the error is at most about
  /// `2 u Σ|x_i|` (u = 2⁻⁵³), independent of the count, so a mass computed this way does not
  /// itself drift with the grid size.
  @inlinable
  public static func compensated(_ x: UnsafeBufferPointer<Double>) -> Double {
    compensated(count: x.count) { x[$0] }
  }

  /// Compensated `Σ_{i<count} term(i)`, the terms computed on the fly (no array).
  @inlinable
  public static func compensated(count: Int, _ term: (Int) -> Double) -> Double {
    var sum = 0.0
    var carry = 0.0
    for i in 0..<count {
      let value = term(i)
      let t = sum + value
      if abs(sum) >= abs(value) {
        carry += (sum - t) + value
      } else {
        carry += (value - t) + sum
      }
      sum = t
    }
    return sum + carry
  }

  /// Compensated `Σ_i x[i]` of an array.
  @inlinable
  public static func compensated(_ x: [Double]) -> Double {
    x.withUnsafeBufferPointer { compensated($0) }
  }
}
