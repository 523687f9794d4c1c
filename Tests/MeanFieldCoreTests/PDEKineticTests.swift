import Foundation
import MeanFieldCore
import Testing

/// The kinetic Fokker–Planck solver `∂_t f + v ∂_x f = ∂_v((γv + U')f) + γλ ∂_vv f`
/// (first-order upwind, explicit Euler).
@Suite struct PDEKineticTests {
  static func doubleWellGradient(_ x: Double) -> Double { x * x * x - x }
  static func doubleWell(_ x: Double) -> Double { x * x * x * x / 4 - x * x / 2 }

  /// The Gibbs density `exp(−(v²/2 + U(x))/λ)/Z` at the cell centres, Z = Z_x · Z_v by Simpson
  /// on the box (so it is normalised on the box, like the solver's state).
  static func gibbs(
    potential: (Double) -> Double, temperature: Double, positionGrid: CellGrid,
    velocityGrid: CellGrid
  ) -> [Double] {
    let zx = PDEReference.simpson(
      { exp(-potential($0) / temperature) }, positionGrid.lower, positionGrid.upper)
    let zv = PDEReference.simpson(
      { exp(-$0 * $0 / (2 * temperature)) }, velocityGrid.lower, velocityGrid.upper)
    return KineticFokkerPlanck.sample(
      { x, v in exp(-(v * v / 2 + potential(x)) / temperature) / (zx * zv) },
      positionGrid: positionGrid, velocityGrid: velocityGrid)
  }

  /// An interval advanced in pieces ends bit for bit where one `advance(to:)` does.
  @Test func splitIntervalsEndBitwiseWhereOneAdvanceDoes() {
    let xs = CellGrid(lower: -3, upper: 3, cells: 40)
    let vs = CellGrid(lower: -5, upper: 5, cells: 30)
    let initial = KineticFokkerPlanck.sample(
      { x, v in exp(-4 * (x - 1) * (x - 1) - (v - 1.5) * (v - 1.5)) }, positionGrid: xs, velocityGrid: vs)
    var whole = KineticFokkerPlanck(
      positionGrid: xs, velocityGrid: vs, potentialGradient: Self.doubleWellGradient,
      friction: 1, temperature: 0.5, courantFactor: 1, initialDensity: initial)
    var split = whole
    for target in [0.3, 0.65] {
      whole.advance(to: target)
      let count = split.substeps(to: target)
      #expect(count > 3)
      for piece in [1, count / 2, count - 1] {
        let done = split.advance(to: target, substeps: piece)
        #expect(!done)
      }
      let done = split.advance(to: target, substeps: count)
      #expect(done)
      #expect(split.time == whole.time && split.density.map(\.bitPattern) == whole.density.map(\.bitPattern))
    }
  }

  /// Mass is conserved to rounding over 1 000 steps.
  ///
  /// Bound: each face flux is computed once and enters its two cells with opposite signs, so
  /// only the roundings of the update `f − [rx (F_R − F_L) + rv (G_U − G_D)]` change the total:
  /// at most 3u (|rx (F_R − F_L)| + |rv (G_U − G_D)|) + u |f_new| per cell (u = 2⁻⁵³), and
  /// under the CFL bound the flux terms sum over the grid to at most 2 Σ f. So a step changes
  /// Σ f by at most 7u Σ f, and K = 1 000 steps by at most 7.8e-13; the two compensated mass
  /// sums add 4u. The tolerance 1e-12 is this worst case; a leaking wall or a flux not shared
  /// by both neighbours changes the mass by O(Δt) per step, orders of magnitude more.
  @Test func massIsConservedToRounding() {
    let xs = CellGrid(lower: -3, upper: 3, cells: 60)
    let vs = CellGrid(lower: -5, upper: 5, cells: 50)
    let initial = KineticFokkerPlanck.sample(
      { x, v in exp(-4 * (x - 1) * (x - 1) - (v - 1.5) * (v - 1.5)) },
      positionGrid: xs, velocityGrid: vs)
    var solver = KineticFokkerPlanck(
      positionGrid: xs, velocityGrid: vs, potentialGradient: Self.doubleWellGradient,
      friction: 1, temperature: 0.5, courantFactor: 1, initialDensity: initial)
    let m0 = solver.mass
    for _ in 0..<1_000 { solver.step() }
    let drift = abs(solver.mass - m0) / m0
    let moved = PDEReference.l1(solver.density, initial, cellVolume: xs.spacing * vs.spacing)
    #expect(drift <= 1e-12, "relative mass change \(drift)")
    #expect(moved > 0.1, "the density must have moved")
    #expect(solver.density.allSatisfy { $0 >= 0 }, "monotone scheme keeps f ≥ 0")
    // Marginals carry the same mass.
    let rho = solver.positionMarginal()
    let eta = solver.velocityMarginal()
    let mx = rho.reduce(0, +) * xs.spacing
    let mv = eta.reduce(0, +) * vs.spacing
    #expect(abs(mx - m0) / m0 <= 1e-12 && abs(mv - m0) / m0 <= 1e-12)
  }

