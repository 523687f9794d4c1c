import Foundation

/// Explicit finite-volume solver for the overdamped 1-D Fokker–Planck equation
///
///     ∂_t ρ = ∂_x(U'(x) ρ) + λ ∂_xx ρ     on [a, b],   J(a) = J(b) = 0,
///
/// the law of `dX = −U'(X) dt + sqrt(2λ) dW` reflected at the ends (the overdamped particles'
/// PDE with a fixed potential U).
///
/// **Scheme.** Cell values `ρ_i` on a ``CellGrid``, updated in flux form
///
///     ρ_i ← ρ_i − (Δt/h) (J_{i+1/2} − J_{i−1/2}),      J_{1/2} = J_{n−1/2} = 0,
///
/// with the Scharfetter–Gummel (exponentially fitted) flux on each interior face
///
///     J_{i+1/2} = (λ/h) [ B(w) ρ_i − B(−w) ρ_{i+1} ],   w = U'(x_{i+1/2}) h / λ,
///     B(w) = w / (e^w − 1)   (B(0) = 1).
///
/// Why Scharfetter–Gummel rather than upwind drift + central diffusion: it is the exact flux
/// of the two-point boundary-value problem `J = −U'ρ − λρ'` with U' frozen on the face, so
/// (i) the flux is zero exactly when `ρ_{i+1}/ρ_i = e^{−w}`: the discrete stationary state is
/// `ρ_i ∝ exp(−Σ_{k<i} U'(x_{k+1/2}) h / λ)`, a midpoint-rule Gibbs density `e^{−U/λ}`, second
/// order accurate instead of the O(h) bias of upwinding; (ii) it is second order where
/// diffusion dominates (`B(±w) = 1 ∓ w/2 + O(w²)`: central differences) and becomes the
/// first-order upwind flux where drift dominates (λ → 0: `J = (−U')⁺ ρ_i − (U')⁺ ρ_{i+1}`),
/// with no cell-Péclet restriction; (iii) both coefficients are nonnegative for every w, so the
/// scheme is monotone (positivity preserving, L1 contractive) under the step below. λ = 0 is
/// allowed and gives that upwind limit.
///
/// **Stability.** The update is a convex combination of old cell values (so positive and
/// L1-stable) iff the diagonal coefficient is nonnegative in every cell:
///
///     Δt ≤ h / max_i [ α_{i+1/2} + β_{i−1/2} ],   α = (λ/h) B(w),  β = (λ/h) B(−w),
///
/// (boundary faces contribute 0). The solver takes `Δt = c ·` that bound, with CFL factor
/// `c ∈ (0, 1]`. Limits: `c h²/(2λ)` for U' = 0 and `c h / max|U'|` for λ = 0.
///
/// **Mass.** Each face flux is computed once and moved from one cell to its neighbour, and the
/// boundary fluxes are zero, so `Σ_i ρ_i h` is conserved up to rounding: per step the
/// relative change is bounded by a few units of u = 2⁻⁵³ (one rounding in each cell's flux
/// difference and one in its update; positive densities make `Σ|ρ_i| h` the mass).
///
/// Reference: D. L. Scharfetter, H. K. Gummel, IEEE Trans. Electron Devices 16 (1969) 64–77;
/// for Fokker–Planck: Chang & Cooper, J. Comput. Phys. 6 (1970) 1–16 (the same flux family).
///
/// - Complexity: O(n) per step, no allocation (face coefficients and the flux buffer are
///   built once at construction).
public struct OverdampedFokkerPlanck: Sendable, SubstepAdvancing {
  /// The mesh.
  public let grid: CellGrid
  /// Diffusion coefficient (temperature) λ ≥ 0.
  public let temperature: Double
  /// CFL factor c ∈ (0, 1] applied to the positivity bound.
  public let courantFactor: Double
  /// The full explicit step Δt (`advance(to:)` may take equal shorter ones).
  public let timeStep: Double
  /// Current time.
  public internal(set) var time: Double = 0
  /// Steps taken so far.
  public private(set) var stepCount: Int = 0
  /// Cell densities ρ_i (cell averages), `grid.cellCount` values; `Σ ρ_i h` is the mass.
  public private(set) var density: [Double]

  /// `α_k = (λ/h) B(w_k)`: outflow coefficient of the left cell through interior face k.
  private var forward: [Double]
  /// `β_k = (λ/h) B(−w_k)`: outflow coefficient of the right cell through interior face k.
  private var backward: [Double]
  /// `w_k = U'(face) h / λ` for the interior faces (0 when λ = 0; unused then).
  private var faceDrift: [Double]
  /// `U'` at the interior faces (the fixed part of the drift).
  private let faceGradient: [Double]
  /// Strength c of a quadratic interaction `W(x − y) = c|x − y|²/2` (0: a linear equation):
  /// the drift is `U' + c(x − m(t))` with m(t) the density's mean, recomputed every step.
  public let interaction: Double
  /// Work array: face fluxes, `cellCount + 1` values (ends stay 0).
  private var flux: [Double]

