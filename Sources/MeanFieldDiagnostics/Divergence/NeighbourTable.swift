/// What a nearest-neighbour query does with reference points at distance exactly zero.
///
/// Duplicate points (resampled particles, a collapsed ensemble, ties produced by rounding)
/// give zero neighbour distances, and `log 0 = −∞` in every kNN estimator. With ``skip``
/// a neighbour is the k-th nearest among the reference points at *strictly positive*
/// distance (counted with multiplicity), so the estimators stay finite as long as each
/// query has at least k reference points different from itself.
public enum ZeroDistancePolicy: Sendable, Hashable {
  /// Zero distances are ordinary neighbours (the textbook definition).
  case keep
  /// Reference points at distance exactly zero are not neighbours (the estimators' default).
  case skip
}

/// Which reference point, if any, a query must not return.
public enum NeighbourExclusion: Sendable, Hashable {
  /// Every reference point may be a neighbour.
  case none
  /// Query `i` never returns reference point `i` (self-queries, `queries == reference`).
  case sameIndex
}

/// The k nearest reference points of every query, in increasing order of
/// `(distance, reference index)`.
///
/// Distances are Euclidean, from the squared distance summed in coordinate order
/// (``exactSquaredDistance(_:_:dimension:)``), so every search method returns the same
/// bits. A query with fewer than k admissible reference points has its missing slots set to
/// index −1 and distance `+∞`, and is counted in ``incompleteQueries``. Coordinates must be
/// finite (the estimators check; the searches assume it).
public struct NeighbourTable: Sendable, Equatable {
  /// Neighbours per query.
  public let k: Int
  /// Number of queries.
  public let queryCount: Int
  /// Reference indices, row-major `queryCount × k`.
  public var indices: [Int]
  /// Euclidean distances, row-major `queryCount × k`.
  public var distances: [Double]
  /// Sum over queries of the admissible reference points at distance exactly zero (skipped
  /// or kept according to the policy; an excluded index is never counted).
  public var zeroDistancePairs: Int
  /// Queries with fewer than k admissible neighbours.
  public var incompleteQueries: Int

  /// An empty table for `queryCount` queries (every slot missing).
  public init(queryCount: Int, k: Int) {
    precondition(k >= 1 && queryCount >= 0)
    self.k = k
    self.queryCount = queryCount
    indices = [Int](repeating: -1, count: queryCount * k)
    distances = [Double](repeating: .infinity, count: queryCount * k)
    zeroDistancePairs = 0
    incompleteQueries = 0
  }

  /// Distance from query `i` to its `r`-th neighbour (`r` from 0).
  @inlinable
  public func distance(query i: Int, rank r: Int) -> Double { distances[i * k + r] }

  /// Reference index of query `i`'s `r`-th neighbour (`r` from 0), −1 when missing.
  @inlinable
  public func index(query i: Int, rank r: Int) -> Int { indices[i * k + r] }
}

/// `Σ_c (x_c − y_c)²` accumulated in coordinate order `c = 0, 1, …, d−1`.
///
/// The one definition of distance that all neighbour searches share: a k-d tree and a
/// brute-force search return bitwise-identical neighbour distances because both end in this
/// function. Floating-point addition of non-negative terms is monotone, so any prefix of the
/// sum is a lower bound of the whole (used for early exits).
@inlinable @inline(__always)
public func exactSquaredDistance(
  _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, dimension d: Int
) -> Double {
  var s = 0.0
  for c in 0..<d {
    let t = x[c] - y[c]
    s += t * t
  }
  return s
}

/// The k best `(squared distance, index)` pairs seen so far, kept sorted; a small insertion
/// buffer, as k is small in the estimators (1 to ~20).
@usableFromInline
struct NeighbourHeap {
  @usableFromInline var keys: UnsafeMutablePointer<Double>
  @usableFromInline var ids: UnsafeMutablePointer<Int>
  @usableFromInline let k: Int
  @usableFromInline var size: Int = 0

  @inlinable
  init(keys: UnsafeMutablePointer<Double>, ids: UnsafeMutablePointer<Int>, k: Int) {
    self.keys = keys
    self.ids = ids
    self.k = k
  }

  /// The squared distance a candidate must not exceed to enter (+∞ until k are held).
  @inlinable @inline(__always)
  var bound: Double { size < k ? .infinity : keys[k - 1] }

  @inlinable @inline(__always)
  mutating func reset() { size = 0 }

  /// Inserts `(s, id)` if it precedes the current k-th in `(s, id)` order.
  @inlinable @inline(__always)
  mutating func offer(_ s: Double, _ id: Int) {
    if size == k {
      let ws = keys[k - 1]
      if s > ws || (s == ws && id > ids[k - 1]) { return }
    } else {
      size += 1
    }
    var p = size - 1
    while p > 0 && (keys[p - 1] > s || (keys[p - 1] == s && ids[p - 1] > id)) {
      keys[p] = keys[p - 1]
      ids[p] = ids[p - 1]
      p -= 1
    }
    keys[p] = s
    ids[p] = id
  }
}
