import Foundation
import MeanFieldCore
import Testing

/// The overdamped Fokker–Planck solver `∂_t ρ = ∂_x(U'ρ) + λ ∂_xx ρ` (Scharfetter–Gummel
/// fluxes, explicit Euler).
@Suite struct PDEOverdampedTests {
  /// Double well `U = x⁴/4 − x²/2` (minima at ±1, barrier 1/4).
  static func doubleWellGradient(_ x: Double) -> Double { x * x * x - x }
  static func doubleWell(_ x: Double) -> Double { x * x * x * x / 4 - x * x / 2 }

  /// An interval advanced in pieces (`advance(to:substeps:)` with growing limits, as a run
  /// spreads it over particle steps) ends bit for bit where one `advance(to:)` does, and the
  /// next interval continues identically.
  @Test func splitIntervalsEndBitwiseWhereOneAdvanceDoes() {
    let grid = CellGrid(lower: -2.5, upper: 2.5, cells: 160)
    let initial = grid.sample { x in exp(-8 * (x - 1.3) * (x - 1.3)) + 0.2 * exp(-x * x) }
    var whole = OverdampedFokkerPlanck(
      grid: grid, potentialGradient: Self.doubleWellGradient, temperature: 0.25, initialDensity: initial)
    var split = whole
    for target in [0.37, 0.74, 1.5] {
      whole.advance(to: target)
      let count = split.substeps(to: target)
      #expect(count > 3)
      var reached = false
      for piece in [0, 1, count / 3, count / 2, count / 2, count - 1] {
        reached = split.advance(to: target, substeps: piece)
        #expect(!reached || piece == count)
      }
      #expect(!reached)
      let done = split.advance(to: target, substeps: count)
      #expect(done)
      #expect(split.time == whole.time && split.density.map(\.bitPattern) == whole.density.map(\.bitPattern))
    }
    #expect(split.stepCount == whole.stepCount)
  }

  /// McKean–Vlasov with a quadratic interaction: for U = κx²/2 and W = c|x − y|²/2 from
  /// N(m₀, v₀) the law stays Gaussian with mean m₀e^{−κt} (the interaction pulls to the mean,
  /// which it does not move) and variance e^{−2(κ+c)t}v₀ + λ/(κ+c)(1 − e^{−2(κ+c)t}). Both signs
  /// of c: the errors at t = 1.5 fall at second order with the grid (320 → 640 → 1280 cells),
  /// mass is conserved to rounding, and c = 0 leaves the linear solver bit for bit unchanged.
  @Test(arguments: [0.5, -0.5])
  func quadraticInteractionFollowsTheGaussianSolution(c: Double) {
    let kappa = 1.0, lambda = 0.5, m0 = 1.0, v0 = 0.09, t = 1.5
    let a = kappa + c
    let mean = m0 * exp(-kappa * t)
    let variance = exp(-2 * a * t) * v0 + lambda / a * (1 - exp(-2 * a * t))
    var errors = [Double]()
    for cells in [320, 640, 1280] {
      let grid = CellGrid(lower: -5, upper: 5, cells: cells)
      let initial = grid.sample { PDEReference.gaussian($0, mean: m0, variance: v0) }
      var pde = OverdampedFokkerPlanck(
        grid: grid, potentialGradient: { kappa * $0 }, temperature: lambda, initialDensity: initial, interaction: c)
      let mass = pde.mass
      pde.advance(to: t)
      #expect(abs(pde.mass - mass) < 1e-12 * mass)
      let h = grid.spacing
      let (m, v) = PDEReference.moments(pde.density, on: grid)
      // The cell-constant density's variance includes h²/12.
      errors.append(max(abs(m - mean), abs(v + h * h / 12 - variance)))
      #expect(abs(pde.mean - m) < 1e-13)
    }
    #expect(errors[2] < 1e-5, "\(errors)")
    let order = log(errors[0] / errors[2]) / log(4.0)
    #expect(order > 1.8, "errors \(errors): order \(order)")
    // c = 0 is the linear solver.
    let grid = CellGrid(lower: -5, upper: 5, cells: 100)
    let initial = grid.sample { PDEReference.gaussian($0, mean: m0, variance: v0) }
    var linear = OverdampedFokkerPlanck(
      grid: grid, potentialGradient: { kappa * $0 }, temperature: lambda, initialDensity: initial)
    var zero = OverdampedFokkerPlanck(
      grid: grid, potentialGradient: { kappa * $0 }, temperature: lambda, initialDensity: initial, interaction: 0)
    linear.advance(to: 0.5)
    zero.advance(to: 0.5)
    #expect(linear.density.map(\.bitPattern) == zero.density.map(\.bitPattern))
  }

