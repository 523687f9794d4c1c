import Foundation

/// A uniform grid of cells on a box in R^1 or R^2, the layout of the PDE solvers' densities.
///
/// Axis a is split into `cells[a]` equal cells of width `(upper[a] − lower[a]) / cells[a]`.
/// Cell `(i)` or `(i, j)` is stored at flat index `i` or `i · cells[1] + j` (axis 0
/// slowest). Cells are half-open `[left, right)` except the last cell of each axis, which
/// also holds its right edge, so the grid covers the closed box.
public struct UniformGrid: Sendable, Hashable {
  /// Lower corner, one value per axis.
  public let lower: [Double]
  /// Upper corner, one value per axis.
  public let upper: [Double]
  /// Cells per axis.
  public let cells: [Int]

  /// A grid on `[lower, upper]` with `cells` cells per axis (1 or 2 axes).
  public init(lower: [Double], upper: [Double], cells: [Int]) {
    precondition(lower.count == upper.count && lower.count == cells.count)
    precondition(cells.count == 1 || cells.count == 2, "grids are 1-D or 2-D")
    for a in 0..<cells.count {
      precondition(cells[a] >= 1 && lower[a].isFinite && upper[a].isFinite && upper[a] > lower[a])
    }
    self.lower = lower
    self.upper = upper
    self.cells = cells
  }

  /// Number of axes (1 or 2).
  public var dimension: Int { cells.count }
  /// Total number of cells.
  public var cellCount: Int { cells.reduce(1, *) }
  /// Cell width along each axis.
  public var widths: [Double] { (0..<dimension).map { (upper[$0] - lower[$0]) / Double(cells[$0]) } }
  /// Volume (length, area) of one cell.
  public var cellVolume: Double { widths.reduce(1, *) }

  /// Centre of each axis' cells, `lower + (i + 1/2) h`.
  public func centres(axis a: Int) -> [Double] {
    let h = widths[a]
    return (0..<cells[a]).map { lower[a] + (Double($0) + 0.5) * h }
  }

  /// The flat index of the cell holding `x`, or nil outside the closed box (or not finite).
  public func cellIndex(of x: UnsafeBufferPointer<Double>) -> Int? {
    var flat = 0
    for a in 0..<dimension {
      let v = x[a]
      guard v >= lower[a] && v <= upper[a] else { return nil }
      var i = Int(((v - lower[a]) / (upper[a] - lower[a]) * Double(cells[a])).rounded(.down))
      i = min(max(i, 0), cells[a] - 1)
      flat = flat * cells[a] + i
    }
    return flat
  }
}

/// A piecewise-constant density on a ``UniformGrid``: `values[c]` is the density (per unit
/// length or area) in cell c, so cell c holds mass `values[c] · cellVolume`.
public struct GridDensity: Sendable, Hashable {
  /// The grid.
  public let grid: UniformGrid
  /// Density per cell, flat (axis 0 slowest), all ≥ 0.
  public var values: [Double]

  /// A density from per-cell values (non-negative, finite).
  public init(grid: UniformGrid, values: [Double]) {
    precondition(values.count == grid.cellCount, "one value per cell")
    precondition(values.allSatisfy { $0 >= 0 && $0.isFinite }, "densities are finite and ≥ 0")
    self.grid = grid
    self.values = values
  }

  /// A density from per-cell masses (`values = masses / cellVolume`).
  public init(grid: UniformGrid, masses: [Double]) {
    let v = grid.cellVolume
    self.init(grid: grid, values: masses.map { $0 / v })
  }

  /// Per-cell masses `values · cellVolume`.
  public var masses: [Double] {
    let v = grid.cellVolume
    return values.map { $0 * v }
  }

  /// `∫ ρ = Σ_c values[c] · cellVolume`.
  public var totalMass: Double { masses.reduce(0, +) }
}

