/// M_i for targets that are sources themselves, each exponential computed once for a pair.
extension GaussianPairKernel {
  /// Writes `M_i` (row-major, `range.count × d`, into `out`) for the targets `range` of the `n`
  /// sources `y`, bitwise equal to ``addMoments(targets:rows:sources:count:dimension:a:scale:into:work:)``
  /// with scale 1 on zero, at about half its exponentials for a large range (`work`:
  /// ``symmetricWorkLength(dimension:)`` doubles).
  ///
  /// The tiles lying wholly inside the range are swept in order: tile I gets the partials of
  /// every tile before the range, then, tile by tile in order, those of the range's tiles
  /// (P_IJ for J < I arrived when J was swept, as the mirror of P_JI; then P_II; then for each
  /// J > I one pass computes e_ij, adds P_IJ to I and keeps e_ij, a second adds P_JI to J),
  /// then those of the tiles after the range. So every target's partials arrive in tile order.
  /// Targets in tiles cut by the range's ends are computed directly.
  @inlinable
  public static func symmetricMoments(
    all y: UnsafePointer<Double>, count n: Int, range: Range<Int>, dimension d: Int, a: Double,
    into out: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let size = tile
    let p0 = range.lowerBound, p1 = range.upperBound
    let tI = work, tJ = tI + size * d, accI = tJ + size * d, accJ = accI + size * d, e = accJ + size * d
    let tiles = (n + size - 1) / size
    let innerLow = (p0 + size - 1) / size, innerHigh = max(innerLow, p1 / size)
    specialisingDimension(d) { d in
      /// The totals of inner tile `own`: coordinate-major with stride `size` in its rows of `out`
      /// during the sweep, row-major at the end.
      func totals(_ own: Int) -> UnsafeMutablePointer<Double> { out + (own * size - p0) * d }
      func sources(_ source: Int) -> (UnsafePointer<Double>, Int) {
        (y + source * size * d, min(size, n - source * size))
      }
      // Targets in the cut tiles at either end, directly.
      func direct(_ edge: Range<Int>) {
        var first = edge.lowerBound
        while first < edge.upperBound {
          let chunk = min(size, edge.upperBound - first)
          (out + (first - p0) * d).update(repeating: 0, count: chunk * d)
          addMoments(
            targets: y + first * d, rows: chunk, sources: y, count: n, dimension: d, a: a, scale: 1,
            into: out + (first - p0) * d, work: work)
          first += chunk
        }
      }
      let low = p0..<min(p1, innerLow * size)
      direct(low)
      direct(min(p1, max(low.upperBound, innerHigh * size))..<p1)
      guard innerHigh > innerLow else { return }
      // Partials of the tiles before the range.
      for own in innerLow..<innerHigh {
        totals(own).update(repeating: 0, count: size * d)
        transpose(y + own * size * d, rows: size, dimension: d, into: tI)
        for source in 0..<innerLow {
          let (s, m) = sources(source)
          addTile(tI, size, s, m, d, a, accI, totals(own))
        }
      }
      // The range's own tiles.
      for own in innerLow..<innerHigh {
        transpose(y + own * size * d, rows: size, dimension: d, into: tI)
        addTile(tI, size, y + own * size * d, size, d, a, accI, totals(own))
        for other in (own + 1)..<max(own + 1, innerHigh) {
          transpose(y + other * size * d, rows: size, dimension: d, into: tJ)
          // P_IJ (I = own, J = other), keeping e_ij (row j of `e`).
          accI.update(repeating: 0, count: size * d)
          for j in 0..<size {
            let yj = y + (other * size + j) * d, row = e + j &* size
            for i in 0..<size {
              let w = term(tI, size, i, yj, d, a)
              row[i] = w
              for k in 0..<d {
                let ak = accI + k &* size
                ak[i] = ak[i].addingProduct(w, (tI + k &* size)[i] - yj[k])
              }
            }
          }
          let totalsI = totals(own)
          for q in 0..<(size * d) { totalsI[q] += accI[q] }
          // P_JI from the kept e_ij, sources i in order.
          accJ.update(repeating: 0, count: size * d)
          for i in 0..<size {
            let xi = y + (own * size + i) * d
            for j in 0..<size {
              let w = e[j &* size &+ i]
              for k in 0..<d {
                let aj = accJ + k &* size
                aj[j] = aj[j].addingProduct(w, (tJ + k &* size)[j] - xi[k])
              }
            }
          }
          let totalsJ = totals(other)
          for q in 0..<(size * d) { totalsJ[q] += accJ[q] }
        }
      }
      // Partials of the tiles after the range, then row-major.
      for own in innerLow..<innerHigh {
        transpose(y + own * size * d, rows: size, dimension: d, into: tI)
        for source in innerHigh..<tiles {
          let (s, m) = sources(source)
          addTile(tI, size, s, m, d, a, accI, totals(own))
        }
        let block = totals(own)
        for q in 0..<(size * d) { accI[q] = block[q] }
        for i in 0..<size {
          for k in 0..<d { block[i &* d &+ k] = accI[k &* size &+ i] }
        }
      }
    }
  }
}
