import Foundation

/// `log Z` of a Gibbs density by quadrature, with its accuracy check.
public struct PartitionQuadrature: Sendable, Hashable {
  /// `log Z` by the trapezoid rule on the fine grid.
  public var logPartition: Double
  /// `|log Z_fine − log Z_coarse|`, the coarse grid being every other node. For an integrand
  /// that is analytic and negligible at the box edges the trapezoid rule converges
  /// geometrically, and this difference overestimates the fine error by orders of magnitude;
  /// for O(h²) convergence it overestimates it about threefold.
  public var errorEstimate: Double
  /// Share of the trapezoid sum carried by the nodes on the box boundary. It should be tiny
  /// (say < 1e−12): otherwise the box truncates the density, and neither number above
  /// accounts for the mass outside.
  public var boundaryShare: Double
  /// Nodes evaluated.
  public var nodes: Int

  @usableFromInline
  init(logPartition: Double, errorEstimate: Double, boundaryShare: Double, nodes: Int) {
    self.logPartition = logPartition
    self.errorEstimate = errorEstimate
    self.boundaryShare = boundaryShare
    self.nodes = nodes
  }
}

/// Quadrature of partition functions `Z = ∫ exp(−V(x)/λ) dx` in dimension 1 and 2.
public enum GibbsQuadrature {
  /// `log Z = log ∫_box exp(−V(x)/λ) dx` by the tensor trapezoid rule, summed as a
  /// log-sum-exp (stable for any λ: no exp overflows or underflows before the shift):
  ///
  ///     log Z ≈ log(Π_a h_a) + M + log Σ_j w_j exp(−V(x_j)/λ − M),   M = max_j(−V(x_j)/λ)
  ///
  /// with `h_a = (b_a − a_a)/N`, `N + 1` nodes per axis, trapezoid weights `w_j` (1 inside,
  /// 1/2 per boundary coordinate). The same sum over every other node gives `log Z_coarse`
  /// and ``PartitionQuadrature/errorEstimate``. For an integrand analytic in a strip and
  /// negligible at the box boundary the trapezoid rule converges geometrically in N
  /// (Trefethen and Weideman, "The exponentially convergent trapezoidal rule", SIAM Review
  /// 56(3), 2014); the box must contain the mass (check ``PartitionQuadrature/boundaryShare``).
  ///
  /// - Parameters:
  ///   - potential: V on R^d, d = `box.count` ∈ {1, 2}.
  ///   - temperature: λ > 0.
  ///   - box: one finite interval per axis.
  ///   - intervals: N, intervals per axis (even, ≥ 2).
  /// - Throws: ``DivergenceError/nonFinite`` if V is NaN or −∞ at a node (+∞ is allowed and
  ///   contributes zero).
  /// - Complexity: (N + 1)^d potential evaluations.
  @inlinable
  public static func logPartition<Potential: ScalarPotential>(
    of potential: Potential, temperature: Double, over box: [ClosedRange<Double>],
    intervals: Int
  ) throws(DivergenceError) -> PartitionQuadrature {
    let d = box.count
    precondition(d == 1 || d == 2, "quadrature is for dimension 1 or 2")
    precondition(intervals >= 2 && intervals % 2 == 0, "intervals must be even and ≥ 2")
    precondition(temperature > 0 && temperature.isFinite, "temperature must be positive")
    for r in box { precondition(r.lowerBound.isFinite && r.upperBound.isFinite && r.upperBound > r.lowerBound) }
    let n = intervals
    let ny = d == 2 ? n : 0
    let h = box.map { ($0.upperBound - $0.lowerBound) / Double(n) }
    // Exponents −V/λ on the grid (row-major, axis 0 slowest).
    var exponents = [Double](repeating: 0, count: (n + 1) * (ny + 1))
    var point = [Double](repeating: 0, count: d)
    var maximum = -Double.infinity
    for i in 0...n {
      point[0] = box[0].lowerBound + Double(i) * h[0]
      for j in 0...ny {
        if d == 2 { point[1] = box[1].lowerBound + Double(j) * h[1] }
        let v = point.withUnsafeBufferPointer { potential.value(at: $0) }
        if v.isNaN || v == -.infinity { throw .nonFinite }
        let e = -v / temperature
        exponents[i * (ny + 1) + j] = e
        maximum = max(maximum, e)
      }
    }
    guard maximum.isFinite else { throw .nonFinite }
    var fine = 0.0, coarse = 0.0, boundary = 0.0
    for i in 0...n {
      let wi = (i == 0 || i == n) ? 0.5 : 1.0
      for j in 0...ny {
        let wj = d == 1 ? 1.0 : ((j == 0 || j == ny) ? 0.5 : 1.0)
        let term = Foundation.exp(exponents[i * (ny + 1) + j] - maximum)
        fine += wi * wj * term
        if i == 0 || i == n || (d == 2 && (j == 0 || j == ny)) { boundary += wi * wj * term }
        if i % 2 == 0 && j % 2 == 0 { coarse += wi * wj * term }
      }
    }
    let logCell = h.reduce(0) { $0 + Foundation.log($1) }
    let logFine = logCell + maximum + Foundation.log(fine)
    let logCoarse = logCell + Double(d) * Foundation.log(2.0) + maximum + Foundation.log(coarse)
    return PartitionQuadrature(
      logPartition: logFine, errorEstimate: abs(logFine - logCoarse),
      boundaryShare: boundary / fine, nodes: (n + 1) * (ny + 1))
  }
}

extension GibbsDensity {
  /// The Gibbs density of `potential` at `temperature` with `log Z` by
  /// ``GibbsQuadrature/logPartition(of:temperature:over:intervals:)`` (d = `box.count` ≤ 2),
  /// and the quadrature's accuracy check.
  @inlinable
  public static func byQuadrature(
    potential: Potential, temperature: Double, over box: [ClosedRange<Double>],
    intervals: Int = 2048
  ) throws(DivergenceError) -> (density: GibbsDensity, quadrature: PartitionQuadrature) {
    let q = try GibbsQuadrature.logPartition(
      of: potential, temperature: temperature, over: box, intervals: intervals)
    return (
      GibbsDensity(
        potential: potential, temperature: temperature, dimension: box.count,
        logPartition: q.logPartition), q
    )
  }
}
