import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

@Suite struct DivergenceGridTests {
  // MARK: - Quadrature of log Z

  /// V = x²/2 in 1-D and the anisotropic V = x²/2 + y² in 2-D (Z = 2πλ/√2): the trapezoid
  /// rule on a box holding the mass converges geometrically (error ~ exp(−2π²σ²/h²)), so both
  /// the true error and the coarse–fine estimate are at rounding level (< 1e−13).
  @Test func gaussianPartitionFunctions() throws {
    let lambda = 0.3
    let one = try GibbsQuadrature.logPartition(
      of: QuadraticPotential(), temperature: lambda, over: [-10...10], intervals: 200)
    #expect(abs(one.logPartition - 0.5 * Foundation.log(2 * Double.pi * lambda)) < 1e-13)
    #expect(one.errorEstimate < 1e-13)
    #expect(one.boundaryShare < 1e-30)
    #expect(one.nodes == 201)
    let anisotropic = FunctionPotential { x in 0.5 * x[0] * x[0] + x[1] * x[1] }
    let two = try GibbsQuadrature.logPartition(
      of: anisotropic, temperature: lambda, over: [-8...8, -6...6], intervals: 160)
    let exact = 0.5 * Foundation.log(2 * Double.pi * lambda) + 0.5 * Foundation.log(Double.pi * lambda)
    #expect(abs(two.logPartition - exact) < 1e-13)
    #expect(two.errorEstimate < 1e-13)
    #expect(two.nodes == 161 * 161)
  }

  /// A tiny temperature: Z = exp(−5/λ) √(2πλ) underflows as a plain sum (exp(−5000) = 0);
  /// the log-sum-exp gives log Z to the rounding of its size (≈ 5000 · 2⁻⁵² ≈ 1e−12).
  @Test func logSumExpIsStableAtLowTemperature() throws {
    let lambda = 1e-3
    let v = FunctionPotential { x in 0.5 * (x[0] - 0.3) * (x[0] - 0.3) + 5 }
    let q = try GibbsQuadrature.logPartition(of: v, temperature: lambda, over: [-1...1], intervals: 2000)
    let exact = -5 / lambda + 0.5 * Foundation.log(2 * Double.pi * lambda)
    #expect(abs(q.logPartition - exact) < 1e-11)
    #expect(q.errorEstimate < 1e-11)
  }

  /// A kink (V = |x|, Z = 2λ): the rule is only O(h²), and the accuracy check must bound
  /// the true error (the coarse–fine difference is ~3× the fine error for O(h²) rules).
  @Test func errorEstimateBoundsTheErrorForAKink() throws {
    let v = FunctionPotential { x in abs(x[0]) }
    for intervals in [100, 400, 1600] {
      let q = try GibbsQuadrature.logPartition(of: v, temperature: 1, over: [-40...40], intervals: intervals)
      let error = abs(q.logPartition - Foundation.log(2.0))
      #expect(error > 0 && error <= q.errorEstimate, "N \(intervals): \(error) vs \(q.errorEstimate)")
      #expect(q.errorEstimate < 4 * error, "estimate should be close to 3× for O(h²)")
    }
  }

  /// A box that cuts the density off is flagged by the boundary share.
  @Test func truncatingBoxIsFlagged() throws {
    let q = try GibbsQuadrature.logPartition(
      of: QuadraticPotential(), temperature: 1, over: [-1...1], intervals: 100)
    #expect(q.boundaryShare > 1e-3)
  }

  // MARK: - Histograms

  /// Cell assignment, closed right edge, outside points and weights on a 1-D grid.
  @Test func histogramOneDimensional() {
    let grid = UniformGrid(lower: [0], upper: [4], cells: [4])
    let x = PointCloud(values: [0, 0.5, 1, 3.999, 4, -0.1, 4.1, .nan], dimension: 1)
    let h = GridDensity.histogram(of: x, on: grid)
    #expect(h.outsideCount == 3)
    #expect(h.outsideMass == 3.0 / 8)
    let expected: [Double] = [2.0 / 8, 1.0 / 8, 0, 2.0 / 8]
    #expect(h.density.values == expected)
    #expect(h.density.totalMass == 5.0 / 8)
    let weighted = PointCloud(values: [0.5, 1.5, 1.7, 3.5], dimension: 1, weights: [1, 2, 1, 4])
    let hw = GridDensity.histogram(of: weighted, on: grid)
    let expectedWeighted: [Double] = [1.0 / 8, 3.0 / 8, 0, 4.0 / 8]
    #expect(hw.density.values == expectedWeighted)
    #expect(hw.outsideMass == 0)
  }

  /// A 2-D grid: flat index i · cells[1] + j, density = mass / cell area.
  @Test func histogramTwoDimensional() {
    let grid = UniformGrid(lower: [0, -1], upper: [2, 1], cells: [2, 4])
    #expect(grid.cellVolume == 0.5)
    let x = PointCloud(values: [0.1, -0.9, 1.9, 0.9, 1.5, 0.2, 2.5, 0], dimension: 2)
    let h = GridDensity.histogram(of: x, on: grid)
    var expected = [Double](repeating: 0, count: 8)
    expected[0 * 4 + 0] = 0.25 / 0.5
    expected[1 * 4 + 3] = 0.25 / 0.5
    expected[1 * 4 + 2] = 0.25 / 0.5
    #expect(h.density.values == expected)
    #expect(h.outsideCount == 1)
  }

