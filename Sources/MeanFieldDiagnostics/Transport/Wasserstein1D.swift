extension OptimalTransport {
  /// W2 between two weighted samples on the real line, exactly, through quantile functions.
  ///
  ///     W2²(μ, ν) = ∫_0^1 |F⁻¹(s) − G⁻¹(s)|² ds
  ///
  /// Both quantile functions are step functions; with the samples sorted and `A_i`, `B_j`
  /// the cumulative weights, the integral is a sum over the merged breakpoints
  /// `{A_i} ∪ {B_j}`: each interval between consecutive breakpoints contributes its length
  /// times the squared gap between the two atoms active on it. Sizes may differ; equal
  /// sizes with uniform weights reduce to `(1/n) Σ_i (x_(i) − y_(i))²`.
  ///
  /// - Parameters:
  ///   - source: the atoms `x_i`.
  ///   - target: the atoms `y_j`.
  ///   - sourceWeights: non-negative weights of `x` (normalised here); nil for uniform.
  ///   - targetWeights: non-negative weights of `y`; nil for uniform.
  /// - Returns: `W2` (not squared); see `squaredWasserstein1D` for `W2²`.
  /// - Throws: `TransportError` for empty or non-finite input, or invalid weights.
  /// - Complexity: O((n + m) log(n + m)) for weighted input (a comparison sort), O(n + m)
  ///   otherwise (radix sort), plus O(n + m) for the merge.
  /// - Reference: Villani, "Topics in Optimal Transportation" (2003), Thm 2.18; Peyré &
  ///   Cuturi, "Computational optimal transport" (2019), Remark 2.30.
  public static func wasserstein1D(
    _ source: [Double], _ target: [Double], sourceWeights: [Double]? = nil,
    targetWeights: [Double]? = nil
  ) throws(TransportError) -> Double {
    try squaredWasserstein1D(
      source, target, sourceWeights: sourceWeights, targetWeights: targetWeights
    ).squareRoot()
  }

  /// `W2²` between two weighted samples on the real line; see `wasserstein1D`.
  public static func squaredWasserstein1D(
    _ source: [Double], _ target: [Double], sourceWeights: [Double]? = nil,
    targetWeights: [Double]? = nil
  ) throws(TransportError) -> Double {
    let a = try OneDimensionalSample(source, weights: sourceWeights, argument: "source")
    let b = try OneDimensionalSample(target, weights: targetWeights, argument: "target")
    return OneDimensionalSample.squaredDistance(a, b)
  }

  /// W2 between two one-dimensional point clouds (their weights are used); see
  /// `wasserstein1D(_:_:sourceWeights:targetWeights:)`.
  public static func wasserstein1D(
    between source: PointCloud, and target: PointCloud
  ) throws(TransportError) -> Double {
    try squaredWasserstein1D(between: source, and: target).squareRoot()
  }

  /// `W2²` between two one-dimensional point clouds; see `wasserstein1D`.
  public static func squaredWasserstein1D(
    between source: PointCloud, and target: PointCloud
  ) throws(TransportError) -> Double {
    try TransportError.checkPair(source, target)
    if source.dimension != 1 {
      throw .invalidParameter(
        name: "dimension",
        reason: "wasserstein1D needs one-dimensional clouds, got \(source.dimension)")
    }
    return try squaredWasserstein1D(
      source.values, target.values, sourceWeights: source.weights, targetWeights: target.weights)
  }
}

/// A sorted one-dimensional sample with its cumulative weights.
struct OneDimensionalSample {
  /// Sorted atoms.
  var values: [Double]
  /// Cumulative weights `A_i = Σ_{k ≤ i} a_(k)`, with the last forced to exactly 1; nil for
  /// uniform weights (then `A_i = (i + 1)/n`, correctly rounded).
  var cumulative: [Double]?

