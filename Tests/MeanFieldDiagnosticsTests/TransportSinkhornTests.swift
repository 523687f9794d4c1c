import Foundation
import MeanFieldDiagnostics
import Testing

/// Entropic transport: agreement with a dense reference, exact identities of the divergence,
/// the rate of S_ε → W2², non-convergence as a value, and input errors.
@Suite("Transport: Sinkhorn")
struct TransportSinkhornTests {
  static let tight = SinkhornOptions(tolerance: 1e-12, maxIterations: 20000)

  @Test("matches a dense libm log-domain Sinkhorn (unequal sizes, weights)")
  func denseReference() throws {
    let x = TransportFixtures.cloud(40, 3, seed: 1, weights: (0..<40).map { 1 + Double($0 % 5) })
    let y = TransportFixtures.cloud(30, 3, seed: 2, shift: 0.7, scale: 1.3)
    let eps = 0.8
    let r = try OptimalTransport.sinkhorn(
      between: x, and: y, regularization: eps, options: Self.tight)
    let ref = TransportFixtures.denseSinkhorn(x, y, epsilon: eps, iterations: 3000)
    #expect(r.isConverged)
    #expect(r.marginalError < 1e-12)
    // Both are converged to ~1e-12 marginals; costs are O(10): 1e-10 relative covers the
    // difference of the two fixed points and the two exp implementations (≤ 1e-15 relative).
    #expect(abs(r.cost - ref.cost) <= 1e-10 * ref.cost)
    #expect(abs(r.regularizedCost - ref.regularized) <= 1e-10 * ref.regularized)
  }

  @Test(
    "the returned potentials give the plan whose marginal error is reported",
    arguments: [false, true])
  func marginals(overrelaxation: Bool) throws {
    let x = TransportFixtures.cloud(50, 2, seed: 3)
    let y = TransportFixtures.cloud(60, 2, seed: 4, shift: 1)
    let eps = 0.1
    let options = SinkhornOptions(
      tolerance: 1e-7, maxIterations: 1000, overrelaxation: overrelaxation)
    let r = try OptimalTransport.sinkhorn(between: x, and: y, regularization: eps, options: options)
    var rows = [Double](repeating: 0, count: 50)
    var cols = [Double](repeating: 0, count: 60)
    var cost = 0.0
    for i in 0..<50 {
      for j in 0..<60 {
        let c = TransportFixtures.squaredDistance(x, i, y, j)
        let p = exp((r.sourcePotential[i] + r.targetPotential[j] - c) / eps) / (50 * 60)
        rows[i] += p
        cols[j] += p
        cost += p * c
      }
    }
    let rowError2 = rows.map { ($0 - 1.0 / 50) * ($0 - 1.0 / 50) }.reduce(0, +)
    let colError2 = cols.map { ($0 - 1.0 / 60) * ($0 - 1.0 / 60) }.reduce(0, +)
    #expect(r.isConverged && r.marginalError < 1e-7)
    if !overrelaxation {
      // Plain Sinkhorn ends on a row update: rows exact up to the rounding of 60 terms.
      #expect(rowError2.squareRoot() <= 1e-14)
    }
    // The reported error is that of this plan (libm exp here vs the lane-wise exp inside:
    // agreement to ~1e-15 relative in each entry, so 1e-12 absolute on errors ~1e-8).
    #expect(abs((rowError2 + colError2).squareRoot() - r.marginalError) <= 1e-12)
    #expect(abs(cost - r.cost) <= 1e-12 * cost)
  }

