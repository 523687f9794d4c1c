import MeanFieldCore

/// Order statistics of values spread over the processes of a run, without gathering them.
///
/// Every process sorts its own values once; then each wanted order statistic is found by
/// bisection over the 64-bit keys that order doubles (exact after 64 rounds), all of them at once:
/// a round counts, locally by binary search, the values at or below each candidate and sums the
/// counts over the processes (exact integers, so the result does not depend on the order of the
/// reduction or the number of processes).
///
/// - Complexity: 64 rounds of `Q log n_local` local work and an all-reduce of Q numbers.
public enum DistributedQuantiles {
  /// A key that orders doubles as their values (−0 before +0; no NaNs expected).
  @inlinable
  static func key(_ v: Double) -> UInt64 {
    let bits = v.bitPattern
    return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
  }

  @inlinable
  static func value(_ key: UInt64) -> Double {
    Double(bitPattern: key & (1 << 63) != 0 ? key & ~(1 << 63) : ~key)
  }

  /// The order statistics of 1-based ranks `ranks` (each in 1...total) of the union of every
  /// process's `local` values. Collective.
  public static func orderStatistics<E: BlockExchange>(
    local: [Double], ranks: [Int], exchange: E
  ) throws -> [Double] {
    try orderStatistics(sets: [local], ranks: ranks, exchange: exchange)[0]
  }

  /// The same for several sets at once (each set spread over the processes, the same ranks in
  /// each): one bisection, 64 all-reduces of `sets × ranks` counts. Collective.
  public static func orderStatistics<E: BlockExchange>(
    sets: [[Double]], ranks: [Int], exchange: E
  ) throws -> [[Double]] {
    let keys = sets.map { $0.map(key).sorted() }
    let q = ranks.count, total = sets.count * q
    var lo = [UInt64](repeating: 0, count: total), hi = [UInt64](repeating: .max, count: total)
    var mids = [UInt64](repeating: 0, count: total)
    var counts = [Int64](repeating: 0, count: total)
    for _ in 0..<64 {
      for (k, set) in keys.enumerated() {
        for i in 0..<q {
          let j = k * q + i
          mids[j] = lo[j] + (hi[j] - lo[j]) / 2
          // Local count of keys ≤ mid: the upper bound by binary search.
          var a = 0, b = set.count
          while a < b {
            let m = (a + b) / 2
            if set[m] <= mids[j] { a = m + 1 } else { b = m }
          }
          counts[j] = Int64(a)
        }
      }
      try counts.withUnsafeMutableBufferPointer { try exchange.sumIntegers($0) }
      for j in 0..<total where lo[j] < hi[j] {
        if counts[j] >= Int64(ranks[j % q]) { hi[j] = mids[j] } else { lo[j] = mids[j] + 1 }
      }
    }
    return (0..<sets.count).map { k in hi[(k * q)..<((k + 1) * q)].map(value) }
  }

  /// The quantile levels s_q = (q − ½)/Q and the ranks ⌈s_q N⌉ of the midpoint rule.
  static func levels(_ count: Int, total: Int) -> (levels: [Double], ranks: [Int]) {
    let s = (0..<count).map { (Double($0) + 0.5) / Double(count) }
    return (s, s.map { min(total, max(1, Int((Double(total) * $0).rounded(.up)))) })
  }

  /// `W2²` between the empirical law of `total` values spread over the processes and a target
  /// given by its quantile function, by the midpoint rule on Q levels:
  ///
  ///     W2² ≈ (1/Q) Σ_q |F⁻¹(s_q) − G⁻¹(s_q)|²,   s_q = (q − ½)/Q,   F⁻¹(s) = x_(⌈sN⌉)
  ///
  /// exact for Q = N and equal-weight targets with N atoms. Collective.
  public static func squaredWasserstein<E: BlockExchange>(
    local: [Double], total: Int, levels: Int, targetQuantile: (Double) -> Double, exchange: E
  ) throws -> Double {
    let (s, ranks) = Self.levels(max(1, levels), total: total)
    let x = try orderStatistics(local: local, ranks: ranks, exchange: exchange)
    var sum = 0.0
    for i in s.indices {
      let diff = x[i] - targetQuantile(s[i])
      sum += diff * diff
    }
    return sum / Double(s.count)
  }

  /// Sliced W2 between the particles spread over the processes and a reference sample, by
  /// per-process projections: for each direction θ, the midpoint-rule W2² of the projected
  /// particles (distributed order statistics) against the projected reference's quantiles;
  /// averaged over directions, square root. Collective.
  public static func slicedWasserstein<E: BlockExchange>(
    local: UnsafeBufferPointer<Double>, dimension d: Int, total: Int, reference: PointCloud,
    directions: [Double], levels: Int, exchange: E
  ) throws -> Double {
    let p = directions.count / d
    let rows = local.count / d
    var projected = [[Double]](repeating: [], count: p)
    var targets = [(Double) -> Double]()
    for k in 0..<p {
      let theta = directions[(k * d)..<(k * d + d)]
      projected[k] = (0..<rows).map { i in zip(theta, local[(i * d)..<(i * d + d)]).reduce(0) { $0 + $1.0 * $1.1 } }
      targets.append(
        try referenceQuantile(
          (0..<reference.count).map { j in
            zip(theta, reference.values[(j * d)..<(j * d + d)]).reduce(0) { $0 + $1.0 * $1.1 }
          }, weights: reference.weights))
    }
    let (s, ranks) = Self.levels(max(1, levels), total: total)
    let x = try orderStatistics(sets: projected, ranks: ranks, exchange: exchange)
    var sum = 0.0
    for k in 0..<p {
      let g = targets[k]
      for i in s.indices {
        let diff = x[k][i] - g(s[i])
        sum += diff * diff
      }
    }
    return (sum / Double(p * s.count)).squareRoot()
  }
}

/// The quantile function of the reference: `sampleQuantile` for equal weights, else that of
/// the weighted atoms (`OneDimensionalSample`, the one W2 in 1-D integrates).
func referenceQuantile(_ values: [Double], weights: [Double]?) throws -> (Double) -> Double {
  guard weights != nil else { return sampleQuantile(values.sorted()) }
  return try OneDimensionalSample(values, weights: weights, argument: "reference-sample").quantile
}

/// The quantile function of a sample (equal weights): `G⁻¹(s) = y_(⌈s M⌉)`.
func sampleQuantile(_ sorted: [Double]) -> (Double) -> Double {
  { s in sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * s).rounded(.up)) - 1))] }
}

/// The quantile function of a piecewise-constant density on cells (masses per cell, centres
/// and width): linear within each cell.
func cellQuantile(masses: [Double], lower: Double, width: Double) -> (Double) -> Double {
  let total = masses.reduce(0, +)
  var cumulative = [0.0]
  for m in masses { cumulative.append(cumulative.last! + m / total) }
  return { s in
    var a = 0, b = masses.count
    while a < b {
      let m = (a + b) / 2
      if cumulative[m + 1] < s { a = m + 1 } else { b = m }
    }
    let c = min(a, masses.count - 1)
    let inside = masses[c] > 0 ? (s - cumulative[c]) / (cumulative[c + 1] - cumulative[c]) : 0.5
    return lower + (Double(c) + min(max(inside, 0), 1)) * width
  }
}
