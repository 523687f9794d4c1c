/// The assignment solver: an ε-scaling auction to reach near-optimal prices cheaply, then the
/// exact shortest-augmenting-path phases of Jonker and Volgenant.
///
/// All phases work on the reduced costs `C_ij − v_j` with column prices `v`:
///
/// 1. Column reduction `v_j = min_i C_ij` and reduction transfer (JV §4).
/// 2. Auction rounds with bid increments `ε_k = ε_0 θ^k` (Bertsekas): an unassigned row takes
///    its cheapest column `j1` and lowers `v_j1` by `(second − best) + ε_k`, displacing the
///    previous owner. This is JV's augmenting row reduction with an ε added, which avoids the
///    price wars that make the plain reduction slow on geometric costs.
/// 3. A final augmenting row reduction with ε = 0 (exactly JV's), which leaves every assigned
///    row *tight*: its column minimises `C_ij − v_j` over `j`.
/// 4. One Dijkstra shortest augmenting path per row still free (`DijkstraWorkspace`), keeping
///    reduced costs non-negative, so the result is optimal.
///
/// At the end `u_i = C_{i σ(i)} − v_{σ(i)}` and `(u, v)` is a dual certificate:
/// `C_ij − u_i − v_j ≥ 0` everywhere, with equality on the assignment. Phases 1–3 only
/// choose a good starting point; exactness comes from phase 4 and is checked afterwards.
///
/// - Complexity: O(n³) worst case, O(n) memory besides the cost rows.
/// - Reference: R. Jonker and A. Volgenant, "A shortest augmenting path algorithm for dense
///   and sparse linear assignment problems", Computing 38 (1987) 325–340; D. P. Bertsekas,
///   "The auction algorithm: a distributed relaxation method for the assignment problem",
///   Ann. Oper. Res. 14 (1988) 105–123.
enum JonkerVolgenant {
  /// Bid increments of the auction rounds, relative to the largest cost: `1/8, 1/64, …`
  /// down to about `1e-7` (seven rounds).
  static let auctionStart = 0.125
  static let auctionRatio = 0.125
  static let auctionEnd = 1e-7

  /// Solves the assignment problem; returns `rowToColumn` and the column prices `v`.
  static func solve<Costs: AssignmentCostRows>(
    _ costs: inout Costs, statistics: inout AssignmentStatistics
  )
    -> (rowToColumn: [Int], prices: [Double])
  {
    let n = costs.geometry.count
    let p = costs.geometry.paddedCount
    if n == 1 { return ([0], [costs.row(0)[0]]) }
    var x = [Int](repeating: -1, count: n)  // row → column
    var y = [Int](repeating: -1, count: n)  // column → row
    // Prices, padded with −∞ so that padded lanes have reduced cost +∞.
    let v = UnsafeMutablePointer<Double>.allocate(capacity: p)
    defer { v.deallocate() }
    for j in 0..<p { v[j] = j < n ? .infinity : -.infinity }

    // 1. Column reduction, then reduction transfer.
    var columnArgmin = [Int](repeating: 0, count: n)
    var largest = 0.0
    for i in 0..<n {
      let c = costs.row(i)
      for j in 0..<n {
        if c[j] < v[j] {
          v[j] = c[j]
          columnArgmin[j] = i
        }
        largest = max(largest, c[j])
      }
    }
    var matches = [Int](repeating: 0, count: n)
    for j in stride(from: n - 1, through: 0, by: -1) {
      let i = columnArgmin[j]
      matches[i] += 1
      if matches[i] == 1 {
        x[i] = j
        y[j] = i
      } else if v[j] < v[x[i]] {
        y[x[i]] = -1
        x[i] = j
        y[j] = i
      }
    }
    for i in 0..<n where matches[i] == 1 {
      let j1 = x[i]
      let c = costs.row(i)
      var m = Double.infinity
      for j in 0..<n where j != j1 { m = min(m, c[j] - v[j]) }
      v[j1] -= m
    }

    // 2. Auction rounds with decreasing ε, each from all rows free.
    let scale = max(largest - v.minimumValue(count: n), .leastNormalMagnitude)
    var epsilon = auctionStart * scale
    var free = [Int]()
    free.reserveCapacity(n)
    while epsilon > auctionEnd * scale {
      releaseAll(&x, &y, free: &free)
      rowReduction(
        &costs, prices: v, epsilon: epsilon, stepCap: 64 * n, free: &free, x: &x, y: &y,
        statistics: &statistics)
      epsilon *= auctionRatio
    }
    // 3. Exact reduction (ε = 0): assigned rows end tight.
    releaseAll(&x, &y, free: &free)
    rowReduction(
      &costs, prices: v, epsilon: 0, stepCap: 8 * n, free: &free, x: &x, y: &y,
      statistics: &statistics)
    statistics.freeAfterReduction = free.count

    // 4. Shortest augmenting paths.
    let search = DijkstraWorkspace(count: n, prices: v)
    defer { search.release() }
    for freeRow in free {
      search.augment(
        from: freeRow, costs: &costs, rowToColumn: &x, columnToRow: &y, statistics: &statistics)
    }
    return (x, Array(UnsafeBufferPointer(start: v, count: n)))
  }

