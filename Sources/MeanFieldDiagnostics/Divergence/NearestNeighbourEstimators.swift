import Foundation

/// A Kozachenko–Leonenko entropy estimate and what it was computed from.
public struct EntropyEstimate: Sendable, Hashable {
  /// Ĥ in nats.
  public var value: Double
  /// Neighbour rank used.
  public var k: Int
  /// Sample size n.
  public var sampleCount: Int
  /// Dimension d.
  public var dimension: Int
  /// Pairs of sample points at distance exactly zero (duplicates); see ``ZeroDistancePolicy``.
  public var zeroDistancePairs: Int
}

/// A k-nearest-neighbour divergence estimate between two samples.
public struct DivergenceEstimate: Sendable, Hashable {
  /// D̂(P‖Q) in nats.
  public var value: Double
  /// Neighbour rank used (the same in both samples).
  public var k: Int
  /// Size n of the sample from P.
  public var sampleCount: Int
  /// Size m of the sample from Q.
  public var referenceCount: Int
  /// Dimension d.
  public var dimension: Int
  /// Zero-distance pairs met within P (excluding each point itself) plus between P and Q.
  public var zeroDistancePairs: Int
}

/// Checks that an estimator input is an equally weighted cloud of finite points.
@inline(__always)
func validateSample(_ x: PointCloud, name: String) throws(DivergenceError) {
  precondition(x.weights == nil, "\(name): kNN estimators take equally weighted samples")
  for v in x.values where !v.isFinite { throw .nonFinite }
}

/// The k-th neighbour distance of query i.
@inline(__always)
func kthDistance(_ table: NeighbourTable, _ i: Int) -> Double {
  table.distances[i * table.k + table.k - 1]
}

/// The Kozachenko–Leonenko k-nearest-neighbour estimate of the differential entropy
/// `H(μ) = −∫ μ log μ` from an i.i.d. sample `x_1, …, x_n` of μ on R^d:
///
///     Ĥ = ψ(n) − ψ(k) + log V_d + (d/n) Σ_i log ρ_k(i)
///
/// where `ρ_k(i)` is the Euclidean distance from `x_i` to its k-th nearest neighbour among
/// the other sample points, ψ the digamma function and `V_d` the volume of the unit ball
/// (Kozachenko and Leonenko, Probl. Inf. Transm. 23, 1987; this form with general k:
/// Kraskov, Stögbauer and Grassberger, Phys. Rev. E 69, 066138, 2004, eq. 20; Goria et al.,
/// J. Nonparametric Stat. 17, 2005). Consistent for every fixed k as n → ∞; the bias at
/// finite n is O(n^{−1/d}) for smooth densities of bounded support and smaller for Gaussians.
///
/// Duplicates: with the default ``ZeroDistancePolicy/skip``, `ρ_k(i)` is the k-th smallest
/// *strictly positive* distance from `x_i` to the others (so a repeated point never gives
/// `log 0`); the number of zero pairs met is reported.
///
/// - Parameters:
///   - sample: n ≥ k + 1 equally weighted points.
///   - k: the neighbour rank (≥ 1; 3 to 10 trades bias against variance).
///   - options: search method, zero-distance policy and threads.
/// - Returns: the estimate.
/// - Throws: ``DivergenceError/sampleTooSmall(count:required:)``,
///   ``DivergenceError/nonFinite``, or ``DivergenceError/tooFewNeighbours(queries:k:)`` when
///   some point has fewer than k others at admissible distance (or with
///   ``ZeroDistancePolicy/keep``, when a k-th distance is zero).
/// - Complexity: one self k-NN search (see ``NeighbourMethod``) plus O(n).
public func differentialEntropy(
  of sample: PointCloud, k: Int = 5, options: NeighbourSearchOptions = .init()
) throws(DivergenceError) -> EntropyEstimate {
  precondition(k >= 1, "k must be positive")
  try validateSample(sample, name: "differentialEntropy")
  let n = sample.count, d = sample.dimension
  guard n >= k + 1 else { throw .sampleTooSmall(count: n, required: k + 1) }
  let table = nearestNeighbours(of: sample, in: sample, k: k, exclusion: .sameIndex, options: options)
  var sumLog = 0.0
  var zeroKth = 0
  for i in 0..<n {
    let rho = kthDistance(table, i)
    if rho == 0 { zeroKth += 1 }
    sumLog += Foundation.log(rho)
  }
  guard table.incompleteQueries == 0 else {
    throw .tooFewNeighbours(queries: table.incompleteQueries, k: k)
  }
  guard zeroKth == 0 else { throw .tooFewNeighbours(queries: zeroKth, k: k) }
  let value =
    digamma(Double(n)) - digamma(Double(k)) + logUnitBallVolume(dimension: d)
    + Double(d) * sumLog / Double(n)
  return EntropyEstimate(
    value: value, k: k, sampleCount: n, dimension: d, zeroDistancePairs: table.zeroDistancePairs)
}

