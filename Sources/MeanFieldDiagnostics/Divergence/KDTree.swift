/// A k-d tree over a point cloud for exact k-nearest-neighbour queries.
///
/// Built once (Friedman, Bentley and Finkel, "An algorithm for finding best matches in
/// logarithmic expected time", ACM TOMS 3, 1977): each internal node splits its points at the
/// median of the coordinate of largest spread; leaves hold at most ``leafSize`` points (more
/// only when all of a node's points coincide). Every node stores the tight bounding box of
/// its points. The points are copied into tree order, each leaf as one block stored
/// coordinate-major (`block[c · size + p]`), so the distances from a query to a whole leaf
/// are one vectorised loop. A query walks the tree depth first, nearer child first, and
/// skips a node whose box is farther than the current k-th neighbour.
///
/// The search is exact, ties included. The box bound is a sum, in coordinate order, of
/// per-coordinate gaps never larger than the corresponding differences to any point inside;
/// rounding is monotone, so the computed bound never exceeds the computed distance
/// (``exactSquaredDistance(_:_:dimension:)``, whose operations the leaf loop repeats lane by
/// lane) of any point in the box, and nodes are pruned only when the bound is strictly
/// larger. Results equal a brute-force scan bit for bit, ordered by `(distance, index)`.
///
/// - Complexity: building is O(n log n · d) time and O(n d) memory; a query visits O(log n)
///   nodes in low dimension and degrades towards O(n) as d grows (with n = 10⁴ and d = 10 a
///   query reads a large fraction of the leaves; see ``NeighbourMethod``).
public struct KDTree: Sendable {
  /// Coordinates per point.
  public let dimension: Int
  /// Number of points.
  public let count: Int
  /// Largest number of points in a leaf (unless all of a leaf's points coincide).
  public let leafSize: Int
  /// Number of nodes.
  public let nodeCount: Int

  /// The tree's arrays (immutable after construction).
  @usableFromInline let storage: Storage
  /// Depth of the deepest leaf (root at 0).
  @usableFromInline let depth: Int
  /// Size of the largest leaf.
  @usableFromInline let largestLeaf: Int

  /// Builds the tree over the points of `cloud` (weights are ignored).
  ///
  /// - Parameters:
  ///   - cloud: the reference points.
  ///   - leafSize: the largest number of points in a leaf (≥ 1). Larger leaves suit higher
  ///     dimensions (the leaf scan is vectorised, the box tests are not);
  ///     ``NeighbourMethod/automatic`` picks it from measurements.
  /// - Complexity: O(n log n · d).
  public init(_ cloud: PointCloud, leafSize: Int = 32) {
    precondition(leafSize >= 1, "leafSize must be positive")
    let d = cloud.dimension, n = cloud.count
    dimension = d
    count = n
    self.leafSize = leafSize
    var builder = Builder(values: cloud.values, dimension: d, count: n, leafSize: leafSize)
    builder.build()
    depth = builder.maxDepth
    nodeCount = builder.start.count
    largestLeaf = builder.largestLeaf
    storage = Storage(builder: builder, values: cloud.values, dimension: d)
  }

  /// Tree arrays in manually managed memory, so that queries read them through plain
  /// pointers (no bounds checks or reference counting in the inner loops).
  @usableFromInline
  final class Storage: @unchecked Sendable {
    /// Points in tree order; each leaf `[s, e)` is the block `points[s·d ..< e·d]` stored
    /// coordinate-major: coordinate c of tree position p is `points[s·d + c·(e−s) + p−s]`.
    @usableFromInline let points: UnsafeMutablePointer<Double>
    /// Original index of the point in tree position `p`.
    @usableFromInline let order: UnsafeMutablePointer<Int>
    /// Per node: bounding-box lower corner then upper corner (`2 × dimension` values).
    @usableFromInline let boxes: UnsafeMutablePointer<Double>
    /// Per node: first tree position.
    @usableFromInline let start: UnsafeMutablePointer<Int>
    /// Per node: one past the last tree position.
    @usableFromInline let end: UnsafeMutablePointer<Int>
    /// Per node: right child, or −1 for a leaf (the left child of node `i` is `i + 1`).
    @usableFromInline let right: UnsafeMutablePointer<Int>

