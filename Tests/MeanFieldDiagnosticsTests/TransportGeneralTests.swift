import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

/// Exact transport between weighted measures of any sizes (network simplex with pricing):
/// against the LP solved by HiGHS (scipy), the vertices of the transportation polytope
/// enumerated, the assignment solver on repeated points, and its own invariances.
@Suite("Transport: exact, general measures")
struct TransportGeneralTests {
  static func weights(_ n: Int, seed: UInt64, zeros: Bool = false) -> [Double] {
    var g = SplitMix(seed: seed)
    return (0..<n).map { i in zeros && i % 4 == 1 ? 0 : 0.05 + Double(g.next() >> 11) * 0x1p-53 }
  }

  /// Marginals, plan cost and certificate of a result.
  static func checkPlan(_ r: TransportPlanResult, _ x: PointCloud, _ y: PointCloud) {
    var rows = [Double](repeating: 0, count: x.count)
    var columns = [Double](repeating: 0, count: y.count)
    var cost = 0.0
    for e in r.plan {
      #expect(e.mass > 0)
      rows[e.source] += e.mass
      columns[e.target] += e.mass
      cost += e.mass * TransportFixtures.squaredDistance(x, e.source, y, e.target)
    }
    for i in 0..<x.count { #expect(abs(rows[i] - x.weight(i)) <= 1e-14) }
    for j in 0..<y.count { #expect(abs(columns[j] - y.weight(j)) <= 1e-14) }
    #expect(abs(cost - r.squaredDistance) <= 1e-13 * max(1, cost))
    #expect(r.status == .optimal)
    #expect(r.optimalityGap <= 1e-12 * max(1, r.squaredDistance))
    #expect(r.marginalError <= 1e-14)
    // A basic solution: at most n + m − 1 cells carry mass.
    #expect(r.plan.count <= x.count + y.count - 1)
  }

  @Test(
    "equals the LP optimum (HiGHS) on weighted clouds of unequal sizes",
    arguments: [(4, 9, 2), (17, 11, 3), (30, 45, 5)])
  func againstLinearProgram(shape: (Int, Int, Int)) throws {
    let (n, m, d) = shape
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
      Issue.record("python3 with scipy is needed as the independent reference")
      return
    }
    for trial in 0..<3 {
      let s = UInt64(1000 * n + 10 * m + trial)
      let x = TransportFixtures.cloud(n, d, seed: s, weights: Self.weights(n, seed: s, zeros: trial == 2))
      let y = TransportFixtures.cloud(m, d, seed: s + 7, shift: 0.4, scale: 1.3, weights: Self.weights(m, seed: s + 1))
      let r = try OptimalTransport.exactTransport(between: x, and: y, neighbours: 2, threads: 2)
      Self.checkPlan(r, x, y)
      let reference = try Self.highs(x, y)
      #expect(abs(r.squaredDistance - reference) <= 1e-10 * reference, "n \(n) m \(m) trial \(trial)")
    }
  }

  /// The optimum by scipy's HiGHS LP solver over the dense `n × m` plan.
  static func highs(_ x: PointCloud, _ y: PointCloud) throws -> Double {
    func list(_ v: [Double]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
    var costs = [Double]()
    for i in 0..<x.count { for j in 0..<y.count { costs.append(TransportFixtures.squaredDistance(x, i, y, j)) } }
    let script = """
      import numpy as np
      from scipy.optimize import linprog
      n, m = \(x.count), \(y.count)
      c = np.array(\(list(costs)))
      a = np.array(\(list((0..<x.count).map { x.weight($0) })))
      b = np.array(\(list((0..<y.count).map { y.weight($0) })))
      A = np.zeros((n + m, n * m))
      for i in range(n): A[i, i * m:(i + 1) * m] = 1
      for j in range(m): A[n + j, j::m] = 1
      r = linprog(c, A_eq=A, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
      assert r.status == 0, r.message
      print(repr(float(r.fun)))
      """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", script]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard p.terminationStatus == 0, let v = Double(text) else {
      Issue.record("scipy's linprog failed: \(text)")
      return .nan
    }
    return v
  }

  /// The transportation polytope's vertices are its basic solutions: for every set of
  /// n + m − 1 cells, solve the marginal equations on those cells; keep the non-negative
  /// unique solutions; the optimum is the cheapest.
  static func vertexEnumeration(_ x: PointCloud, _ y: PointCloud) -> Double {
    let n = x.count, m = y.count, cells = n * m, size = n + m - 1
    let a = (0..<n).map { x.weight($0) }, b = (0..<m).map { y.weight($0) }
    var best = Double.infinity
    var chosen = [Int]()
    func solve() {
      // Equations: rows 0..<n, columns 0..<m−1 (the last is implied); unknowns: chosen cells.
      var matrix = [[Double]](repeating: [Double](repeating: 0, count: size + 1), count: size)
      for (k, cell) in chosen.enumerated() {
        let i = cell / m, j = cell % m
        matrix[i][k] = 1
        if j < m - 1 { matrix[n + j][k] = 1 }
      }
      for i in 0..<n { matrix[i][size] = a[i] }
      for j in 0..<(m - 1) { matrix[n + j][size] = b[j] }
      for col in 0..<size {
        guard let pivot = (col..<size).max(by: { abs(matrix[$0][col]) < abs(matrix[$1][col]) }),
          abs(matrix[pivot][col]) > 1e-12
        else { return }
        matrix.swapAt(col, pivot)
        for r in 0..<size where r != col {
          let f = matrix[r][col] / matrix[col][col]
          if f != 0 { for c in col...size { matrix[r][c] -= f * matrix[col][c] } }
        }
      }
      var cost = 0.0
      for (k, cell) in chosen.enumerated() {
        let f = matrix[k][size] / matrix[k][k]
        if f < -1e-12 { return }
        cost += f * TransportFixtures.squaredDistance(x, cell / m, y, cell % m)
      }
      best = min(best, cost)
    }
    func choose(_ start: Int) {
      if chosen.count == size { return solve() }
      if start == cells { return }
      for c in start..<cells {
        chosen.append(c)
        choose(c + 1)
        chosen.removeLast()
      }
    }
    choose(0)
    return best
  }

  @Test("equals the cheapest vertex of the transportation polytope, tiny sizes")
  func againstVertices() throws {
    for (n, m) in [(1, 1), (1, 4), (3, 1), (2, 3), (3, 3), (3, 4), (4, 2)] {
      for trial in 0..<4 {
        let s = UInt64(77 * n + 13 * m + trial)
        let x = TransportFixtures.cloud(n, 2, seed: s, weights: Self.weights(n, seed: s))
        let y = TransportFixtures.cloud(m, 2, seed: s + 3, shift: 0.5, weights: Self.weights(m, seed: s + 9))
        let r = try OptimalTransport.exactTransport(between: x, and: y, neighbours: 1)
        Self.checkPlan(r, x, y)
        let reference = Self.vertexEnumeration(x, y)
        #expect(abs(r.squaredDistance - reference) <= 1e-12 * max(reference, 1e-300), "n \(n) m \(m)")
      }
    }
  }

  @Test("integral weights equal repeated points (the assignment solver)")
  func repeatedPoints() throws {
    for trial in 0..<4 {
      let n = 23, m = 31, d = 3
      var g = SplitMix(seed: 40 + UInt64(trial))
      // Integer counts with equal totals: sources 1…6 each, targets made to match.
      var cx = (0..<n).map { _ in 1 + Int(g.next() % 6) }
      var cy = (0..<m).map { _ in 1 + Int(g.next() % 4) }
      while cy.reduce(0, +) < cx.reduce(0, +) { cy[Int(g.next() % UInt64(m))] += 1 }
      while cx.reduce(0, +) < cy.reduce(0, +) { cx[Int(g.next() % UInt64(n))] += 1 }
      let x = TransportFixtures.cloud(n, d, seed: 500 + UInt64(trial), weights: cx.map(Double.init))
      let y = TransportFixtures.cloud(m, d, seed: 600 + UInt64(trial), shift: 0.2, weights: cy.map(Double.init))
      func repeated(_ c: PointCloud, _ counts: [Int]) -> PointCloud {
        var v = [Double]()
        for i in 0..<c.count { for _ in 0..<counts[i] { v += c.values[(i * d)..<((i + 1) * d)] } }
        return PointCloud(values: v, dimension: d)
      }
      let r = try OptimalTransport.exactTransport(between: x, and: y, neighbours: 3)
      Self.checkPlan(r, x, y)
      let assignment = try OptimalTransport.exactWasserstein(between: repeated(x, cx), and: repeated(y, cy))
      #expect(abs(r.squaredDistance - assignment.squaredDistance) <= 1e-12 * assignment.squaredDistance)
    }
  }

  @Test("permutation invariant, thread invariant, equal to the assignment on uniform equal sizes")
  func invariances() throws {
    let n = 300, m = 450, d = 4
    let x = TransportFixtures.cloud(n, d, seed: 3, weights: Self.weights(n, seed: 4))
    let y = TransportFixtures.cloud(m, d, seed: 5, shift: 0.3, weights: Self.weights(m, seed: 6))
    let r1 = try OptimalTransport.exactTransport(between: x, and: y, threads: 1)
    let r2 = try OptimalTransport.exactTransport(between: x, and: y, threads: 2)
    #expect(r1 == r2)
    Self.checkPlan(r1, x, y)
    #expect(r1.pricingRounds >= 1)
    // Reversed order of both clouds.
    func reversed(_ c: PointCloud) -> PointCloud {
      let k = c.count
      var v = [Double]()
      for i in (0..<k).reversed() { v += c.values[(i * d)..<((i + 1) * d)] }
      return PointCloud(values: v, dimension: d, weights: (0..<k).reversed().map { c.weight($0) })
    }
    let rr = try OptimalTransport.exactTransport(between: reversed(x), and: reversed(y))
    #expect(abs(rr.squaredDistance - r1.squaredDistance) <= 1e-12 * r1.squaredDistance)
    // Swapping the roles of the clouds.
    let swapped = try OptimalTransport.exactTransport(between: y, and: x)
    #expect(abs(swapped.squaredDistance - r1.squaredDistance) <= 1e-12 * r1.squaredDistance)
    // Uniform, equal sizes: the assignment's value.
    let u = TransportFixtures.cloud(200, 3, seed: 8), w = TransportFixtures.cloud(200, 3, seed: 9, scale: 2)
    let general = try OptimalTransport.exactTransport(between: u, and: w)
    let assignment = try OptimalTransport.exactWasserstein(between: u, and: w)
    #expect(abs(general.squaredDistance - assignment.squaredDistance) <= 1e-12 * assignment.squaredDistance)
    Self.checkPlan(general, u, w)
  }

  @Test("points of zero weight carry nothing; invalid weights are refused")
  func zeroAndInvalidWeights() throws {
    let x = TransportFixtures.cloud(6, 2, seed: 1, weights: [1, 0, 2, 0, 1, 1])
    let y = TransportFixtures.cloud(4, 2, seed: 2)
    let r = try OptimalTransport.exactTransport(between: x, and: y)
    #expect(!r.plan.contains { $0.source == 1 || $0.source == 3 })
    Self.checkPlan(r, x, y)
    let kept = PointCloud(values: [0, 2, 4, 5].flatMap { [x[$0, 0], x[$0, 1]] }, dimension: 2, weights: [1, 2, 1, 1])
    let same = try OptimalTransport.exactTransport(between: kept, and: y)
    #expect(abs(same.squaredDistance - r.squaredDistance) <= 1e-14 * r.squaredDistance)
    #expect(throws: TransportError.self) {
      try OptimalTransport.exactTransport(
        between: PointCloud(values: [0, 1], dimension: 1, weights: [1, -1]), and: y)
    }
    #expect(throws: TransportError.self) {
      try OptimalTransport.exactTransport(between: PointCloud(values: [0, 1, 2], dimension: 3), and: y)
    }
  }
}