  /// Relaxation to the Gibbs density in a double well.
  ///
  /// `U = x⁴/4 − x²/2`, γ = 1, λ = 0.5 on [−3, 3] × [−5, 5] (the Gibbs density is below 1e-6 of
  /// its peak on the walls, so their no-flux condition is invisible at this accuracy), 96 × 96
  /// cells, from a bump at (1, 1.5) in the right well. The L1 distance to the Gibbs density
  /// must decrease through t = 0.5, 1, 2, 4, 8. The slowest mode is the mass exchange between
  /// the wells (decay rate ≈ 0.43 per unit time, measured), so by t = 40 the state is
  /// stationary: the L1 change from t = 40 to 50 must be below 1e-6 (relative to the mass).
  /// What remains is the scheme's first-order stationary bias (0.099 on this grid,
  /// ``stationaryBiasIsFirstOrder`` checks it falls like h), which must be below 0.11.
  @Test func relaxesToGibbs() {
    let xs = CellGrid(lower: -3, upper: 3, cells: 96)
    let vs = CellGrid(lower: -5, upper: 5, cells: 96)
    let lambda = 0.5
    let gibbs = Self.gibbs(
      potential: Self.doubleWell, temperature: lambda, positionGrid: xs, velocityGrid: vs)
    var solver = KineticFokkerPlanck(
      positionGrid: xs, velocityGrid: vs, potentialGradient: Self.doubleWellGradient,
      friction: 1, temperature: lambda,
      initialDensity: KineticFokkerPlanck.sample(
        { x, v in exp(-4 * (x - 1) * (x - 1) - 2 * (v - 1.5) * (v - 1.5)) },
        positionGrid: xs, velocityGrid: vs))
    let m0 = solver.mass
    let cell = xs.spacing * vs.spacing
    func distance(_ f: [Double]) -> Double {
      PDEReference.l1(f.map { $0 / m0 }, gibbs, cellVolume: cell)
    }
    var distances = [distance(solver.density)]
    for t in [0.5, 1.0, 2.0, 4.0, 8.0] {
      solver.advance(to: t)
      distances.append(distance(solver.density))
    }
    solver.advance(to: 40)
    let at40 = solver.density
    solver.advance(to: 50)
    let change = PDEReference.l1(solver.density, at40, cellVolume: cell) / m0
    let final = distance(solver.density)
    #expect(zip(distances, distances.dropFirst()).allSatisfy { $0 > $1 }, "\(distances)")
    #expect(change < 1e-6, "L1 change from t = 40 to 50: \(change)")
    #expect(final < 0.11, "L1 to Gibbs at t = 50: \(final)")
  }

  /// The scheme's stationary state approaches the Gibbs density at first order in the grid.
  ///
  /// Same double well as ``relaxesToGibbs``; n × n grids, n = 24, 48, 96, 192, started from
  /// the (symmetric) Gibbs density, so the slow exchange between the wells is not excited; the
  /// transient then decays about like e^{−t} (measured), and by t = 16 the L1 change over the
  /// last 2 time units must be below 1e-5 — the remaining transient is then below 2e-5 (a
  /// geometric tail), negligible against errors ≥ 0.05. The L1 distance to the Gibbs density
  /// must fall at first order (fitted slope in [0.8, 1.3]) and be below 0.06 on the 192 × 192
  /// grid.
  @Test func stationaryBiasIsFirstOrder() {
    let lambda = 0.5
    var spacings: [Double] = []
    var errors: [Double] = []
    for n in [24, 48, 96, 192] {
      let xs = CellGrid(lower: -3, upper: 3, cells: n)
      let vs = CellGrid(lower: -5, upper: 5, cells: n)
      let gibbs = Self.gibbs(
        potential: Self.doubleWell, temperature: lambda, positionGrid: xs, velocityGrid: vs)
      var solver = KineticFokkerPlanck(
        positionGrid: xs, velocityGrid: vs, potentialGradient: Self.doubleWellGradient,
        friction: 1, temperature: lambda, initialDensity: gibbs)
      solver.advance(to: 14)
      let at14 = solver.density
      solver.advance(to: 16)
      let change = PDEReference.l1(solver.density, at14, cellVolume: xs.spacing * vs.spacing)
      #expect(change < 1e-5, "n = \(n): L1 change from t = 14 to 16: \(change)")
      spacings.append(xs.spacing)
      errors.append(PDEReference.l1(solver.density, gibbs, cellVolume: xs.spacing * vs.spacing))
    }
    let order = PDEReference.fittedOrder(spacings: spacings, errors: errors)
    #expect(order >= 0.8 && order <= 1.3, "fitted order \(order), errors \(errors)")
    #expect(errors[3] < 0.06, "192 × 192 stationary L1 error \(errors[3])")
  }

