import Foundation

/// The outcome of one entropic JKO step's inner (Sinkhorn-like) iteration.
public struct JKOStepReport: Sendable, Equatable {
  /// Inner iterations taken (each applies the Gibbs kernel twice).
  public var iterations: Int
  /// The residual: relative L1 error of the returned coupling's fixed marginal,
  /// `Σ_j |(πᵀ1)_j − p_j| / Σ_j p_j` (its free marginal is the returned density exactly).
  public var residual: Double
  /// True when `residual ≤ tolerance` was reached within the iteration limit.
  public var isConverged: Bool
}

/// Totals over several JKO steps.
public struct JKOAdvanceReport: Sendable, Equatable {
  /// Steps taken.
  public var steps: Int
  /// Inner iterations summed over the steps.
  public var totalIterations: Int
  /// Largest inner iteration count of a step.
  public var maxIterations: Int
  /// Largest residual of a step.
  public var maxResidual: Double
  /// True when every step converged.
  public var isConverged: Bool
}

/// Entropic JKO (minimising-movement) scheme for the Fokker–Planck equation
/// `∂_t ρ = ∇·(ρ ∇V) + λ Δρ` on a tensor grid (1-D, 2-D, or any dimension):
///
///     ρ_{k+1} = argmin_ρ  W_ε(ρ, ρ_k) / (2τ) + F(ρ),     F(ρ) = ∫ V ρ + λ ∫ ρ log ρ,
///
/// where `W_ε(q, p) = min_{π ∈ Π(q, p)} Σ_ij π_ij |x_i − x_j|² + ε Σ_ij π_ij (log π_ij − 1)` is the
/// entropically smoothed transport cost on the grid's cell centres (Peyré 2015).
///
/// **Discrete problem.** With cell masses `p` (old) and `q` (new), dividing by ε/(2τ):
///
///     min_π  KL(π | K) + σ F(π 1)   subject to  πᵀ1 = p,
///     K_ij = exp(−|x_i − x_j|²/ε),   σ = 2τ/ε,   KL(π|K) = Σ π (log(π/K) − 1),
///
/// `F(q) = Σ_i V_i q_i + λ Σ_i q_i (log q_i − 1)` (the `−1` and the cell-volume terms only add
/// constants, the mass being fixed). The minimiser is `π = diag(a) K diag(b)` with the two
/// KL-proximal conditions (Peyré 2015, §3, the Dykstra/scaling iterations)
///
///     b = p / (Kᵀ a)                         (KL projection on the fixed marginal)
///     a ⊙ (K b) = prox^KL_{σF}(K b)           (KL prox of σF on the free marginal)
///
/// **The KL prox of F in closed form.** `prox^KL_{σF}(z) = argmin_q σF(q) + Σ_i q_i log(q_i/z_i)
/// − q_i + z_i`. The objective is separable; setting the derivative in `q_i` to zero,
/// `σ V_i + σλ log q_i + log(q_i / z_i) = 0`, so
///
///     q_i = (z_i e^{−σ V_i})^{1/(1+σλ)},       a_i = q_i / z_i.
///
/// (λ = 0 gives `q = z e^{−σV}`; V = 0 gives `q = z^{1/(1+σλ)}`, Peyré's heat-flow prox.)
///
/// **Log domain.** With `f = log a`, `g = log b`, `z = log K b` and `K ⊙ ℓ = log(K e^ℓ)` applied
/// by ``SeparableGibbsKernel`` (1-D log-sum-exps per axis, never forming `e^ℓ`):
///
///     g = log p − K ⊙ f
///     z = K ⊙ g,   log q = (z − σV)/(1 + σλ) + s,   f̂ = log q − z.
///
/// The shift `s = log Σp − log Σ_i exp((z_i − σV_i)/(1+σλ))` makes `Σ q = Σ p`. It is the exact
/// maximisation of the dual along the constant direction of g (shifting g by c multiplies q by
/// `e^{c/(1+σλ)}`; the dual's derivative in c is `Σp − Σq`), so the iteration remains a dual
/// block ascent; every iterate, and so every step, conserves the mass to rounding.
///
/// **Convergence.** The map `f ↦ f̂` is a θ-contraction, `θ = σλ/(1+σλ)`, in the oscillation
/// seminorm `osc(u) = max u − min u` (each `K ⊙` is 1-Lipschitz for it, the prox multiplies by
/// θ, the shift is a constant), so the iteration converges linearly from any start, in about
/// `(1 + σλ) log(1/tol)` sweeps. That is many when τλ ≫ ε, the regime of small entropic bias:
/// bias and cost are tied, `ε/(4τλ) = 1/(2σλ)`. Warm starts from the previous step's f shorten
/// it as the flow settles. Heavy-ball momentum with the parameters optimal for the linearised
/// spectrum [0, θ] was tried and is not used: the linearisation is self-adjoint only in the
/// mass-weighted inner product, extremely non-normal for the log-scalings of cells with
/// negligible mass (1e-40 and less in the tails), and there momentum oscillated without
/// converging.
///
/// **Stopping.** Each sweep computes `K ⊙ f` anyway, and with it the exact residual of the
/// previous sweep's coupling `(f, g)` costs O(N): the relative L1 error of its fixed marginal,
/// `Σ_j |(πᵀ1)_j − p_j| / Σp` (its free marginal is q exactly). The step stops when the
/// residual is ≤ `tolerance` (default 1e-9); otherwise after `maxIterations` sweeps it returns
/// the last q and reports `isConverged = false` (see ``JKOStepReport``).
///
/// **Accuracy.** The entropic smoothing adds diffusion: for Gaussians one step of the
/// continuous scheme with V = 0 maps a variance s² to r² with
/// `(2r² − 2λτ)² − (ε + 2s²)(2r² − 2λτ) − 4λτ s² = 0`, i.e. about `s² + 2λτ + ε/2` per step:
/// an extra diffusion `ε/(4τ)` (relative error `ε/(4τλ)` in the diffusion coefficient), and
/// with a confining V the stationary state is `exp(−V/λ')/Z'`, `λ' = λ + ε/(4τ)`, to first
/// order in ε (derived for quadratic V; the tests confirm it for quartic ones). On the
/// grid the kernel must be resolved: with `ε ≥ 2h²` the discrete Gaussian sums agree with the
/// integrals to `2e^{−π²ε/h²} < 1e-8` (Poisson summation); with ε ≲ h² mass cannot cross cells
/// and the scheme locks. Time discretisation is first order in τ (implicit Euler in W2).
///
/// Reference: G. Peyré, "Entropic approximation of Wasserstein gradient flows", SIAM J. Imaging
/// Sci. 8 (2015) 2323–2351.
///
/// - Complexity: per inner iteration two kernel applications, O(N · Σ_k w_k) ≤ O(N^{1+1/d}) on
///   an n^d grid (see ``SeparableGibbsKernel``), plus O(N) logs and exps. No allocation inside
///   a step.
public struct EntropicJKO: Sendable {
  /// The grid's axes (row-major storage, the last axis fastest).
  public let axes: [CellGrid]
  /// Cells per axis.
  public let shape: [Int]
  /// Potential V at the cell centres, row-major.
  public let potential: [Double]
  /// Entropy weight λ ≥ 0.
  public let temperature: Double
  /// JKO step τ > 0.
  public let timeStep: Double
  /// Entropic regularisation ε > 0 of the transport cost.
  public let entropicRegularization: Double
  /// Stopping tolerance on the residual (default 1e-9).
  public let tolerance: Double
  /// Inner iteration limit per step.
  public let maxIterations: Int
  /// Steps taken so far.
  public private(set) var stepCount: Int = 0
  /// Cell densities (mass / cell volume), row-major over ``shape``.
  public private(set) var density: [Double]