    fileprivate init(builder: Builder, values: [Double], dimension d: Int) {
      let n = builder.permutation.count, nodes = builder.start.count
      points = .allocate(capacity: max(1, n * d))
      order = .allocate(capacity: max(1, n))
      boxes = .allocate(capacity: nodes * 2 * d)
      start = .allocate(capacity: nodes)
      end = .allocate(capacity: nodes)
      right = .allocate(capacity: nodes)
      for p in 0..<n { order[p] = builder.permutation[p] }
      for i in 0..<(nodes * 2 * d) { boxes[i] = builder.boxes[i] }
      for i in 0..<nodes {
        start[i] = builder.start[i]
        end[i] = builder.end[i]
        right[i] = builder.right[i]
        if right[i] < 0 {
          let s = start[i], size = end[i] - start[i]
          for p in 0..<size {
            let o = builder.permutation[s + p]
            for c in 0..<d { points[s * d + c * size + p] = values[o * d + c] }
          }
        }
      }
    }

    deinit {
      points.deallocate()
      order.deallocate()
      boxes.deallocate()
      start.deallocate()
      end.deallocate()
      right.deallocate()
    }
  }

  /// The tree under construction: a permutation of point indices and node arrays in preorder.
  fileprivate struct Builder {
    let values: [Double]
    let d: Int
    let leafSize: Int
    var permutation: [Int]
    var boxes: [Double] = []
    var start: [Int] = []
    var end: [Int] = []
    var right: [Int] = []
    var maxDepth = 0
    var largestLeaf = 0

    init(values: [Double], dimension: Int, count: Int, leafSize: Int) {
      self.values = values
      d = dimension
      self.leafSize = leafSize
      permutation = Array(0..<count)
      let nodes = max(1, 2 * (count / max(1, leafSize / 2) + 1))
      boxes.reserveCapacity(nodes * 2 * dimension)
      start.reserveCapacity(nodes)
      end.reserveCapacity(nodes)
      right.reserveCapacity(nodes)
    }

    mutating func build() {
      if permutation.isEmpty {
        // An empty tree is one empty leaf; its box is never read (no points to reach).
        start.append(0)
        end.append(0)
        right.append(-1)
        boxes += [Double](repeating: 0, count: 2 * d)
        return
      }
      node(0, permutation.count, depth: 0)
    }

    /// Appends the node for positions `lo..<hi` and its subtree; returns its id.
    @discardableResult
    mutating func node(_ lo: Int, _ hi: Int, depth: Int) -> Int {
      let id = start.count
      start.append(lo)
      end.append(hi)
      right.append(-1)
      maxDepth = max(maxDepth, depth)
      var lower = [Double](repeating: .infinity, count: d)
      var upper = [Double](repeating: -.infinity, count: d)
      for p in lo..<hi {
        let base = permutation[p] * d
        for c in 0..<d {
          let v = values[base + c]
          if v < lower[c] { lower[c] = v }
          if v > upper[c] { upper[c] = v }
        }
      }
      boxes += lower
      boxes += upper
      var axis = 0
      var spread = upper[0] - lower[0]
      for c in 1..<max(1, d) where upper[c] - lower[c] > spread {
        spread = upper[c] - lower[c]
        axis = c
      }
      // Small enough, or all points equal (nothing to split): a leaf.
      if hi - lo <= leafSize || !(spread > 0) {
        largestLeaf = max(largestLeaf, hi - lo)
        return id
      }
      let mid = (lo + hi) / 2
      select(lo, hi, mid, axis: axis)
      node(lo, mid, depth: depth + 1)
      right[id] = node(mid, hi, depth: depth + 1)
      return id
    }

    /// Whether point a precedes point b along `axis`, ties broken by index (a strict order).
    @inline(__always)
    func precedes(_ a: Int, _ b: Int, axis: Int) -> Bool {
      let va = values[a * d + axis], vb = values[b * d + axis]
      return va < vb || (va == vb && a < b)
    }

    /// Reorders `permutation[lo..<hi]` so that position `nth` holds the element of that rank,
    /// with no later element before it and no earlier one after it (Hoare's quickselect,
    /// median-of-three pivot).
    mutating func select(_ lo: Int, _ hi: Int, _ nth: Int, axis: Int) {
      var l = lo, h = hi - 1
      while h > l {
        let m = l + (h - l) / 2
        if precedes(permutation[m], permutation[l], axis: axis) { permutation.swapAt(m, l) }
        if precedes(permutation[h], permutation[l], axis: axis) { permutation.swapAt(h, l) }
        if precedes(permutation[h], permutation[m], axis: axis) { permutation.swapAt(h, m) }
        let pivot = permutation[m]
        var i = l, j = h
        while i <= j {
          while precedes(permutation[i], pivot, axis: axis) { i += 1 }
          while precedes(pivot, permutation[j], axis: axis) { j -= 1 }
          if i <= j {
            permutation.swapAt(i, j)
            i += 1
            j -= 1
          }
        }
        if nth <= j {
          h = j
        } else if nth >= i {
          l = i
        } else {
          return
        }
      }
    }
  }
}