  /// Kinetic Ornstein–Uhlenbeck (`U = κx²/2`): a Gaussian initial law stays Gaussian with mean
  /// `m' = A m` and covariance `Σ' = AΣ + ΣAᵀ + Q`, `A = [[0, 1], [−κ, −γ]]`,
  /// `Q = diag(0, 2γλ)`, integrated here by RK4 with 10⁴ steps (error < 1e-14). The L1 error of
  /// the solver at t = 1 against that exact density on n × n grids over [−4, 4]² (the density
  /// is below 1e-6 of its peak on the walls), n = 32, 64, 128, 256, must fall at first order:
  /// fitted slope in [0.8, 1.3] (first-order upwinding in x and v and Euler in time, Δt ∝ h at
  /// these resolutions); on the 256 × 256 grid it must be below 0.06 (measured 0.049: the
  /// numerical diffusion |v|Δx/2 and |a|Δv/2 is what a first-order reference costs).
  @Test func firstOrderAgainstExactGaussian() {
    let kappa = 1.0
    let gamma = 1.0
    let lambda = 0.5
    let t = 1.0
    // State (m_x, m_v, Σ_xx, Σ_xv, Σ_vv).
    func rate(_ s: [Double]) -> [Double] {
      let (mx, mv, sxx, sxv, svv) = (s[0], s[1], s[2], s[3], s[4])
      return [
        mv, -kappa * mx - gamma * mv,
        2 * sxv,
        svv - kappa * sxx - gamma * sxv,
        -2 * kappa * sxv - 2 * gamma * svv + 2 * gamma * lambda,
      ]
    }
    var s = [1.0, 0.0, 0.1, 0.0, 0.1]
    let initial = s
    let steps = 10_000
    let h = t / Double(steps)
    for _ in 0..<steps {
      let k1 = rate(s)
      let k2 = rate(zip(s, k1).map { $0 + 0.5 * h * $1 })
      let k3 = rate(zip(s, k2).map { $0 + 0.5 * h * $1 })
      let k4 = rate(zip(s, k3).map { $0 + h * $1 })
      for c in 0..<5 { s[c] += h / 6 * (k1[c] + 2 * k2[c] + 2 * k3[c] + k4[c]) }
    }
    func normal(_ st: [Double]) -> (Double, Double) -> Double {
      let det = st[2] * st[4] - st[3] * st[3]
      return { x, v in
        let dx = x - st[0]
        let dv = v - st[1]
        let q = (st[4] * dx * dx - 2 * st[3] * dx * dv + st[2] * dv * dv) / det
        return exp(-q / 2) / (2 * Double.pi * det.squareRoot())
      }
    }
    var spacings: [Double] = []
    var errors: [Double] = []
    for n in [32, 64, 128, 256] {
      let xs = CellGrid(lower: -4, upper: 4, cells: n)
      let vs = CellGrid(lower: -4, upper: 4, cells: n)
      var solver = KineticFokkerPlanck(
        positionGrid: xs, velocityGrid: vs, potentialGradient: { kappa * $0 }, friction: gamma,
        temperature: lambda,
        initialDensity: KineticFokkerPlanck.sample(
          normal(initial), positionGrid: xs, velocityGrid: vs))
      solver.advance(to: t)
      let exact = KineticFokkerPlanck.sample(normal(s), positionGrid: xs, velocityGrid: vs)
      spacings.append(xs.spacing)
      errors.append(PDEReference.l1(solver.density, exact, cellVolume: xs.spacing * vs.spacing))
    }
    let order = PDEReference.fittedOrder(spacings: spacings, errors: errors)
    #expect(order >= 0.8 && order <= 1.3, "fitted order \(order), errors \(errors)")
    #expect(errors[3] < 0.06, "256 × 256 L1 error \(errors[3])")
  }
}
