/// The pair sums of the Gaussian interaction W(z) = −c exp(−a|z|²), a = 1/(2s²), over every
/// source for a block of targets (docs/MATH.md §1b):
///
///     K_i = Σ_j e_ij,    M_i = Σ_J P_iJ,    P_iJ = Σ_{j ∈ J} e_ij (x_i − y_j),    e_ij = exp(−a|x_i − y_j|²)
///
/// with the sources split into fixed tiles J of ``tile`` consecutive indices. Every sum is
/// taken in index order (K_i and each P_iJ one fused multiply–add per term from 0, M_i the
/// tiles' partials added in tile order), so a target's sums do not depend on the block, thread
/// or rank that computes them, nor on the vector width. The targets of a block are transposed
/// into coordinate-major order and the loops run across targets, which the compiler vectorises.
/// The exponential is ``FastMath/exp(_:)``.
///
/// When the targets are the sources themselves, ``symmetricMoments(all:count:range:dimension:a:into:work:)``
/// computes e_ij once for both P_iJ and P_jI (they are bitwise symmetric: x_j − x_i is exactly
/// −(x_i − x_j)), and still adds every partial in tile order: the same bits at half the
/// exponentials.
public enum GaussianPairKernel {
  /// Doubles of working memory ``addMoments(targets:rows:sources:count:dimension:a:scale:into:work:)``
  /// and ``kernelSums(targets:rows:sources:count:dimension:a:into:work:)`` need for `rows`
  /// targets in dimension `d`.
  @inlinable
  public static func workLength(rows: Int, dimension d: Int) -> Int { 3 * rows * d }

  /// Sources per tile of M's partial sums.
  @inlinable public static var tile: Int { 64 }

  /// Doubles of working memory ``symmetricMoments(all:count:range:dimension:a:into:work:)``
  /// needs besides its output.
  @inlinable
  public static func symmetricWorkLength(dimension d: Int) -> Int { 4 * tile * d + tile * tile }

  /// Adds `scale · M_i` to `g_i` for `rows` targets (`x`, `g`: `rows × d` row-major; `y`:
  /// `n × d` sources; `work`: ``workLength(rows:dimension:)`` doubles).
  @inlinable
  public static func addMoments(
    targets x: UnsafePointer<Double>, rows: Int, sources y: UnsafePointer<Double>, count n: Int, dimension d: Int,
    a: Double, scale: Double, into g: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let t = work, acc = work + rows * d, totals = acc + rows * d
    specialisingDimension(d) { d in
      transpose(x, rows: rows, dimension: d, into: t)
      totals.update(repeating: 0, count: rows * d)
      var first = 0
      while first < n {
        addTile(t, rows, y + first * d, min(tile, n - first), d, a, acc, totals)
        first += tile
      }
      for i in 0..<rows {
        for k in 0..<d { g[i &* d &+ k] = g[i &* d &+ k].addingProduct(scale, (totals + k &* rows)[i]) }
      }
    }
  }

  /// Adds the partial `P_iJ` of the `m` sources at `y` to the totals of `rows` targets (`t`,
  /// `acc`, `totals`: coordinate-major with stride `rows`). Indices by wrapping arithmetic and
  /// pointer offsets: an overflow check inside the loop would stop vectorisation.
  @inlinable @inline(__always)
  static func addTile(
    _ t: UnsafePointer<Double>, _ rows: Int, _ y: UnsafePointer<Double>, _ m: Int, _ d: Int, _ a: Double,
    _ acc: UnsafeMutablePointer<Double>, _ totals: UnsafeMutablePointer<Double>
  ) {
    acc.update(repeating: 0, count: rows * d)
    for j in 0..<m {
      let yj = y + j * d
      for i in 0..<rows {
        let e = term(t, rows, i, yj, d, a)
        for k in 0..<d {
          let ak = acc + k &* rows
          ak[i] = ak[i].addingProduct(e, (t + k &* rows)[i] - yj[k])
        }
      }
    }
    for i in 0..<(rows * d) { totals[i] += acc[i] }
  }

  /// `exp(−a|x_i − y|²)` for target i of the coordinate-major `t` (`|x_i − y|²` by fused
  /// multiply–adds, coordinates in order).
  @inlinable @inline(__always)
  static func term(
    _ t: UnsafePointer<Double>, _ rows: Int, _ i: Int, _ y: UnsafePointer<Double>, _ d: Int, _ a: Double
  ) -> Double {
    var r2 = 0.0
    for k in 0..<d {
      let z = (t + k &* rows)[i] - y[k]
      r2 = r2.addingProduct(z, z)
    }
    return FastMath.exp(-r2 * a)
  }

  /// Writes `K_i` for `rows` targets into `sums` (`work` as for
  /// ``addMoments(targets:rows:sources:count:dimension:a:scale:into:work:)``).
  @inlinable
  public static func kernelSums(
    targets x: UnsafePointer<Double>, rows: Int, sources y: UnsafePointer<Double>, count n: Int, dimension d: Int,
    a: Double, into sums: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let t = work
    specialisingDimension(d) { d in
      transpose(x, rows: rows, dimension: d, into: t)
      sums.update(repeating: 0, count: rows)
      for j in 0..<n {
        let yj = y + j * d
        for i in 0..<rows { sums[i] += term(t, rows, i, yj, d, a) }
      }
    }
  }

  /// Row-major `rows × d` into coordinate-major `d × rows`.
  @inlinable @inline(__always)
  static func transpose(_ x: UnsafePointer<Double>, rows: Int, dimension d: Int, into t: UnsafeMutablePointer<Double>) {
    for i in 0..<rows {
      for k in 0..<d { t[k &* rows &+ i] = x[i &* d &+ k] }
    }
  }
}
