import Foundation
import MeanFieldCore

/// Namespace of the optimal-transport diagnostics (squared Euclidean cost throughout).
public enum OptimalTransport {}

/// How the entropic regularisation is lowered towards its target (ε-scaling, "annealing").
///
/// Stages run at `ε_0, ε_0 q, ε_0 q², …` while above the target ε, each for
/// `iterationsPerStage` Sinkhorn iterations, warm-starting the next; the target ε then runs
/// to convergence. The potentials are in cost units, so they carry over between stages.
/// Reference: Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized
/// transport problems", SIAM J. Sci. Comput. 41 (2019); Feydy, "Geometric data analysis,
/// beyond convolutions", PhD thesis (2020), §3.3.
public struct EpsilonScaling: Sendable, Equatable {
  /// `ε_0`; nil: the squared diameter of the bounding box of both clouds (an upper bound on
  /// every cost).
  public var initialRegularization: Double?
  /// The ratio `q` between stages, in (0, 1).
  public var factor: Double
  /// Iterations per intermediate stage.
  public var iterationsPerStage: Int

  /// A schedule starting at `initialRegularization` (nil: the squared diameter).
  public init(initialRegularization: Double? = nil, factor: Double = 0.5, iterationsPerStage: Int = 1) {
    self.initialRegularization = initialRegularization
    self.factor = factor
    self.iterationsPerStage = iterationsPerStage
  }

  /// No scaling: start at the target ε from zero potentials.
  public static let disabled = EpsilonScaling(initialRegularization: 0, factor: 0.5, iterationsPerStage: 0)

  /// Halving from the squared diameter, one iteration per stage.
  public static let standard = EpsilonScaling()

  /// The stages above `target` (the target itself is not included).
  func stages(target: Double, diameterSquared: Double) -> [Double] {
    guard iterationsPerStage > 0 else { return [] }
    var e = initialRegularization ?? diameterSquared
    var out: [Double] = []
    while e > target && out.count < 200 {
      out.append(e)
      e *= factor
    }
    return out
  }
}

/// Stopping rule and resources of the Sinkhorn solvers.
public struct SinkhornOptions: Sendable, Equatable {
  /// Stop when `‖P^T 1 − b‖₂ < tolerance` for the current plan whose row marginals are exact,
  /// POT's `stopThr` (it measures the same norm of the same plan).
  public var tolerance: Double
  /// Maximum number of Sinkhorn iterations (one update of each potential), ε-scaling
  /// stages included; at least 1.
  public var maxIterations: Int
  /// The ε-scaling schedule.
  public var epsilonScaling: EpsilonScaling
  /// Worker threads; results are bitwise identical for any value.
  public var threads: Int

  public init(
    tolerance: Double = 1e-9, maxIterations: Int = 1000,
    epsilonScaling: EpsilonScaling = .standard, threads: Int = 1
  ) {
    self.tolerance = tolerance
    self.maxIterations = maxIterations
    self.epsilonScaling = epsilonScaling
    self.threads = threads
  }

  func validate() throws(TransportError) {
    if !(tolerance > 0) || !tolerance.isFinite {
      throw .invalidParameter(name: "tolerance", reason: "must be positive and finite")
    }
    if maxIterations < 1 {
      throw .invalidParameter(name: "maxIterations", reason: "must be at least 1")
    }
    if !(epsilonScaling.factor > 0 && epsilonScaling.factor < 1) || epsilonScaling.iterationsPerStage < 0 {
      throw .invalidParameter(
        name: "epsilonScaling", reason: "factor must lie in (0, 1), iterationsPerStage ≥ 0")
    }
    if let e0 = epsilonScaling.initialRegularization, !e0.isFinite || e0 < 0 {
      throw .invalidParameter(name: "epsilonScaling.initialRegularization", reason: "must be finite and ≥ 0")
    }
  }
}