  /// A solver with `U'` sampled at the interior faces.
  ///
  /// - Parameters:
  ///   - grid: the cells on `[a, b]`.
  ///   - potentialGradientOnFaces: `U'` at faces 1…n−1 (`grid.face(k)`), `n − 1` values. Giving
  ///     `(U(x_{i+1}) − U(x_i))/h` makes the discrete stationary state exactly
  ///     `exp(−U(x_i)/λ)/Z`.
  ///   - temperature: λ ≥ 0.
  ///   - courantFactor: c ∈ (0, 1].
  ///   - initialDensity: cell values, `n` nonnegative numbers (any mass).
  ///   - interaction: strength c of a quadratic interaction (McKean–Vlasov: the drift gains
  ///     `c(x − m(t))`, m the current mean); the step bound then holds for every m in [a, b].
  public init(
    grid: CellGrid, potentialGradientOnFaces: [Double], temperature: Double,
    courantFactor: Double = 0.9, initialDensity: [Double], interaction: Double = 0
  ) {
    let n = grid.cellCount
    precondition(potentialGradientOnFaces.count == n - 1, "need U' on the n − 1 interior faces")
    precondition(potentialGradientOnFaces.allSatisfy(\.isFinite), "U' must be finite")
    precondition(temperature >= 0 && temperature.isFinite, "temperature must be ≥ 0")
    precondition(courantFactor > 0 && courantFactor <= 1, "CFL factor must be in (0, 1]")
    precondition(initialDensity.count == n, "initial density needs one value per cell")
    precondition(initialDensity.allSatisfy { $0 >= 0 && $0.isFinite }, "density must be ≥ 0")
    precondition(interaction.isFinite, "the interaction strength must be finite")
    self.grid = grid
    self.temperature = temperature
    self.courantFactor = courantFactor
    self.density = initialDensity
    self.interaction = interaction
    self.faceGradient = potentialGradientOnFaces
    let h = grid.spacing
    var forward = [Double](repeating: 0, count: n - 1)
    var backward = [Double](repeating: 0, count: n - 1)
    var w = [Double](repeating: 0, count: n - 1)
    for k in 0..<(n - 1) {
      (forward[k], backward[k], w[k]) = Self.coefficients(
        gradient: potentialGradientOnFaces[k], spacing: h, temperature: temperature)
    }
    // Diagonal coefficient of cell i: (Δt/h)(α of its right face + β of its left face).
    // α + β grows with |U'| on a face, so with an interaction the bound takes the largest
    // drift any mean in [a, b] gives: |U'| + |c|(b − a), on both sides.
    let spread = abs(interaction) * (grid.upper - grid.lower)
    var worst = 0.0
    for i in 0..<n {
      let right =
        i < n - 1
        ? Self.coefficients(gradient: potentialGradientOnFaces[i] - spread, spacing: h, temperature: temperature)
          .forward
        : 0
      let left =
        i > 0
        ? Self.coefficients(gradient: potentialGradientOnFaces[i - 1] + spread, spacing: h, temperature: temperature)
          .backward : 0
      worst = max(worst, right + left)
    }
    self.timeStep = worst > 0 ? courantFactor * h / worst : .infinity
    self.forward = forward
    self.backward = backward
    self.faceDrift = w
    self.flux = [Double](repeating: 0, count: n + 1)
    if interaction != 0 { updateInteraction() }
  }

  /// The density's mean `Σ x_i ρ_i / Σ ρ_i` (compensated sums; no allocation).
  public var mean: Double {
    density.withUnsafeBufferPointer { rho in
      GridSum.compensated(count: rho.count) { grid.centre($0) * rho[$0] } / GridSum.compensated(rho)
    }
  }

  /// Recomputes the face coefficients for the drift `U' + c(x − m)` at the current mean m.
  private mutating func updateInteraction() {
    let m = mean, h = grid.spacing
    for k in 0..<faceGradient.count {
      (forward[k], backward[k], faceDrift[k]) = Self.coefficients(
        gradient: faceGradient[k] + interaction * (grid.face(k + 1) - m), spacing: h, temperature: temperature)
    }
  }

  /// The Scharfetter–Gummel coefficients of a face with drift `g = U'`: outflow of the left
  /// cell `α = (λ/h)B(w)`, of the right cell `β = (λ/h)B(−w)`, and `w = gh/λ` (the upwind
  /// fluxes `(−g)⁺`, `g⁺` and w = 0 when λ = 0).
  static func coefficients(gradient g: Double, spacing h: Double, temperature: Double) -> (
    forward: Double, backward: Double, drift: Double
  ) {
    guard temperature > 0 else { return (max(-g, 0), max(g, 0), 0) }
    let w = g * h / temperature
    return (temperature / h * bernoulli(w), temperature / h * bernoulli(-w), w)
  }

