import Foundation
import MeanFieldCore

/// Reference quantities shared by the PDE solver tests.
enum PDEReference {
  /// Unit round-off u = 2⁻⁵³.
  static let unitRoundoff = 0x1p-53

  /// `∫_a^b f` by composite Simpson with `intervals` (even) subintervals. For the smooth
  /// integrands used here (Gibbs densities) with 20 000 intervals the error is below 1e-13
  /// relative (O(h⁴) with h ≈ 3e-4).
  static func simpson(_ f: (Double) -> Double, _ a: Double, _ b: Double, intervals: Int = 20_000)
    -> Double
  {
    precondition(intervals % 2 == 0)
    let h = (b - a) / Double(intervals)
    var sum = f(a) + f(b)
    for k in 1..<intervals {
      sum += (k % 2 == 1 ? 4 : 2) * f(a + Double(k) * h)
    }
    return sum * h / 3
  }

  /// Normal density with mean `mean` and variance `variance`.
  static func gaussian(_ x: Double, mean: Double, variance: Double) -> Double {
    exp(-(x - mean) * (x - mean) / (2 * variance)) / (2 * Double.pi * variance).squareRoot()
  }

  /// `Σ_i |ρ_i − g_i| · cellVolume`: the L1 distance of a grid density from reference values.
  static func l1(_ rho: [Double], _ reference: [Double], cellVolume: Double) -> Double {
    precondition(rho.count == reference.count)
    var s = 0.0
    for i in rho.indices { s += abs(rho[i] - reference[i]) }
    return s * cellVolume
  }

  /// Least-squares slope of `log(error)` against `log(spacing)`: the observed order of
  /// convergence (error ≈ C hᵖ gives p).
  static func fittedOrder(spacings: [Double], errors: [Double]) -> Double {
    let x = spacings.map { log($0) }
    let y = errors.map { log($0) }
    let mx = x.reduce(0, +) / Double(x.count)
    let my = y.reduce(0, +) / Double(y.count)
    var sxy = 0.0
    var sxx = 0.0
    for k in x.indices {
      sxy += (x[k] - mx) * (y[k] - my)
      sxx += (x[k] - mx) * (x[k] - mx)
    }
    return sxy / sxx
  }

  /// Mean and variance of a 1-D grid density (cell values on `grid`), normalised by its mass.
  static func moments(_ rho: [Double], on grid: CellGrid) -> (mean: Double, variance: Double) {
    var m0 = 0.0
    var m1 = 0.0
    for i in rho.indices {
      m0 += rho[i]
      m1 += rho[i] * grid.centre(i)
    }
    let mean = m1 / m0
    var m2 = 0.0
    for i in rho.indices {
      let d = grid.centre(i) - mean
      m2 += rho[i] * d * d
    }
    return (mean, m2 / m0)
  }
}