extension KDTree {
  /// Per-thread query memory: the traversal stack, leaf distances and the neighbour buffer.
  @usableFromInline
  final class QueryScratch {
    @usableFromInline let stackNodes: UnsafeMutablePointer<Int>
    @usableFromInline let stackBounds: UnsafeMutablePointer<Double>
    @usableFromInline let leafDistances: UnsafeMutablePointer<Double>
    @usableFromInline var heap: NeighbourHeap
    @usableFromInline let keys: UnsafeMutablePointer<Double>
    @usableFromInline let ids: UnsafeMutablePointer<Int>

    @usableFromInline
    init(depth: Int, largestLeaf: Int, k: Int) {
      let capacity = 2 * (depth + 2)
      stackNodes = .allocate(capacity: capacity)
      stackBounds = .allocate(capacity: capacity)
      leafDistances = .allocate(capacity: max(1, largestLeaf))
      keys = .allocate(capacity: k)
      ids = .allocate(capacity: k)
      heap = NeighbourHeap(keys: keys, ids: ids, k: k)
    }

    deinit {
      stackNodes.deallocate()
      stackBounds.deallocate()
      leafDistances.deallocate()
      keys.deallocate()
      ids.deallocate()
    }
  }

  /// Squared distance from `x` to a box (`lower` then `upper` corner): `Σ_c gap_c²` summed in
  /// coordinate order.
  @inlinable @inline(__always)
  static func boxBound(
    _ x: UnsafePointer<Double>, _ box: UnsafePointer<Double>, dimension d: Int
  ) -> Double {
    var s = 0.0
    for c in 0..<d {
      let lo = box[c], hi = box[d + c], v = x[c]
      let g = v < lo ? lo - v : (v > hi ? v - hi : 0.0)
      s += g * g
    }
    return s
  }

  /// Fills `scratch.heap` with the k nearest admissible points to `x`; returns the number of
  /// admissible points at distance exactly zero (all of them are visited: a box holding one
  /// has bound 0).
  @inlinable
  func search(
    _ x: UnsafePointer<Double>, excluding excluded: Int, skipZero: Bool, scratch: QueryScratch
  ) -> Int {
    let d = dimension
    let pts = storage.points, ord = storage.order, bx = storage.boxes
    let st = storage.start, en = storage.end, rt = storage.right
    let dist = scratch.leafDistances
    let stackNodes = scratch.stackNodes, stackBounds = scratch.stackBounds
    scratch.heap.reset()
    var zeros = 0
    stackNodes[0] = 0
    stackBounds[0] = 0
    var top = 1
    while top > 0 {
      top -= 1
      let node = stackNodes[top]
      if stackBounds[top] > scratch.heap.bound { continue }
      let r = rt[node]
      if r < 0 {
        let s0 = st[node], size = en[node] - s0
        let block = pts + s0 * d
        // The operations of exactSquaredDistance, one lane per leaf point.
        for p in 0..<size { dist[p] = 0 }
        for c in 0..<d {
          let xc = x[c]
          let column = block + c * size
          for p in 0..<size {
            let t = xc - column[p]
            dist[p] += t * t
          }
        }
        for p in 0..<size {
          let s = dist[p]
          if s > scratch.heap.bound { continue }
          let id = ord[s0 + p]
          if id == excluded { continue }
          if s == 0 {
            zeros += 1
            if skipZero { continue }
          }
          scratch.heap.offer(s, id)
        }
        continue
      }
      let l = node + 1
      let bl = Self.boxBound(x, bx + 2 * d * l, dimension: d)
      let br = Self.boxBound(x, bx + 2 * d * r, dimension: d)
      // Push the farther child first so that the nearer one is searched first.
      let nearIsLeft = bl <= br
      let near = nearIsLeft ? l : r, far = nearIsLeft ? r : l
      let bn = nearIsLeft ? bl : br, bf = nearIsLeft ? br : bl
      let bound = scratch.heap.bound
      if bf <= bound {
        stackNodes[top] = far
        stackBounds[top] = bf
        top += 1
      }
      if bn <= bound {
        stackNodes[top] = near
        stackBounds[top] = bn
        top += 1
      }
    }
    return zeros
  }