  /// Mass is conserved to rounding over 1 500 steps from a lopsided initial density.
  ///
  /// Bound: each step changes `Σ ρ_i` by at most 5u · Σ ρ_i (two roundings in
  /// `(Δt/h)(J_{i+1/2} − J_{i−1/2})`, whose magnitudes sum to ≤ 2 Σρ_i under the CFL bound,
  /// and one in each update), u = 2⁻⁵³; the compensated mass sums add ≤ 2u each. So after
  /// K = 1 500 steps |Δmass|/mass ≤ 5Ku + 4u ≈ 8.3e-13 < 1e-12. A flux that leaked through a
  /// boundary or was not shared by both neighbours would change the mass by O(Δt) per step,
  /// many orders of magnitude more.
  @Test func massIsConservedToRounding() {
    let grid = CellGrid(lower: -2.5, upper: 2.5, cells: 160)
    let initial = grid.sample { x in exp(-8 * (x - 1.3) * (x - 1.3)) + 0.2 * exp(-x * x) }
    var solver = OverdampedFokkerPlanck(
      grid: grid, potentialGradient: Self.doubleWellGradient, temperature: 0.25,
      courantFactor: 1, initialDensity: initial)
    let m0 = solver.mass
    for _ in 0..<1_500 { solver.step() }
    let drift = abs(solver.mass - m0) / m0
    #expect(solver.stepCount == 1_500)
    #expect(drift <= 1e-12, "relative mass change \(drift)")
    // The density moved: the check above is not trivially satisfied by a frozen state.
    let moved = PDEReference.l1(solver.density, initial, cellVolume: grid.spacing)
    #expect(moved > 0.1)
    #expect(solver.density.allSatisfy { $0 >= 0 }, "monotone scheme keeps ρ ≥ 0")
  }

  /// The discrete stationary state tends to the Gibbs density `exp(−U/λ)/Z` on [a, b] at
  /// second order, and time stepping reaches that discrete stationary state.
  ///
  /// `U = x⁴/4 − x²/2`, λ = 0.25, [−2.5, 2.5]: L1 error between the scheme's stationary state
  /// and the exact Gibbs density (Z by Simpson, error < 1e-13) at the cell centres, on 50, 100,
  /// 200, 400 cells. Scharfetter–Gummel's stationary state is a midpoint-rule Gibbs density,
  /// so the error is O(h²): the fitted order must lie in [1.9, 2.1], and the 400-cell error
  /// below 1e-4. Time stepping from a lopsided density to t = 120 (about 20 relaxation times of
  /// the double well at this temperature) must reach the discrete stationary state to 1e-7 in
  /// L1.
  @Test func stationaryStateConvergesToGibbs() {
    let lambda = 0.25
    let z = PDEReference.simpson({ exp(-Self.doubleWell($0) / lambda) }, -2.5, 2.5)
    var spacings: [Double] = []
    var errors: [Double] = []
    for cells in [50, 100, 200, 400] {
      let grid = CellGrid(lower: -2.5, upper: 2.5, cells: cells)
      let solver = OverdampedFokkerPlanck(
        grid: grid, potentialGradient: Self.doubleWellGradient, temperature: lambda,
        initialDensity: grid.sample { _ in 0.2 })
      let gibbs = grid.sample { exp(-Self.doubleWell($0) / lambda) / z }
      spacings.append(grid.spacing)
      errors.append(PDEReference.l1(solver.stationaryDensity(), gibbs, cellVolume: grid.spacing))
    }
    let order = PDEReference.fittedOrder(spacings: spacings, errors: errors)
    #expect(order >= 1.9 && order <= 2.1, "fitted order \(order), errors \(errors)")
    #expect(errors[3] < 1e-4, "400-cell error \(errors[3])")

    let grid = CellGrid(lower: -2.5, upper: 2.5, cells: 100)
    var solver = OverdampedFokkerPlanck(
      grid: grid, potentialGradient: Self.doubleWellGradient, temperature: lambda,
      initialDensity: grid.sample { x in exp(-8 * (x - 1.3) * (x - 1.3)) })
    let m0 = solver.mass
    let target = solver.stationaryDensity().map { $0 * m0 }
    var distances: [Double] = []
    for t in [5.0, 30.0, 120.0] {
      solver.advance(to: t)
      distances.append(PDEReference.l1(solver.density, target, cellVolume: grid.spacing) / m0)
    }
    #expect(solver.time == 120)
    #expect(distances[0] > distances[1] && distances[1] > distances[2])
    #expect(distances[2] < 1e-7, "L1 to the discrete stationary state \(distances[2])")
  }

