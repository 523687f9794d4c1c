import Foundation

/// Explicit finite-volume solver for the kinetic (underdamped) Fokker–Planck equation on a
/// 1-D position × 1-D velocity box,
///
///     ∂_t f + v ∂_x f = ∂_v((γ v + U'(x)) f) + γ λ ∂_vv f,
///
/// the law of `dX = V dt`, `dV = −(γV + U'(X)) dt + sqrt(2γλ) dW`, with no-flux walls on all
/// four sides. Its stationary law on the whole plane is `exp(−(v²/2 + U(x))/λ)/Z`; on a box
/// large enough for that density to be negligible at the walls it is stationary up to that
/// negligible wall flux.
///
/// **Storage.** `f` is row-major `nx × nv`: `density[i * nv + j] ≈ f(x_i, v_j)` (cell values),
/// so a row is one position and runs over velocities. Mass is `Σ f_ij Δx Δv`.
///
/// **Scheme.** First-order upwind in conservation form,
///
///     f_ij ← f_ij − (Δt/Δx)(F_{i+1/2,j} − F_{i−1/2,j}) − (Δt/Δv)(G_{i,j+1/2} − G_{i,j−1/2}),
///     F_{i+1/2,j} = v_j⁺ f_ij + v_j⁻ f_{i+1,j}                     (transport at speed v_j),
///     G_{i,j+1/2} = −(a⁺ f_{i,j+1} + a⁻ f_ij) − γλ (f_{i,j+1} − f_ij)/Δv,
///     a = a_{i,j+1/2} = γ v_{j+1/2} + U'(x_i),
///
/// with `b⁺ = max(b, 0)`, `b⁻ = min(b, 0)` and zero flux through every wall face. In v the
/// transport speed is `−a`, so the upwind cell is `j+1` where `a > 0` and `j` where `a < 0`; the
/// friction term `γ f` of `∂_v(a f)` is part of the flux (conservation form), not dropped.
/// Every flux is computed once and moved between the two cells it separates, so the mass is
/// conserved to rounding.
///
/// **Stability.** Writing `G = α f_ij − β f_{i,j+1}` with `α = γλ/Δv + (−a)⁺`, `β = γλ/Δv + a⁺`,
/// all off-diagonal coefficients of the update are nonnegative and the diagonal one is
/// nonnegative iff
///
///     Δt · max_{i,j} [ |v_j|/Δx + (α_{i,j+1/2} + β_{i,j−1/2})/Δv ] ≤ 1.
///
/// The solver takes `Δt = c /` that maximum, c ∈ (0, 1]: the update is then a convex
/// combination of old values (positive, L1 contractive). Since a is increasing in v at most
/// one of `(−a_{j+1/2})⁺`, `a_{j−1/2}⁺` is nonzero, so the bracket is at most
/// `max|v|/Δx + max|a|/Δv + 2γλ/Δv²`, and this Δt satisfies the usual
/// `Δt ≤ c · min(Δx/max|v|, Δv/max|a|, Δv²/(2γλ))`. (The converse does not hold: the three
/// limits taken separately with c = 1 allow a step up to three times too long for positivity.)
///
/// The scheme is first order in Δx, Δv and Δt (numerical diffusion `|v|Δx/2` in x, `|a|Δv/2` in
/// v); its discrete stationary state differs from the Gibbs density by O(Δx + Δv).
///
/// Reference: upwind and monotone finite volumes, R. J. LeVeque, *Finite Volume Methods for
/// Hyperbolic Problems* (2002), ch. 4 and 20; the stability argument is the positivity
/// (monotonicity) condition of explicit upwind schemes for advection–diffusion.
///
/// - Complexity: O(nx · nv) per step, no allocation (coefficients and three row buffers are
///   built at construction).
public struct KineticFokkerPlanck: Sendable, SubstepAdvancing {
  /// Position cells.
  public let positionGrid: CellGrid
  /// Velocity cells.
  public let velocityGrid: CellGrid
  /// Friction γ > 0.
  public let friction: Double
  /// Temperature λ ≥ 0 (velocity diffusion γλ).
  public let temperature: Double
  /// CFL factor c ∈ (0, 1].
  public let courantFactor: Double
  /// The full explicit step Δt.
  public let timeStep: Double
  /// Current time.
  public internal(set) var time: Double = 0
  /// Steps taken so far.
  public private(set) var stepCount: Int = 0
  /// Cell values `f(x_i, v_j)`, row-major `nx × nv` (index `i * nv + j`).
  public private(set) var density: [Double]

