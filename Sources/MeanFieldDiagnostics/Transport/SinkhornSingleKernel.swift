import Foundation
import MeanFieldCore

/// The sixteen-lane single-precision vector of the first Sinkhorn phase.
typealias SingleVector = SIMD16<Float>

extension SIMD16 where Scalar == Float {
  /// `exp(x)` on sixteen lanes in single precision.
  ///
  /// Clamp to [-87, 88]; Cody–Waite reduction `x = k ln 2 + r`, `|r| ≤ ln2/2` (k rounded by
  /// the 1.5·2²³ shifter, ln 2 split into a 16-bit head and a tail); the degree-7 Taylor
  /// polynomial of `e^r` by Horner's rule with fused multiply–adds (truncation below 5e-9
  /// relative); scaling by `2^k` through the exponent bits. Measured over 6·10⁶ uniform
  /// arguments in [-87, 88], [-40, 10] and [-1, 1]: at most 0.93 single-precision ulp from the
  /// exact value (libm's double `exp`). What this accuracy buys is tested through the solver
  /// (the mixed-precision iteration count against the double one).
  @inline(__always)
  static func fastExp(_ x: SIMD16<Float>) -> SIMD16<Float> {
    typealias V = SIMD16<Float>
    let lo = V(repeating: -87.0)
    let hi = V(repeating: 88.0)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    let shifter = V(repeating: 12582912.0)
    let shifted = shifter.addingProduct(xc, V(repeating: 1.44269504))
    let k = shifted - shifter
    let r = xc.addingProduct(k, V(repeating: -0.693145751953125))
      .addingProduct(k, V(repeating: -1.428606765330187e-06))
    var p = V(repeating: 1.0 / 5040.0)
    p = V(repeating: 1.0 / 720.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 120.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 24.0).addingProduct(p, r)
    p = V(repeating: 1.0 / 6.0).addingProduct(p, r)
    p = V(repeating: 0.5).addingProduct(p, r)
    p = V(repeating: 1.0).addingProduct(p, r)
    p = V(repeating: 1.0).addingProduct(p, r)
    let bits = (unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: SIMD16<Float>.self)
  }

  /// The lanes' sum in a fixed pairwise order, in double precision.
  @inline(__always)
  var fixedOrderDoubleSum: Double {
    (SIMD8<Double>(lowHalf) + SIMD8<Double>(highHalf)).fixedOrderSum
  }

  /// Loads sixteen floats from `p` (no alignment required).
  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
  }
}

/// A cloud's centred coordinates in single precision, transposed and zero padded to a
/// multiple of 16 (`columns[k * paddedCount + j]`): what the single-precision pass streams.
struct SinkhornSingleColumns {
  let paddedCount: Int
  var columns: [Float]

  init(_ cloud: SinkhornCloud) {
    paddedCount = (cloud.count + 15) / 16 * 16
    columns = [Float](repeating: 0, count: cloud.dimension * paddedCount)
    for i in 0..<cloud.count {
      for k in 0..<cloud.dimension {
        columns[k * paddedCount + i] = Float(cloud.rows[i * cloud.dimension + k])
      }
    }
  }
}

/// The streaming pass of `SinkhornKernel` in single precision: the first phase of the
/// mixed-precision Sinkhorn solver.
///
/// Far from the fixed point a Sinkhorn iteration only needs its row and column sums to a few
/// digits, so the first iterations run on sixteen single-precision lanes (twice the lanes of
/// double, and a degree-7 instead of degree-13 exponential) and the last ones in double, where
/// the stopping test is decided. What limits single precision is not the exponential but
/// rounding the exponent's large parts: `a_ij = α_i + β_j + ⟨2x_i/ε, y_j⟩` with `|α_i|, |β_j|`
/// of order `max C/ε`, so a rounded `α_i` would bias a whole row by `|α_i|·2⁻²⁴`. Both are
/// therefore split, `α_i = α̂_i + α̌_i` with `α̂_i` the nearest float (likewise `β_j`), and
/// the tails enter exactly as factors: `S_i = e^{α̌_i} Σ_j e^{β̌_j} exp(α̂_i + β̂_j + ⟨·,·⟩)`,
/// `e^{α̌_i}` in double after the row's sum, `e^{β̌_j}` (a float within 6e-8 of the exact
/// value, ≈ 1) as the multiplier of each term, and in the column sums `e^{β̌_j}` in double after
/// the sum over rows (the rows' weights carry `e^{α̌_i}`). What remains are rounding errors
/// that vary from term to term and average out in the sums. Measured at n = 10⁴, d = 10: the
/// single-precision iteration stalls near 1e-8 of the marginals' norm (a pass that rounds
/// `α_i` and `β_j` whole costs the solver two extra iterations in the tests' instance), so
/// the single phase can carry the marginal error
/// to 1e-7 of the norm (`SinkhornPrecisionPhase`) before the double phase takes over.
///
/// Partial sums: sixteen lanes over tiles of 256 sources in single precision, then in double;
/// column partials in double per chunk, combined in chunk order. Every lane runs a fixed
/// sequence of IEEE operations, so results are the same for any thread count.
enum SinkhornSingleKernel {
  /// Sources summed in single precision before the partial sums move to double.
  static let tileColumns = 256

