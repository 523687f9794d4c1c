import MeanFieldCore

/// The squared Euclidean costs of an assignment problem, evaluated from the coordinates.
///
/// Both clouds are translated by their common mean (costs are unchanged) and each cost is
///
///     C_ij = (|x_i|² + |y_j|²) + Σ_k (−2 x_ik) y_jk     (fused multiply–adds, k ascending),
///
/// the same IEEE operations in the vector kernels and in the scalar `cost(_:_:)`, so the
/// solver sees one consistent cost matrix whichever way it reads it. The expansion is exact
/// to about `1e-16 (|x_i|² + |y_j|²)`; the reported distance is recomputed from differences.
struct AssignmentGeometry: @unchecked Sendable {
  /// Number of sources (rows).
  let count: Int
  /// Number of targets (columns); equal to `count` for an assignment problem.
  let targetCount: Int
  let dimension: Int
  /// `targetCount` rounded up to a multiple of 8.
  let paddedCount: Int
  /// `−2 x_i`, centred, row-major.
  let scaledSources: [Double]
  let sourceNorms: [Double]
  /// Centred targets transposed: `targetColumns[k * paddedCount + j]`, zero padded.
  let targetColumns: [Double]
  /// `|y_j|²`, zero padded.
  let targetNorms: [Double]

  /// The geometry of `source` (rows) against `target` (columns); the sizes may differ (the
  /// network simplex), the dimensions may not. Both clouds are centred on the mean of all
  /// their points.
  init(source: PointCloud, target: PointCloud) {
    let n = source.count
    let m = target.count
    let d = source.dimension
    count = n
    targetCount = m
    dimension = d
    let p = (m + 7) / 8 * 8
    paddedCount = p
    var center = [Double](repeating: 0, count: d)
    for i in 0..<max(n, m) {
      for k in 0..<d { center[k] += (i < n ? source[i, k] : 0) + (i < m ? target[i, k] : 0) }
    }
    for k in 0..<d { center[k] /= Double(n + m) }
    var scaled = [Double](repeating: 0, count: n * d)
    var sn = [Double](repeating: 0, count: n)
    var cols = [Double](repeating: 0, count: d * p)
    var tn = [Double](repeating: 0, count: p)
    for i in 0..<n {
      var s = 0.0
      for k in 0..<d {
        let a = source[i, k] - center[k]
        scaled[i * d + k] = -2 * a
        s += a * a
      }
      sn[i] = s
    }
    for j in 0..<m {
      var t = 0.0
      for k in 0..<d {
        let b = target[j, k] - center[k]
        cols[k * p + j] = b
        t += b * b
      }
      tn[j] = t
    }
    scaledSources = scaled
    sourceNorms = sn
    targetColumns = cols
    targetNorms = tn
  }

  /// Runs `body` with raw pointers to the four arrays.
  @inline(__always)
  func withPointers<R>(
    _ body: (
      _ scaled: UnsafePointer<Double>, _ sourceNorms: UnsafePointer<Double>,
      _ columns: UnsafePointer<Double>, _ targetNorms: UnsafePointer<Double>
    ) -> R
  ) -> R {
    scaledSources.withUnsafeBufferPointer { a in
      sourceNorms.withUnsafeBufferPointer { b in
        targetColumns.withUnsafeBufferPointer { c in
          targetNorms.withUnsafeBufferPointer { e in
            body(a.baseAddress!, b.baseAddress!, c.baseAddress!, e.baseAddress!)
          }
        }
      }
    }
  }

  /// `C_ij` for eight consecutive targets `j ..< j + 8`.
  @inline(__always)
  static func costs(
    row x: UnsafePointer<Double>, norm nx: Double, columns: UnsafePointer<Double>,
    targetNorms: UnsafePointer<Double>, at j: Int, dimension d: Int, padded p: Int
  ) -> TransportVector {
    var acc = TransportVector()
    var col = columns + j
    for k in 0..<d {
      acc = acc.addingProduct(TransportVector(repeating: x[k]), TransportVector.load(col))
      col += p
    }
    return (TransportVector.load(targetNorms + j) + nx) + acc
  }

  /// `C_ij`, bit for bit the lane of `costs(row:...)`.
  @inline(__always)
  func cost(_ i: Int, _ j: Int) -> Double {
    withPointers { a, sn, c, tn in
      var acc = 0.0
      for k in 0..<dimension {
        acc = acc.addingProduct(a[i * dimension + k], c[k * paddedCount + j])
      }
      return (tn[j] + sn[i]) + acc
    }
  }

  /// Writes row `i` of the cost matrix into `out[0 ..< paddedCount]` (padding: `|x_i|²`).
  func fill(row i: Int, into out: UnsafeMutablePointer<Double>) {
    let d = dimension
    let p = paddedCount
    withPointers { a, sn, c, tn in
      var j = 0
      while j < p {
        let v = Self.costs(
          row: a + i * d, norm: sn[i], columns: c, targetNorms: tn, at: j, dimension: d, padded: p)
        UnsafeMutableRawPointer(out + j).storeBytes(of: v, as: TransportVector.self)
        j += 8
      }
    }
  }
}

/// How the assignment solver reads costs: whole rows (initial phases) and fused relaxations
/// (the Dijkstra search, `DijkstraWorkspace`).
protocol AssignmentCostRows {
  var geometry: AssignmentGeometry { get }
  /// Cost row `i`, readable for `paddedCount` values; valid until the next call.
  mutating func row(_ i: Int) -> UnsafePointer<Double>
  /// One relaxation pass of the shortest-path search through row `i` (see
  /// `DijkstraWorkspace.relax`).
  mutating func relax(row i: Int, offset h: Double, in search: DijkstraWorkspace) -> (Int, Double)
  /// The two smallest reduced costs `C_ij − v_j` of row `i`: `(j1, r1, j2, r2)` with
  /// `r1 ≤ r2` (ties to the smaller column index).
  mutating func twoSmallest(row i: Int, prices v: UnsafePointer<Double>) -> (
    Int, Double, Int, Double
  )
}

