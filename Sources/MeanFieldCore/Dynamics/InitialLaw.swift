import Foundation

/// The law of the initial particles (or velocities).
public enum InitialLaw: Sendable, Equatable, Hashable {
  /// Independent coordinates `x_c ~ N(mean_c, std_c²)`; a single value applies to every
  /// coordinate.
  case gaussian(mean: [Double], std: [Double])
  /// Independent coordinates uniform on `[lower_c, upper_c]` (single values broadcast).
  case uniform(lower: [Double], upper: [Double])
  /// Given points, `N × d` row-major (from a file).
  case points([Double])
  /// All zero.
  case zero

  /// Draws the rows of particles `first ..< first + rows` (row-major). A particle's initial
  /// position depends only on its global index.
  public func fill(
    _ out: UnsafeMutableBufferPointer<Double>, rows: Int, dimension: Int, firstParticle: Int,
    field: GaussianField, stream: RandomStream = .initialPositions
  ) {
    func pick(_ v: [Double], _ c: Int) -> Double { v.count == 1 ? v[0] : v[c] }
    switch self {
    case .gaussian(let mean, let std):
      field.fillNormals(
        out, rows: rows, dimension: dimension, firstParticle: firstParticle, step: 0, stream: stream)
      for r in 0..<rows {
        for c in 0..<dimension {
          out[r * dimension + c] = pick(mean, c) + pick(std, c) * out[r * dimension + c]
        }
      }
    case .uniform(let lower, let upper):
      for r in 0..<rows {
        for m in 0..<((dimension + 1) / 2) {
          let (u0, u1) = field.uniformPair(
            stream: stream, step: 0, particle: UInt64(firstParticle + r), pair: UInt32(m))
          for (k, u) in [(2 * m, u0), (2 * m + 1, u1)] where k < dimension {
            // u ∈ (0, 1]; map to [lower, upper].
            out[r * dimension + k] = pick(upper, k) - (pick(upper, k) - pick(lower, k)) * (1 - u)
          }
        }
      }
    case .points(let values):
      precondition(values.count >= (firstParticle + rows) * dimension, "not enough initial points")
      for i in 0..<(rows * dimension) { out[i] = values[firstParticle * dimension + i] }
    case .zero:
      for i in 0..<(rows * dimension) { out[i] = 0 }
    }
  }
}