/// The outcome of an entropic transport solve. Non-convergence is reported here, never thrown.
public struct SinkhornResult: Sendable, Equatable {
  /// `⟨P, C⟩`, the transport cost of the returned plan (POT's `sinkhorn2` value).
  public var cost: Double
  /// `⟨P, C⟩ + ε KL(P | a ⊗ b)`, the entropic objective `OT_ε` of the returned plan (at a fixed
  /// point it equals the dual value `⟨a, f⟩ + ⟨b, g⟩`); the Sinkhorn divergence uses this.
  public var regularizedCost: Double
  /// The entropic regularisation ε (cost units).
  public var regularization: Double
  /// Sinkhorn iterations performed (ε-scaling stages included).
  public var iterations: Int
  /// `‖P^T 1 − b‖₂` of the returned plan (its row marginals are exact); for a symmetric
  /// self-transport problem, `‖P 1 − a‖₂`.
  public var marginalError: Double
  /// Whether `marginalError < tolerance` was reached within `maxIterations`.
  public var isConverged: Bool
  /// The potential `f` on the source points.
  public var sourcePotential: [Double]
  /// The potential `g` on the target points.
  public var targetPotential: [Double]
}

extension OptimalTransport {
  /// Entropic optimal transport between two weighted clouds by log-domain Sinkhorn iterations
  /// with ε-scaling, streaming the kernel (memory O(n + m), never an n × m matrix).
  ///
  /// Solves, for the squared Euclidean cost `C_ij = |x_i − y_j|²`,
  ///
  ///     OT_ε(a, b) = min_{P 1 = a, P^T 1 = b}  ⟨P, C⟩ + ε KL(P | a ⊗ b)
  ///
  /// through its dual potentials: `P_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)` and the updates
  ///
  ///     g_j ← −ε log Σ_i a_i exp((f_i − C_ij)/ε),   f_i ← −ε log Σ_j b_j exp((g_j − C_ij)/ε).
  ///
  /// Each update is one streaming pass (`SinkhornKernel`); the pass that updates `g` also
  /// yields the column marginal of the current plan, so the stopping test is free.
  ///
  /// Conventions match POT's `ot.sinkhorn2(a, b, M, reg)` with `M = ot.dist(x, y)` (squared
  /// Euclidean): `reg` is ε here, in cost units (POT's entropy `Σ P log P` and our
  /// `KL(P | a⊗b)` differ by a constant on the transport polytope, so the optimal plan is
  /// the same); POT stops when `‖P^T 1 − b‖₂ < stopThr` for the plan after the row update,
  /// tested every 10th iteration, and we test the same quantity of the same plan after every
  /// iteration. POT's sinkhorn2 returns `⟨P, M⟩`, our `cost`.
  ///
  /// - Parameters:
  ///   - source: the cloud `a` (points `x_i`, weights `a_i`).
  ///   - target: the cloud `b` (points `y_j`, weights `b_j`).
  ///   - regularization: ε > 0, in units of squared distance.
  ///   - options: tolerance, iteration cap, ε-scaling, threads.
  /// - Returns: cost, entropic objective, potentials, iterations, marginal error, convergence.
  /// - Throws: `TransportError` for empty, non-finite or mismatched input, or bad options.
  /// - Complexity: O(n m d) per iteration, O((n + m) d) memory.
  /// - Reference: Cuturi, "Sinkhorn distances", NeurIPS 2013; Peyré & Cuturi, "Computational
  ///   optimal transport" (2019), §4.4 (log-domain iterations).
  public static func sinkhorn(
    between source: PointCloud, and target: PointCloud, regularization: Double,
    options: SinkhornOptions = SinkhornOptions()
  ) throws(TransportError) -> SinkhornResult {
    try TransportError.checkPair(source, target)
    try checkRegularization(regularization)
    try options.validate()
    let center = SinkhornCloud.center(source, target)
    let x = SinkhornCloud(source, center: center)
    let y = SinkhornCloud(target, center: center)
    return solveAsymmetric(x, y, epsilon: regularization, options: options,
                           diameterSquared: boundingDiameterSquared(source, target))
  }

