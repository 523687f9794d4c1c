import MeanFieldCore

/// Exact k-nearest-neighbour search by scanning every reference point, with the distance
/// screening done by BLAS.
///
/// For a block of queries, `A_ij = |x̃_i|² + |ỹ_j|² − 2 x̃_i·ỹ_j` (points centred on the
/// reference mean; one GEMM of the augmented rows `[x̃, |x̃|², 1]` and `[−2ỹ, 1, |ỹ|²]`)
/// approximates the squared distance `E_ij`. Its error is bounded a priori (Higham,
/// *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1: an inner product of
/// length w has error at most `γ_w Σ|terms|` in any summation order, with or without FMA):
///
///     |A_ij − E_ij| ≤ Δ_i = (8d + 64) u (|x̃_i|² + max_j |ỹ_j|²),   u = 2⁻⁵³
///
/// with S the bracket. This is at least 1.6 times (2.3 times at d = 10) the first-order
/// worst case `(5d + 12) u S`: `(3d + 4) u S` for the GEMM and the computed norms (the terms
/// sum to at most 2S), `4u S` for rounding the centred coordinates, and `(2d + 4) u S` for the
/// coordinate-order sum `E_ij` of ``exactSquaredDistance(_:_:dimension:)`` itself. If
/// `t` is the k-th smallest `A_ij` (over admissible j, and over `A_ij > Δ_i` when zero
/// distances are skipped), the true k nearest all satisfy `A_ij ≤ t + 2Δ_i`; those candidates
/// are re-measured with ``exactSquaredDistance(_:_:dimension:)`` and the k smallest kept in
/// `(distance, index)` order. Selecting t and collecting the candidates is one pass over each
/// row of A. The result therefore equals ``KDTree``'s bit for bit.
///
/// - Complexity: O(n_q n_r d) for the GEMM plus one linear scan of each row of `A`;
///   memory O(n_r d + B n_r) with B queries per block.
public enum BruteForceNeighbours {
  /// The k nearest points of `reference` to every point of `queries`.
  ///
  /// - Parameters:
  ///   - queries: query points.
  ///   - reference: the points searched (same dimension).
  ///   - k: neighbours per query (≥ 1).
  ///   - exclusion: ``NeighbourExclusion/sameIndex`` when `queries` is `reference`.
  ///   - zeroDistances: whether reference points at distance zero count as neighbours.
  ///   - threads: worker threads over blocks of queries; the result does not depend on it.
  ///   - blockRows: queries per GEMM block (0 chooses 16 to 128 rows, about 4 MB of `A`).
  /// - Returns: the neighbour table, ordered by `(distance, index)` per query.
  public static func neighbours(
    of queries: PointCloud, in reference: PointCloud, k: Int,
    exclusion: NeighbourExclusion = .none, zeroDistances: ZeroDistancePolicy = .keep,
    threads: Int = 1, blockRows: Int = 0
  ) -> NeighbourTable {
    let d = reference.dimension
    precondition(queries.dimension == d, "query and reference dimensions differ")
    precondition(k >= 1, "k must be positive")
    let nq = queries.count, nr = reference.count
    if exclusion == .sameIndex {
      precondition(nq == nr, "sameIndex exclusion needs as many queries as reference points")
    }
    var table = NeighbourTable(queryCount: nq, k: k)
    if nq == 0 { return table }
    if nr == 0 {
      table.incompleteQueries = nq
      return table
    }
    // Centre on the reference mean (smaller norms, smaller screening bound) and augment:
    // [x̃, |x̃|², 1] · [−2ỹ, 1, |ỹ|²]ᵀ = |x̃|² + |ỹ|² − 2 x̃·ỹ, so one GEMM gives A.
    let w = d + 2
    var centre = [Double](repeating: 0, count: d)
    for j in 0..<nr { for c in 0..<d { centre[c] += reference.values[j * d + c] } }
    for c in 0..<d { centre[c] /= Double(nr) }
    var augmentedReference = [Double](repeating: 0, count: nr * w)
    var maxNorm = 0.0
    for j in 0..<nr {
      var s = 0.0
      for c in 0..<d {
        let v = reference.values[j * d + c] - centre[c]
        augmentedReference[j * w + c] = -2 * v
        s += v * v
      }
      augmentedReference[j * w + d] = 1
      augmentedReference[j * w + d + 1] = s
      maxNorm = max(maxNorm, s)
    }
    // About 4 MB of A per block (measured: fewer rows repack the reference matrix too often).
    let rows = blockRows > 0 ? blockRows : max(16, min(128, 500_000 / nr))
    let margin = Double(8 * d + 64) * 0x1p-53
    let skipZero = zeroDistances == .skip
    let excludeSame = exclusion == .sameIndex
    queries.values.withUnsafeBufferPointer { qv in
      reference.values.withUnsafeBufferPointer { rv in
        augmentedReference.withUnsafeBufferPointer { ar in
          centre.withUnsafeBufferPointer { ct in
            table.fill(chunks: threads) { out, chunk, range in
              let block = UnsafeMutablePointer<Double>.allocate(capacity: rows * nr)
              let augmented = UnsafeMutablePointer<Double>.allocate(capacity: rows * w)
              let candidates = UnsafeMutablePointer<Int>.allocate(capacity: nr)
              let best = UnsafeMutablePointer<Double>.allocate(capacity: k)
              let keys = UnsafeMutablePointer<Double>.allocate(capacity: k)
              let ids = UnsafeMutablePointer<Int>.allocate(capacity: k)
              defer {
                block.deallocate()
                augmented.deallocate()
                candidates.deallocate()
                best.deallocate()
                keys.deallocate()
                ids.deallocate()
              }
              var heap = NeighbourHeap(keys: keys, ids: ids, k: k)
              var zeros = 0, incomplete = 0
              var first = range.lowerBound
              while first < range.upperBound {
                let b = min(rows, range.upperBound - first)
                for r in 0..<b {
                  var s = 0.0
                  for c in 0..<d {
                    let v = qv[(first + r) * d + c] - ct[c]
                    augmented[r * w + c] = v
                    s += v * v
                  }
                  augmented[r * w + d] = s
                  augmented[r * w + d + 1] = 1
                }
                BLAS.gemm(
                  transposeB: true, m: b, n: nr, k: w, a: augmented, lda: w,
                  b: ar.baseAddress!, ldb: w, c: block, ldc: nr)
                for r in 0..<b {
                  let i = first + r
                  let row = block + r * nr
                  if excludeSame { row[i] = .infinity }
                  let delta = margin * (augmented[r * w + d] + maxNorm)
                  let (found, t) = screen(
                    row, count: nr, k: k, above: skipZero ? delta : -.infinity,
                    margin: 2 * delta, buffer: best, candidates: candidates)
                  let cut = t + 2 * delta
                  heap.reset()
                  let x = qv.baseAddress! + i * d
                  for c in 0..<found {
                    let j = candidates[c]
                    if row[j] > cut || (excludeSame && j == i) { continue }
                    let s = exactSquaredDistance(x, rv.baseAddress! + j * d, dimension: d)
                    if s == 0 {
                      zeros += 1
                      if skipZero { continue }
                    }
                    heap.offer(s, j)
                  }
                  if heap.size < k { incomplete += 1 }
                  for q in 0..<heap.size {
                    out.indices[i * k + q] = heap.ids[q]
                    out.distances[i * k + q] = heap.keys[q].squareRoot()
                  }
                }
                first += b
              }
              out.zeros[chunk] = zeros
              out.incomplete[chunk] = incomplete
            }
          }
        }
      }
    }
    return table
  }