/// The two smallest of `costs(j) − v_j` over the padded columns, eight lanes at a time, then
/// merged across lanes in a fixed order (value, then column index).
@inline(__always)
func twoSmallestReducedCosts(
  padded p: Int, prices v: UnsafePointer<Double>, costs: (Int) -> TransportVector
) -> (Int, Double, Int, Double) {
  var m1 = TransportVector(repeating: .infinity)
  var m2 = m1
  var i1 = TransportVector(repeating: -1)
  var i2 = i1
  var lane = TransportVector(0, 1, 2, 3, 4, 5, 6, 7)
  let eight = TransportVector(repeating: 8)
  var j = 0
  while j < p {
    let r = costs(j) - TransportVector.load(v + j)
    let below1 = r .< m1
    let below2 = r .< m2
    // Second: old first where r beats it, else r where r beats the second.
    var n2 = m2
    n2.replace(with: r, where: below2)
    n2.replace(with: m1, where: below1)
    var k2 = i2
    k2.replace(with: lane, where: below2)
    k2.replace(with: i1, where: below1)
    m2 = n2
    i2 = k2
    m1.replace(with: r, where: below1)
    i1.replace(with: lane, where: below1)
    lane += eight
    j += 8
  }
  // Merge the 16 candidates.
  var b1 = Double.infinity
  var c1 = -1.0
  var b2 = Double.infinity
  var c2 = -1.0
  func offer(_ value: Double, _ index: Double) {
    if index < 0 { return }
    if value < b1 || (value == b1 && index < c1) {
      b2 = b1
      c2 = c1
      b1 = value
      c1 = index
    } else if value < b2 || (value == b2 && index < c2) {
      b2 = value
      c2 = index
    }
  }
  for l in 0..<8 { offer(m1[l], i1[l]) }
  for l in 0..<8 { offer(m2[l], i2[l]) }
  return (Int(c1), b1, Int(c2), b2)
}

/// The dense matrix, `8 n²` bytes, filled once.
struct DenseAssignmentCosts: AssignmentCostRows {
  let geometry: AssignmentGeometry
  let storage: UnsafeMutablePointer<Double>

  init(_ geometry: AssignmentGeometry, threads: Int) {
    self.geometry = geometry
    let n = geometry.count
    let p = geometry.paddedCount
    storage = .allocate(capacity: n * p)
    let out = storage
    Parallel.forEachChunk(count: n, chunkSize: 16, threads: threads) { range in
      for i in range { geometry.fill(row: i, into: out + i * p) }
    }
  }

  func release() { storage.deallocate() }

  @inline(__always)
  mutating func row(_ i: Int) -> UnsafePointer<Double> {
    UnsafePointer(storage + i * geometry.paddedCount)
  }

  @inline(__always)
  mutating func relax(row i: Int, offset h: Double, in search: DijkstraWorkspace) -> (Int, Double) {
    let r = UnsafePointer(storage + i * geometry.paddedCount)
    return search.relax(row: i, offset: h) { j in TransportVector.load(r + j) }
  }

  @inline(__always)
  mutating func twoSmallest(row i: Int, prices v: UnsafePointer<Double>) -> (
    Int, Double, Int, Double
  ) {
    let r = UnsafePointer(storage + i * geometry.paddedCount)
    return twoSmallestReducedCosts(padded: geometry.paddedCount, prices: v) { j in
      TransportVector.load(r + j)
    }
  }
}

/// Rows recomputed from the coordinates whenever needed: O(n d) memory.
struct StreamedAssignmentCosts: AssignmentCostRows {
  let geometry: AssignmentGeometry
  let buffer: UnsafeMutablePointer<Double>
  var cachedRow = -1

  init(_ geometry: AssignmentGeometry) {
    self.geometry = geometry
    buffer = .allocate(capacity: geometry.paddedCount)
  }

  func release() { buffer.deallocate() }

  @inline(__always)
  mutating func row(_ i: Int) -> UnsafePointer<Double> {
    if i != cachedRow {
      geometry.fill(row: i, into: buffer)
      cachedRow = i
    }
    return UnsafePointer(buffer)
  }

  @inline(__always)
  mutating func relax(row i: Int, offset h: Double, in search: DijkstraWorkspace) -> (Int, Double) {
    let g = geometry
    let d = g.dimension
    let p = g.paddedCount
    return g.withPointers { a, sn, c, tn in
      let x = a + i * d
      let nx = sn[i]
      return search.relax(row: i, offset: h) { j in
        AssignmentGeometry.costs(
          row: x, norm: nx, columns: c, targetNorms: tn, at: j, dimension: d, padded: p)
      }
    }
  }

  @inline(__always)
  mutating func twoSmallest(row i: Int, prices v: UnsafePointer<Double>) -> (
    Int, Double, Int, Double
  ) {
    let g = geometry
    let d = g.dimension
    let p = g.paddedCount
    return g.withPointers { a, sn, c, tn in
      let x = a + i * d
      let nx = sn[i]
      return twoSmallestReducedCosts(padded: p, prices: v) { j in
        AssignmentGeometry.costs(
          row: x, norm: nx, columns: c, targetNorms: tn, at: j, dimension: d, padded: p)
      }
    }
  }
}