  private var kernel: SeparableGibbsKernel
  private let cellVolume: Double
  private var logMass: [Double]
  private var logScaling: [Double]
  private var logDual: [Double]
  private var logKernelB: [Double]
  private var logKernelA: [Double]
  private var logDensity: [Double]
  private var weights: [Double]

  /// A solver on the tensor grid `axes` with V sampled at the cell centres.
  ///
  /// - Parameters:
  ///   - axes: one ``CellGrid`` per dimension (1 or more).
  ///   - potential: V at the cell centres, row-major (last axis fastest), `Π n_k` values.
  ///   - temperature: λ ≥ 0.
  ///   - timeStep: τ > 0.
  ///   - entropicRegularization: ε > 0; keep `ε ≥ 2 h²` (kernel resolved) and `ε ≪ 4τλ`
  ///     (small extra diffusion).
  ///   - tolerance: stopping residual (> 0).
  ///   - maxIterations: inner iteration limit per step.
  ///   - initialDensity: nonnegative cell densities, row-major, positive mass.
  public init(
    axes: [CellGrid], potential: [Double], temperature: Double, timeStep: Double,
    entropicRegularization: Double, tolerance: Double = 1e-9, maxIterations: Int = 10_000,
    initialDensity: [Double]
  ) {
    precondition(!axes.isEmpty, "need at least one axis")
    let count = axes.reduce(1) { $0 * $1.cellCount }
    precondition(potential.count == count, "potential needs one value per cell")
    precondition(potential.allSatisfy(\.isFinite), "potential must be finite")
    precondition(temperature >= 0 && temperature.isFinite, "temperature must be ≥ 0")
    precondition(timeStep > 0 && timeStep.isFinite, "time step must be > 0")
    precondition(
      entropicRegularization > 0 && entropicRegularization.isFinite, "ε must be > 0")
    precondition(tolerance > 0, "tolerance must be > 0")
    precondition(maxIterations >= 1, "need at least one iteration")
    precondition(initialDensity.count == count, "initial density needs one value per cell")
    precondition(initialDensity.allSatisfy { $0 >= 0 && $0.isFinite }, "density must be ≥ 0")
    precondition(initialDensity.contains { $0 > 0 }, "density must have positive mass")
    self.axes = axes
    self.shape = axes.map(\.cellCount)
    self.potential = potential
    self.temperature = temperature
    self.timeStep = timeStep
    self.entropicRegularization = entropicRegularization
    self.tolerance = tolerance
    self.maxIterations = maxIterations
    self.density = initialDensity
    self.kernel = SeparableGibbsKernel(axes: axes, epsilon: entropicRegularization)
    self.cellVolume = axes.reduce(1) { $0 * $1.spacing }
    let zeros = [Double](repeating: 0, count: count)
    logMass = zeros
    logScaling = zeros
    logDual = zeros
    logKernelB = zeros
    logKernelA = zeros
    logDensity = zeros
    weights = zeros
  }