  /// One pass over `row[0..<count]`: returns `t`, the k-th smallest value strictly above
  /// `floor` (`+∞` if fewer than k are), and writes into `candidates` every index whose value
  /// was at most the running `t + margin` when it was read. The running t only decreases, so
  /// the list contains every j with `row[j] ≤ t + margin` (plus some the caller filters
  /// out); `buffer` holds k doubles.
  ///
  /// One compare per value; the branch is rarely taken once k values are held (about
  /// k log(n/k) candidates for values in random order), so the scan costs little more than
  /// reading the row.
  @inline(__always)
  static func screen(
    _ row: UnsafeMutablePointer<Double>, count n: Int, k: Int, above floor: Double,
    margin: Double, buffer: UnsafeMutablePointer<Double>, candidates: UnsafeMutablePointer<Int>
  ) -> (found: Int, kth: Double) {
    var size = 0
    var threshold = Double.infinity
    var cut = Double.infinity
    var found = 0
    for j in 0..<n {
      let v = row[j]
      if v <= cut {
        candidates[found] = j
        found += 1
        if v < threshold && v > floor {
          var p = size < k ? size : k - 1
          if size < k { size += 1 }
          while p > 0 && buffer[p - 1] > v {
            buffer[p] = buffer[p - 1]
            p -= 1
          }
          buffer[p] = v
          if size == k {
            threshold = buffer[k - 1]
            cut = threshold + margin
          }
        }
      }
    }
    return (found, size == k ? threshold : .infinity)
  }
}