/// The Wang–Kulkarni–Verdú k-nearest-neighbour estimate of `KL(P‖Q) = ∫ p log(p/q)` from
/// i.i.d. samples `x_1..x_n ~ P` and `y_1..y_m ~ Q` in R^d:
///
///     D̂(P‖Q) = (d/n) Σ_i log(ν_k(i) / ρ_k(i)) + log(m / (n − 1))
///
/// with `ρ_k(i)` the distance from `x_i` to its k-th nearest neighbour in `{x_j : j ≠ i}` and
/// `ν_k(i)` the distance from `x_i` to its k-th nearest neighbour in `{y_j}` (Wang, Kulkarni
/// and Verdú, "Divergence estimation for multidimensional densities via k-nearest-neighbor
/// distances", IEEE Trans. Inf. Theory 55(5), 2009, eq. 17 with k = l). Asymptotically
/// unbiased and mean-square consistent; the finite-n bias is measured in `docs/KL-BIAS.md`.
///
/// Duplicates: with the default ``ZeroDistancePolicy/skip`` both ρ and ν are k-th smallest
/// *strictly positive* distances, so repeated points (within P, or shared by P and Q) never
/// give `log 0` or `log ∞`.
///
/// - Parameters:
///   - p: n ≥ k + 1 equally weighted points from P.
///   - q: m ≥ k equally weighted points from Q (same dimension).
///   - k: neighbour rank (≥ 1).
///   - options: search method, zero-distance policy and threads.
/// - Returns: the estimate (nats; may be negative at finite n).
/// - Throws: as ``differentialEntropy(of:k:options:)``.
/// - Complexity: two k-NN searches (P in P, P in Q) plus O(n).
public func klDivergence(
  of p: PointCloud, relativeTo q: PointCloud, k: Int = 5,
  options: NeighbourSearchOptions = .init()
) throws(DivergenceError) -> DivergenceEstimate {
  precondition(k >= 1, "k must be positive")
  precondition(p.dimension == q.dimension, "samples have different dimensions")
  try validateSample(p, name: "klDivergence")
  try validateSample(q, name: "klDivergence")
  let n = p.count, m = q.count, d = p.dimension
  guard n >= k + 1 else { throw .sampleTooSmall(count: n, required: k + 1) }
  guard m >= k else { throw .sampleTooSmall(count: m, required: k) }
  let within = nearestNeighbours(of: p, in: p, k: k, exclusion: .sameIndex, options: options)
  let across = nearestNeighbours(of: p, in: q, k: k, exclusion: .none, options: options)
  let incomplete = within.incompleteQueries + across.incompleteQueries
  guard incomplete == 0 else { throw .tooFewNeighbours(queries: incomplete, k: k) }
  var sumLog = 0.0
  var zeroKth = 0
  for i in 0..<n {
    let rho = kthDistance(within, i), nu = kthDistance(across, i)
    if rho == 0 || nu == 0 { zeroKth += 1 }
    sumLog += Foundation.log(nu / rho)
  }
  guard zeroKth == 0 else { throw .tooFewNeighbours(queries: zeroKth, k: k) }
  let value = Double(d) * sumLog / Double(n) + Foundation.log(Double(m) / Double(n - 1))
  return DivergenceEstimate(
    value: value, k: k, sampleCount: n, referenceCount: m, dimension: d,
    zeroDistancePairs: within.zeroDistancePairs + across.zeroDistancePairs)
}
