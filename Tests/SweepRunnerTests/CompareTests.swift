import Foundation
import Testing

/// `mfsweep compare` on CSV files and HDF5 snapshots.
@Suite(.serialized) struct CompareTests {
  func points(_ rows: [[Double]]) -> String {
    rows.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n"
  }

  func json(_ text: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
  }

  @Test func shiftedSetsAndEveryMetric() throws {
    let folder = try temporaryFolder("compare")
    defer { try? FileManager.default.removeItem(at: folder) }
    var a = [[Double]](), b = [[Double]]()
    for i in 0..<200 {
      let p = [Foundation.sin(Double(i)), Foundation.cos(Double(3 * i)), Double(i % 7) / 7]
      a.append(p)
      b.append([p[0] + 0.3, p[1] - 0.4, p[2]])
    }
    try ("x,y,z\n" + points(a)).write(to: folder.appendingPathComponent("a.csv"), atomically: true, encoding: .utf8)
    try points(b).write(to: folder.appendingPathComponent("b.csv"), atomically: true, encoding: .utf8)
    // Exact W2 of a set and its translate is the length of the translation (0.5).
    let w2 = try json(try mfsweep(["compare", "a.csv", "b.csv", "--metric", "w2", "--json"], in: folder).stdout)
    #expect(w2["metric"] as? String == "w2")
    #expect(abs((w2["value"] as! Double) - 0.5) < 1e-12)
    #expect(w2["sizes"] as? [Int] == [200, 200])
    #expect((w2["method"] as? String)?.contains("exact") == true)
    // The debiased Sinkhorn divergence of translates is exactly |v|² for any ε (up to the
    // tolerance), so sqrt(S) = 0.5.
    let sinkhorn = try json(
      try mfsweep(["compare", "a.csv", "b.csv", "--metric", "sinkhorn", "--json"], in: folder).stdout)
    #expect(abs((sinkhorn["value"] as! Double) - 0.5) < 1e-6)
    #expect(sinkhorn["converged"] as? Bool == true)
    // Sliced W2 of translates: |v| sqrt(E[(θ·u)²]) = |v|/sqrt(d) for uniform directions,
    // within a few standard errors of the 200-direction estimate.
    let sliced = try json(
      try mfsweep(["compare", "a.csv", "b.csv", "--metric", "sliced-w2", "--json"], in: folder).stdout)
    let se = sliced["standard_error"] as! Double
    #expect(abs((sliced["value"] as! Double) - 0.5 / 3.0.squareRoot()) < 5 * se + 0.01)
    let kl = try json(try mfsweep(["compare", "a.csv", "a.csv", "--metric", "kl", "--json"], in: folder).stdout)
    // A sample against itself: log(m/(n−1)) = log(200/199) with zero distances skipped... the
    // estimator is finite.
    #expect((kl["value"] as? Double)?.isFinite == true)
  }

  @Test func snapshotsFromAnOutputFile() throws {
    let folder = try temporaryFolder("compare-h5")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    #expect(try mfsweep(["run", job], in: folder).status == 0)
    let file = "out/task-0000-of-0001.h5"
    let r = try mfsweep(["compare", "\(file):r00000[-1]", "\(file):r00000[0]", "--json"], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let result = try json(r.stdout)
    #expect((result["value"] as! Double) > 0 && result["dimension"] as? Int == 4)
    // The same snapshot named twice: distance 0.
    let same = try json(
      try mfsweep(["compare", "\(file):r00001[1]", "\(file):r00001[-2]", "--json"], in: folder).stdout)
    #expect(same["value"] as? Double == 0)
  }

  @Test func badInputsAreRefused() throws {
    let folder = try temporaryFolder("compare-bad")
    defer { try? FileManager.default.removeItem(at: folder) }
    try "1,2\n3,4\n".write(to: folder.appendingPathComponent("two.csv"), atomically: true, encoding: .utf8)
    try "1,2,3\n4,5,6\n".write(to: folder.appendingPathComponent("three.csv"), atomically: true, encoding: .utf8)
    try "1,2\nnan,4\n".write(to: folder.appendingPathComponent("nan.csv"), atomically: true, encoding: .utf8)
    try "1,2\n3,4\n5,6\n".write(to: folder.appendingPathComponent("other.csv"), atomically: true, encoding: .utf8)
    for (args, fragment) in [
      (["compare", "two.csv", "missing.csv"], "missing.csv: no such file"),
      (["compare", "two.csv", "three.csv"], "different dimensions"),
      (["compare", "two.csv", "nan.csv"], "NaN or infinite"),
      (["compare", "two.csv", "other.csv", "--metric", "w2"], "needs equal sizes"),
      (["compare", "two.csv", "x.h5:/d[oops]"], "must be an integer"),
      (["compare", "two.csv", "two.csv:/d"], "no such file"),
    ] {
      let r = try mfsweep(args, in: folder)
      #expect(r.status == 2, "\(args): status \(r.status)")
      #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
    }
  }
}
