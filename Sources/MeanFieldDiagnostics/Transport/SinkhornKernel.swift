import Foundation
import MeanFieldCore

/// One point cloud laid out for the streaming Sinkhorn kernel.
///
/// Coordinates are translated by a vector shared with the other cloud (the squared Euclidean
/// cost is invariant under a common translation, and centred coordinates keep the expansion
/// `|x|² + |y|² − 2⟨x, y⟩` free of needless cancellation). The transposed copy `columns`
/// (`dimension × paddedCount`, zero padded to a multiple of 8) is what the kernel streams
/// through eight points at a time.
struct SinkhornCloud {
  let count: Int
  let paddedCount: Int
  let dimension: Int
  /// Centred coordinates, row-major `count × dimension`.
  var rows: [Double]
  /// Centred coordinates, transposed: `columns[k * paddedCount + i]`.
  var columns: [Double]
  /// `|x_i|²` of the centred points (zero in the padding).
  var squaredNorms: [Double]
  /// Normalised weights.
  var weights: [Double]
  /// `log w_i` (zero in the padding; padded lanes are masked, never summed).
  var logWeights: [Double]

  init(_ cloud: PointCloud, center: [Double]) {
    let n = cloud.count
    let d = cloud.dimension
    count = n
    dimension = d
    paddedCount = (n + 7) / 8 * 8
    rows = cloud.values
    columns = [Double](repeating: 0, count: d * paddedCount)
    squaredNorms = [Double](repeating: 0, count: paddedCount)
    weights = (0..<n).map { cloud.weight($0) }
    logWeights = [Double](repeating: 0, count: paddedCount)
    for i in 0..<n {
      var s = 0.0
      for k in 0..<d {
        let v = rows[i * d + k] - center[k]
        rows[i * d + k] = v
        columns[k * paddedCount + i] = v
        s += v * v
      }
      squaredNorms[i] = s
      logWeights[i] = weights[i] > 0 ? Foundation.log(weights[i]) : -Double.infinity
    }
  }

  /// The common translation of two clouds: the midpoint of their weighted means.
  static func center(_ a: PointCloud, _ b: PointCloud) -> [Double] {
    let d = a.dimension
    var c = [Double](repeating: 0, count: d)
    for cloud in [a, b] {
      for i in 0..<cloud.count {
        let w = 0.5 * cloud.weight(i)
        for k in 0..<d { c[k] += w * cloud[i, k] }
      }
    }
    return c
  }
}

/// Per-target outputs of one streaming pass.
struct SinkhornPassOutput {
  /// `log S_i`, with `S_i = Σ_j exp((f_i + g_j − C_ij)/ε + log w_j)`.
  var logSums: [Double]
  /// `S_i`, the target's marginal of the current plan divided by its weight.
  var sums: [Double]
  /// `Σ_j (exp(a_ij) / S_i) C_ij`, the transport cost of row i of the row-normalised plan
  /// (only when costs are requested; always finite, also on the slow path).
  var costSums: [Double]

  init(count: Int) {
    logSums = [Double](repeating: 0, count: count)
    sums = [Double](repeating: 0, count: count)
    costSums = [Double](repeating: 0, count: count)
  }
}

