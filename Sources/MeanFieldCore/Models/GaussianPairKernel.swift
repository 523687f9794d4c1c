/// The pair sums of the Gaussian interaction W(z) = −c exp(−a|z|²), a = 1/(2s²), over every
/// source for a block of targets (docs/MATH.md §1b):
///
///     K_i = Σ_j exp(−a|x_i − y_j|²),    M_i = Σ_j exp(−a|x_i − y_j|²) (x_i − y_j)
///
/// The targets of a block are transposed into coordinate-major order; then, for one source at
/// a time, every target's term is computed and added into its accumulator (a loop over the
/// targets with no dependence between them, which the compiler vectorises). Each target's sum
/// is therefore taken over the sources in index order, one fused multiply–add per term: its
/// bits do not depend on the block, thread or rank that computes it, nor on the vector width.
/// The exponential is ``FastMath/exp(_:)``.
public enum GaussianPairKernel {
  /// Doubles of working memory ``addMoments(targets:rows:sources:count:dimension:a:scale:into:work:)``
  /// and ``kernelSums(targets:rows:sources:count:dimension:a:into:work:)`` need for `rows`
  /// targets in dimension `d`.
  @inlinable
  public static func workLength(rows: Int, dimension d: Int) -> Int { 2 * rows * d + rows }

  /// Adds `scale · M_i` to `g_i` for `rows` targets (`x`, `g`: `rows × d` row-major; `y`:
  /// `n × d` sources; `work`: ``workLength(rows:dimension:)`` doubles).
  @inlinable
  public static func addMoments(
    targets x: UnsafePointer<Double>, rows: Int, sources y: UnsafePointer<Double>, count n: Int, dimension d: Int,
    a: Double, scale: Double, into g: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let t = work, acc = work + rows * d
    specialisingDimension(d) { d in
      transpose(x, rows: rows, dimension: d, into: t)
      acc.update(repeating: 0, count: rows * d)
      for j in 0..<n {
        let yj = y + j * d
        // Indices by wrapping arithmetic and pointer offsets: an overflow check inside the loop
        // would stop vectorisation.
        for i in 0..<rows {
          var r2 = 0.0
          for k in 0..<d {
            let z = (t + k &* rows)[i] - yj[k]
            r2 = r2.addingProduct(z, z)
          }
          let e = FastMath.exp(-r2 * a)
          for k in 0..<d {
            let ak = acc + k &* rows
            ak[i] = ak[i].addingProduct(e, (t + k &* rows)[i] - yj[k])
          }
        }
      }
      for i in 0..<rows {
        for k in 0..<d { g[i &* d &+ k] = g[i &* d &+ k].addingProduct(scale, (acc + k &* rows)[i]) }
      }
    }
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
        for i in 0..<rows {
          var r2 = 0.0
          for k in 0..<d {
            let z = (t + k &* rows)[i] - yj[k]
            r2 = r2.addingProduct(z, z)
          }
          sums[i] += FastMath.exp(-r2 * a)
        }
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
