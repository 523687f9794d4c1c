import Foundation
import MeanFieldDiagnostics
import Testing

/// Exact W2 by assignment: against enumeration, an independent Hungarian solver, shifts.
///
/// Tolerances: the solver's costs are `|x|² + |y|² − 2⟨x, y⟩` with centred coordinates, so two
/// assignments whose true costs differ by less than about `1e-15 · n · max|x|²` could be
/// confused; the reported value is recomputed from differences. Random Gaussian instances
/// have no such near-ties, so the optimum is found and the values agree to summation
/// rounding: relative `1e-12` is ~100× the rounding of a sum of ≤ 50 terms.
@Suite("Transport: exact assignment")
struct TransportExactTests {
  @Test("equals brute force over all permutations, n = 1…7", arguments: 1...7)
  func bruteForce(n: Int) throws {
    for trial in 0..<6 {
      let seed = UInt64(100 * n + trial)
      let x = TransportFixtures.cloud(n, 3, seed: seed)
      let y = TransportFixtures.cloud(n, 3, seed: seed + 50, shift: 0.3, scale: 1.5)
      let r = try OptimalTransport.exactWasserstein(between: x, and: y)
      let reference = TransportFixtures.bruteForceAssignment(x, y)
      #expect(abs(r.squaredDistance - reference) <= 1e-12 * reference)
      #expect(r.status == .optimal)
      #expect(Set(r.assignment) == Set(0..<n))
      // The returned permutation has the returned cost.
      var s = 0.0
      for i in 0..<n { s += TransportFixtures.squaredDistance(x, i, y, r.assignment[i]) }
      #expect(abs(s / Double(n) - r.squaredDistance) <= 1e-14 * max(1, r.squaredDistance))
    }
  }

  @Test("equals an independent Hungarian solver, n = 50, both cost storages")
  func hungarian() throws {
    for trial in 0..<5 {
      let n = 50
      let x = TransportFixtures.cloud(n, 4, seed: 900 + UInt64(trial))
      let y = TransportFixtures.cloud(n, 4, seed: 950 + UInt64(trial), shift: -0.2, scale: 0.8)
      let cost = (0..<n).map { i in
        (0..<n).map { j in TransportFixtures.squaredDistance(x, i, y, j) }
      }
      let reference = TransportFixtures.hungarian(cost)
      for storage in [AssignmentCostStorage.streamed, .dense] {
        let r = try OptimalTransport.exactWasserstein(between: x, and: y, costStorage: storage)
        #expect(abs(r.squaredDistance - reference.value / Double(n)) <= 1e-12 * r.squaredDistance)
        #expect(r.status == .optimal)
        #expect(r.optimalityGap <= 1e-12)
      }
    }
  }

  /// Integer lattice points (targets offset by ½): every cost is a multiple of ¼ and rows are
  /// full of ties, which leaves most rows to the shortest-augmenting-path phase (the random
  /// instances above are almost entirely settled by the auction). All sums are exact in
  /// binary, and distinct assignment costs differ by at least ¼, so the values must be equal.
  @Test(
    "tie-heavy lattice instances: equals the Hungarian solver exactly, via the path phase",
    arguments: [(50, 2, 5), (120, 2, 7), (150, 1, 13), (90, 3, 4)])
  func lattice(shape: (Int, Int, Int)) throws {
    let (n, d, modulus) = shape
    func lattice(_ m: Int, _ offset: Double) -> PointCloud {
      var v = [Double]()
      for i in 0..<n { for k in 0..<d { v.append(Double((i * (k + 3) * 7 + k) % m) + offset) } }
      return PointCloud(values: v, dimension: d)
    }
    let x = lattice(modulus, 0)
    let y = lattice(modulus + 1, 0.5)
    let cost = (0..<n).map { i in (0..<n).map { j in TransportFixtures.squaredDistance(x, i, y, j) }
    }
    let reference = TransportFixtures.hungarian(cost).value / Double(n)
    let r = try OptimalTransport.exactWasserstein(between: x, and: y)
    #expect(r.squaredDistance == reference)
    #expect(r.status == .optimal)
    #expect(r.statistics.freeAfterReduction > n / 2)
    #expect(r.statistics.pathScans > 0)
  }

  @Test("a translation by v gives W2 = |v| with the identity assignment")
  func shift() throws {
    let x = TransportFixtures.cloud(300, 5, seed: 11)
    let v = [0.7, -1.2, 0.05, 2.0, -0.4]
    let y = TransportFixtures.translated(x, by: v)
    let r = try OptimalTransport.exactWasserstein(between: x, and: y)
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    // y_i − x_i equals v up to one rounding of each coordinate (|x| ≲ 4, so ≤ 2^-53 · 6 per
    // coordinate against |v_k| ≥ 0.05): ≤ 1e-13 relative per squared term, and the mean of
    // 300 squares and its square root add a few ulps.
    #expect(abs(r.distance - norm) <= 2e-13 * norm)
    #expect(r.assignment == Array(0..<300))
    #expect(r.status == .optimal)
  }

  @Test("a permutation of the same points is at distance 0, ties included")
  func permutationAndTies() throws {
    // Points with duplicates: every cost row has ties.
    let base = TransportFixtures.cloud(40, 2, seed: 5)
    var values = base.values
    values += base.values.prefix(20)  // 10 duplicated points
    let x = PointCloud(values: values, dimension: 2)
    let n = x.count
    let perm = (0..<n).map { (7 * $0 + 3) % n }  // 7 is coprime with 50
    var permuted = [Double](repeating: 0, count: values.count)
    for i in 0..<n { for k in 0..<2 { permuted[i * 2 + k] = values[perm[i] * 2 + k] } }
    let y = PointCloud(values: permuted, dimension: 2)
    let r = try OptimalTransport.exactWasserstein(between: x, and: y)
    #expect(r.squaredDistance == 0)
    #expect(r.status == .optimal)
  }

  @Test("dense and streamed storage, one or two threads: identical results")
  func deterministic() throws {
    let x = TransportFixtures.cloud(400, 6, seed: 21)
    let y = TransportFixtures.cloud(400, 6, seed: 22, shift: 1, scale: 0.5)
    let a = try OptimalTransport.exactWasserstein(
      between: x, and: y, costStorage: .streamed, threads: 1)
    let b = try OptimalTransport.exactWasserstein(
      between: x, and: y, costStorage: .dense, threads: 2)
    #expect(a.assignment == b.assignment)
    #expect(a.squaredDistance == b.squaredDistance)
  }

  @Test("rejects NaN, different sizes and non-uniform weights")
  func errors() {
    let x = TransportFixtures.cloud(5, 2, seed: 1)
    var bad = x.values
    bad[3] = .nan
    #expect(throws: TransportError.nonFiniteValue(argument: "target", index: 3)) {
      try OptimalTransport.exactWasserstein(between: x, and: PointCloud(values: bad, dimension: 2))
    }
    #expect(throws: TransportError.countMismatch(source: 5, target: 4)) {
      try OptimalTransport.exactWasserstein(
        between: x, and: TransportFixtures.cloud(4, 2, seed: 2))
    }
    #expect(throws: TransportError.weightsNotUniform(argument: "source")) {
      try OptimalTransport.exactWasserstein(
        between: TransportFixtures.cloud(5, 2, seed: 3, weights: [1, 2, 3, 4, 5]), and: x)
    }
    #expect(throws: TransportError.dimensionMismatch(source: 2, target: 3)) {
      try OptimalTransport.exactWasserstein(between: x, and: TransportFixtures.cloud(5, 3, seed: 4))
    }
  }
}