  /// Frees every row.
  static func releaseAll(_ x: inout [Int], _ y: inout [Int], free: inout [Int]) {
    free.removeAll(keepingCapacity: true)
    for i in 0..<x.count {
      x[i] = -1
      y[i] = -1
      free.append(i)
    }
  }

  /// Augmenting row reduction with bid increment ε (JV's when ε = 0): processes the free
  /// rows, each taking its cheapest column; a displaced row is processed next. Leaves the
  /// rows still free (after at most `stepCap` bids) in `free`.
  static func rowReduction<Costs: AssignmentCostRows>(
    _ costs: inout Costs, prices v: UnsafeMutablePointer<Double>, epsilon: Double, stepCap: Int,
    free: inout [Int], x: inout [Int], y: inout [Int], statistics: inout AssignmentStatistics
  ) {
    var k = 0
    let previous = free.count
    var numFree = 0
    var steps = 0
    while k < previous && steps < stepCap {
      steps += 1
      let i = free[k]
      k += 1
      var (j1, umin, j2, usub) = costs.twoSmallest(row: i, prices: v)
      var i0 = y[j1]
      let raise = (usub - umin) + epsilon
      if raise > 0 {
        v[j1] -= raise
      } else if i0 >= 0 {
        // A tie at ε = 0: take the other column of least reduced cost.
        j1 = j2
        i0 = y[j2]
      }
      x[i] = j1
      y[j1] = i
      if i0 >= 0 {
        x[i0] = -1
        if raise > 0 {
          k -= 1
          free[k] = i0
        } else {
          free[numFree] = i0
          numFree += 1
        }
      }
    }
    statistics.bids += steps
    while k < previous {
      free[numFree] = free[k]
      numFree += 1
      k += 1
    }
    free.removeLast(free.count - numFree)
  }
}

/// Work counters of one assignment solve (for benchmarks and the report).
public struct AssignmentStatistics: Sendable, Equatable {
  /// Rows processed by the auction and reduction rounds.
  public var bids = 0
  /// Rows left free for the shortest-path phase.
  public var freeAfterReduction = 0
  /// Rows scanned by the shortest-path searches.
  public var pathScans = 0
  /// All counters zero.
  public init() {}
}

extension UnsafeMutablePointer where Pointee == Double {
  func minimumValue(count: Int) -> Double {
    var m = Double.infinity
    for j in 0..<count { m = Swift.min(m, self[j]) }
    return m
  }
}

/// One shortest-augmenting-path search, vectorised over all columns.
///
/// Instead of JV's column list, every step makes one pass over all (padded) columns that
/// relaxes the distances `d_j ← min(d_j, d_last + C_ij − v_j − (C_{i j_last} − v_{j_last}))`
/// through the row `i` just reached and tracks the minimum at the same time. Settled columns
/// carry `+∞` in `blocked`, which keeps them out of both the relaxation and the minimum
/// with one addition per lane. Ties between columns resolve to the smallest index, so the
/// search is deterministic.
struct DijkstraWorkspace {
  let count: Int
  let padded: Int
  /// Tentative distances of unsettled columns (+∞ once settled, and in the padding).
  let distance: UnsafeMutablePointer<Double>
  /// Final distances of settled columns.
  let settledDistance: UnsafeMutablePointer<Double>
  /// 0 for unsettled columns, +∞ for settled ones and the padding.
  let blocked: UnsafeMutablePointer<Double>
  /// Predecessor row of each column on the shortest path tree (as a Double, exact).
  let predecessor: UnsafeMutablePointer<Double>
  /// Column prices, padded with −∞ (shared with the solver).
  let price: UnsafeMutablePointer<Double>
  /// Settled columns in order.
  let settled: UnsafeMutablePointer<Int>