  /// The largest squared distance `max_ij |x_i − y_j|²` between the two clouds, by one
  /// streaming pass (used to express ε relative to the cost scale, as `0.05 · M.max()`).
  ///
  /// - Complexity: O(n m d) time, O(1) extra memory.
  public static func maximumSquaredDistance(
    between source: PointCloud, and target: PointCloud, threads: Int = 1
  ) throws(TransportError) -> Double {
    try TransportError.checkPair(source, target)
    let d = source.dimension
    let n = source.count
    let chunk = 64
    var partial = [Double](repeating: 0, count: (n + chunk - 1) / chunk)
    let ty = SinkhornCloud(target, center: [Double](repeating: 0, count: d))
    source.values.withUnsafeBufferPointer { xp in
      ty.columns.withUnsafeBufferPointer { cp in
        partial.withUnsafeMutableBufferPointer { pp in
          let x = xp.baseAddress!, col = cp.baseAddress!, out = pp.baseAddress!
          let p = ty.paddedCount, m = ty.count
          TransportParallel.forEachChunk(count: n, chunkSize: chunk, threads: threads) { range in
            var best = TransportVector(repeating: 0)
            for i in range {
              var j = 0
              while j < p {
                var s = TransportVector()
                for k in 0..<d {
                  let diff = TransportVector.load(col + k * p + j) - x[i * d + k]
                  s += diff * diff
                }
                if j + 8 > m {
                  let live = SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int64>(repeating: Int64(m - j))
                  s.replace(with: 0, where: .!live)
                }
                best = pointwiseMax(best, s)
                j += 8
              }
            }
            out[range.lowerBound / chunk] = best.max()
          }
        }
      }
    }
    return partial.max() ?? 0
  }

  // MARK: - Internals

  static func checkRegularization(_ eps: Double) throws(TransportError) {
    if !(eps > 0) || !eps.isFinite {
      throw .invalidParameter(name: "regularization", reason: "must be positive and finite, got \(eps)")
    }
  }

  /// `Σ_k (max_k − min_k)²` over the union of both clouds: an upper bound on every cost.
  static func boundingDiameterSquared(_ a: PointCloud, _ b: PointCloud) -> Double {
    let d = a.dimension
    var lo = [Double](repeating: .infinity, count: d)
    var hi = [Double](repeating: -.infinity, count: d)
    for cloud in [a, b] {
      for i in 0..<cloud.count {
        for k in 0..<d {
          lo[k] = min(lo[k], cloud[i, k])
          hi[k] = max(hi[k], cloud[i, k])
        }
      }
    }
    var s = 0.0
    for k in 0..<d { s += (hi[k] - lo[k]) * (hi[k] - lo[k]) }
    return s
  }

  /// Alternating Sinkhorn updates with ε-scaling; see `sinkhorn(between:and:regularization:options:)`.
  static func solveAsymmetric(
    _ x: SinkhornCloud, _ y: SinkhornCloud, epsilon: Double, options: SinkhornOptions,
    diameterSquared: Double
  ) -> SinkhornResult {
    let n = x.count, m = y.count
    var f = [Double](repeating: 0, count: n)
    var g = [Double](repeating: 0, count: m)
    var outX = SinkhornPassOutput(count: n)
    var outY = SinkhornPassOutput(count: m)
    let threads = max(1, options.threads)
    var iterations = 0

    func update(_ pot: inout [Double], _ out: SinkhornPassOutput, _ eps: Double) {
      for i in 0..<pot.count { pot[i] -= eps * out.logSums[i] }
    }
    // Intermediate stages; the last iteration is always kept for the target ε.
    let stages = options.epsilonScaling.stages(target: epsilon, diameterSquared: diameterSquared)
    stageLoop: for e in stages {
      for _ in 0..<options.epsilonScaling.iterationsPerStage {
        if iterations >= options.maxIterations - 1 { break stageLoop }
        SinkhornKernel.pass(
          targets: y, targetPotential: g, sources: x, sourcePotential: f, epsilon: e,
          computeCosts: false, threads: threads, into: &outY)
        update(&g, outY, e)
        SinkhornKernel.pass(
          targets: x, targetPotential: f, sources: y, sourcePotential: g, epsilon: e,
          computeCosts: false, threads: threads, into: &outX)
        update(&f, outX, e)
        iterations += 1
      }
    }
    // Target ε. Each g-pass measures the plan (f, g) of the previous f-update, then updates g.
    var rowsExact = false
    var marginalError = Double.infinity
    var converged = false
    var cost = Double.nan
    var regularized = Double.nan
    while true {
      SinkhornKernel.pass(
        targets: y, targetPotential: g, sources: x, sourcePotential: f, epsilon: epsilon,
        computeCosts: true, threads: threads, into: &outY)
      if rowsExact {
        // Column marginal c_j = b_j S_j of P = diag(a e^{f/ε}) K diag(b e^{g/ε}).
        var err2 = 0.0, mass = 0.0, transport = 0.0, dual = 0.0
        for j in 0..<m {
          let bj = y.weights[j]
          let cj = bj * outY.sums[j]
          err2 += (cj - bj) * (cj - bj)
          mass += cj
          transport += bj * outY.costSums[j]
          dual += cj * g[j]
        }
        for i in 0..<n { dual += x.weights[i] * f[i] }
        marginalError = err2.squareRoot()
        cost = transport
        regularized = dual - epsilon * (mass - 1)
        if marginalError < options.tolerance {
          converged = true
          break
        }
      }
      if iterations >= options.maxIterations { break }
      update(&g, outY, epsilon)
      SinkhornKernel.pass(
        targets: x, targetPotential: f, sources: y, sourcePotential: g, epsilon: epsilon,
        computeCosts: false, threads: threads, into: &outX)
      update(&f, outX, epsilon)
      iterations += 1
      rowsExact = true
    }
    return SinkhornResult(
      cost: cost, regularizedCost: regularized, regularization: epsilon, iterations: iterations,
      marginalError: marginalError, isConverged: converged, sourcePotential: f,
      targetPotential: g)
  }

