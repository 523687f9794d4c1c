import MeanFieldCore
import MeanFieldDiagnostics
import Testing

/// A test-local reference: every admissible `(squared distance, index)` pair sorted, the
/// first k kept. The squared distance is summed in coordinate order, as the library defines
/// it, so equality is exact.
func naiveNeighbours(
  of queries: PointCloud, in reference: PointCloud, k: Int, excludeSame: Bool, skipZero: Bool
) -> NeighbourTable {
  let d = reference.dimension
  var table = NeighbourTable(queryCount: queries.count, k: k)
  for i in 0..<queries.count {
    var pairs = [(Double, Int)]()
    for j in 0..<reference.count where !(excludeSame && j == i) {
      var s = 0.0
      for c in 0..<d {
        let t = queries.values[i * d + c] - reference.values[j * d + c]
        s += t * t
      }
      if s == 0 { table.zeroDistancePairs += 1 }
      if s == 0 && skipZero { continue }
      pairs.append((s, j))
    }
    pairs.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    if pairs.count < k { table.incompleteQueries += 1 }
    for r in 0..<min(k, pairs.count) {
      table.indices[i * k + r] = pairs[r].1
      table.distances[i * k + r] = pairs[r].0.squareRoot()
    }
  }
  return table
}

/// The first difference between two neighbour tables, or nil when they are identical (a
/// short message instead of two full tables in a failure report).
func mismatch(_ a: NeighbourTable, _ b: NeighbourTable) -> String? {
  if a == b { return nil }
  if a.k != b.k || a.queryCount != b.queryCount { return "shapes differ" }
  if a.zeroDistancePairs != b.zeroDistancePairs {
    return "zero pairs \(a.zeroDistancePairs) vs \(b.zeroDistancePairs)"
  }
  if a.incompleteQueries != b.incompleteQueries {
    return "incomplete \(a.incompleteQueries) vs \(b.incompleteQueries)"
  }
  for s in 0..<a.indices.count where a.indices[s] != b.indices[s] || a.distances[s] != b.distances[s] {
    return "query \(s / a.k) rank \(s % a.k): (\(a.indices[s]), \(a.distances[s])) vs "
      + "(\(b.indices[s]), \(b.distances[s]))"
  }
  return "tables differ"
}

/// Points on the integer lattice {0, 1, 2}^d with repeats: many exactly equal distances
/// (ties) and duplicates (zero distances), the hard case for tie order.
func latticeCloud(count n: Int, dimension d: Int, seed: UInt64) -> PointCloud {
  let field = GaussianField(seed: seed, runIndex: 0)
  var values = [Double](repeating: 0, count: n * d)
  for i in 0..<n {
    for c in 0..<d {
      let (u, _) = field.uniformPair(
        stream: .diagnostics, step: 0, particle: UInt64(i), pair: UInt32(c))
      values[i * d + c] = (3 * u).rounded(.down) == 3 ? 2 : (3 * u).rounded(.down)
    }
  }
  return PointCloud(values: values, dimension: d)
}

@Suite struct DivergenceNeighbourTests {
  /// Tree, BLAS brute force and the naive sort agree exactly (indices and distance bits) on
  /// Gaussian clouds, self-queries and cross-queries, for several d, k and leaf sizes.
  @Test(arguments: [1, 2, 3, 5, 10])
  func treeEqualsBruteForceOnGaussianClouds(dimension d: Int) {
    let p = GaussianLaw.standard(dimension: d).sample(
      count: 600, field: GaussianField(seed: 5, runIndex: UInt64(d)))
    let q = GaussianLaw.isotropic(mean: [Double](repeating: 0.3, count: d), variance: 2).sample(
      count: 450, field: GaussianField(seed: 6, runIndex: UInt64(d)))
    for k in [1, 4, 9] {
      for leaf in [1, 7, 32] {
        let tree = KDTree(p, leafSize: leaf)
        let selfTree = tree.neighbours(of: p, k: k, exclusion: .sameIndex)
        let selfBrute = BruteForceNeighbours.neighbours(of: p, in: p, k: k, exclusion: .sameIndex)
        let selfNaive = naiveNeighbours(of: p, in: p, k: k, excludeSame: true, skipZero: false)
        #expect(mismatch(selfTree, selfNaive) == nil, "self, d \(d) k \(k) leaf \(leaf)")
        #expect(mismatch(selfBrute, selfNaive) == nil, "self brute, d \(d) k \(k)")
        let crossTree = tree.neighbours(of: q, k: k)
        let crossBrute = BruteForceNeighbours.neighbours(of: q, in: p, k: k, blockRows: 5)
        let crossNaive = naiveNeighbours(of: q, in: p, k: k, excludeSame: false, skipZero: false)
        #expect(mismatch(crossTree, crossNaive) == nil, "cross, d \(d) k \(k) leaf \(leaf)")
        #expect(mismatch(crossBrute, crossNaive) == nil, "cross brute, d \(d) k \(k)")
      }
    }
  }

  /// With exact ties and duplicates everywhere (lattice points), all methods return the same
  /// neighbours in `(distance, index)` order, under both zero-distance policies, and count
  /// the same zero pairs.
  @Test(arguments: [1, 2, 3, 4])
  func tiesAndDuplicatesResolveIdentically(dimension d: Int) {
    let p = latticeCloud(count: 300, dimension: d, seed: 9)
    for skip in [false, true] {
      for k in [1, 5, 12] {
        let naive = naiveNeighbours(of: p, in: p, k: k, excludeSame: true, skipZero: skip)
        let policy: ZeroDistancePolicy = skip ? .skip : .keep
        let tree = KDTree(p, leafSize: 4).neighbours(
          of: p, k: k, exclusion: .sameIndex, zeroDistances: policy)
        let brute = BruteForceNeighbours.neighbours(
          of: p, in: p, k: k, exclusion: .sameIndex, zeroDistances: policy)
        #expect(mismatch(tree, naive) == nil, "tree d \(d) k \(k) skip \(skip)")
        #expect(mismatch(brute, naive) == nil, "brute d \(d) k \(k) skip \(skip)")
        #expect(naive.zeroDistancePairs > 0, "the lattice sample must contain duplicates")
      }
    }
  }