/// The streaming log-sum-exp pass: the heart of the Sinkhorn solver.
///
/// For every target point `x_i` it evaluates, without ever forming the `n × m` kernel,
///
///     S_i = Σ_j exp(a_ij),   a_ij = (f_i + g_j − |x_i − y_j|²) / ε + log w_j,
///
/// where `f` is the target's current potential (it serves as the log-sum-exp shift: near a
/// fixed point `S_i ≈ 1`, so one pass with one exponential per entry suffices) and `g` the
/// sources' potential. The Sinkhorn update is then `f_i ← f_i − ε log S_i`, and `w_i S_i` is
/// the target marginal of the plan `P_ij = w_i w_j exp((f_i + g_j − C_ij)/ε)`.
///
/// The exponent is assembled as `a_ij = β_j + α_i + ⟨2x_i/ε, y_j⟩` with
/// `α_i = (f_i − |x_i|²)/ε` and `β_j = (g_j − |y_j|²)/ε + log w_j`; eight targets share each
/// load of eight sources. A row whose sum leaves [1e-250, 1e250] (first pass from zero
/// potentials, or a jump in ε) is recomputed out of line with the exact maximum as shift.
///
/// The *fused* pass (`fusedPass`) also returns the column sums of the plan after the row
/// update `f_i ← f_i − ω_i ε log S_i`: that plan is `P_ij = a_i S_i^{−ω_i} e^{a_ij}`, so the
/// exponentials of a block of eight rows are kept (8 × m doubles, in cache) until the rows'
/// sums are known, then added into per-chunk column partials. One pass then carries a full
/// Sinkhorn iteration (both updates and the marginal test) instead of two.
///
/// - Complexity: O(n m d) time; O(m) memory per thread (fused: 8m per thread for a block's
///   exponentials, and 16m for the chunks' column partials). Rows are independent and column
///   partials belong to fixed chunks combined in order, so the output is the same for any
///   thread count.
enum SinkhornKernel {
  /// Targets per chunk of the fixed work partition (a multiple of the 8-row register block).
  static let chunkRows = 64
  /// Chunks of the fused pass (each owns one array of column partials).
  static let fusedChunks = 16

  /// Rows per chunk of a fused pass: `fusedChunks` chunks, each a multiple of the 8-row block.
  static func fusedChunkRows(targets: Int) -> Int {
    max(8, ((targets + fusedChunks - 1) / fusedChunks + 7) / 8 * 8)
  }

  /// Runs the pass for all targets; fills `out` (sized to `targets.count`).
  static func pass(
    targets: SinkhornCloud, targetPotential f: [Double],
    sources: SinkhornCloud, sourcePotential g: [Double],
    epsilon eps: Double, computeCosts: Bool, threads: Int, into out: inout SinkhornPassOutput
  ) {
    run(
      targets: targets, targetPotential: f, sources: sources, sourcePotential: g, epsilon: eps,
      computeCosts: computeCosts, threads: threads, into: &out, columns: nil)
  }