  /// `v_j⁺` and `v_j⁻` at the velocity cell centres.
  private let positiveVelocity: [Double]
  private let negativeVelocity: [Double]
  /// `α` and `β` of the interior velocity faces, `nx × (nv − 1)`, face k between cells k, k+1.
  private let velocityForward: [Double]
  private let velocityBackward: [Double]
  /// Row buffers: x-fluxes through the left and right faces of the current row, v-fluxes.
  private var leftFlux: [Double]
  private var rightFlux: [Double]
  private var velocityFlux: [Double]

  /// A solver with `U'` sampled at the position cell centres.
  ///
  /// - Parameters:
  ///   - positionGrid: cells in x.
  ///   - velocityGrid: cells in v.
  ///   - potentialGradientAtCentres: `U'(x_i)`, `nx` values.
  ///   - friction: γ > 0.
  ///   - temperature: λ ≥ 0.
  ///   - courantFactor: c ∈ (0, 1].
  ///   - initialDensity: `nx × nv` nonnegative cell values, row-major.
  public init(
    positionGrid: CellGrid, velocityGrid: CellGrid, potentialGradientAtCentres: [Double],
    friction: Double, temperature: Double, courantFactor: Double = 0.9,
    initialDensity: [Double]
  ) {
    let nx = positionGrid.cellCount
    let nv = velocityGrid.cellCount
    precondition(potentialGradientAtCentres.count == nx, "need U' at the nx position centres")
    precondition(potentialGradientAtCentres.allSatisfy(\.isFinite), "U' must be finite")
    precondition(friction > 0 && friction.isFinite, "friction must be > 0")
    precondition(temperature >= 0 && temperature.isFinite, "temperature must be ≥ 0")
    precondition(courantFactor > 0 && courantFactor <= 1, "CFL factor must be in (0, 1]")
    precondition(initialDensity.count == nx * nv, "initial density needs nx · nv values")
    precondition(initialDensity.allSatisfy { $0 >= 0 && $0.isFinite }, "density must be ≥ 0")
    self.positionGrid = positionGrid
    self.velocityGrid = velocityGrid
    self.friction = friction
    self.temperature = temperature
    self.courantFactor = courantFactor
    self.density = initialDensity

    let dx = positionGrid.spacing
    let dv = velocityGrid.spacing
    let diffusion = friction * temperature / dv
    positiveVelocity = (0..<nv).map { max(velocityGrid.centre($0), 0) }
    negativeVelocity = (0..<nv).map { min(velocityGrid.centre($0), 0) }
    var forward = [Double](repeating: 0, count: nx * (nv - 1))
    var backward = [Double](repeating: 0, count: nx * (nv - 1))
    var worst = 0.0
    for i in 0..<nx {
      for k in 0..<(nv - 1) {
        let a = friction * velocityGrid.face(k + 1) + potentialGradientAtCentres[i]
        forward[i * (nv - 1) + k] = diffusion + max(-a, 0)
        backward[i * (nv - 1) + k] = diffusion + max(a, 0)
      }
      for j in 0..<nv {
        let out = j < nv - 1 ? forward[i * (nv - 1) + j] : 0
        let back = j > 0 ? backward[i * (nv - 1) + j - 1] : 0
        worst = max(worst, abs(velocityGrid.centre(j)) / dx + (out + back) / dv)
      }
    }
    velocityForward = forward
    velocityBackward = backward
    timeStep = worst > 0 ? courantFactor / worst : .infinity
    leftFlux = [Double](repeating: 0, count: nv)
    rightFlux = [Double](repeating: 0, count: nv)
    velocityFlux = [Double](repeating: 0, count: nv + 1)
  }

