/// How the k-nearest-neighbour estimators search.
///
/// ``automatic`` follows measurements of this code (`DivergenceBenchmark scan`: self-queries,
/// k = 5, standard Gaussian clouds, one thread, CPU seconds, tree build included):
///
///     n = 10⁴      d = 2    d = 5    d = 8    d = 10   d = 20
///     tree         0.008    0.030    0.090    0.138    0.313    (best leaf: 32, 128, 512, 512, 512)
///     brute force  0.075    0.086    0.104    0.110    0.163
///
/// At n = 10³ the tree wins for d ≤ 3 and ties at d = 5; at n = 3·10⁴ it wins for d ≤ 8
/// (0.52 s against 0.91 s) and ties at d = 10. The tree's pruning weakens as d grows while
/// the brute force's cost is almost independent of d (the GEMM is cheap next to the scan
/// of the n_q × n_r approximations).
public enum NeighbourMethod: Sendable, Hashable {
  /// A ``KDTree`` with the given leaf size.
  case kdTree(leafSize: Int)
  /// ``BruteForceNeighbours``.
  case bruteForce
  /// Chosen from `(reference count, dimension)` by ``resolved(referenceCount:dimension:)``.
  case automatic

  /// The concrete method ``automatic`` stands for with `n` reference points in dimension d.
  ///
  /// Brute force when `d ≥ 10`, or `d ≥ 8` with `n < 20 000`; otherwise a tree with leaf
  /// size 32 for d ≤ 3, 128 for d ≤ 7 and 512 above.
  public func resolved(referenceCount n: Int, dimension d: Int) -> NeighbourMethod {
    guard case .automatic = self else { return self }
    if d >= 10 || (d >= 8 && n < 20_000) { return .bruteForce }
    return .kdTree(leafSize: d <= 3 ? 32 : (d <= 7 ? 128 : 512))
  }
}

/// The search settings shared by the kNN estimators.
public struct NeighbourSearchOptions: Sendable, Hashable {
  /// Tree, brute force, or the measured choice.
  public var method: NeighbourMethod
  /// Treatment of reference points at distance exactly zero (duplicates).
  public var zeroDistances: ZeroDistancePolicy
  /// Worker threads over blocks of queries (results do not depend on it).
  public var threads: Int

  /// Settings; by default the measured method, duplicates skipped, one thread.
  public init(
    method: NeighbourMethod = .automatic, zeroDistances: ZeroDistancePolicy = .skip,
    threads: Int = 1
  ) {
    precondition(threads >= 1, "threads must be positive")
    self.method = method
    self.zeroDistances = zeroDistances
    self.threads = threads
  }
}

/// The k nearest points of `reference` to each point of `queries`, by the given method.
///
/// Every method returns the same table (same indices, bitwise-equal distances).
///
/// - Parameters:
///   - queries: query points.
///   - reference: points searched (same dimension).
///   - k: neighbours per query.
///   - exclusion: ``NeighbourExclusion/sameIndex`` for self-queries.
///   - options: method, zero-distance policy and threads.
/// - Returns: the neighbour table in `(distance, index)` order.
public func nearestNeighbours(
  of queries: PointCloud, in reference: PointCloud, k: Int,
  exclusion: NeighbourExclusion = .none, options: NeighbourSearchOptions = .init()
) -> NeighbourTable {
  switch options.method.resolved(referenceCount: reference.count, dimension: reference.dimension)
  {
  case .kdTree(let leafSize):
    return KDTree(reference, leafSize: leafSize).neighbours(
      of: queries, k: k, exclusion: exclusion, zeroDistances: options.zeroDistances,
      threads: options.threads)
  case .bruteForce, .automatic:
    return BruteForceNeighbours.neighbours(
      of: queries, in: reference, k: k, exclusion: exclusion,
      zeroDistances: options.zeroDistances, threads: options.threads)
  }
}