  /// A solver on the tensor grid `axes` with V given as a function of the cell centre
  /// (one coordinate per axis), evaluated once here.
  public init(
    axes: [CellGrid], potential: ([Double]) -> Double, temperature: Double, timeStep: Double,
    entropicRegularization: Double, tolerance: Double = 1e-9, maxIterations: Int = 10_000,
    initialDensity: [Double]
  ) {
    self.init(
      axes: axes, potential: Self.sample(potential, on: axes), temperature: temperature,
      timeStep: timeStep, entropicRegularization: entropicRegularization, tolerance: tolerance,
      maxIterations: maxIterations, initialDensity: initialDensity)
  }

  /// `g` at every cell centre of the tensor grid `axes`, row-major (last axis fastest).
  public static func sample(_ g: ([Double]) -> Double, on axes: [CellGrid]) -> [Double] {
    let shape = axes.map(\.cellCount)
    let count = shape.reduce(1, *)
    var out = [Double]()
    out.reserveCapacity(count)
    var point = [Double](repeating: 0, count: axes.count)
    for flat in 0..<count {
      var rest = flat
      for k in stride(from: axes.count - 1, through: 0, by: -1) {
        point[k] = axes[k].centre(rest % shape[k])
        rest /= shape[k]
      }
      out.append(g(point))
    }
    return out
  }

  /// Current time `stepCount · τ`.
  public var time: Double { Double(stepCount) * timeStep }

  /// Mass `Σ_i ρ_i · cell volume` (compensated). O(N).
  public var mass: Double { GridSum.compensated(density) * cellVolume }

  /// Free energy `F(ρ) = Σ_i (V_i ρ_i + λ ρ_i log ρ_i) · cell volume` of the current density.
  /// O(N).
  public var freeEnergy: Double {
    var s = 0.0
    for i in density.indices where density[i] > 0 {
      s += (potential[i] + temperature * Foundation.log(density[i])) * density[i]
    }
    return s * cellVolume
  }

  /// Marginal density along `axis` (the other axes integrated out), `shape[axis]` values.
  /// O(N), allocates.
  public func marginal(axis: Int) -> [Double] {
    precondition(axis >= 0 && axis < axes.count)
    let n = shape[axis]
    var stride = 1
    for k in (axis + 1)..<shape.count { stride *= shape[k] }
    var out = [Double](repeating: 0, count: n)
    for flat in density.indices {
      out[(flat / stride) % n] += density[flat]
    }
    let otherVolume = cellVolume / axes[axis].spacing
    for j in 0..<n { out[j] *= otherVolume }
    return out
  }