  /// The fused pass: row sums as `pass` (with costs), and `columnSums[j] = Σ_i P_ij` for the
  /// plan after the relaxed row update (`relaxation.factor(log S_i)`), `P_ij` as above.
  static func fusedPass(
    targets: SinkhornCloud, targetPotential f: [Double],
    sources: SinkhornCloud, sourcePotential g: [Double],
    epsilon eps: Double, relaxation: SinkhornOverrelaxation, threads: Int,
    into out: inout SinkhornPassOutput, columnSums: inout [Double]
  ) {
    let p = sources.paddedCount
    let chunk = fusedChunkRows(targets: targets.count)
    let chunks = (targets.count + chunk - 1) / chunk
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: chunks * p)
    defer { partials.deallocate() }
    partials.initialize(repeating: 0, count: chunks * p)
    targets.weights.withUnsafeBufferPointer { wP in
      let accumulation = SinkhornColumnAccumulation(
        partials: partials, rowWeights: wP.baseAddress!, relaxation: relaxation,
        chunkRows: chunk)
      run(
        targets: targets, targetPotential: f, sources: sources, sourcePotential: g,
        epsilon: eps, computeCosts: true, threads: threads, into: &out, columns: accumulation)
    }
    // Combine the chunks' partials in chunk order.
    for j in 0..<sources.count {
      var s = 0.0
      for c in 0..<chunks { s += partials[c * p + j] }
      columnSums[j] = s
    }
  }

  private static func run(
    targets: SinkhornCloud, targetPotential f: [Double],
    sources: SinkhornCloud, sourcePotential g: [Double],
    epsilon eps: Double, computeCosts: Bool, threads: Int, into out: inout SinkhornPassOutput,
    columns accumulation: SinkhornColumnAccumulation?
  ) {
    let d = targets.dimension
    let p = sources.paddedCount
    let ns = sources.count
    // β_j for the sources, padded.
    var beta = [Double](repeating: 0, count: p)
    for j in 0..<ns {
      beta[j] = (g[j] - sources.squaredNorms[j]) / eps + sources.logWeights[j]
    }
    let nt = targets.count
    let chunkSize = accumulation?.chunkRows ?? chunkRows
    beta.withUnsafeBufferPointer { betaP in
      sources.columns.withUnsafeBufferPointer { colP in
        sources.squaredNorms.withUnsafeBufferPointer { nyP in
          targets.rows.withUnsafeBufferPointer { xP in
            targets.squaredNorms.withUnsafeBufferPointer { nxP in
              f.withUnsafeBufferPointer { fP in
                out.logSums.withUnsafeMutableBufferPointer { lsP in
                  out.sums.withUnsafeMutableBufferPointer { sP in
                    out.costSums.withUnsafeMutableBufferPointer { cP in
                      let ctx = SinkhornPassContext(
                        beta: betaP.baseAddress!, columns: colP.baseAddress!,
                        sourceNorms: nyP.baseAddress!, targetRows: xP.baseAddress!,
                        targetNorms: nxP.baseAddress!, shift: fP.baseAddress!,
                        logSums: lsP.baseAddress!, sums: sP.baseAddress!,
                        costSums: cP.baseAddress!, dimension: d, paddedSources: p,
                        sources: ns, epsilon: eps, accumulation: accumulation)
                      Parallel.forEachChunk(
                        count: nt, chunkSize: chunkSize, threads: threads
                      ) { range in
                        if accumulation != nil {
                          ctx.run(rows: range, costs: true, storing: true)
                        } else if computeCosts {
                          ctx.run(rows: range, costs: true, storing: false)
                        } else {
                          ctx.run(rows: range, costs: false, storing: false)
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
  }
}

/// Where a fused pass accumulates column sums.
struct SinkhornColumnAccumulation {
  /// `chunks × paddedSources` partial column sums; chunk `c` owns `partials[c * p ..< (c+1) * p]`.
  let partials: UnsafeMutablePointer<Double>
  /// The targets' weights `a_i`.
  let rowWeights: UnsafePointer<Double>
  /// The relaxation of the row update.
  let relaxation: SinkhornOverrelaxation
  /// Rows per chunk.
  let chunkRows: Int
}

/// Raw pointers of one pass; each chunk writes only its own rows (and its own partials).
struct SinkhornPassContext {
  let beta: UnsafePointer<Double>
  let columns: UnsafePointer<Double>
  let sourceNorms: UnsafePointer<Double>
  let targetRows: UnsafePointer<Double>
  let targetNorms: UnsafePointer<Double>
  let shift: UnsafePointer<Double>
  let logSums: UnsafeMutablePointer<Double>
  let sums: UnsafeMutablePointer<Double>
  let costSums: UnsafeMutablePointer<Double>
  let dimension: Int
  let paddedSources: Int
  let sources: Int
  let epsilon: Double
  let accumulation: SinkhornColumnAccumulation?

  /// Processes targets `rows` in blocks of 8 (the last block repeats its final row).
  @inline(__always)
  func run(rows: Range<Int>, costs: Bool, storing: Bool) {
    let d = dimension
    let p = paddedSources
    // Scaled coordinates 2x/ε of the targets of a block.
    let scaled = UnsafeMutablePointer<Double>.allocate(capacity: 8 * d)
    defer { scaled.deallocate() }
    // Fused pass: the block's exponentials and this chunk's column partials.
    let stored = UnsafeMutablePointer<Double>.allocate(capacity: storing ? 8 * p : 1)
    defer { stored.deallocate() }
    let column: UnsafeMutablePointer<Double>? = accumulation.map {
      $0.partials + (rows.lowerBound / $0.chunkRows) * p
    }
    var i0 = rows.lowerBound
    while i0 < rows.upperBound {
      let last = rows.upperBound - 1
      var alpha = SIMD8<Double>()
      var nx = SIMD8<Double>()
      for r in 0..<8 {
        let i = min(i0 + r, last)
        for k in 0..<d { scaled[r * d + k] = 2.0 * targetRows[i * d + k] / epsilon }
        alpha[r] = (shift[i] - targetNorms[i]) / epsilon
        nx[r] = targetNorms[i]
      }
      let (s, c) =
        storing
        ? block(scaled: scaled, alpha: alpha, targetNorms: nx, costs: true, store: stored)
        : costs
          ? block(scaled: scaled, alpha: alpha, targetNorms: nx, costs: true, store: nil)
          : block(scaled: scaled, alpha: alpha, targetNorms: nx, costs: false, store: nil)
      var weights = TransportVector()
      var rescaled: [Int] = []
      for r in 0..<min(8, rows.upperBound - i0) {
        let i = i0 + r
        let sum = s[r]
        if sum >= 1e-250 && sum <= 1e250 {
          sums[i] = sum
          logSums[i] = Foundation.log(sum)
          costSums[i] = c[r] / sum + nx[r]
          if let a = accumulation {
            // Plan after the row update: P_ij = a_i S_i^{−ω_i} e^{a_ij}.
            let w = a.relaxation.factor(logSums[i])
            weights[r] = a.rowWeights[i] * Foundation.exp(-w * logSums[i])
          }
        } else {
          rescaledRow(i, scaled: scaled + r * d, alpha: alpha[r], targetNorm: nx[r])
          rescaled.append(r)
        }
      }
      if storing, let column {
        accumulateColumns(stored, weights: weights, into: column)
        for r in rescaled {
          rescaledColumns(
            i0 + r, scaled: scaled + r * d, alpha: alpha[r], into: column)
        }
      }
      i0 += 8
    }
  }

  /// `column[j] += Σ_r weights[r] · e_rj`, rows in order (`e` as stored by `block`).
  @inline(__always)
  func accumulateColumns(
    _ stored: UnsafeMutablePointer<Double>, weights: TransportVector,
    into column: UnsafeMutablePointer<Double>
  ) {
    let p = paddedSources
    let v0 = TransportVector(repeating: weights[0])
    let v1 = TransportVector(repeating: weights[1])
    let v2 = TransportVector(repeating: weights[2])
    let v3 = TransportVector(repeating: weights[3])
    let v4 = TransportVector(repeating: weights[4])
    let v5 = TransportVector(repeating: weights[5])
    let v6 = TransportVector(repeating: weights[6])
    let v7 = TransportVector(repeating: weights[7])
    var j = 0
    var e = UnsafePointer(stored)
    while j < p {
      var acc = TransportVector.load(column + j)
      acc = acc.addingProduct(v0, TransportVector.load(e + 0))
      acc = acc.addingProduct(v1, TransportVector.load(e + 8))
      acc = acc.addingProduct(v2, TransportVector.load(e + 16))
      acc = acc.addingProduct(v3, TransportVector.load(e + 24))
      acc = acc.addingProduct(v4, TransportVector.load(e + 32))
      acc = acc.addingProduct(v5, TransportVector.load(e + 40))
      acc = acc.addingProduct(v6, TransportVector.load(e + 48))
      acc = acc.addingProduct(v7, TransportVector.load(e + 56))
      UnsafeMutableRawPointer(column + j).storeBytes(of: acc, as: TransportVector.self)
      e += 64
      j += 8
    }
  }

  /// Sums `exp(a_ij)` (and `exp(a_ij) (C_ij − |x_i|²)`) over all sources for 8 targets; with `store`,
  /// also writes the exponentials of lanes `j ..< j + 8` of row r to `store[8 j + 8 r ...]`
  /// (one sequential stream).
  @inline(__always)
  func block(
    scaled: UnsafeMutablePointer<Double>, alpha: SIMD8<Double>, targetNorms nx: SIMD8<Double>,
    costs: Bool, store: UnsafeMutablePointer<Double>?
  ) -> (SIMD8<Double>, SIMD8<Double>) {
    let d = dimension
    let p = paddedSources
    let negativeEpsilon = TransportVector(repeating: -epsilon)
    var s0 = TransportVector()
    var q0 = TransportVector()
    let a0 = alpha[0]
    let w0 = UnsafePointer(scaled) + 0 * d
    var s1 = TransportVector()
    var q1 = TransportVector()
    let a1 = alpha[1]
    let w1 = UnsafePointer(scaled) + 1 * d
    var s2 = TransportVector()
    var q2 = TransportVector()
    let a2 = alpha[2]
    let w2 = UnsafePointer(scaled) + 2 * d
    var s3 = TransportVector()
    var q3 = TransportVector()
    let a3 = alpha[3]
    let w3 = UnsafePointer(scaled) + 3 * d
    var s4 = TransportVector()
    var q4 = TransportVector()
    let a4 = alpha[4]
    let w4 = UnsafePointer(scaled) + 4 * d
    var s5 = TransportVector()
    var q5 = TransportVector()
    let a5 = alpha[5]
    let w5 = UnsafePointer(scaled) + 5 * d
    var s6 = TransportVector()
    var q6 = TransportVector()
    let a6 = alpha[6]
    let w6 = UnsafePointer(scaled) + 6 * d
    var s7 = TransportVector()
    var q7 = TransportVector()
    let a7 = alpha[7]
    let w7 = UnsafePointer(scaled) + 7 * d
    var j = 0
    while j < p {
      let b = TransportVector.load(beta + j)
      var d0 = TransportVector()
      var d1 = TransportVector()
      var d2 = TransportVector()
      var d3 = TransportVector()
      var d4 = TransportVector()
      var d5 = TransportVector()
      var d6 = TransportVector()
      var d7 = TransportVector()
      var column = columns + j
      for k in 0..<d {
        let y = TransportVector.load(column)
        column += p
        d0 = d0.addingProduct(TransportVector(repeating: w0[k]), y)
        d1 = d1.addingProduct(TransportVector(repeating: w1[k]), y)
        d2 = d2.addingProduct(TransportVector(repeating: w2[k]), y)
        d3 = d3.addingProduct(TransportVector(repeating: w3[k]), y)
        d4 = d4.addingProduct(TransportVector(repeating: w4[k]), y)
        d5 = d5.addingProduct(TransportVector(repeating: w5[k]), y)
        d6 = d6.addingProduct(TransportVector(repeating: w6[k]), y)
        d7 = d7.addingProduct(TransportVector(repeating: w7[k]), y)
      }
      var e0 = TransportVector.fastExp((b + a0) + d0)
      var e1 = TransportVector.fastExp((b + a1) + d1)
      var e2 = TransportVector.fastExp((b + a2) + d2)
      var e3 = TransportVector.fastExp((b + a3) + d3)
      var e4 = TransportVector.fastExp((b + a4) + d4)
      var e5 = TransportVector.fastExp((b + a5) + d5)
      var e6 = TransportVector.fastExp((b + a6) + d6)
      var e7 = TransportVector.fastExp((b + a7) + d7)
      if j + 8 > sources {
        // Padded lanes contribute nothing.
        let live =
          SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int64>(repeating: Int64(sources - j))
        let zero = TransportVector()
        e0.replace(with: zero, where: .!live)
        e1.replace(with: zero, where: .!live)
        e2.replace(with: zero, where: .!live)
        e3.replace(with: zero, where: .!live)
        e4.replace(with: zero, where: .!live)
        e5.replace(with: zero, where: .!live)
        e6.replace(with: zero, where: .!live)
        e7.replace(with: zero, where: .!live)
      }
      s0 += e0
      s1 += e1
      s2 += e2
      s3 += e3
      s4 += e4
      s5 += e5
      s6 += e6
      s7 += e7
      if let store {
        UnsafeMutableRawPointer(store + 8 * j + 0).storeBytes(of: e0, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 8).storeBytes(of: e1, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 16).storeBytes(of: e2, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 24).storeBytes(of: e3, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 32).storeBytes(of: e4, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 40).storeBytes(of: e5, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 48).storeBytes(of: e6, as: TransportVector.self)
        UnsafeMutableRawPointer(store + 8 * j + 56).storeBytes(of: e7, as: TransportVector.self)
      }
      if costs {
        // C_ij = |x_i|² + (|y_j|² − ε ⟨2x_i/ε, y_j⟩); the row's |x_i|² Σ_j e_ij is added by
        // the caller, so two fused multiply–adds per entry accumulate Σ_j e_ij (C_ij − |x_i|²).
        let ny = TransportVector.load(sourceNorms + j)
        q0 = q0.addingProduct(e0, ny.addingProduct(negativeEpsilon, d0))
        q1 = q1.addingProduct(e1, ny.addingProduct(negativeEpsilon, d1))
        q2 = q2.addingProduct(e2, ny.addingProduct(negativeEpsilon, d2))
        q3 = q3.addingProduct(e3, ny.addingProduct(negativeEpsilon, d3))
        q4 = q4.addingProduct(e4, ny.addingProduct(negativeEpsilon, d4))
        q5 = q5.addingProduct(e5, ny.addingProduct(negativeEpsilon, d5))
        q6 = q6.addingProduct(e6, ny.addingProduct(negativeEpsilon, d6))
        q7 = q7.addingProduct(e7, ny.addingProduct(negativeEpsilon, d7))
      }
      j += 8
    }
    return (
      SIMD8(
        s0.fixedOrderSum, s1.fixedOrderSum, s2.fixedOrderSum, s3.fixedOrderSum, s4.fixedOrderSum, s5.fixedOrderSum,
        s6.fixedOrderSum, s7.fixedOrderSum),
      SIMD8(
        q0.fixedOrderSum, q1.fixedOrderSum, q2.fixedOrderSum, q3.fixedOrderSum, q4.fixedOrderSum, q5.fixedOrderSum,
        q6.fixedOrderSum, q7.fixedOrderSum)
    )
  }

  /// The exponent `a_ij` of one target against source `j`, and `⟨2x_i/ε, y_j⟩`.
  @inline(__always)
  func exponent(_ j: Int, scaled: UnsafeMutablePointer<Double>, alpha: Double) -> (Double, Double) {
    var dot = 0.0
    for k in 0..<dimension { dot = dot.addingProduct(scaled[k], columns[k * paddedSources + j]) }
    return ((beta[j] + alpha) + dot, dot)
  }

  /// The slow path for one target: shift by the exact maximum exponent, then sum.
  @inline(never)
  func rescaledRow(
    _ i: Int, scaled: UnsafeMutablePointer<Double>, alpha: Double, targetNorm nx: Double
  ) {
    var m = -Double.infinity
    for j in 0..<sources { m = max(m, exponent(j, scaled: scaled, alpha: alpha).0) }
    var s = 0.0
    var q = 0.0
    for j in 0..<sources {
      let (a, dot) = exponent(j, scaled: scaled, alpha: alpha)
      let e = FastMath.exp(a - m)
      s += e
      q += e * max((sourceNorms[j] + nx) - epsilon * dot, 0)
    }
    // S_i = e^m s; the logarithm is exact in range even when S_i itself is not.
    logSums[i] = m + Foundation.log(s)
    sums[i] = Foundation.exp(logSums[i])
    costSums[i] = q / s
  }

  /// Column contributions `a_i exp(a_ij − ω_i log S_i)` of a row that took the slow path.
  @inline(never)
  func rescaledColumns(
    _ i: Int, scaled: UnsafeMutablePointer<Double>, alpha: Double,
    into column: UnsafeMutablePointer<Double>
  ) {
    guard let a = accumulation else { return }
    let logS = logSums[i]
    let shift = a.relaxation.factor(logS) * logS
    let weight = a.rowWeights[i]
    for j in 0..<sources {
      column[j] += weight * FastMath.exp(exponent(j, scaled: scaled, alpha: alpha).0 - shift)
    }
  }
}