  /// The histogram of 10⁵ standard normal draws against the exact cell masses (from erf):
  /// E‖p̂ − p‖₁ ≈ Σ_c sqrt(2 p_c(1 − p_c)/(π n)) for binomial counts; the sum over 50 cells
  /// has relative sd ≈ 0.1, so 1.5× the expectation is a 5-sd bound (a shifted cell edge
  /// would give an L1 of order 0.2).
  @Test func histogramOfGaussianSampleMatchesCellMasses() {
    let n = 100_000
    let grid = UniformGrid(lower: [-5], upper: [5], cells: [50])
    let x = GaussianLaw.standard(dimension: 1).sample(count: n, field: GaussianField(seed: 31, runIndex: 0))
    let h = GridDensity.histogram(of: x, on: grid)
    let edges = (0...50).map { -5 + 0.2 * Double($0) }
    let masses = (0..<50).map { 0.5 * (erf(edges[$0 + 1] / 2.0.squareRoot()) - erf(edges[$0] / 2.0.squareRoot())) }
    let exact = GridDensity(grid: grid, masses: masses)
    let expected = masses.map { (2 * $0 * (1 - $0) / (Double.pi * Double(n))).squareRoot() }.reduce(0, +)
    let l1 = l1Distance(between: h.density, and: exact)
    #expect(l1 < 1.5 * expected, "L1 \(l1), expected about \(expected)")
    #expect(l1 > 0.5 * expected, "an L1 far below the sampling noise means the test is broken")
  }

  // MARK: - KL and L1 between grid densities

  /// p = (1/2, 1/2), q = (1/4, 3/4): KL(p‖q) = (1/2) log(4/3), KL(q‖p) = (1/4) log(1/2) +
  /// (3/4) log(3/2), L1 = 1/2; the same on a grid of cell volume 1/4 (KL is invariant,
  /// L1 compares masses).
  @Test func knownValuesOnTwoCells() {
    for upper in [2.0, 0.5] {
      let grid = UniformGrid(lower: [0], upper: [upper], cells: [2])
      let p = GridDensity(grid: grid, masses: [0.5, 0.5])
      let q = GridDensity(grid: grid, masses: [0.25, 0.75])
      #expect(closeInUlps(klDivergence(of: p, relativeTo: q), 0.5 * Foundation.log(4.0 / 3), ulps: 4))
      #expect(
        closeInUlps(
          klDivergence(of: q, relativeTo: p), 0.25 * Foundation.log(0.5) + 0.75 * Foundation.log(1.5),
          ulps: 4))
      #expect(closeInUlps(l1Distance(between: p, and: q), 0.5, ulps: 4))
      #expect(klDivergence(of: p, relativeTo: p) == 0)
    }
  }

  /// Empty cells: 0 log 0 = 0; q = 0 where p > 0 gives +∞ under the exact policy and the
  /// KL of the smoothed masses with additive smoothing: p' = (0.1, 1.1)/1.2,
  /// q' = (0.6, 0.6)/1.2.
  @Test func emptyCells() {
    let grid = UniformGrid(lower: [0], upper: [1], cells: [2])
    let p = GridDensity(grid: grid, masses: [0, 1])
    let q = GridDensity(grid: grid, masses: [0.5, 0.5])
    #expect(closeInUlps(klDivergence(of: p, relativeTo: q), Foundation.log(2.0), ulps: 2))
    #expect(klDivergence(of: q, relativeTo: p) == .infinity)
    let smoothed = klDivergence(of: q, relativeTo: p, emptyCells: .additive(mass: 0.1))
    let a = 0.6 / 1.2, b0 = 0.1 / 1.2, b1 = 1.1 / 1.2
    #expect(closeInUlps(smoothed, a * Foundation.log(a / b0) + a * Foundation.log(a / b1), ulps: 8))
  }

  /// KL normalises (mass 2 vs mass 1 of the same shape: 0), L1 does not (missing mass 1).
  @Test func normalisationConventions() {
    let grid = UniformGrid(lower: [0], upper: [3], cells: [3])
    let p = GridDensity(grid: grid, masses: [0.4, 1.2, 0.4])
    let q = GridDensity(grid: grid, masses: [0.2, 0.6, 0.2])
    #expect(abs(klDivergence(of: p, relativeTo: q)) < 1e-16)
    #expect(closeInUlps(l1Distance(between: p, and: q), 1, ulps: 4))
  }

  /// On a 2-D grid, product densities: KL(p₁⊗p₂ ‖ q₁⊗q₂) = KL(p₁‖q₁) + KL(p₂‖q₂).
  @Test func productDensitiesAddUp() {
    let g1 = UniformGrid(lower: [0], upper: [1], cells: [3])
    let g2 = UniformGrid(lower: [0], upper: [1], cells: [4])
    let p1 = [0.2, 0.5, 0.3], q1 = [0.3, 0.3, 0.4]
    let p2 = [0.1, 0.2, 0.3, 0.4], q2 = [0.25, 0.25, 0.25, 0.25]
    let grid = UniformGrid(lower: [0, 0], upper: [1, 1], cells: [3, 4])
    let p = GridDensity(grid: grid, masses: p1.flatMap { a in p2.map { a * $0 } })
    let q = GridDensity(grid: grid, masses: q1.flatMap { a in q2.map { a * $0 } })
    let sum =
      klDivergence(of: GridDensity(grid: g1, masses: p1), relativeTo: GridDensity(grid: g1, masses: q1))
      + klDivergence(of: GridDensity(grid: g2, masses: p2), relativeTo: GridDensity(grid: g2, masses: q2))
    #expect(abs(klDivergence(of: p, relativeTo: q) - sum) < 1e-15)
  }
}