/// A histogram of a sample on a grid.
public struct SampleHistogram: Sendable, Hashable {
  /// The histogram as a density: `count_c / (n · cellVolume)` (weighted: `Σ_{x_i ∈ c} w_i /
  /// cellVolume`), so it integrates to the share of the sample inside the grid.
  public var density: GridDensity
  /// Total weight of the points outside the closed box (or not finite); 0 when all fall in.
  public var outsideMass: Double
  /// Number of points outside the box.
  public var outsideCount: Int
}

extension GridDensity {
  /// The histogram of `sample` on `grid` (the cloud's weights are used when present).
  ///
  /// Points outside the closed box are not binned; their weight is reported in
  /// ``SampleHistogram/outsideMass`` and the density then integrates to `1 − outsideMass`.
  ///
  /// - Complexity: O(n d).
  public static func histogram(of sample: PointCloud, on grid: UniformGrid) -> SampleHistogram {
    precondition(sample.dimension == grid.dimension, "sample and grid dimensions differ")
    let n = sample.count, d = sample.dimension
    var mass = [Double](repeating: 0, count: grid.cellCount)
    var outside = 0.0, outsideCount = 0
    sample.values.withUnsafeBufferPointer { x in
      for i in 0..<n {
        let w = sample.weight(i)
        if let c = grid.cellIndex(of: UnsafeBufferPointer(rebasing: x[(i * d)..<(i * d + d)])) {
          mass[c] += w
        } else {
          outside += w
          outsideCount += 1
        }
      }
    }
    return SampleHistogram(
      density: GridDensity(grid: grid, masses: mass), outsideMass: outside,
      outsideCount: outsideCount)
  }
}

/// What KL between grid densities does with cells where a density vanishes.
public enum EmptyCellPolicy: Sendable, Hashable {
  /// The exact convention: `0 log(0/q) = 0`; a cell with `p > 0` and `q = 0` makes
  /// `KL(p‖q) = +∞`.
  case exact
  /// Adds `mass` to every cell of both densities before normalising (additive smoothing,
  /// finite whenever `mass > 0`); the result is the KL of the smoothed densities.
  case additive(mass: Double)
}

/// `KL(p‖q) = Σ_c p_c log(p_c / q_c)` between two densities on the same grid, on their cell
/// masses normalised to total mass 1 (a histogram with points outside the box, or a PDE
/// solution with rounding in its mass, is compared as a probability on the grid).
///
/// Empty cells follow `emptyCells` (by default the exact convention, which gives `+∞` when
/// q vanishes where p does not). This is the KL of the piecewise-constant densities (equal
/// to the continuous KL of the two step functions, since the cell volume cancels).
///
/// - Complexity: O(cells).
public func klDivergence(
  of p: GridDensity, relativeTo q: GridDensity, emptyCells: EmptyCellPolicy = .exact
) -> Double {
  precondition(p.grid == q.grid, "densities must share the grid")
  var pm = p.masses, qm = q.masses
  if case .additive(let alpha) = emptyCells {
    precondition(alpha >= 0 && alpha.isFinite)
    for c in pm.indices {
      pm[c] += alpha
      qm[c] += alpha
    }
  }
  let pt = pm.reduce(0, +), qt = qm.reduce(0, +)
  precondition(pt > 0 && qt > 0, "densities must have positive mass")
  var sum = 0.0
  for c in pm.indices {
    let pc = pm[c] / pt
    if pc == 0 { continue }
    let qc = qm[c] / qt
    if qc == 0 { return .infinity }
    sum += pc * Foundation.log(pc / qc)
  }
  // Each term is ≥ p − q on normalised masses; the sum is ≥ 0 up to rounding.
  return sum
}

/// `‖p − q‖₁ = ∫ |p − q| = Σ_c |p_c − q_c| · cellVolume` between two densities on the same
/// grid, as given (not normalised: missing mass counts). Between probability densities it
/// lies in [0, 2] and equals twice the total-variation distance.
///
/// - Complexity: O(cells).
public func l1Distance(between p: GridDensity, and q: GridDensity) -> Double {
  precondition(p.grid == q.grid, "densities must share the grid")
  var sum = 0.0
  for c in p.values.indices { sum += abs(p.values[c] - q.values[c]) }
  return sum * p.grid.cellVolume
}