  /// The symmetric problem `OT_ε(a, a)` by the averaged fixed point `f ← (f + T(f)) / 2`,
  /// one streaming pass per iteration (Feydy et al., AISTATS 2019, §3).
  static func solveSymmetric(
    _ x: SinkhornCloud, epsilon: Double, options: SinkhornOptions, diameterSquared: Double
  ) -> SinkhornResult {
    let n = x.count
    var f = [Double](repeating: 0, count: n)
    var out = SinkhornPassOutput(count: n)
    let threads = max(1, options.threads)
    var iterations = 0
    let stages = options.epsilonScaling.stages(target: epsilon, diameterSquared: diameterSquared)
    stageLoop: for e in stages {
      for _ in 0..<options.epsilonScaling.iterationsPerStage {
        if iterations >= options.maxIterations - 1 { break stageLoop }
        SinkhornKernel.pass(
          targets: x, targetPotential: f, sources: x, sourcePotential: f, epsilon: e,
          computeCosts: false, threads: threads, into: &out)
        for i in 0..<n { f[i] -= 0.5 * e * out.logSums[i] }
        iterations += 1
      }
    }
    var marginalError = Double.infinity
    var converged = false
    var cost = Double.nan
    var regularized = Double.nan
    while true {
      SinkhornKernel.pass(
        targets: x, targetPotential: f, sources: x, sourcePotential: f, epsilon: epsilon,
        computeCosts: true, threads: threads, into: &out)
      // The plan P_ij = a_i a_j exp((f_i + f_j − C_ij)/ε) is symmetric: both marginals are a∘S.
      var err2 = 0.0, mass = 0.0, transport = 0.0, dual = 0.0
      for i in 0..<n {
        let ai = x.weights[i]
        let ri = ai * out.sums[i]
        err2 += (ri - ai) * (ri - ai)
        mass += ri
        transport += ai * out.costSums[i]
        dual += 2 * ri * f[i]
      }
      marginalError = err2.squareRoot()
      cost = transport
      regularized = dual - epsilon * (mass - 1)
      if marginalError < options.tolerance {
        converged = true
        break
      }
      if iterations >= options.maxIterations { break }
      for i in 0..<n { f[i] -= 0.5 * epsilon * out.logSums[i] }
      iterations += 1
    }
    return SinkhornResult(
      cost: cost, regularizedCost: regularized, regularization: epsilon, iterations: iterations,
      marginalError: marginalError, isConverged: converged, sourcePotential: f,
      targetPotential: f)
  }
}