  /// A solver with `U'` given as a function, evaluated once at the interior faces.
  ///
  /// - Parameters:
  ///   - grid: the cells on `[a, b]`.
  ///   - potentialGradient: `x ↦ U'(x)`.
  ///   - temperature: λ ≥ 0.
  ///   - courantFactor: c ∈ (0, 1].
  ///   - initialDensity: cell values, `n` nonnegative numbers.
  public init(
    grid: CellGrid, potentialGradient: (Double) -> Double, temperature: Double,
    courantFactor: Double = 0.9, initialDensity: [Double], interaction: Double = 0
  ) {
    let faces = (1..<grid.cellCount).map { potentialGradient(grid.face($0)) }
    self.init(
      grid: grid, potentialGradientOnFaces: faces, temperature: temperature,
      courantFactor: courantFactor, initialDensity: initialDensity, interaction: interaction)
  }

  /// The Bernoulli function `B(w) = w / (e^w − 1)`, `B(0) = 1`, accurate for all w
  /// (`expm1` avoids cancellation near 0; `B → 0` for w → +∞ and `B ≈ −w` for w → −∞).
  static func bernoulli(_ w: Double) -> Double {
    if abs(w) < 1e-12 { return 1 - 0.5 * w }
    let d = Foundation.expm1(w)
    return d.isInfinite ? 0 : w / d
  }

  /// Mass `Σ_i ρ_i h` (compensated sum). O(n).
  public var mass: Double {
    GridSum.compensated(density) * grid.spacing
  }

  /// Cell centres `x_i`. O(n), allocates.
  public var cellCentres: [Double] { grid.centres }

  /// Takes one explicit step of length ``timeStep``.
  public mutating func step() {
    step(by: timeStep)
  }

  /// Advances to `target` in equal steps no longer than ``timeStep``, so the final state is at
  /// exactly `target` (no-op if `target ≤ time`).
  public mutating func advance(to target: Double) { _ = advanceInterval(to: target, substeps: .max) }

  /// As ``advance(to:)``, taking at most `limit` of the interval's substeps in all; any split
  /// of an interval ends bit for bit where one `advance(to:)` does. Returns whether `target`
  /// was reached.
  public mutating func advance(to target: Double, substeps limit: Int) -> Bool {
    advanceInterval(to: target, substeps: limit)
  }

  /// The number of substeps of the interval to `target`.
  public func substeps(to target: Double) -> Int { intervalSubsteps(to: target) }

  /// The interval of ``advance(to:substeps:)`` in progress.
  var interval: SubstepInterval? = nil

  /// One step of length `dt ≤ timeStep`.
  mutating func step(by dt: Double) {
    precondition(dt > 0 && dt <= timeStep, "step must be in (0, timeStep]")
    let n = grid.cellCount
    let ratio = dt / grid.spacing
    density.withUnsafeMutableBufferPointer { rho in
      flux.withUnsafeMutableBufferPointer { j in
        forward.withUnsafeBufferPointer { a in
          backward.withUnsafeBufferPointer { b in
            // j[k] is the flux through face k; j[0] = j[n] = 0 (no flux).
            for k in 1..<n {
              j[k] = a[k - 1] * rho[k - 1] - b[k - 1] * rho[k]
            }
            for i in 0..<n {
              rho[i] -= ratio * (j[i + 1] - j[i])
            }
          }
        }
      }
    }
    time += dt
    stepCount += 1
    if interaction != 0 { updateInteraction() }
  }

  /// The discrete stationary state of the scheme (zero flux through every face), normalised to
  /// unit mass: `ρ_{i+1}/ρ_i = B(w)/B(−w) = e^{−w}`, i.e.
  /// `ρ_i ∝ exp(−(1/λ) Σ_{k<i} U'(x_{k+1/2}) h)`.
  ///
  /// With an interaction it is the fixed point at the current mean (stationary once the mean
  /// is).
  ///
  /// - Precondition: λ > 0.
  /// - Complexity: O(n), allocates the result.
  public func stationaryDensity() -> [Double] {
    precondition(temperature > 0, "the stationary state needs λ > 0")
    let n = grid.cellCount
    var logRho = [Double](repeating: 0, count: n)
    for i in 1..<n { logRho[i] = logRho[i - 1] - faceDrift[i - 1] }
    let top = logRho.max() ?? 0
    var rho = logRho.map { Foundation.exp($0 - top) }
    let total = GridSum.compensated(rho) * grid.spacing
    for i in 0..<n { rho[i] /= total }
    return rho
  }
}
