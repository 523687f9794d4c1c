import Foundation
import MeanFieldCore

extension OptimalTransport {
  /// The largest squared distance `max_ij |x_i − y_j|²` between the two clouds (used to express
  /// ε relative to the cost scale, as `0.05 · M.max()`), exactly as the brute force computes
  /// it: `Σ_k (x_ik − y_jk)²` summed in order in double (no fused multiply–add), for the
  /// maximising pair.
  ///
  /// Two phases. First every row's maximum in single precision on sixteen lanes, by the
  /// expansion `|x_i|² + max_j (|y_j|² − 2⟨x_i, y_j⟩)` of the centred points: each value is
  /// within `(2d + 4) 2⁻²⁴ (R_x + R_y)²` of the exact one (R the clouds' largest centred norms;
  /// d roundings of the inner product, one of each norm, one of each coordinate), so the row
  /// holding the maximum is among the rows whose single-precision maximum lies within twice a
  /// (fourfold larger) bound of the best. Then those rows, usually a handful, are recomputed
  /// in double from the original coordinates. Outside the range where that bound holds
  /// (centred norms above 1e15, where squares overflow single precision, or below 1e-15,
  /// where they are subnormal and rounded coarsely) every row takes the double pass.
  ///
  /// - Complexity: O(n m d) time in single precision plus O(c m d) in double for c candidate
  ///   rows; O(n + (n + m) d) memory.
  public static func maximumSquaredDistance(
    between source: PointCloud, and target: PointCloud, threads: Int = 1
  ) throws(TransportError) -> Double {
    try TransportError.checkPair(source, target)
    let n = source.count
    let d = source.dimension
    let center = SinkhornCloud.center(source, target)
    let x = SinkhornCloud(source, center: center)
    let y = SinkhornCloud(target, center: center)
    let rx = (x.squaredNorms.max() ?? 0).squareRoot()
    let ry = (y.squaredNorms.max() ?? 0).squareRoot()
    let scale = rx + ry
    guard scale > 0 else { return 0 }
    guard scale >= 1e-15 && scale <= 1e15 else {
      return exactRowMaxima(source, target, rows: Array(0..<n), threads: threads).max() ?? 0
    }
    let rowMaxima = singleRowMaxima(x, y, threads: threads)
    let best = Double(rowMaxima.max() ?? 0)
    let slack = Double(4 * (2 * d + 4)) * 0x1p-24 * scale * scale
    let candidates = (0..<n).filter { Double(rowMaxima[$0]) >= best - 2 * slack }
    return exactRowMaxima(source, target, rows: candidates, threads: threads).max() ?? 0
  }