  /// Takes `steps` JKO steps and summarises their inner iterations.
  @discardableResult
  public mutating func advance(steps: Int) -> JKOAdvanceReport {
    var report = JKOAdvanceReport(
      steps: 0, totalIterations: 0, maxIterations: 0, maxResidual: 0,
      isConverged: true)
    for _ in 0..<steps {
      let r = step()
      report.steps += 1
      report.totalIterations += r.iterations
      report.maxIterations = max(report.maxIterations, r.iterations)
      report.maxResidual = max(report.maxResidual, r.residual)
      report.isConverged = report.isConverged && r.isConverged
    }
    return report
  }

  /// One JKO step `ρ ← argmin W_ε(·, ρ)/(2τ) + F`, warm-started from the previous step's
  /// scaling. See the type's documentation for the iteration.
  @discardableResult
  public mutating func step() -> JKOStepReport {
    let count = density.count
    let sigma = 2 * timeStep / entropicRegularization
    let exponent = 1 / (1 + sigma * temperature)
    let volume = cellVolume

    var totalMass = 0.0
    density.withUnsafeBufferPointer { rho in
      logMass.withUnsafeMutableBufferPointer { lp in
        for i in 0..<count {
          lp[i] = rho[i] > 0 ? Foundation.log(rho[i] * volume) : -.infinity
        }
      }
      totalMass = GridSum.compensated(rho) * volume
    }
    let logTotal = Foundation.log(totalMass)

    var iterations = 0
    var residual = Double.infinity
    while true {
      // K ⊙ f for the current f: it gives both the fixed-marginal residual of the coupling
      // (f, g) left by the previous iteration and the next b-update.
      logScaling.withUnsafeBufferPointer { f in
        logKernelA.withUnsafeMutableBufferPointer { kf in kernel.apply(f, into: kf) }
      }
      if iterations > 0 {
        residual = fixedMarginalError(totalMass: totalMass)
        if residual <= tolerance || iterations == maxIterations { break }
      }
      iterations += 1
      // b-update: g = log p − K ⊙ f.
      logDual.withUnsafeMutableBufferPointer { g in
        logMass.withUnsafeBufferPointer { lp in
          logKernelA.withUnsafeBufferPointer { kf in
            for i in 0..<count { g[i] = lp[i] - kf[i] }
          }
        }
      }
      // a-update: z = K ⊙ g, log q = (z − σV)/(1 + σλ) + s, f = log q − z.
      logDual.withUnsafeBufferPointer { g in
        logKernelB.withUnsafeMutableBufferPointer { z in kernel.apply(g, into: z) }
      }
      logKernelB.withUnsafeBufferPointer { z in
        potential.withUnsafeBufferPointer { v in
          logDensity.withUnsafeMutableBufferPointer { lq in
            logScaling.withUnsafeMutableBufferPointer { f in
              weights.withUnsafeMutableBufferPointer { w in
                var top = -Double.infinity
                for i in 0..<count {
                  lq[i] = (z[i] - sigma * v[i]) * exponent
                  top = max(top, lq[i])
                }
                for i in 0..<count { w[i] = FastMath.exp(lq[i] - top) }
                let s = GridSum.compensated(UnsafeBufferPointer(w))
                let shift = logTotal - top - Foundation.log(s)
                for i in 0..<count {
                  lq[i] += shift
                  f[i] = lq[i] - z[i]
                }
              }
            }
          }
        }
      }
    }
    density.withUnsafeMutableBufferPointer { rho in
      logDensity.withUnsafeBufferPointer { lq in
        for i in 0..<count { rho[i] = Foundation.exp(lq[i]) / volume }
      }
    }
    stepCount += 1
    return JKOStepReport(
      iterations: iterations, residual: residual, isConverged: residual <= tolerance)
  }

  /// `Σ_j |(πᵀ1)_j − p_j| / Σp` for the coupling `π_ij = exp(f_i + g_j − |x_i − x_j|²/ε)` with
  /// f in `logScaling`, g in `logDual` and `K ⊙ f` already in `logKernelA`. O(N).
  private func fixedMarginalError(totalMass: Double) -> Double {
    let count = density.count
    return logDual.withUnsafeBufferPointer { g in
      logKernelA.withUnsafeBufferPointer { kf in
        logMass.withUnsafeBufferPointer { lp in
          var e = 0.0
          for i in 0..<count {
            let p = lp[i] > -.infinity ? Foundation.exp(lp[i]) : 0
            let coupled = g[i] > -.infinity ? Foundation.exp(g[i] + kf[i]) : 0
            e += abs(coupled - p)
          }
          return e / totalMass
        }
      }
    }
  }
}
