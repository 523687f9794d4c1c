/// How the k-nearest-neighbour estimators search.
///
/// ``automatic`` follows measurements on this code base (self-queries, k = 5, standard
/// Gaussian clouds, one thread; the table is in the benchmark's README section of
/// `docs/KL-BIAS.md`): the k-d tree wins clearly in low dimension, and brute force with BLAS
/// screening wins from d ≈ 8 at n = 10⁴ (in d = 10 the tree reads most leaves).
public enum NeighbourMethod: Sendable, Hashable {
  /// A ``KDTree`` with the given leaf size.
  case kdTree(leafSize: Int)
  /// ``BruteForceNeighbours``.
  case bruteForce
  /// Chosen from `(reference count, dimension)` by ``resolved(referenceCount:dimension:)``.
  case automatic

  /// The concrete method ``automatic`` stands for with `n` reference points in dimension d.
  ///
  /// Brute force when `d ≥ 8` or `n ≤ 256` (nothing to prune), otherwise a tree with leaf
  /// size 8 for d ≤ 3, 32 for d ≤ 5 and 64 above.
  public func resolved(referenceCount n: Int, dimension d: Int) -> NeighbourMethod {
    guard case .automatic = self else { return self }
    if d >= 8 || n <= 256 { return .bruteForce }
    return .kdTree(leafSize: d <= 3 ? 8 : (d <= 5 ? 32 : 64))
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