  /// Row sums `S_i` (and `log S_i`) of every target; with `columnSums`, also the column sums
  /// of the plan after the relaxed row update (`relaxation`, used only then), exactly as
  /// `SinkhornKernel.fusedPass`.
  /// `costSums` is not touched. Returns false, with the outputs unspecified, when a row or
  /// column sum leaves [1e-20, 1e20]: single precision cannot represent the terms there (far
  /// from the fixed point), and the caller continues in double.
  static func pass(
    targets: SinkhornCloud, targetPotential f: [Double],
    sources: SinkhornCloud, sourceColumns: SinkhornSingleColumns, sourcePotential g: [Double],
    epsilon eps: Double,
    relaxation: SinkhornOverrelaxation = SinkhornOverrelaxation(enabled: false),
    threads: Int, into out: inout SinkhornPassOutput,
    columnSums: UnsafeMutableBufferPointer<Double>? = nil
  ) -> Bool {
    let p = sourceColumns.paddedCount
    let ns = sources.count
    // β̂_j, and e^{β̌_j} as a float (the row-sum multiplier, zero in the padding) and in double.
    var betaHead = [Float](repeating: 0, count: p)
    var tailFactor = [Float](repeating: 0, count: p)
    var tailFactorDouble = [Double](repeating: 0, count: ns)
    for j in 0..<ns {
      let beta = (g[j] - sources.squaredNorms[j]) / eps + sources.logWeights[j]
      guard beta.isFinite else {
        if sources.weights[j] == 0 { continue }
        return false
      }
      let head = Float(beta)
      guard head.isFinite else { return false }
      let tail = Foundation.exp(beta - Double(head))
      betaHead[j] = head
      tailFactor[j] = Float(tail)
      tailFactorDouble[j] = tail
    }
    let nt = targets.count
    let storing = columnSums != nil
    let chunk = storing ? SinkhornKernel.fusedChunkRows(targets: nt) : SinkhornKernel.chunkRows
    let chunks = (nt + chunk - 1) / chunk
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: storing ? chunks * p : 1)
    defer { partials.deallocate() }
    if storing { partials.initialize(repeating: 0, count: chunks * p) }
    var chunkInRange = [Bool](repeating: true, count: chunks)
    betaHead.withUnsafeBufferPointer { bP in
      tailFactor.withUnsafeBufferPointer { uP in
        sourceColumns.columns.withUnsafeBufferPointer { cP in
          targets.rows.withUnsafeBufferPointer { xP in
            targets.squaredNorms.withUnsafeBufferPointer { nxP in
              targets.weights.withUnsafeBufferPointer { aP in
                f.withUnsafeBufferPointer { fP in
                  out.logSums.withUnsafeMutableBufferPointer { lsP in
                    out.sums.withUnsafeMutableBufferPointer { sP in
                      chunkInRange.withUnsafeMutableBufferPointer { okP in
                        let ctx = SinkhornSinglePassContext(
                          betaHead: bP.baseAddress!, tailFactor: uP.baseAddress!,
                          columns: cP.baseAddress!, targetRows: xP.baseAddress!,
                          targetNorms: nxP.baseAddress!, targetWeights: aP.baseAddress!,
                          shift: fP.baseAddress!, logSums: lsP.baseAddress!,
                          sums: sP.baseAddress!, dimension: targets.dimension,
                          paddedSources: p, epsilon: eps, relaxation: relaxation,
                          partials: storing ? partials : nil, chunkRows: chunk)
                        Parallel.forEachChunk(
                          count: nt, chunkSize: chunk, threads: threads
                        ) { range in
                          okP[range.lowerBound / chunk] = ctx.run(rows: range)
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    guard !chunkInRange.contains(false) else { return false }
    if let columnSums {
      for j in 0..<ns {
        var s = 0.0
        for c in 0..<chunks { s += partials[c * p + j] }
        let cj = tailFactorDouble[j] * s
        let bj = sources.weights[j]
        if bj > 0 {
          let ratio = cj / bj
          guard ratio >= 1e-20 && ratio <= 1e20 else { return false }
        }
        columnSums[j] = cj
      }
    }
    return true
  }
}

/// Raw pointers of one single-precision pass; each chunk writes only its own rows and partials.
struct SinkhornSinglePassContext {
  let betaHead: UnsafePointer<Float>
  let tailFactor: UnsafePointer<Float>
  let columns: UnsafePointer<Float>
  let targetRows: UnsafePointer<Double>
  let targetNorms: UnsafePointer<Double>
  let targetWeights: UnsafePointer<Double>
  let shift: UnsafePointer<Double>
  let logSums: UnsafeMutablePointer<Double>
  let sums: UnsafeMutablePointer<Double>
  let dimension: Int
  let paddedSources: Int
  let epsilon: Double
  let relaxation: SinkhornOverrelaxation
  /// Column partials (`chunks × paddedSources`), nil for row sums only.
  let partials: UnsafeMutablePointer<Double>?
  let chunkRows: Int

  /// Processes targets `rows` in blocks of 8 (the last block repeats its final row); false
  /// when a row sum is out of range.
  @inline(__always)
  func run(rows: Range<Int>) -> Bool {
    let d = dimension
    let p = paddedSources
    let scaled = UnsafeMutablePointer<Float>.allocate(capacity: 8 * d)
    defer { scaled.deallocate() }
    let stored = UnsafeMutablePointer<Float>.allocate(capacity: partials != nil ? 8 * p : 1)
    defer { stored.deallocate() }
    let column = partials.map { $0 + (rows.lowerBound / chunkRows) * p }
    var i0 = rows.lowerBound
    while i0 < rows.upperBound {
      let last = rows.upperBound - 1
      var alphaHead = SIMD8<Float>()
      var alphaTail = SIMD8<Double>()
      for r in 0..<8 {
        let i = min(i0 + r, last)
        for k in 0..<d { scaled[r * d + k] = Float(2.0 * targetRows[i * d + k] / epsilon) }
        let alpha = (shift[i] - targetNorms[i]) / epsilon
        alphaHead[r] = Float(alpha)
        alphaTail[r] = alpha - Double(alphaHead[r])
      }
      let s =
        column != nil
        ? block(scaled: scaled, alphaHead: alphaHead, store: stored)
        : block(scaled: scaled, alphaHead: alphaHead, store: nil)
      var weights = SIMD8<Float>()
      for r in 0..<min(8, rows.upperBound - i0) {
        let i = i0 + r
        guard alphaHead[r].isFinite else { return false }
        let sum = Foundation.exp(alphaTail[r]) * s[r]
        guard sum >= 1e-20 && sum <= 1e20 else { return false }
        sums[i] = sum
        let logSum = Foundation.log(sum)
        logSums[i] = logSum
        if column != nil {
          // Plan after the row update: P_ij = a_i S_i^{−ω_i} e^{α̌_i} · e^{β̌_j} e^{â_ij}.
          let w = relaxation.factor(logSum)
          weights[r] = Float(targetWeights[i] * Foundation.exp(alphaTail[r] - w * logSum))
        }
      }
      if let column { accumulateColumns(stored, weights: weights, into: column) }
      i0 += 8
    }
    return true
  }

  /// `column[j] += Σ_r weights[r] · e_rj` (single-precision products of eight rows, then
  /// added in double).
  @inline(__always)
  func accumulateColumns(
    _ stored: UnsafeMutablePointer<Float>, weights: SIMD8<Float>,
    into column: UnsafeMutablePointer<Double>
  ) {
    let p = paddedSources
    let v0 = SingleVector(repeating: weights[0])
    let v1 = SingleVector(repeating: weights[1])
    let v2 = SingleVector(repeating: weights[2])
    let v3 = SingleVector(repeating: weights[3])
    let v4 = SingleVector(repeating: weights[4])
    let v5 = SingleVector(repeating: weights[5])
    let v6 = SingleVector(repeating: weights[6])
    let v7 = SingleVector(repeating: weights[7])
    var j = 0
    var e = UnsafePointer(stored)
    while j < p {
      var t = v0 * SingleVector.load(e + 0)
      t = t.addingProduct(v1, SingleVector.load(e + 16))
      t = t.addingProduct(v2, SingleVector.load(e + 32))
      t = t.addingProduct(v3, SingleVector.load(e + 48))
      t = t.addingProduct(v4, SingleVector.load(e + 64))
      t = t.addingProduct(v5, SingleVector.load(e + 80))
      t = t.addingProduct(v6, SingleVector.load(e + 96))
      t = t.addingProduct(v7, SingleVector.load(e + 112))
      let lo = TransportVector.load(column + j) + SIMD8<Double>(t.lowHalf)
      let hi = TransportVector.load(column + j + 8) + SIMD8<Double>(t.highHalf)
      UnsafeMutableRawPointer(column + j).storeBytes(of: lo, as: TransportVector.self)
      UnsafeMutableRawPointer(column + j + 8).storeBytes(of: hi, as: TransportVector.self)
      e += 128
      j += 16
    }
  }

  /// `Σ_j e^{β̌_j} exp(α̂_r + β̂_j + ⟨2x_r/ε, y_j⟩)` for the 8 targets of a block, as two
  /// passes of four rows (`halfBlock`); with `store`, also writes the exponentials (without the
  /// factor `e^{β̌_j}`) of sources `j ..< j + 16` of row r to `store[8 j + 16 r ...]`.
  @inline(__always)
  func block(
    scaled: UnsafeMutablePointer<Float>, alphaHead: SIMD8<Float>,
    store: UnsafeMutablePointer<Float>?
  ) -> SIMD8<Double> {
    SIMD8<Double>(
      lowHalf: halfBlock(scaled: scaled, alphaHead: alphaHead.lowHalf, store: store),
      highHalf: halfBlock(scaled: scaled + 4 * dimension, alphaHead: alphaHead.highHalf, store: store.map { $0 + 64 }))
  }

  /// The sums of ``block(scaled:alphaHead:store:)`` for four rows (`scaled` and `store` at the
  /// first of them). Four rows, not eight, per pass over the sources: the four dot-product
  /// accumulators of sixteen lanes then fit the sixteen 256-bit registers of AVX2 with the
  /// source row and a broadcast (eight spilled in the inner loop, which made the n = 10⁴ case
  /// 1.75× slower with AVX2 kernels than with AVX-512 ones on the same CPU). With AVX-512's 32
  /// registers a single pass of eight rows made that case 3% faster, not worth a second copy of
  /// the kernel. Each row's arithmetic is the same either way, so are the bits.
  @inline(__always)
  func halfBlock(
    scaled: UnsafeMutablePointer<Float>, alphaHead: SIMD4<Float>,
    store: UnsafeMutablePointer<Float>?
  ) -> SIMD4<Double> {
    typealias V = SingleVector
    let d = dimension
    let p = paddedSources
    let a0 = alphaHead[0], a1 = alphaHead[1], a2 = alphaHead[2], a3 = alphaHead[3]
    let w0 = UnsafePointer(scaled) + 0 * d
    let w1 = UnsafePointer(scaled) + 1 * d
    let w2 = UnsafePointer(scaled) + 2 * d
    let w3 = UnsafePointer(scaled) + 3 * d
    var total = SIMD4<Double>()
    var tileStart = 0
    while tileStart < p {
      let tileEnd = min(p, tileStart + SinkhornSingleKernel.tileColumns)
      var s0 = V(), s1 = V(), s2 = V(), s3 = V()
      var j = tileStart
      while j < tileEnd {
        var d0 = V(), d1 = V(), d2 = V(), d3 = V()
        var col = columns + j
        for k in 0..<d {
          let y = V.load(col)
          col += p
          d0 = d0.addingProduct(V(repeating: w0[k]), y)
          d1 = d1.addingProduct(V(repeating: w1[k]), y)
          d2 = d2.addingProduct(V(repeating: w2[k]), y)
          d3 = d3.addingProduct(V(repeating: w3[k]), y)
        }
        let b = V.load(betaHead + j)
        let u = V.load(tailFactor + j)
        let e0 = V.fastExp((b + a0) + d0)
        let e1 = V.fastExp((b + a1) + d1)
        let e2 = V.fastExp((b + a2) + d2)
        let e3 = V.fastExp((b + a3) + d3)
        s0 = s0.addingProduct(u, e0)
        s1 = s1.addingProduct(u, e1)
        s2 = s2.addingProduct(u, e2)
        s3 = s3.addingProduct(u, e3)
        if let store {
          let o = store + 8 * j
          UnsafeMutableRawPointer(o + 0).storeBytes(of: e0, as: V.self)
          UnsafeMutableRawPointer(o + 16).storeBytes(of: e1, as: V.self)
          UnsafeMutableRawPointer(o + 32).storeBytes(of: e2, as: V.self)
          UnsafeMutableRawPointer(o + 48).storeBytes(of: e3, as: V.self)
        }
        j += 16
      }
      total += SIMD4<Double>(
        s0.fixedOrderDoubleSum, s1.fixedOrderDoubleSum, s2.fixedOrderDoubleSum, s3.fixedOrderDoubleSum)
      tileStart = tileEnd
    }
    return total
  }
}