  /// Single-precision maxima `|x_i|² + max_j (|y_j|² − 2⟨x_i, y_j⟩)` of the centred clouds,
  /// eight rows sharing each load of sixteen targets.
  static func singleRowMaxima(_ x: SinkhornCloud, _ y: SinkhornCloud, threads: Int) -> [Float] {
    let n = x.count
    let d = x.dimension
    let columns = SinkhornSingleColumns(y)
    let p = columns.paddedCount
    // |y_j|² in single precision; the padding can never win.
    var norms = [Float](repeating: -.greatestFiniteMagnitude, count: p)
    for j in 0..<y.count { norms[j] = Float(y.squaredNorms[j]) }
    var maxima = [Float](repeating: 0, count: n)
    let chunk = 64
    columns.columns.withUnsafeBufferPointer { cP in
      norms.withUnsafeBufferPointer { nP in
        x.rows.withUnsafeBufferPointer { xP in
          x.squaredNorms.withUnsafeBufferPointer { nxP in
            maxima.withUnsafeMutableBufferPointer { mP in
              let col = cP.baseAddress!
              let ny = nP.baseAddress!
              let rows = xP.baseAddress!
              let nx = nxP.baseAddress!
              let out = mP.baseAddress!
              Parallel.forEachChunk(count: n, chunkSize: chunk, threads: threads) {
                range in
                typealias V = SingleVector
                let w = UnsafeMutablePointer<Float>.allocate(capacity: 8 * d)
                defer { w.deallocate() }
                var i0 = range.lowerBound
                while i0 < range.upperBound {
                  for r in 0..<8 {
                    let i = min(i0 + r, range.upperBound - 1)
                    for k in 0..<d { w[r * d + k] = Float(-2 * rows[i * d + k]) }
                  }
                  let w0 = w, w1 = w + d, w2 = w + 2 * d, w3 = w + 3 * d
                  let w4 = w + 4 * d, w5 = w + 5 * d, w6 = w + 6 * d, w7 = w + 7 * d
                  var m0 = V(repeating: -.greatestFiniteMagnitude)
                  var m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
                  var j = 0
                  while j < p {
                    let b = V.load(ny + j)
                    var s0 = b, s1 = b, s2 = b, s3 = b, s4 = b, s5 = b, s6 = b, s7 = b
                    var c = col + j
                    for k in 0..<d {
                      let yk = V.load(c)
                      c += p
                      s0 = s0.addingProduct(V(repeating: w0[k]), yk)
                      s1 = s1.addingProduct(V(repeating: w1[k]), yk)
                      s2 = s2.addingProduct(V(repeating: w2[k]), yk)
                      s3 = s3.addingProduct(V(repeating: w3[k]), yk)
                      s4 = s4.addingProduct(V(repeating: w4[k]), yk)
                      s5 = s5.addingProduct(V(repeating: w5[k]), yk)
                      s6 = s6.addingProduct(V(repeating: w6[k]), yk)
                      s7 = s7.addingProduct(V(repeating: w7[k]), yk)
                    }
                    m0.replace(with: s0, where: s0 .> m0)
                    m1.replace(with: s1, where: s1 .> m1)
                    m2.replace(with: s2, where: s2 .> m2)
                    m3.replace(with: s3, where: s3 .> m3)
                    m4.replace(with: s4, where: s4 .> m4)
                    m5.replace(with: s5, where: s5 .> m5)
                    m6.replace(with: s6, where: s6 .> m6)
                    m7.replace(with: s7, where: s7 .> m7)
                    j += 16
                  }
                  let m = SIMD8<Float>(
                    m0.max(), m1.max(), m2.max(), m3.max(), m4.max(), m5.max(), m6.max(), m7.max())
                  for r in 0..<min(8, range.upperBound - i0) {
                    out[i0 + r] = Float(nx[i0 + r]) + m[r]
                  }
                  i0 += 8
                }
              }
            }
          }
        }
      }
    }
    return maxima
  }

  /// `max_j Σ_k (x_ik − y_jk)²` in double for each listed row, summed in coordinate order without
  /// fused multiply–adds (bit for bit the brute-force value); four rows share each load of eight
  /// targets.
  static func exactRowMaxima(
    _ source: PointCloud, _ target: PointCloud, rows: [Int], threads: Int
  ) -> [Double] {
    let d = source.dimension
    let count = rows.count
    guard count > 0 else { return [] }
    let chunk = 64
    var partial = [Double](repeating: 0, count: (count + chunk - 1) / chunk)
    let ty = SlicingCloud(target)
    source.values.withUnsafeBufferPointer { xp in
      ty.columns.withUnsafeBufferPointer { cp in
        partial.withUnsafeMutableBufferPointer { pp in
          rows.withUnsafeBufferPointer { rp in
            let x = xp.baseAddress!
            let col = cp.baseAddress!
            let out = pp.baseAddress!
            let list = rp.baseAddress!
            let p = ty.paddedCount
            let m = ty.count
            Parallel.forEachChunk(count: count, chunkSize: chunk, threads: threads) {
              range in
              var best = TransportVector(repeating: 0)
              var i = range.lowerBound
              while i < range.upperBound {
                let last = range.upperBound - 1
                let r0 = x + list[i] * d
                let r1 = x + list[min(i + 1, last)] * d
                let r2 = x + list[min(i + 2, last)] * d
                let r3 = x + list[min(i + 3, last)] * d
                var j = 0
                while j < p {
                  var s0 = TransportVector(), s1 = s0, s2 = s0, s3 = s0
                  var column = col + j
                  for k in 0..<d {
                    let yk = TransportVector.load(column)
                    column += p
                    let e0 = yk - r0[k], e1 = yk - r1[k], e2 = yk - r2[k], e3 = yk - r3[k]
                    s0 = s0 + e0 * e0
                    s1 = s1 + e1 * e1
                    s2 = s2 + e2 * e2
                    s3 = s3 + e3 * e3
                  }
                  var s = s0.replacing(with: s1, where: s1 .> s0)
                  s.replace(with: s2, where: s2 .> s)
                  s.replace(with: s3, where: s3 .> s)
                  if j + 8 > m {
                    let live =
                      SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int64>(repeating: Int64(m - j))
                    s.replace(with: 0, where: .!live)
                  }
                  best.replace(with: s, where: s .> best)
                  j += 8
                }
                i += 4
              }
              out[range.lowerBound / chunk] = best.max()
            }
          }
        }
      }
    }
    return partial
  }
}