  init(_ values: [Double], weights: [Double]?, argument: String) throws(TransportError) {
    if values.isEmpty { throw .empty(argument: argument) }
    try TransportError.checkFinite(values, argument: argument)
    if var w = weights {
      if w.count != values.count {
        throw .invalidParameter(name: argument + " weights", reason: "need one weight per atom")
      }
      try TransportError.checkFinite(w, argument: argument + " weights")
      if w.contains(where: { $0 < 0 }) { throw .invalidWeights(argument: argument + " weights") }
      var sorted = values
      RadixSort.sort(&sorted, payload: &w)
      var total = CompensatedSum()
      for x in w { total.add(x) }
      guard total.value > 0 else { throw .invalidWeights(argument: argument + " weights") }
      var running = CompensatedSum()
      var cum = [Double](repeating: 0, count: w.count)
      for i in 0..<w.count {
        running.add(w[i])
        cum[i] = running.value / total.value
      }
      cum[cum.count - 1] = 1
      self.values = sorted
      self.cumulative = cum
    } else {
      var sorted = values
      let workspace = RadixSortWorkspace(capacity: sorted.count)
      sorted.withUnsafeMutableBufferPointer { workspace.sort($0.baseAddress!, count: $0.count) }
      self.values = sorted
      self.cumulative = nil
    }
  }

  @inline(__always)
  func breakpoint(_ i: Int) -> Double {
    if let cumulative { return cumulative[i] }
    return Double(i + 1) / Double(values.count)
  }

  /// The quantile function `F⁻¹(s) = x_(i)` for the first `i` with `A_i ≥ s`.
  func quantile(_ s: Double) -> Double {
    var a = 0
    var b = values.count - 1
    while a < b {
      let m = (a + b) / 2
      if breakpoint(m) < s { a = m + 1 } else { b = m }
    }
    return values[a]
  }

  /// The merged-breakpoint integral of `|F⁻¹ − G⁻¹|²`.
  static func squaredDistance(_ a: OneDimensionalSample, _ b: OneDimensionalSample) -> Double {
    let n = a.values.count
    let m = b.values.count
    if a.cumulative == nil && b.cumulative == nil {
      return a.values.withUnsafeBufferPointer { x in
        b.values.withUnsafeBufferPointer { y in
          n == m
            ? uniformSquaredDistance(x.baseAddress!, y.baseAddress!, count: n)
            : uniformSquaredDistance(x.baseAddress!, count: n, y.baseAddress!, count: m)
        }
      }
    }
    var total = CompensatedSum()
    var i = 0
    var j = 0
    var previous = 0.0
    while i < n && j < m {
      let ai = a.breakpoint(i)
      let bj = b.breakpoint(j)
      let next = min(ai, bj)
      let diff = a.values[i] - b.values[j]
      total.add((next - previous) * (diff * diff))
      previous = next
      if ai <= bj { i += 1 }
      if bj <= ai { j += 1 }
    }
    return total.value
  }

  /// The merged-breakpoint integral for sorted uniform samples of sizes n and m (breakpoints
  /// `(i + 1)/n` and `(j + 1)/m`), without allocating.
  static func uniformSquaredDistance(
    _ x: UnsafePointer<Double>, count n: Int, _ y: UnsafePointer<Double>, count m: Int
  ) -> Double {
    var total = CompensatedSum()
    var i = 0
    var j = 0
    var previous = 0.0
    while i < n && j < m {
      let ai = Double(i + 1) / Double(n)
      let bj = Double(j + 1) / Double(m)
      let next = min(ai, bj)
      let diff = x[i] - y[j]
      total.add((next - previous) * (diff * diff))
      previous = next
      if ai <= bj { i += 1 }
      if bj <= ai { j += 1 }
    }
    return total.value
  }

  /// `(1/n) Σ (x_i − y_i)²` for sorted equal-size samples (eight partial sums, fixed order).
  @inline(__always)
  static func uniformSquaredDistance(
    _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, count n: Int
  ) -> Double {
    var acc = TransportVector()
    var i = 0
    while i + 8 <= n {
      let diff = TransportVector.load(x + i) - TransportVector.load(y + i)
      acc = acc.addingProduct(diff, diff)
      i += 8
    }
    var tail = 0.0
    while i < n {
      let diff = x[i] - y[i]
      tail += diff * diff
      i += 1
    }
    return (acc.fixedOrderSum + tail) / Double(n)
  }
}
