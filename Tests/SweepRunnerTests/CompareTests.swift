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
    try "x,y,w\n1,2,1\n3,4,-1\n".write(
      to: folder.appendingPathComponent("negative.csv"), atomically: true, encoding: .utf8)
    try "x,y,w\n1,2,0\n3,4,0\n".write(to: folder.appendingPathComponent("zero.csv"), atomically: true, encoding: .utf8)
    try "0.5\n0.5\n0.5\n".write(to: folder.appendingPathComponent("w3.csv"), atomically: true, encoding: .utf8)
    try "1,2,3\n4,5,6\n".write(to: folder.appendingPathComponent("three.csv"), atomically: true, encoding: .utf8)
    try "1,2\nnan,4\n".write(to: folder.appendingPathComponent("nan.csv"), atomically: true, encoding: .utf8)
    try "1,2\n3,4\n5,6\n".write(to: folder.appendingPathComponent("other.csv"), atomically: true, encoding: .utf8)
    for (args, fragment) in [
      (["compare", "two.csv", "missing.csv"], "missing.csv: no such file"),
      (["compare", "two.csv", "three.csv"], "different dimensions"),
      (["compare", "two.csv", "nan.csv"], "NaN or infinite"),
      (
        ["compare", "two.csv", "negative.csv", "--weights-b", "column:w"],
        "weight of point 1 (row 2 of the data) is -1.0"
      ),
      (["compare", "two.csv", "zero.csv", "--weights-b", "column:w"], "need a positive, finite total"),
      (["compare", "two.csv", "zero.csv", "--weights-b", "column:v"], "no weight column v"),
      (
        ["compare", "two.csv", "two.csv", "--weights-a", "w3.csv"],
        "holds 3 weights (no header row was read) but two.csv has 2 points"
      ),
      (["compare", "three.csv", "two.csv", "--weights-a", "column:3", "--metric", "kl"], "needs unweighted samples"),
      (["compare", "two.csv", "three.csv"], "two.csv has 2 coordinate columns (no header row was read)"),
      (["compare", "two.csv", "x.h5:/d[oops]"], "must be an integer"),
      (["compare", "two.csv", "two.csv:/d"], "no such file"),
    ] {
      let r = try mfsweep(args, in: folder)
      #expect(r.status == 2, "\(args): status \(r.status)")
      #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
    }
  }

  /// The CSV rules: a named header is read, a first row 0,1,… is refused as ambiguous until
  /// --header says which it is, pandas' unnamed index column is left out, headerless files are
  /// all data. W2 of a set and its translate by (0.3, −0.4) is 0.5 exactly.
  @Test func csvHeadersAreNeverGuessed() throws {
    let folder = try temporaryFolder("compare-csv")
    defer { try? FileManager.default.removeItem(at: folder) }
    var a = [[Double]](), b = [[Double]]()
    for i in 0..<100 {
      let p = [Foundation.sin(Double(i) * 1.3), Foundation.cos(Double(i) * 0.7)]
      a.append(p)
      b.append([p[0] + 0.3, p[1] - 0.4])
    }
    let indexed = a.enumerated().map { "\($0.offset)," + $0.element.map { "\($0)" }.joined(separator: ",") }
    let files = [
      "plain.csv": points(a), "named.csv": "x,y\n" + points(a), "pandas.csv": "0,1\n" + points(a),
      "pandas-index.csv": ",0,1\n" + indexed.joined(separator: "\n") + "\n", "b.csv": points(b),
    ]
    for (name, text) in files {
      try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    for (file, extra) in [
      ("plain.csv", []), ("named.csv", []), ("pandas-index.csv", []), ("pandas.csv", ["--header-a", "yes"]),
    ] {
      let r = try mfsweep(["compare", file, "b.csv", "--json"] + extra, in: folder)
      #expect(r.status == 0, "\(file): \(r.stderr)")
      let result = try json(r.stdout)
      #expect(result["sizes"] as? [Int] == [100, 100], "\(file)")
      #expect(abs((result["value"] as? Double ?? 0) - 0.5) < 1e-12, "\(file): \(result)")
    }
    let ambiguous = try mfsweep(["compare", "pandas.csv", "b.csv"], in: folder)
    #expect(ambiguous.status == 2)
    #expect(ambiguous.stderr.contains("pandas.csv:1: the first row '0,1' could be the names of unnamed columns"))
    #expect(ambiguous.stderr.contains("--header yes or --header no"))
    // Read as data, the row 0,1 is a 101st point: the sizes say so, and W2 is exact for them.
    let asData = try json(
      try mfsweep(["compare", "pandas.csv", "b.csv", "--header", "no", "--json"], in: folder).stdout)
    #expect(asData["sizes"] as? [Int] == [101, 100])
    #expect((asData["value"] as? Double ?? 0) > 0.5)
    #expect((asData["method"] as? String)?.contains("network simplex") == true)
    // header: no with a named header is an error that says why.
    let forced = try mfsweep(["compare", "named.csv", "b.csv", "--header", "no"], in: folder)
    #expect(forced.stderr.contains("'x' is not a number (header: no was given"), "\(forced.stderr)")
  }

  /// Weight columns by position when a numeric header could mean either; a weights file read
  /// by its own header rule.
  @Test func weightColumnsAndFilesSayWhichTheyMean() throws {
    let folder = try temporaryFolder("compare-weight-columns")
    defer { try? FileManager.default.removeItem(at: folder) }
    // pandas' header 0,1,2 over (x, w, y): the weights are column 2 ('1'), never guessed.
    try "0,1,2\n0,1,0\n1,3,1\n".write(to: folder.appendingPathComponent("p.csv"), atomically: true, encoding: .utf8)
    try "0,0\n1,1\n".write(to: folder.appendingPathComponent("q.csv"), atomically: true, encoding: .utf8)
    try "0\n1\n".write(to: folder.appendingPathComponent("w.csv"), atomically: true, encoding: .utf8)
    let ambiguous = try mfsweep(
      ["compare", "p.csv", "q.csv", "--header-a", "yes", "--header-b", "no", "--weights-a", "column:2"], in: folder)
    #expect(ambiguous.status == 2 && ambiguous.stderr.contains("column:2 is ambiguous"), "\(ambiguous.stderr)")
    for column in ["column:#2"] {
      let r = try mfsweep(
        ["compare", "p.csv", "q.csv", "--header-a", "yes", "--header-b", "no", "--weights-a", column, "--json"],
        in: folder)
      #expect(r.status == 0, "\(column): \(r.stderr)")
      // Masses 1/4 at (0, 0) and 3/4 at (1, 1) against 1/2 each: W2² = 1/4 · 2.
      #expect(abs((try json(r.stdout)["value"] as? Double ?? 0) - 0.5.squareRoot()) < 1e-14, "\(r.stdout)")
    }
    let zero = try mfsweep(["compare", "q.csv", "q.csv", "--header", "no", "--weights-a", "w.csv"], in: folder)
    #expect(zero.status == 2 && zero.stderr.contains("--weights-header"), "\(zero.stderr)")
    let read = try mfsweep(
      ["compare", "q.csv", "q.csv", "--header", "no", "--weights-a", "w.csv", "--weights-header", "no", "--json"],
      in: folder)
    #expect(read.status == 0, "\(read.stderr)")
    let totals = try json(read.stdout)["weights_total"] as? [Double]
    #expect(totals == [1, 1], "\(read.stdout)")
  }

  /// Weighted measures: a weight column (by name or position) or a weights file. Points with
  /// integer weights against the repeated points translated by (0.3, −0.4): W2 is 0.5 exactly
  /// (unequal sizes: the network simplex), and the weights' totals are reported.
  @Test func weightedMeasures() throws {
    let folder = try temporaryFolder("compare-weights")
    defer { try? FileManager.default.removeItem(at: folder) }
    var weighted = "x,w,y\n", repeated = "", weights = ""
    for i in 0..<40 {
      let p = (Foundation.sin(Double(i) * 2.1), Foundation.cos(Double(i) * 1.1))
      let k = 1 + i % 3
      weighted += "\(p.0),\(k),\(p.1)\n"
      weights += "\(k)\n"
      for _ in 0..<k { repeated += "\(p.0 + 0.3),\(p.1 - 0.4)\n" }
    }
    let plain =
      weighted.split(separator: "\n").dropFirst().map { line -> String in
        let f = line.split(separator: ",")
        return "\(f[0]),\(f[2])"
      }.joined(separator: "\n") + "\n"
    for (name, text) in ["weighted.csv": weighted, "repeated.csv": repeated, "w.csv": weights, "plain.csv": plain] {
      try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    for extra in [["--weights-a", "column:w"], ["--weights-a", "column:2"]] {
      for metric in ["w2", "sinkhorn", "sliced-w2"] {
        let r = try mfsweep(
          ["compare", "weighted.csv", "repeated.csv", "--metric", metric, "--json"] + extra, in: folder)
        #expect(r.status == 0, "\(extra) \(metric): \(r.stderr)")
        let result = try json(r.stdout)
        #expect(result["sizes"] as? [Int] == [40, 79])
        #expect(result["dimension"] as? Int == 2)
        #expect(result["weights_total"] as? [Double] == [79, 1])
        let v = result["value"] as? Double ?? 0
        switch metric {
        case "w2":
          #expect(abs(v - 0.5) < 1e-12, "\(result)")
          #expect(result["status"] as? String == "optimal")
        case "sinkhorn": #expect(abs(v - 0.5) < 1e-6, "\(result)")
        default: #expect(v > 0.2 && v < 0.5, "\(result)")
        }
      }
    }
    // The same weights from a file; the same value bit for bit.
    let fromColumn = try json(
      try mfsweep(["compare", "weighted.csv", "repeated.csv", "--weights-a", "column:w", "--json"], in: folder).stdout)
    let fromFile = try json(
      try mfsweep(["compare", "plain.csv", "repeated.csv", "--weights-a", "w.csv", "--json"], in: folder).stdout)
    #expect(fromFile["value"] as? Double == fromColumn["value"] as? Double)
  }
}