  /// Results do not depend on the number of threads.
  @Test func threadCountDoesNotChangeResults() {
    let p = GaussianLaw.standard(dimension: 4).sample(
      count: 2_000, field: GaussianField(seed: 12, runIndex: 0))
    let tree = KDTree(p, leafSize: 16)
    let one = tree.neighbours(of: p, k: 5, exclusion: .sameIndex, threads: 1)
    let two = tree.neighbours(of: p, k: 5, exclusion: .sameIndex, threads: 2)
    let bruteOne = BruteForceNeighbours.neighbours(of: p, in: p, k: 5, exclusion: .sameIndex)
    let bruteThree = BruteForceNeighbours.neighbours(
      of: p, in: p, k: 5, exclusion: .sameIndex, threads: 3)
    #expect(mismatch(one, two) == nil)
    #expect(mismatch(bruteOne, bruteThree) == nil)
    #expect(mismatch(one, bruteOne) == nil)
  }

  /// A far-from-origin cloud with tiny spread (large norms, small distances): the brute
  /// force's screening bound must still find the exact neighbours.
  @Test func bruteForceIsExactForOffsetClouds() {
    let base = GaussianLaw.standard(dimension: 3).sample(
      count: 400, field: GaussianField(seed: 13, runIndex: 0))
    let shifted = PointCloud(
      values: base.values.enumerated().map { 1e6 + 1e-4 * $0.element + Double($0.offset % 3) },
      dimension: 3)
    let naive = naiveNeighbours(of: shifted, in: shifted, k: 6, excludeSame: true, skipZero: true)
    let brute = BruteForceNeighbours.neighbours(
      of: shifted, in: shifted, k: 6, exclusion: .sameIndex, zeroDistances: .skip)
    let tree = KDTree(shifted).neighbours(
      of: shifted, k: 6, exclusion: .sameIndex, zeroDistances: .skip)
    #expect(mismatch(brute, naive) == nil)
    #expect(mismatch(tree, naive) == nil)
  }

  /// Too few admissible neighbours: missing slots are −1 / +∞ and counted; all-equal points
  /// make one big leaf without recursion trouble.
  @Test func incompleteQueriesAreMarked() {
    let same = PointCloud(values: [Double](repeating: 1.5, count: 2 * 50), dimension: 2)
    let tree = KDTree(same, leafSize: 4)
    #expect(tree.nodeCount == 1)
    let skipped = tree.neighbours(of: same, k: 2, exclusion: .sameIndex, zeroDistances: .skip)
    #expect(skipped.incompleteQueries == 50)
    #expect(skipped.zeroDistancePairs == 50 * 49)
    #expect(skipped.indices.allSatisfy { $0 == -1 })
    #expect(skipped.distances.allSatisfy { $0 == .infinity })
    let brute = BruteForceNeighbours.neighbours(
      of: same, in: same, k: 2, exclusion: .sameIndex, zeroDistances: .skip)
    #expect(mismatch(brute, skipped) == nil)
    let kept = tree.neighbours(of: same, k: 2, exclusion: .sameIndex, zeroDistances: .keep)
    #expect(kept.incompleteQueries == 0)
    #expect(kept.index(query: 7, rank: 0) == 0 && kept.index(query: 7, rank: 1) == 1)
    #expect(kept.distance(query: 7, rank: 1) == 0)
  }

  /// The single-point query agrees with the batch and honours the excluded index.
  @Test func singlePointQuery() {
    let p = GaussianLaw.standard(dimension: 2).sample(
      count: 300, field: GaussianField(seed: 14, runIndex: 0))
    let tree = KDTree(p, leafSize: 8)
    let batch = tree.neighbours(of: p, k: 3, exclusion: .sameIndex)
    let x = Array(p.values[(2 * 17)..<(2 * 17 + 2)])
    let single = tree.neighbours(of: x, k: 3, excluding: 17)
    #expect(single.map(\.index) == (0..<3).map { batch.index(query: 17, rank: $0) })
    #expect(single.map(\.distance) == (0..<3).map { batch.distance(query: 17, rank: $0) })
    // Without the exclusion the point itself comes first at distance 0.
    let withSelf = tree.neighbours(of: x, k: 1)
    #expect(withSelf[0].index == 17 && withSelf[0].distance == 0)
  }

  /// The measured method choice and the dispatcher return the same table as the tree.
  @Test func dispatcherAgreesAcrossMethods() {
    let p = GaussianLaw.standard(dimension: 3).sample(
      count: 1_000, field: GaussianField(seed: 15, runIndex: 0))
    var tables = [NeighbourTable]()
    for method in [NeighbourMethod.automatic, .bruteForce, .kdTree(leafSize: 5)] {
      tables.append(
        nearestNeighbours(
          of: p, in: p, k: 4, exclusion: .sameIndex, options: .init(method: method)))
    }
    #expect(mismatch(tables[0], tables[1]) == nil && mismatch(tables[1], tables[2]) == nil)
    #expect(NeighbourMethod.automatic.resolved(referenceCount: 10_000, dimension: 10) == .bruteForce)
  }
}