  /// Ornstein–Uhlenbeck: `U = κx²/2`. A Gaussian initial law stays Gaussian with
  ///
  ///     m(t) = m₀ e^{−κt},   s²(t) = s₀² e^{−2κt} + (λ/κ)(1 − e^{−2κt}).
  ///
  /// κ = 1, λ = 0.5, m₀ = 1, s₀² = 0.1, t = 0.5 on [−4, 4] (the density is below 1e-7 at the
  /// ends, so the no-flux walls are invisible at this accuracy). The scheme is second order in
  /// space and first order in time with Δt ∝ h², so the L1 error vs the exact density must fall
  /// at order 2 ([1.8, 2.2]) over 50…400 cells; on 400 cells mean and variance errors must be
  /// below 1e-4 and L1 below 1e-4.
  @Test func ornsteinUhlenbeckMatchesExactGaussian() {
    let kappa = 1.0
    let lambda = 0.5
    let m0 = 1.0
    let s0 = 0.1
    let t = 0.5
    let mean = m0 * exp(-kappa * t)
    let variance = s0 * exp(-2 * kappa * t) + lambda / kappa * (1 - exp(-2 * kappa * t))
    var spacings: [Double] = []
    var errors: [Double] = []
    var momentErrors: [(Double, Double)] = []
    for cells in [50, 100, 200, 400] {
      let grid = CellGrid(lower: -4, upper: 4, cells: cells)
      var solver = OverdampedFokkerPlanck(
        grid: grid, potentialGradient: { kappa * $0 }, temperature: lambda,
        initialDensity: grid.sample { PDEReference.gaussian($0, mean: m0, variance: s0) })
      solver.advance(to: t)
      let exact = grid.sample { PDEReference.gaussian($0, mean: mean, variance: variance) }
      spacings.append(grid.spacing)
      errors.append(PDEReference.l1(solver.density, exact, cellVolume: grid.spacing))
      let moments = PDEReference.moments(solver.density, on: grid)
      momentErrors.append((abs(moments.mean - mean), abs(moments.variance - variance)))
    }
    let order = PDEReference.fittedOrder(spacings: spacings, errors: errors)
    #expect(order >= 1.8 && order <= 2.2, "fitted order \(order), errors \(errors)")
    #expect(errors[3] < 1e-4, "400-cell L1 error \(errors[3])")
    #expect(momentErrors[3].0 < 1e-4, "mean error \(momentErrors[3].0)")
    #expect(momentErrors[3].1 < 1e-4, "variance error \(momentErrors[3].1)")
  }

  /// Face values `U'_{i+1/2} = (U(x_{i+1}) − U(x_i))/h` make the discrete stationary state
  /// exactly `exp(−U(x_i)/λ)/Z` (Scharfetter–Gummel's zero-flux ratio is `e^{−w}`), and time
  /// stepping leaves it unchanged: both to 1e-12 relative (the ratio is built from n − 1 sums
  /// of rounded face values, n ≈ 80, each with error ~u·|U|/λ ≲ 1e-14). An upwind or central
  /// flux would miss it by O(h).
  @Test func faceGradientsFromCellPotentialGiveExactDiscreteGibbs() {
    let grid = CellGrid(lower: -2, upper: 2.5, cells: 80)
    let lambda = 0.3
    let u = grid.sample { x in Self.doubleWell(x) + 0.3 * x }
    let faces = (0..<(grid.cellCount - 1)).map { (u[$0 + 1] - u[$0]) / grid.spacing }
    let weights = u.map { exp(-$0 / lambda) }
    let z = weights.reduce(0, +) * grid.spacing
    let gibbs = weights.map { $0 / z }
    var solver = OverdampedFokkerPlanck(
      grid: grid, potentialGradientOnFaces: faces, temperature: lambda, initialDensity: gibbs)
    let stationary = solver.stationaryDensity()
    var worst = 0.0
    for i in gibbs.indices { worst = max(worst, abs(stationary[i] - gibbs[i]) / gibbs[i]) }
    #expect(worst <= 1e-12, "stationary state vs discrete Gibbs: \(worst)")
    for _ in 0..<2_000 { solver.step() }
    var drift = 0.0
    for i in gibbs.indices { drift = max(drift, abs(solver.density[i] - gibbs[i]) / gibbs[i]) }
    #expect(drift <= 1e-12, "discrete Gibbs moved by \(drift) in 2 000 steps")
  }
}
