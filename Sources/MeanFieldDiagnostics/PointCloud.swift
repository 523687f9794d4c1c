/// A finite set of points in R^d with optional non-negative weights (uniform when absent).
///
/// Storage is row-major and contiguous (`count × dimension`), the layout of the engine's
/// particles and of HDF5 snapshots.
public struct PointCloud: Sendable, Equatable {
  /// Coordinates, row-major `count × dimension`.
  public var values: [Double]
  /// Number of coordinates per point.
  public var dimension: Int
  /// Weights summing to one, or nil for uniform weights `1 / count`.
  public var weights: [Double]?

  /// Number of points.
  public var count: Int { dimension == 0 ? 0 : values.count / dimension }

  /// A cloud from row-major coordinates; weights, when given, are normalised to sum to one.
  public init(values: [Double], dimension: Int, weights: [Double]? = nil) {
    precondition(dimension > 0 && values.count % dimension == 0, "values must be count × dimension")
    self.values = values
    self.dimension = dimension
    if let weights {
      precondition(weights.count == values.count / dimension, "one weight per point")
      let total = weights.reduce(0, +)
      self.weights = weights.map { $0 / total }
    } else {
      self.weights = nil
    }
  }

  /// Weight of point `i`.
  @inlinable
  public func weight(_ i: Int) -> Double { weights?[i] ?? 1.0 / Double(count) }

  /// Coordinate `c` of point `i`.
  @inlinable
  public subscript(i: Int, c: Int) -> Double { values[i * dimension + c] }
}