  /// A solver with `U'` given as a function, evaluated once at the position cell centres.
  public init(
    positionGrid: CellGrid, velocityGrid: CellGrid, potentialGradient: (Double) -> Double,
    friction: Double, temperature: Double, courantFactor: Double = 0.9,
    initialDensity: [Double]
  ) {
    self.init(
      positionGrid: positionGrid, velocityGrid: velocityGrid,
      potentialGradientAtCentres: positionGrid.sample(potentialGradient), friction: friction,
      temperature: temperature, courantFactor: courantFactor, initialDensity: initialDensity)
  }

  /// `g(x_i, v_j)` at every cell centre, row-major `nx × nv` (e.g. an initial density).
  public static func sample(
    _ g: (Double, Double) -> Double, positionGrid: CellGrid, velocityGrid: CellGrid
  ) -> [Double] {
    var out = [Double]()
    out.reserveCapacity(positionGrid.cellCount * velocityGrid.cellCount)
    for i in 0..<positionGrid.cellCount {
      for j in 0..<velocityGrid.cellCount {
        out.append(g(positionGrid.centre(i), velocityGrid.centre(j)))
      }
    }
    return out
  }

  /// Mass `Σ f_ij Δx Δv` (compensated sum). O(nx · nv).
  public var mass: Double {
    GridSum.compensated(density) * positionGrid.spacing * velocityGrid.spacing
  }

  /// Position marginal `ρ(x_i) = Σ_j f_ij Δv`, `nx` values. O(nx · nv), allocates.
  public func positionMarginal() -> [Double] {
    let nv = velocityGrid.cellCount
    let dv = velocityGrid.spacing
    return (0..<positionGrid.cellCount).map { i in
      var s = 0.0
      for j in 0..<nv { s += density[i * nv + j] }
      return s * dv
    }
  }

  /// Velocity marginal `η(v_j) = Σ_i f_ij Δx`, `nv` values. O(nx · nv), allocates.
  public func velocityMarginal() -> [Double] {
    let nx = positionGrid.cellCount
    let nv = velocityGrid.cellCount
    var out = [Double](repeating: 0, count: nv)
    for i in 0..<nx {
      for j in 0..<nv { out[j] += density[i * nv + j] }
    }
    let dx = positionGrid.spacing
    for j in 0..<nv { out[j] *= dx }
    return out
  }

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

  /// One step of length `dt ≤ timeStep`, row by row in place: the right-face x-flux of row i
  /// is computed from the old rows i and i+1 before row i is overwritten and becomes the
  /// left-face flux of row i+1.
  mutating func step(by dt: Double) {
    precondition(dt > 0 && dt <= timeStep, "step must be in (0, timeStep]")
    let nx = positionGrid.cellCount
    let nv = velocityGrid.cellCount
    let rx = dt / positionGrid.spacing
    let rv = dt / velocityGrid.spacing
    density.withUnsafeMutableBufferPointer { f in
      leftFlux.withUnsafeMutableBufferPointer { leftBuffer in
        rightFlux.withUnsafeMutableBufferPointer { rightBuffer in
          velocityFlux.withUnsafeMutableBufferPointer { g in
            positiveVelocity.withUnsafeBufferPointer { vp in
              negativeVelocity.withUnsafeBufferPointer { vm in
                velocityForward.withUnsafeBufferPointer { alpha in
                  velocityBackward.withUnsafeBufferPointer { beta in
                    var left = leftBuffer
                    var right = rightBuffer
                    for j in 0..<nv { left[j] = 0 }
                    g[0] = 0
                    g[nv] = 0
                    for i in 0..<nx {
                      let row = i * nv
                      if i < nx - 1 {
                        let next = row + nv
                        for j in 0..<nv {
                          right[j] = vp[j] * f[row + j] + vm[j] * f[next + j]
                        }
                      } else {
                        for j in 0..<nv { right[j] = 0 }
                      }
                      let faces = i * (nv - 1)
                      for k in 1..<nv {
                        let face = faces + k - 1
                        g[k] = alpha[face] * f[row + k - 1] - beta[face] * f[row + k]
                      }
                      for j in 0..<nv {
                        f[row + j] -= rx * (right[j] - left[j]) + rv * (g[j + 1] - g[j])
                      }
                      swap(&left, &right)
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    time += dt
    stepCount += 1
  }
}
