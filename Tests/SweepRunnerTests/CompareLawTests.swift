import Foundation
import SweepRunner
import Testing

/// `mfsweep compare` with laws: Gaussian closed forms, samples against given densities, and
/// histogram KL on a stated grid. Every reference is computed here by a route of its own
/// (2 × 2 closed forms in extended precision, Simpson quadrature, counting by hand).
@Suite struct CompareLawTests {
  typealias X = Float80

  /// A 2 × 2 covariance [[a, b], [b, c]] written as a job-file law.
  static func law(_ m: [Double], _ s: [Double]) -> String {
    "{gaussian: {mean: [\(m[0]), \(m[1])], covariance: [[\(s[0]), \(s[1])], [\(s[1]), \(s[2])]]}}"
  }

  /// W2² = |Δm|² + tr A + tr B − 2 tr (A^½ B A^½)^½, and for 2 × 2 matrices
  /// (tr M^½)² = tr M + 2 (det M)^½ with tr M = tr AB, det M = det A det B.
  static func bures(_ ma: [Double], _ a: [Double], _ mb: [Double], _ b: [Double]) -> X {
    let dm = X(ma[0] - mb[0]) * X(ma[0] - mb[0]) + X(ma[1] - mb[1]) * X(ma[1] - mb[1])
    let trAB = X(a[0]) * X(b[0]) + 2 * X(a[1]) * X(b[1]) + X(a[2]) * X(b[2])
    let detA = X(a[0]) * X(a[2]) - X(a[1]) * X(a[1]), detB = X(b[0]) * X(b[2]) - X(b[1]) * X(b[1])
    let cross = (trAB + 2 * (detA * detB).squareRoot()).squareRoot()
    return (dm + X(a[0]) + X(a[2]) + X(b[0]) + X(b[2]) - 2 * cross).squareRoot()
  }

  /// KL(N(ma, A) ‖ N(mb, B)) with B⁻¹ = [[c, −b], [−b, a]] / det B.
  static func kl(_ ma: [Double], _ a: [Double], _ mb: [Double], _ b: [Double]) -> X {
    let detA = X(a[0]) * X(a[2]) - X(a[1]) * X(a[1]), detB = X(b[0]) * X(b[2]) - X(b[1]) * X(b[1])
    let i0 = X(b[2]) / detB, i1 = -X(b[1]) / detB, i2 = X(b[0]) / detB
    let trace = i0 * X(a[0]) + 2 * i1 * X(a[1]) + i2 * X(a[2])
    let u = X(mb[0] - ma[0]), v = X(mb[1] - ma[1])
    let quadratic = i0 * u * u + 2 * i1 * u * v + i2 * v * v
    return 0.5 * (trace + quadratic - 2 + Foundation.log(Double(detB / detA)).asX)
  }