  init(count n: Int, prices: UnsafeMutablePointer<Double>) {
    count = n
    padded = (n + 7) / 8 * 8
    distance = .allocate(capacity: padded)
    settledDistance = .allocate(capacity: padded)
    blocked = .allocate(capacity: padded)
    predecessor = .allocate(capacity: padded)
    price = prices
    settled = .allocate(capacity: n)
  }

  func release() {
    distance.deallocate()
    settledDistance.deallocate()
    blocked.deallocate()
    predecessor.deallocate()
    settled.deallocate()
  }

  /// One pass: relax through row `rowIndex` with offset `h`
  /// (`d_j ← min(d_j, C_ij − v_j − h)` on unsettled columns, `costs(j)` giving `C_ij` for
  /// eight columns from `j`), and return the unsettled column of least distance.
  @inline(__always)
  func relax(
    row rowIndex: Int, offset h: Double, costs: (Int) -> TransportVector
  ) -> (column: Int, distance: Double) {
    let iv = TransportVector(repeating: Double(rowIndex))
    let hv = TransportVector(repeating: h)
    var best = TransportVector(repeating: .infinity)
    var bestIndex = TransportVector(repeating: -1)
    var lane = TransportVector(0, 1, 2, 3, 4, 5, 6, 7)
    let eight = TransportVector(repeating: 8)
    var j = 0
    while j < padded {
      let c = costs(j)
      let cand = ((c - TransportVector.load(price + j)) - hv) + TransportVector.load(blocked + j)
      var dj = TransportVector.load(distance + j)
      let better = cand .< dj
      dj.replace(with: cand, where: better)
      var pj = TransportVector.load(predecessor + j)
      pj.replace(with: iv, where: better)
      UnsafeMutableRawPointer(distance + j).storeBytes(of: dj, as: TransportVector.self)
      UnsafeMutableRawPointer(predecessor + j).storeBytes(of: pj, as: TransportVector.self)
      let lower = dj .< best
      best.replace(with: dj, where: lower)
      bestIndex.replace(with: lane, where: lower)
      lane += eight
      j += 8
    }
    // Smallest distance; among equal distances, the smallest column index.
    var m = Double.infinity
    var arg = -1.0
    for l in 0..<8 where best[l] < m || (best[l] == m && bestIndex[l] < arg) {
      m = best[l]
      arg = bestIndex[l]
    }
    return (Int(arg), m)
  }

  /// Finds a shortest augmenting path from `freeRow`, updates the prices of the settled
  /// columns and augments the assignment along the path.
  func augment<Costs: AssignmentCostRows>(
    from freeRow: Int, costs: inout Costs, rowToColumn x: inout [Int], columnToRow y: inout [Int],
    statistics: inout AssignmentStatistics
  ) {
    let n = count
    for j in 0..<n {
      distance[j] = .infinity
      blocked[j] = 0
      predecessor[j] = Double(freeRow)
    }
    for j in n..<padded {
      distance[j] = .infinity
      blocked[j] = .infinity
      predecessor[j] = -1
    }
    var (j, dmin) = costs.relax(row: freeRow, offset: 0, in: self)
    var settledCount = 0
    while y[j] >= 0 {
      // Settle j and continue through the row assigned to it.
      settled[settledCount] = j
      settledCount += 1
      settledDistance[j] = dmin
      distance[j] = .infinity
      blocked[j] = .infinity
      let i = y[j]
      let h = (costs.geometry.cost(i, j) - price[j]) - dmin
      (j, dmin) = costs.relax(row: i, offset: h, in: self)
      statistics.pathScans += 1
    }
    // Prices: v_k += d_k − d_end on settled columns keeps all reduced costs non-negative.
    for s in 0..<settledCount {
      let k = settled[s]
      price[k] += settledDistance[k] - dmin
    }
    // Augment.
    var end = j
    while true {
      let i = Int(predecessor[end])
      y[end] = i
      let next = x[i]
      x[i] = end
      if i == freeRow { break }
      end = next
    }
  }
}
