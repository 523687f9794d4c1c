/// Why an optimal-transport diagnostic refused its input.
///
/// Invalid *data* (NaN or infinite coordinates, empty clouds, mismatched dimensions) is reported
/// by throwing one of these, so that a diagnostic never turns a bad snapshot into a NaN in the
/// output. Non-convergence of an iterative solver is not an error: it is a field of the
/// solver's result (`SinkhornResult.isConverged`).
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A coordinate, weight or parameter is NaN or infinite.
  ///
  /// `argument` names the input ("source", "target", "source weights", "mean1", ...) and
  /// `index` is the flat index of the first offending value in it.
  case nonFiniteValue(argument: String, index: Int)
  /// A point cloud or sample has no points.
  case empty(argument: String)
  /// The two inputs live in spaces of different dimension.
  case dimensionMismatch(source: Int, target: Int)
  /// The method needs two clouds of the same size (exact assignment).
  case countMismatch(source: Int, target: Int)
  /// The method needs uniform weights (exact assignment).
  case weightsNotUniform(argument: String)
  /// A weight is negative, or the weights do not have positive total mass.
  case invalidWeights(argument: String)
  /// A parameter is outside its domain (e.g. a non-positive regularisation).
  case invalidParameter(name: String, reason: String)

  /// A one-line explanation naming the offending input.
  public var description: String {
    switch self {
    case .nonFiniteValue(let argument, let index):
      return "\(argument) holds a non-finite value (NaN or infinity) at flat index \(index)"
    case .empty(let argument):
      return "\(argument) is empty"
    case .dimensionMismatch(let s, let t):
      return "dimension mismatch: source has dimension \(s), target \(t)"
    case .countMismatch(let s, let t):
      return "the exact assignment needs equal sizes: source has \(s) points, target \(t)"
    case .weightsNotUniform(let argument):
      return "the exact assignment needs uniform weights; \(argument) has non-uniform weights"
    case .invalidWeights(let argument):
      return "\(argument): weights must be non-negative with positive sum"
    case .invalidParameter(let name, let reason):
      return "invalid \(name): \(reason)"
    }
  }
}

// MARK: - Input checks shared by the transport diagnostics

extension TransportError {
  /// Throws `.nonFiniteValue` for the first NaN or infinity in `values`.
  static func checkFinite(_ values: [Double], argument: String) throws(TransportError) {
    let bad = values.withUnsafeBufferPointer { p -> Int? in
      // One pass with a vectorisable test; the index is searched only on failure.
      var allFinite = true
      for v in p { allFinite = allFinite && v.isFinite }
      if allFinite { return nil }
      return p.firstIndex { !$0.isFinite }
    }
    if let bad { throw .nonFiniteValue(argument: argument, index: bad) }
  }

  /// Checks a cloud's coordinates and weights (finite, non-negative, positive mass).
  static func checkCloud(_ cloud: PointCloud, argument: String) throws(TransportError) {
    if cloud.count == 0 { throw .empty(argument: argument) }
    try checkFinite(cloud.values, argument: argument)
    if let w = cloud.weights {
      try checkFinite(w, argument: argument + " weights")
      if w.contains(where: { $0 < 0 }) || !(w.reduce(0, +) > 0) {
        throw .invalidWeights(argument: argument + " weights")
      }
    }
  }

  /// Checks a pair of clouds: each valid, same dimension.
  static func checkPair(_ source: PointCloud, _ target: PointCloud) throws(TransportError) {
    try checkCloud(source, argument: "source")
    try checkCloud(target, argument: "target")
    if source.dimension != target.dimension {
      throw .dimensionMismatch(source: source.dimension, target: target.dimension)
    }
  }
}