  /// The k nearest points of the tree to every point of `queries`.
  ///
  /// - Parameters:
  ///   - queries: query points (same dimension as the tree).
  ///   - k: neighbours per query (≥ 1).
  ///   - exclusion: ``NeighbourExclusion/sameIndex`` when `queries` is the tree's own cloud.
  ///   - zeroDistances: whether reference points at distance zero count as neighbours.
  ///   - threads: worker threads over blocks of queries; the result does not depend on it.
  /// - Returns: the neighbour table, ordered by `(distance, original index)` per query.
  /// - Complexity: O(n_q · visited nodes · d) after the O(n log n · d) build.
  @inlinable
  public func neighbours(
    of queries: PointCloud, k: Int, exclusion: NeighbourExclusion = .none,
    zeroDistances: ZeroDistancePolicy = .keep, threads: Int = 1
  ) -> NeighbourTable {
    precondition(queries.dimension == dimension, "query dimension differs from the tree's")
    precondition(k >= 1, "k must be positive")
    let nq = queries.count
    if exclusion == .sameIndex {
      precondition(nq == count, "sameIndex exclusion needs as many queries as tree points")
    }
    var table = NeighbourTable(queryCount: nq, k: k)
    let d = dimension
    let skipZero = zeroDistances == .skip
    let excludeSame = exclusion == .sameIndex
    withExtendedLifetime(storage) {
      queries.values.withUnsafeBufferPointer { q in
        table.fill(chunks: threads) { out, chunk, range in
          let scratch = QueryScratch(depth: depth, largestLeaf: largestLeaf, k: k)
          var zeros = 0, incomplete = 0
          for i in range {
            zeros += search(
              q.baseAddress! + i * d, excluding: excludeSame ? i : -1, skipZero: skipZero,
              scratch: scratch)
            let heap = scratch.heap
            if heap.size < k { incomplete += 1 }
            for r in 0..<heap.size {
              out.indices[i * k + r] = heap.ids[r]
              out.distances[i * k + r] = heap.keys[r].squareRoot()
            }
          }
          out.zeros[chunk] = zeros
          out.incomplete[chunk] = incomplete
        }
      }
    }
    return table
  }

  /// The k nearest points of the tree to one point `x` (length ``dimension``).
  ///
  /// - Parameters:
  ///   - x: the query point.
  ///   - k: number of neighbours (≥ 1).
  ///   - excluding: an original index that must not be returned (e.g. the query's own).
  ///   - zeroDistances: whether points at distance zero count as neighbours.
  /// - Returns: up to k `(index, distance)` pairs in increasing `(distance, index)` order.
  public func neighbours(
    of x: [Double], k: Int, excluding: Int? = nil, zeroDistances: ZeroDistancePolicy = .keep
  ) -> [(index: Int, distance: Double)] {
    precondition(x.count == dimension, "query dimension differs from the tree's")
    precondition(k >= 1, "k must be positive")
    let scratch = QueryScratch(depth: depth, largestLeaf: largestLeaf, k: k)
    withExtendedLifetime(storage) {
      x.withUnsafeBufferPointer { q in
        _ = search(
          q.baseAddress!, excluding: excluding ?? -1, skipZero: zeroDistances == .skip,
          scratch: scratch)
      }
    }
    let heap = scratch.heap
    return (0..<heap.size).map { (heap.ids[$0], heap.keys[$0].squareRoot()) }
  }
}