  @Test func gaussianClosedForms() throws {
    let folder = try temporaryFolder("compare-laws")
    defer { try? FileManager.default.removeItem(at: folder) }
    let ma = [0.3, -0.2], a = [1.5, 0.4, 0.8], mb = [-0.1, 0.5], b = [0.6, -0.2, 1.1]
    try "gaussian:\n  mean: [\(mb[0]), \(mb[1])]\n  covariance: [[\(b[0]), \(b[1])], [\(b[1]), \(b[2])]]\n"
      .write(to: folder.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
    for second in [Self.law(mb, b), "b.yaml"] {
      let w2 = try json(try mfsweep(["compare", Self.law(ma, a), second, "--json"], in: folder).stdout)
      #expect(w2["method"] as? String == "closed form (Bures)")
      #expect(relative(w2["value"], Self.bures(ma, a, mb, b)) < 1e-13, "\(w2)")
      let k = try json(
        try mfsweep(["compare", Self.law(ma, a), second, "--metric", "kl", "--json"], in: folder).stdout)
      #expect(relative(k["value"], Self.kl(ma, a, mb, b)) < 1e-13, "\(k)")
      #expect(relative(k["kl_reverse"], Self.kl(mb, b, ma, a)) < 1e-13, "\(k)")
      #expect((k["sizes"] as? [Any])?.count == 2)
    }
    // Diagonal and isotropic covariances in d = 3 (commuting: W2² = |Δm|² + Σ(√a − √b)²).
    let p = "{gaussian: {mean: [1, 0, 0], covariance: [1, 4, 9]}}", q = "{gaussian: {mean: [0, 0, 2], covariance: 4}}"
    let w2 = try json(try mfsweep(["compare", p, q, "--json"], in: folder).stdout)
    #expect(relative(w2["value"], X(1 + 4 + 1 + 0 + 1).squareRoot()) < 1e-14, "\(w2)")
    let k = try json(try mfsweep(["compare", p, q, "--metric", "kl", "--json"], in: folder).stdout)
    let exact = 0.5 * ((1.0 + 4 + 9) / 4 + (1.0 + 4) / 4 - 3 + Foundation.log(64.0 / 36))
    #expect(relative(k["value"], X(exact)) < 1e-14, "\(k)")
  }

  /// A sample of N(ma, A) (Box–Muller with a fixed generator) against the law N(mb, B): the
  /// kNN estimate is within 0.05 nats of the closed form at n = 20 000 (its standard error is
  /// about 0.01 here), and against its own law within 0.05 of 0. The Gibbs law of
  /// V = |x|², λ = 0.5 is N(0, I/4): the same estimate as that Gaussian written out.
  @Test func sampleAgainstADensity() throws {
    let folder = try temporaryFolder("compare-density")
    defer { try? FileManager.default.removeItem(at: folder) }
    let ma = [0.3, -0.2], a = [1.5, 0.4, 0.8], mb = [-0.1, 0.5], b = [0.6, -0.2, 1.1]
    var state: UInt64 = 12345
    func uniform() -> Double {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return (Double(state >> 11) + 0.5) * 0x1p-53
    }
    let l00 = a[0].squareRoot(), l10 = a[1] / l00, l11 = (a[2] - l10 * l10).squareRoot()
    var sample = "", standard = ""
    for _ in 0..<20_000 {
      let r = (-2 * Foundation.log(uniform())).squareRoot(), t = 2 * Double.pi * uniform()
      let z0 = r * Foundation.cos(t), z1 = r * Foundation.sin(t)
      sample += "\(ma[0] + l00 * z0),\(ma[1] + l10 * z0 + l11 * z1)\n"
      standard += "\(0.5 * z0),\(0.5 * z1)\n"
    }
    try sample.write(to: folder.appendingPathComponent("s.csv"), atomically: true, encoding: .utf8)
    try standard.write(to: folder.appendingPathComponent("g.csv"), atomically: true, encoding: .utf8)
    let r = try mfsweep(["compare", "s.csv", Self.law(mb, b), "--metric", "kl", "--json"], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let estimate = try json(r.stdout)
    #expect(abs((estimate["value"] as? Double ?? .nan) - Double(Self.kl(ma, a, mb, b))) < 0.05, "\(estimate)")
    #expect((estimate["sizes"] as? [Any])?.first as? Int == 20_000)
    let own = try json(
      try mfsweep(["compare", "s.csv", Self.law(ma, a), "--metric", "kl", "--json"], in: folder).stdout)
    #expect(abs(own["value"] as? Double ?? .nan) < 0.05, "\(own)")
    let gibbs = "{gibbs: {dimension: 2, potential: {kind: quadratic, stiffness: 2}, temperature: 0.5}}"
    let viaGibbs = try json(try mfsweep(["compare", "g.csv", gibbs, "--metric", "kl", "--json"], in: folder).stdout)
    let viaGauss = try json(
      try mfsweep(
        ["compare", "g.csv", "{gaussian: {mean: [0, 0], covariance: 0.25}}", "--metric", "kl", "--json"], in: folder
      )
      .stdout)
    #expect(relative(viaGibbs["value"], X(viaGauss["value"] as? Double ?? .nan)) < 1e-12, "\(viaGibbs) \(viaGauss)")
    #expect(abs(viaGibbs["value"] as? Double ?? .nan) < 0.05)
  }

  /// Histograms on a stated grid: the counts are those counted here, the KL is that of the
  /// counts; a Gibbs law's cell masses (double well (x² − 1)², λ = 0.5, Z by quadrature) equal
  /// Simpson's rule in extended precision over each cell, normalised over [−6, 6].
  @Test func histogramsOnAStatedGrid() throws {
    let folder = try temporaryFolder("compare-histogram")
    defer { try? FileManager.default.removeItem(at: folder) }
    let xs = (0..<500).map { Foundation.sin(Double($0) * 0.37) * 2.2 }
    let ys = (0..<300).map { Foundation.cos(Double($0) * 0.61) * 1.9 + 0.1 }
    try xs.map { "\($0)" }.joined(separator: "\n").write(
      to: folder.appendingPathComponent("x.csv"), atomically: true, encoding: .utf8)
    try ys.map { "\($0)" }.joined(separator: "\n").write(
      to: folder.appendingPathComponent("y.csv"), atomically: true, encoding: .utf8)
    func counts(_ v: [Double]) -> ([Int], Int) {
      var c = [Int](repeating: 0, count: 8), outside = 0
      for x in v {
        if x < -2 || x > 2 { outside += 1 } else { c[min(7, Int(((x + 2) / 0.5).rounded(.down)))] += 1 }
      }
      return (c, outside)
    }
    let (cx, ox) = counts(xs), (cy, oy) = counts(ys)
    let r = try mfsweep(
      ["compare", "x.csv", "y.csv", "--metric", "histogram-kl", "--grid", "-2:2:8", "--json"], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let h = try json(r.stdout)
    #expect(h["counts_a"] as? [Int] == cx && h["counts_b"] as? [Int] == cy, "\(h)")
    #expect(h["outside_count_a"] as? Int == ox && h["outside_count_b"] as? Int == oy)
    let tx = X(cx.reduce(0, +)), ty = X(cy.reduce(0, +))
    var expected: X = 0
    for i in 0..<8 where cx[i] > 0 {
      let p = X(cx[i]) / tx, q = X(cy[i]) / ty
      expected += p * X(Foundation.log(Double(p / q)))
    }
    #expect(relative(h["value"], expected) < 1e-12, "\(h)")
    // The double well's Gibbs law on [−2, 2] in 8 cells.
    let gibbs = "{gibbs: {potential: {kind: double-well}, temperature: 0.5}}"
    let g = try json(
      try mfsweep(["compare", "x.csv", gibbs, "--metric", "histogram-kl", "--grid", "-2:2:8", "--json"], in: folder)
        .stdout)
    func simpson(_ lo: Double, _ hi: Double, _ n: Int = 4000) -> X {
      let h = X(hi - lo) / X(n)
      var s: X = 0
      for i in 0...n {
        let x = X(lo) + X(i) * h
        let f = X(Foundation.exp(Double(-(x * x - 1) * (x * x - 1) / 0.5)))
        s += (i == 0 || i == n ? 1 : (i % 2 == 1 ? 4 : 2)) * f
      }
      return s * h / 3
    }
    let z = simpson(-6, 6, 48_000)
    let masses = g["masses_b"] as? [Double] ?? []
    #expect(masses.count == 8)
    for i in 0..<min(8, masses.count) {
      #expect(
        relative(masses[i], simpson(-2 + 0.5 * Double(i), -1.5 + 0.5 * Double(i)) / z) < 1e-9, "cell \(i): \(masses)")
    }
    let share = masses.map { X($0) / X(masses.reduce(0, +)) }
    var againstLaw: X = 0
    for i in 0..<8 where cx[i] > 0 {
      let p = X(cx[i]) / tx
      againstLaw += p * X(Foundation.log(Double(p / share[i])))
    }
    #expect(relative(g["value"], againstLaw) < 1e-12, "\(g)")
    // An empty cell of B under mass of A is +∞: refused with the cell named.
    let empty = try mfsweep(
      ["compare", "x.csv", "y.csv", "--metric", "histogram-kl", "--grid", "-2.2:2.2:400"], in: folder)
    #expect(empty.status == 2 && empty.stderr.contains("+∞"), "\(empty.stderr)")
  }

  @Test func lawMistakesAreExplained() throws {
    let folder = try temporaryFolder("compare-law-bad")
    defer { try? FileManager.default.removeItem(at: folder) }
    try "1,2\n3,4\n5,7\n".write(to: folder.appendingPathComponent("s.csv"), atomically: true, encoding: .utf8)
    let g = "{gaussian: {mean: [0, 0], covariance: 1}}"
    for (args, fragment) in [
      (["{gaussian: {mean: [0, 0], covarance: 1}}", g], "covariance"),
      (["{gaussian: {mean: [0, 0], covariance: [[1, 2], [2, 1]]}}", g], "not positive definite"),
      (["{gaussian: {mean: [0, 0], covariance: [[1, 0.2], [0.3, 1]]}}", g], "not symmetric"),
      (["{gaussian: {mean: [0, 0], covariance: [1, 2, 3]}}", g], "expected one variance, 2 variances"),
      (["{gaussian: {mean: [0], covariance: 1}}", g], "different dimensions"),
      ([g, "s.csv", "--metric", "kl"], "give the point set first"),
      (["s.csv", g], "a point set against a law"),
      (
        ["{gibbs: {dimension: 2, potential: {kind: double-well}, temperature: 0.5}}", g],
        "closed forms are for two Gaussian laws"
      ),
      (["{gibbs: {potential: {kind: double-wel}, temperature: 0.5}}", g], "double-well"),
      (["{gibbs: {potential: {kind: quadratic}, temperature: 0}}", g], "positive number"),
      (["{gaussian: {mean: [0, 0]", g], "not valid YAML"),
      (["missing.yaml", g], "missing.yaml: no such file"),
      (["s.csv", g, "--metric", "histogram-kl"], "needs --grid"),
      (["s.csv", g, "--metric", "histogram-kl", "--grid", "-1:1"], "LO:HI:CELLS"),
      (["s.csv", g, "--metric", "histogram-kl", "--grid", "1:-1:4,0:1:2"], "LO < HI"),
      (["s.csv", g, "--metric", "kl", "--grid", "-1:1:4,0:1:2"], "--grid is for --metric histogram-kl"),
      ([g, g, "--weights-a", "column:1"], "weights belong to point sets"),
      (
        ["s.csv", g, "--metric", "histogram-kl", "--grid", "-1e300:1e300:1,-1e300:1e300:1"], "outside double precision"
      ),
      (["s.csv", g, "--metric", "histogram-kl", "--grid", "0:1e-200:1,0:1:1"], "too wide or too narrow"),
      (["{gaussian: {mean: [1e200, 0], covariance: 1}}", g], "overflows double precision"),
    ] {
      let r = try mfsweep(["compare"] + args, in: folder)
      #expect(r.status == 2, "\(args): status \(r.status) \(r.stdout)")
      #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
    }
  }
}

private func json(_ text: String) throws -> [String: Any] {
  try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

private func relative(_ value: Any?, _ exact: Float80) -> Double {
  guard let v = value as? Double else { return .infinity }
  return Double(abs((Float80(v) - exact) / exact))
}

extension Double {
  fileprivate var asX: Float80 { Float80(self) }
}