  @Test("over-relaxation reaches the same solution in fewer iterations at small ε")
  func overrelaxation() throws {
    // An instance where plain Sinkhorn is slow (ε ≈ 0.3% of the largest cost).
    let x = TransportFixtures.cloud(200, 2, seed: 1)
    let y = TransportFixtures.cloud(200, 2, seed: 2, shift: 1, scale: 0.5)
    let options = SinkhornOptions(tolerance: 1e-9, maxIterations: 50000)
    var plainOptions = options
    plainOptions.overrelaxation = false
    let relaxed = try OptimalTransport.sinkhorn(
      between: x, and: y, regularization: 0.0625, options: options)
    let plain = try OptimalTransport.sinkhorn(
      between: x, and: y, regularization: 0.0625, options: plainOptions)
    #expect(relaxed.isConverged && plain.isConverged)
    // Measured: 15,545 plain iterations against 535 relaxed; require a 10× saving.
    #expect(
      relaxed.iterations * 10 < plain.iterations, "\(relaxed.iterations) vs \(plain.iterations)")
    // Same fixed point: costs agree to the accuracy implied by 1e-9 marginals.
    #expect(abs(relaxed.regularizedCost - plain.regularizedCost) <= 1e-7 * plain.regularizedCost)
  }

  @Test("symmetric and alternating solvers agree on OT_ε(a, a)")
  func symmetricSolver() throws {
    let x = TransportFixtures.cloud(80, 3, seed: 5)
    let d = try OptimalTransport.sinkhornDivergence(
      between: x, and: x, regularization: 0.5, options: Self.tight)
    let direct = try OptimalTransport.sinkhorn(
      between: x, and: x, regularization: 0.5, options: Self.tight)
    let converged = d.isConverged && direct.isConverged
    #expect(converged)
    #expect(
      abs(d.sourceSelf.regularizedCost - direct.regularizedCost) <= 1e-10 * direct.regularizedCost)
    // S_ε(a, a) = 0.
    #expect(abs(d.divergence) <= 1e-10 * direct.regularizedCost)
  }

  @Test(
    "a translation gives S_ε = |v|² for every ε, including far-apart clouds (rescaled rows)",
    arguments: [(0.2, 1.0), (1.0, 1.0), (20.0, 1.0), (0.5, 40.0)])
  func divergenceOfTranslation(parameters: (Double, Double)) throws {
    let (eps, length) = parameters
    let x = TransportFixtures.cloud(120, 3, seed: 6)
    let v = [0.6, -0.8, 0.0].map { $0 * length }
    let y = TransportFixtures.translated(x, by: v)
    for scaling in [EpsilonScaling.standard, .disabled] {
      let options = SinkhornOptions(tolerance: 1e-11, maxIterations: 20000, epsilonScaling: scaling)
      let s = try OptimalTransport.sinkhornDivergence(
        between: x, and: y, regularization: eps, options: options)
      let converged = s.isConverged
      let iterations = s.cross.iterations
      #expect(converged, "ε = \(eps), |v| = \(length), cross iterations \(iterations)")
      // OT_ε(a, T_v a) = OT_ε(a, a) + |v|² exactly; the solves are converged to 1e-11 in
      // marginals with potentials of size ≲ |v|² + 50: 1e-8 relative, absolute floor 1e-9.
      let v2 = length * length
      #expect(abs(s.divergence - v2) <= 1e-8 * v2 + 1e-9)
    }
  }

  /// Chizat, Roussillon, Léger, Vialard & Peyré (NeurIPS 2020): for smooth densities
  /// |S_ε − W2²| = O(ε²), while the entropic plan's transport cost ⟨P_ε, C⟩ overshoots W2² by
  /// O(ε). Quantile grids of N(0, 1) and N(1, ¼) with n = 1000 are close to their densities
  /// for ε ≫ (grid spacing)² ≈ 1e-5. Measured on ε = ½, ¼, ⅛, 1/16 (halving; exact W2² from
  /// the 1-D solver): errors 7.36e-3, 1.92e-3, 4.84e-4, 1.19e-4, fitted slope 1.98 (local
  /// slopes 1.94, 1.99, 2.02); the transport-cost error has slope 0.95. Below ε = 1/16 the
  /// local slope rises (2.16, then 2.47 at 1/32): the grid's discreteness takes over and the
  /// error falls faster than any power. The bounds are ±0.15 around the theoretical exponents
  /// 2 and 1 (the pre-asymptotic terms are a few percent at these ε); a non-debiased
  /// divergence, or a wrong self term, fails the first.
  @Test("S_ε → W2² at rate ε² (debiased) while ⟨P_ε, C⟩ → W2² at rate ε")
  func convergenceRate() throws {
    let n = 1000
    let q = (0..<n).map { Self.normalQuantile((Double($0) + 0.5) / Double(n)) }
    let x = PointCloud(values: q, dimension: 1)
    let y = PointCloud(values: q.map { 1 + 0.5 * $0 }, dimension: 1)
    let w2 = try OptimalTransport.squaredWasserstein1D(between: x, and: y)
    let epsilons = [0.5, 0.25, 0.125, 0.0625]
    var divergenceErrors = [Double]()
    var costErrors = [Double]()
    for eps in epsilons {
      let s = try OptimalTransport.sinkhornDivergence(
        between: x, and: y, regularization: eps, options: SinkhornOptions(tolerance: 1e-10))
      let converged = s.isConverged
      #expect(converged)
      divergenceErrors.append(abs(s.divergence - w2))
      costErrors.append(s.cross.cost - w2)
    }
    let slope = TransportFixtures.logLogSlope(epsilons, divergenceErrors)
    let costSlope = TransportFixtures.logLogSlope(epsilons, costErrors)
    #expect(abs(slope - 2) <= 0.15, "fitted slope \(slope), errors \(divergenceErrors)")
    #expect(abs(costSlope - 1) <= 0.15, "fitted slope \(costSlope), errors \(costErrors)")
    // The divergence is the better estimator by far at every ε.
    for k in 0..<epsilons.count { #expect(divergenceErrors[k] < 0.1 * costErrors[k]) }
  }

  /// The standard normal quantile by bisection on `erfc` (accurate to a few ulps).
  static func normalQuantile(_ p: Double) -> Double {
    var lo = -10.0
    var hi = 10.0
    for _ in 0..<200 {
      let mid = 0.5 * (lo + hi)
      if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
    }
    return 0.5 * (lo + hi)
  }

  @Test("hitting the iteration cap is reported, not thrown")
  func nonConvergence() throws {
    let x = TransportFixtures.cloud(200, 2, seed: 7)
    let y = TransportFixtures.cloud(200, 2, seed: 8, shift: 2)
    let options = SinkhornOptions(tolerance: 1e-12, maxIterations: 1)
    let r = try OptimalTransport.sinkhorn(
      between: x, and: y, regularization: 0.01, options: options)
    #expect(!r.isConverged)
    #expect(r.iterations == 1)
    #expect(r.marginalError >= 1e-12 && r.marginalError.isFinite)
    #expect(r.cost.isFinite && r.regularizedCost.isFinite)
    let s = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: 0.01, options: options)
    let converged = s.isConverged
    let divergence = s.divergence
    #expect(!converged)
    #expect(divergence.isFinite)
  }

  @Test("results are identical for one and two threads")
  func threads() throws {
    let x = TransportFixtures.cloud(333, 4, seed: 9)
    let y = TransportFixtures.cloud(257, 4, seed: 10, shift: 0.5)
    let one = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: 0.4, options: SinkhornOptions(tolerance: 1e-9, threads: 1)
    )
    let two = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: 0.4, options: SinkhornOptions(tolerance: 1e-9, threads: 2)
    )
    let identical = one == two
    #expect(identical)
  }

  /// The single-precision first phase must not move the answer: the mixed solver and the
  /// double one stop at plans with marginal errors below the tolerance, measured in double,
  /// and their costs differ by what two such plans can differ by. Weighted, unequal sizes,
  /// d = 10, ε = 5% of the largest cost as in the benchmark.
  @Test("mixed precision reaches the double-precision answer; weights, unequal sizes, threads")
  func mixedPrecision() throws {
    let x = TransportFixtures.cloud(
      1500, 10, seed: 14, weights: (0..<1500).map { 1 + Double($0 % 7) })
    let y = TransportFixtures.cloud(1100, 10, seed: 15, shift: 0.5, scale: 1.2)
    let eps = 0.05 * (try OptimalTransport.maximumSquaredDistance(between: x, and: y))
    for tolerance in [1e-9, 1e-12] {
      let mixed = try OptimalTransport.sinkhorn(
        between: x, and: y, regularization: eps,
        options: SinkhornOptions(tolerance: tolerance, threads: 1))
      let mixedTwo = try OptimalTransport.sinkhorn(
        between: x, and: y, regularization: eps,
        options: SinkhornOptions(tolerance: tolerance, threads: 2))
      let double = try OptimalTransport.sinkhorn(
        between: x, and: y, regularization: eps,
        options: SinkhornOptions(tolerance: tolerance, mixedPrecision: false, threads: 2))
      #expect(mixed == mixedTwo)
      #expect(mixed.isConverged && double.isConverged)
      #expect(mixed.marginalError < tolerance)
      #expect(double.singlePrecisionIterations == 0)
      // The single phase tracks the double iteration without wasting one, and the stop is
      // decided in double. Measured: 8 of 9 iterations in single precision at 1e-9 (double
      // alone: 9), 8 of 11 at 1e-12 (11). A single-precision pass without the exact tails
      // of α and β stalls near 1e-6 of the marginals and needs 11 and 13.
      #expect(mixed.iterations <= double.iterations)
      #expect(mixed.singlePrecisionIterations < mixed.iterations)
      if tolerance == 1e-9 {
        #expect(mixed.singlePrecisionIterations == mixed.iterations - 1)
      }
      // Both plans are within `tolerance` of the marginals; the cost is Lipschitz in the plan
      // with constant max C ≤ 20 ε, so two such plans differ in cost by at most ~40 ε · tol
      // (plus the fixed point's own sensitivity, far smaller).
      let bound = 40 * eps * tolerance
      #expect(abs(mixed.cost - double.cost) <= bound, "\(mixed.cost) vs \(double.cost)")
      #expect(abs(mixed.regularizedCost - double.regularizedCost) <= bound)
    }
    // The divergence's symmetric solves use the same phase.
    let dm = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: eps, options: SinkhornOptions(tolerance: 1e-10))
    let dd = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: eps,
      options: SinkhornOptions(tolerance: 1e-10, mixedPrecision: false))
    let converged = dm.isConverged && dd.isConverged
    #expect(converged)
    // Measured: 20 of 25 iterations in single precision for each self term (double: 25).
    #expect(dm.sourceSelf.singlePrecisionIterations >= 10)
    #expect(dm.targetSelf.singlePrecisionIterations >= 10)
    #expect(dm.sourceSelf.iterations <= dd.sourceSelf.iterations)
    #expect(dm.targetSelf.iterations <= dd.targetSelf.iterations)
    #expect(abs(dm.divergence - dd.divergence) <= 3 * 40 * eps * 1e-10)
  }

  /// Far-apart clouds at small ε: every term of the first pass underflows in single
  /// precision, so the solver must redo that iteration in double and never return to single
  /// precision; the whole solve is then the double solve, bit for bit.
  @Test("out of single precision's range the solver falls back to double, bit for bit")
  func mixedPrecisionFallback() throws {
    let x = TransportFixtures.cloud(120, 3, seed: 6)
    let y = TransportFixtures.translated(x, by: [24, -32, 0])
    let mixed = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: 0.5, options: SinkhornOptions(tolerance: 1e-10))
    let double = try OptimalTransport.sinkhornDivergence(
      between: x, and: y, regularization: 0.5,
      options: SinkhornOptions(tolerance: 1e-10, mixedPrecision: false))
    #expect(mixed.cross.singlePrecisionIterations == 0)
    #expect(mixed.cross == double.cross)
    #expect(mixed.isConverged)
    #expect(abs(mixed.divergence - 1600) <= 1e-8 * 1600)
  }

  @Test("maximum squared distance equals brute force")
  func maximumCost() throws {
    let x = TransportFixtures.cloud(37, 5, seed: 11)
    let y = TransportFixtures.cloud(23, 5, seed: 12, shift: 1, scale: 2)
    var best = 0.0
    for i in 0..<37 {
      for j in 0..<23 { best = max(best, TransportFixtures.squaredDistance(x, i, y, j)) }
    }
    let r = try OptimalTransport.maximumSquaredDistance(between: x, and: y, threads: 2)
    // Same differences, squares summed in the same order: bit for bit.
    #expect(r == best)
  }

  /// The single-precision screen must never lose the maximising row: clouds far from the
  /// origin (the screen works on centred points), many rows tied at the maximum (antipodal
  /// points on a sphere), rows whose maxima single precision cannot tell apart (a screen
  /// that kept only its best rows returns a smaller row's value), one dominant
  /// outlier, and coordinates beyond single precision either way.
  @Test(
    "maximum squared distance equals brute force after the single-precision screen",
    arguments: ["offset", "sphere", "outlier", "near-ties", "huge", "tiny"])
  func maximumCostScreen(kind: String) throws {
    var x = TransportFixtures.cloud(203, 6, seed: 16)
    var y = TransportFixtures.cloud(157, 6, seed: 17, shift: 0.3)
    switch kind {
    case "offset":
      x = TransportFixtures.translated(x, by: [1e6, -2e6, 3e5, 0, 7, 1e6])
      y = TransportFixtures.translated(y, by: [1e6, -2e6, 3e5, 0, 7, 1e6])
    case "sphere":
      var v = x.values
      for i in 0..<x.count {
        let r = (0..<6).map { v[i * 6 + $0] * v[i * 6 + $0] }.reduce(0, +).squareRoot()
        for k in 0..<6 { v[i * 6 + k] /= r }
      }
      x = PointCloud(values: v, dimension: 6)
      y = PointCloud(values: v.map { -$0 }, dimension: 6)
    case "near-ties":
      // Forty rows x_i = (1 + 1e-9 i) u_i (u_i random unit vectors) facing y_i = −u_i: row
      // maxima (2 + 1e-9 i)², 2e-9 apart relative, below single precision's resolution, and
      // rounded differently row by row (the directions differ).
      var v = x.values.map { 0.1 * $0 }
      var w = y.values.map { 0.1 * $0 }
      for i in 0..<40 {
        let r = (0..<6).map { x.values[i * 6 + $0] * x.values[i * 6 + $0] }.reduce(0, +)
          .squareRoot()
        for k in 0..<6 {
          let u = x.values[i * 6 + k] / r
          v[i * 6 + k] = (1 + 1e-9 * Double(i)) * u
          w[i * 6 + k] = -u
        }
      }
      x = PointCloud(values: v, dimension: 6)
      y = PointCloud(values: w, dimension: 6)
    case "outlier":
      var v = y.values
      v[77 * 6 + 2] = 40
      y = PointCloud(values: v, dimension: 6)
    case "huge":
      x = PointCloud(values: x.values.map { $0 * 1e20 }, dimension: 6)
      y = PointCloud(values: y.values.map { $0 * 1e20 }, dimension: 6)
    default:
      // Squares below single precision's normal range (~1e-46 here), where its rounding is
      // coarse: over ten seeds a screen without the range guard loses the maximising row.
      for seed in UInt64(20)..<30 {
        let a = TransportFixtures.cloud(203, 10, seed: seed, scale: 1e-23)
        let b = TransportFixtures.cloud(157, 10, seed: seed + 100, shift: 3e-24, scale: 1e-23)
        var exact = 0.0
        for i in 0..<a.count {
          for j in 0..<b.count { exact = max(exact, TransportFixtures.squaredDistance(a, i, b, j)) }
        }
        let r = try OptimalTransport.maximumSquaredDistance(between: a, and: b, threads: 2)
        #expect(r == exact, "tiny, seed \(seed): \(r) vs \(exact)")
      }
      return
    }
    var best = 0.0
    for i in 0..<x.count {
      for j in 0..<y.count { best = max(best, TransportFixtures.squaredDistance(x, i, y, j)) }
    }
    let r = try OptimalTransport.maximumSquaredDistance(between: x, and: y, threads: 2)
    #expect(r == best, "\(kind): \(r) vs \(best)")
  }

  @Test("NaN input and bad parameters throw typed errors")
  func errors() {
    let x = TransportFixtures.cloud(10, 2, seed: 13)
    var values = x.values
    values[7] = .nan
    let bad = PointCloud(values: values, dimension: 2)
    #expect(throws: TransportError.nonFiniteValue(argument: "source", index: 7)) {
      try OptimalTransport.sinkhorn(between: bad, and: x, regularization: 1)
    }
    #expect(throws: TransportError.nonFiniteValue(argument: "target", index: 7)) {
      try OptimalTransport.sinkhornDivergence(between: x, and: bad, regularization: 1)
    }
    #expect(throws: TransportError.self) {
      try OptimalTransport.sinkhorn(between: x, and: x, regularization: 0)
    }
    #expect(throws: TransportError.self) {
      try OptimalTransport.sinkhorn(between: x, and: x, regularization: .nan)
    }
    #expect(throws: TransportError.self) {
      try OptimalTransport.sinkhorn(
        between: x, and: x, regularization: 1, options: SinkhornOptions(maxIterations: 0))
    }
    #expect(throws: TransportError.invalidWeights(argument: "source weights")) {
      try OptimalTransport.sinkhorn(
        between: PointCloud(
          values: x.values, dimension: 2, weights: [1, 1, 1, 1, 1, 1, 1, 1, 1, -1]), and: x,
        regularization: 1)
    }
    #expect(throws: TransportError.nonFiniteValue(argument: "source", index: 7)) {
      try OptimalTransport.slicedWasserstein(between: bad, and: x, projections: 3, seed: 1)
    }
  }
}
