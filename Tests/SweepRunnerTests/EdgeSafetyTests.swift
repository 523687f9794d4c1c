import Foundation
import SweepRunner
import Testing

/// A valid potential job that every corpus case below breaks in one place.
let baseJob = """
  name: edge
  model: { kind: potential, dimension: 2, potential: { kind: double-well } }
  dynamics: { kind: overdamped, step: 0.01, steps: 20, temperature: 0.1 }
  particles: 16
  diagnostics: { every: 10, metrics: [second-moment] }

  """

/// One malformed job file: its text and a fragment the one-line message must hold.
struct BadJob: CustomStringConvertible, Sendable {
  var label: String
  var text: String
  var fragment: String
  var description: String { label }
}

func replacing(_ old: String, _ new: String) -> String {
  precondition(baseJob.contains(old), old)
  return baseJob.replacingOccurrences(of: old, with: new)
}

/// Malformed and hostile job files: every key wrong in type, range or spelling, YAML bombs and
/// anchors, binary junk, huge sizes, hostile strings.
let corpus: [BadJob] = [
  BadJob(label: "empty file", text: "", fragment: "the file is empty"),
  BadJob(label: "a list at the top", text: "- 1\n- 2\n", fragment: "a mapping of job settings"),
  BadJob(label: "not YAML", text: "model: {kind: [\n", fragment: "not valid YAML"),
  BadJob(label: "tab indentation", text: "model:\n\tkind: potential\n", fragment: "not valid YAML"),
  BadJob(label: "duplicate key", text: baseJob + "particles: 8\n", fragment: "appears twice"),
  BadJob(label: "unknown top key", text: baseJob + "partcles: 8\n", fragment: "did you mean 'particles'"),
  BadJob(label: "missing particles", text: replacing("particles: 16\n", ""), fragment: "missing key 'particles'"),
  BadJob(
    label: "missing model",
    text: replacing("model: { kind: potential, dimension: 2, potential: { kind: double-well } }\n", ""),
    fragment: "missing key 'model'"),
  BadJob(label: "particles a string", text: replacing("particles: 16", "particles: many"), fragment: "particles"),
  BadJob(label: "particles zero", text: replacing("particles: 16", "particles: 0"), fragment: "a positive integer"),
  BadJob(
    label: "particles negative", text: replacing("particles: 16", "particles: -5"), fragment: "a positive integer"),
  BadJob(label: "particles fractional", text: replacing("particles: 16", "particles: 2.5"), fragment: "particles"),
  BadJob(
    label: "particles beyond Int", text: replacing("particles: 16", "particles: 99999999999999999999999"),
    fragment: "particles"),
  BadJob(
    label: "particles 1e15", text: replacing("particles: 16", "particles: 1000000000000000"),
    fragment: "of memory per rank"),
  BadJob(
    label: "particles 1e11 in d = 2", text: replacing("particles: 16", "particles: 100000000000"),
    fragment: "this machine has"),
  BadJob(
    label: "steps 1e15 sampled every step",
    text: replacing("every: 10", "every: 1").replacingOccurrences(of: "steps: 20", with: "steps: 1000000000000000"),
    fragment: "metric samples"),
  BadJob(label: "step negative", text: replacing("step: 0.01", "step: -0.01"), fragment: "dynamics.step"),
  BadJob(label: "step NaN", text: replacing("step: 0.01", "step: .nan"), fragment: "dynamics.step"),
  BadJob(label: "step infinite", text: replacing("step: 0.01", "step: .inf"), fragment: "dynamics.step"),
  BadJob(label: "steps zero", text: replacing("steps: 20", "steps: 0"), fragment: "dynamics.steps"),
  BadJob(
    label: "temperature a list", text: replacing("temperature: 0.1", "temperature: [1, 2]"),
    fragment: "dynamics.temperature"),
  BadJob(
    label: "temperature negative", text: replacing("temperature: 0.1", "temperature: -1"),
    fragment: "dynamics.temperature"),
  BadJob(label: "misspelt dynamics key", text: replacing("step: 0.01", "stepp: 0.01"), fragment: "did you mean 'step'"),
  BadJob(
    label: "unknown dynamics kind", text: replacing("kind: overdamped", "kind: overdamp"), fragment: "dynamics.kind"),
  BadJob(label: "unknown model kind", text: replacing("kind: potential,", "kind: potentials,"), fragment: "model.kind"),
  BadJob(
    label: "unknown potential", text: replacing("kind: double-well", "kind: triple-well"),
    fragment: "model.potential.kind"),
  BadJob(label: "dimension zero", text: replacing("dimension: 2", "dimension: 0"), fragment: "model.dimension"),
  BadJob(label: "unknown metric", text: replacing("[second-moment]", "[second-momentum]"), fragment: "second-momentum"),
  BadJob(label: "every zero", text: replacing("every: 10", "every: 0"), fragment: "diagnostics.every"),
  BadJob(
    label: "metrics a mapping", text: replacing("metrics: [second-moment]", "metrics: {a: 1}"),
    fragment: "diagnostics.metrics"),
  BadJob(label: "seed negative", text: baseJob + "seed: -1\n", fragment: "seed"),
  BadJob(label: "name with a slash", text: replacing("name: edge", "name: ../../escape"), fragment: "without '/'"),
  BadJob(label: "name dot-dot", text: replacing("name: edge", "name: '..'"), fragment: "is not a name"),
  BadJob(
    label: "name with a newline", text: replacing("name: edge", "name: \"a\\nb\""), fragment: "control characters"),
  BadJob(
    label: "name with an escape", text: replacing("name: edge", "name: \"a\\u001b[2Jb\""),
    fragment: "control characters"),
  BadJob(label: "name empty", text: replacing("name: edge", "name: ''"), fragment: "empty string"),
  BadJob(label: "name a leading dash", text: replacing("name: edge", "name: -rf"), fragment: "cannot start with '-'"),
  BadJob(
    label: "output with a newline", text: baseJob + "output: \"o\\n$(touch PWNED)\"\n", fragment: "control characters"),
  BadJob(label: "output empty", text: baseJob + "output: ''\n", fragment: "expected a folder path"),
  BadJob(label: "output a list", text: baseJob + "output: [a, b]\n", fragment: "output"),
  BadJob(
    label: "grid of 1e12 points",
    text: baseJob + "sweep: {grid: {seed: {range: [0, 1000000]}, particles: {range: [1, 1000001]}}}\n",
    fragment: "expands to 1000000000000 runs"),
  BadJob(
    label: "range of 1e18", text: baseJob + "sweep: {grid: {seed: {range: [0, 1000000000000000000]}}}\n",
    fragment: "expands to 1000000000000000000 runs"),
  BadJob(
    label: "range across Int",
    text: baseJob + "sweep: {grid: {seed: {range: [-9223372036854775808, 9223372036854775807]}}}\n",
    fragment: "more than 9.2e18"),
  BadJob(
    label: "linspace of 1e9",
    text: baseJob + "sweep: {grid: {dynamics.temperature: {linspace: [0.1, 1, 1000000000]}}}\n",
    fragment: "at most 1000000"),
  BadJob(label: "empty grid list", text: baseJob + "sweep: {grid: {seed: []}}\n", fragment: "empty list"),
  BadJob(label: "grid sweeps output", text: baseJob + "sweep: {grid: {output: [a, b]}}\n", fragment: "cannot be swept"),
  BadJob(
    label: "grid value out of range", text: baseJob + "sweep: {grid: {particles: [16, 0]}}\n",
    fragment: "grid.particles[1]"),
  BadJob(
    label: "zip lengths differ", text: baseJob + "sweep: {zip: {seed: [1, 2], particles: [8]}}\n",
    fragment: "must have the same length"),
  BadJob(
    label: "ranks-per-run zero", text: baseJob + "parallel: {ranks-per-run: 0}\n", fragment: "parallel.ranks-per-run"),
  BadJob(
    label: "checkpoint seconds negative", text: baseJob + "checkpoint: {seconds: -1}\n", fragment: "checkpoint.seconds"),
  BadJob(
    label: "bound beyond 1e100", text: replacing("temperature: 0.1 }", "temperature: 0.1, bound: 1e200 }"),
    fragment: "dynamics.bound"),
  BadJob(
    label: "huge reference sample",
    text: replacing("[second-moment] }", "[w2-to-reference], reference-sample: huge.csv }"), fragment: "within ±1e100"),
  BadJob(
    label: "missing data file", text: baseJob + "init: {kind: file, path: no-such-file.csv}\n",
    fragment: "no-such-file.csv"),
  BadJob(
    label: "billion laughs",
    text: """
      a: &a [x, x, x, x, x, x, x, x, x, x]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
      i: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]

      """,
    fragment: "unknown key"),
  BadJob(label: "an undefined alias", text: baseJob + "seed: *nothing\n", fragment: "not valid YAML"),
  BadJob(label: "binary junk", text: "\u{7f}ELF\u{02}\u{01}\u{01}\u{00}\u{00}\u{00}\u{00}junk", fragment: "edge"),
  // Keys of this wave: potentials, metrics, analyses.
  BadJob(
    label: "rosenbrock in d = 1",
    text: replacing("dimension: 2, potential: { kind: double-well }", "dimension: 1, potential: { kind: rosenbrock }"),
    fragment: "rosenbrock is defined in model.dimension 2"),
  BadJob(
    label: "one stiffness too many",
    text: replacing("potential: { kind: double-well }", "potential: { kind: quadratic, stiffness: [1, 2, 3] }"),
    fragment: "has 3 entries"),
  BadJob(
    label: "hopf-cole without terminal", text: replacing("metrics: [second-moment]", "metrics: [hopf-cole]"),
    fragment: "needs diagnostics.terminal"),
  BadJob(
    label: "terminal without hopf-cole",
    text: replacing("metrics: [second-moment] }", "metrics: [second-moment], terminal: { kind: quadratic } }"),
    fragment: "terminal is the terminal cost"),
  BadJob(
    label: "snapshots-every a word",
    text: replacing("metrics: [second-moment] }", "metrics: [second-moment], snapshots-every: never }"),
    fragment: "a positive integer or none"),
  BadJob(
    label: "analysis of an unrecorded metric",
    text: baseJob + "analysis:\n  - { name: a, kind: plateau, metric: los, window: [0, 1] }\n",
    fragment: "not among the job's metrics"),
  BadJob(
    label: "analysis kind misspelt",
    text: baseJob + "analysis:\n  - { name: a, kind: powerlaw, metric: second-moment }\n",
    fragment: "did you mean 'power-law'"),
  BadJob(
    label: "analysis against an unswept key",
    text: baseJob + "analysis:\n  - { name: a, kind: power-law, metric: second-moment, against: particles }\n",
    fragment: "is not swept"),
  BadJob(
    label: "analysis names twice",
    text: baseJob
      + "analysis:\n  - { name: a, kind: reduction, metric: second-moment }\n  - { name: a, kind: reduction, metric: second-moment }\n",
    fragment: "two analyses are named 'a'"),
  BadJob(
    label: "analysis threshold on a plateau",
    text: baseJob + "analysis:\n  - { name: a, kind: plateau, metric: second-moment, window: [0, 1], threshold: 1 }\n",
    fragment: "a threshold belongs to hitting-time"),
  BadJob(
    label: "analysis window reversed",
    text: baseJob + "analysis:\n  - { name: a, kind: plateau, metric: second-moment, window: [1, 0] }\n",
    fragment: "0 ≤ t0 < t1"),
  BadJob(
    label: "analysis theory misspelt",
    text: baseJob + "analysis:\n  - { name: a, kind: reduction, metric: second-moment, expect: { theory: gibbs } }\n",
    fragment: "gibbs"),
  BadJob(
    label: "analysis finest on a power law",
    text: baseJob
      + "sweep: { grid: { particles: [8, 16, 32] } }\nanalysis:\n  - { name: a, kind: power-law, metric: second-moment, against: particles, finest: largest }\n",
    fragment: "finest belongs to a richardson analysis"),
  BadJob(
    label: "analysis richardson without finest on an unknown key",
    text: baseJob
      + "sweep: { grid: { dynamics.temperature: [0.1, 0.2, 0.4] } }\nanalysis:\n  - { name: a, kind: richardson, metric: second-moment, against: dynamics.temperature }\n",
    fragment: "largest or smallest"),
  BadJob(
    label: "phase-space metric without a kinetic reference",
    text: replacing(
      "metrics: [second-moment] }",
      "metrics: [l1-to-pde-phase-space] }\nreference: { kind: fokker-planck, lower: -2, upper: 2, cells: 40 }"
    ).replacingOccurrences(of: "dimension: 2", with: "dimension: 1"),
    fragment: "needs a kinetic-fokker-planck reference"),
  BadJob(
    label: "reference PDE with a Gaussian interaction",
    text: replacing(
      "metrics: [second-moment] }",
      "metrics: [second-moment] }\nreference: { kind: fokker-planck, lower: -2, upper: 2, cells: 40 }"
    ).replacingOccurrences(of: "dimension: 2", with: "dimension: 1").replacingOccurrences(
      of: "potential: { kind: double-well } }",
      with: "potential: { kind: double-well }, interaction: { kind: gaussian, strength: 1, width: 0.5 } }"),
    fragment: "only fokker-planck has an interacting reference"),
  BadJob(
    label: "analysis name with a slash",
    text: baseJob + "analysis:\n  - { name: a/b, kind: reduction, metric: second-moment }\n",
    fragment: "letters, digits"),
]

@Suite struct BadJobCorpusTests {
  /// Each case: exit status 2, one line naming the fault, nothing written in the working
  /// folder, within a CPU-time limit of 2 s and an address-space limit of 4 GiB (ulimit).
  @Test(arguments: corpus)
  func refusedWithAClearMessage(_ bad: BadJob) throws {
    let folder = try temporaryFolder("corpus")
    defer { try? FileManager.default.removeItem(at: folder) }
    try "x,y\n0,0\n1e200,1\n".write(to: folder.appendingPathComponent("huge.csv"), atomically: true, encoding: .utf8)
    let job = folder.appendingPathComponent("edge.yaml")
    try Data(bad.text.utf8).write(to: job)
    let before = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    for command in ["validate", "run", "plan"] {
      let r = try runProcess(
        "/bin/sh",
        ["-c", "ulimit -t 2; ulimit -v 4194304; exec \"$0\" \"$@\"", try mfsweepPath(), command, "edge.yaml"],
        currentDirectory: folder)
      #expect(r.status == 2, "\(bad.label) (\(command)): status \(r.status), \(r.stderr)")
      let lines = r.stderr.split(separator: "\n")
      #expect(lines.count == 1, "\(bad.label) (\(command)): \(r.stderr)")
      #expect(r.stderr.hasPrefix("error: edge.yaml"), "\(bad.label) (\(command)): \(r.stderr)")
      #expect(r.stderr.contains(bad.fragment), "\(bad.label) (\(command)): expected '\(bad.fragment)' in \(r.stderr)")
    }
    let after = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    #expect(after == before, "\(bad.label): wrote \(Set(after).subtracting(before))")
  }

  @Test func theCorpusIsLargeEnough() {
    #expect(corpus.count >= 40)
  }

  /// Binary junk that is not UTF-8 at all.
  @Test func nonUTF8IsRefused() throws {
    let folder = try temporaryFolder("corpus")
    defer { try? FileManager.default.removeItem(at: folder) }
    try Data([0xff, 0xfe, 0x00, 0x80, 0x81, 0xc3]).write(to: folder.appendingPathComponent("junk.yaml"))
    let r = try mfsweep(["validate", "junk.yaml"], in: folder)
    #expect(r.status == 2 && r.stderr.contains("not UTF-8"), "\(r.stderr)")
    let missing = try mfsweep(["validate", "absent.yaml"], in: folder)
    #expect(missing.status == 2 && missing.stderr.contains("no such file"), "\(missing.stderr)")
  }

  /// The escape of the report: a name with `..` cannot leave the working folder, while an
  /// explicit `output` with `..` goes where it says.
  @Test func explicitOutputGoesWhereItSays() throws {
    let folder = try temporaryFolder("escape")
    defer { try? FileManager.default.removeItem(at: folder) }
    let inner = folder.appendingPathComponent("work")
    try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
    _ = try writeJob(baseJob + "output: ../beside\n", named: "job.yaml", in: inner)
    let r = try mfsweep(["run", "job.yaml"], in: inner)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("beside/task-0000-of-0001.h5").path))
  }
}

// MARK: - mfsweep compare at the edges of double precision

@Suite struct CompareEdgeTests {
  func write(_ rows: [[Double]], _ name: String, in folder: URL) throws -> String {
    let text = rows.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n"
    let path = folder.appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// A number field of the JSON output, read with Swift's correctly rounded `Double(_:)`
  /// (Foundation's JSON parser on Linux is not exact in the last bits).
  func exactNumber(_ r: ProcessResult, _ key: String) -> Double? {
    guard let start = r.stdout.range(of: "\"\(key)\": ") else { return nil }
    let rest = r.stdout[start.upperBound...]
    let text = rest.prefix { !",}".contains($0) }
    return Double(text)
  }

  func json(_ r: ProcessResult) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    return object as? [String: Any] ?? [:]
  }

  /// Scaling both sets by 2^k is exact and the command works at the scale of the largest
  /// coordinate, so every length it prints must scale by exactly 2^k (bitwise), and the KL
  /// divergence must not change at all: for huge (2^600), tiny (2^-600) and subnormal
  /// (2^-1060) scales.
  @Test(arguments: [600, -600, -1060, 300])
  func lengthsScaleExactly(_ k: Int) throws {
    let folder = try temporaryFolder("compare-edge")
    defer { try? FileManager.default.removeItem(at: folder) }
    let x: [[Double]] = [[0.5, 1], [1.25, -0.75], [2, 0.125], [-1, 0.5], [0.25, 0.375], [1.5, 1.5]]
    let y: [[Double]] = [[0, 0.25], [1, 1], [-0.5, -0.5], [1.75, 0.25], [0.75, -1], [0.125, 2]]
    let s = Double(sign: .plus, exponent: k, significand: 1)
    let a = try write(x, "a.csv", in: folder), b = try write(y, "b.csv", in: folder)
    let sa = try write(x.map { $0.map { $0 * s } }, "sa.csv", in: folder)
    let sb = try write(y.map { $0.map { $0 * s } }, "sb.csv", in: folder)
    let a1 = try write(x.map { [$0[0]] }, "a1.csv", in: folder), b1 = try write(y.map { [$0[0]] }, "b1.csv", in: folder)
    let sa1 = try write(x.map { [$0[0] * s] }, "sa1.csv", in: folder),
      sb1 = try write(y.map { [$0[0] * s] }, "sb1.csv", in: folder)
    for (metric, files, scaled, power) in [
      ("w2", (a, b), (sa, sb), 1.0), ("w2", (a1, b1), (sa1, sb1), 1.0), ("sliced-w2", (a, b), (sa, sb), 1.0),
      ("sinkhorn", (a, b), (sa, sb), 1.0), ("kl", (a, b), (sa, sb), 0.0),
    ] {
      let plain = try mfsweep(["compare", files.0, files.1, "--metric", metric, "--json", "--k", "2"], in: folder)
      let big = try mfsweep(["compare", scaled.0, scaled.1, "--metric", metric, "--json", "--k", "2"], in: folder)
      #expect(plain.status == 0 && big.status == 0, "\(metric) 2^\(k): \(plain.stderr) \(big.stderr)")
      #expect(try json(plain)["value"] is Double && json(big)["value"] is Double, "\(plain.stdout) \(big.stdout)")
      let v = exactNumber(plain, "value"), w = exactNumber(big, "value")
      #expect(v != nil && w != nil, "\(metric): \(plain.stdout) \(big.stdout)")
      if let v, let w {
        let expected = power == 0 ? v : v * s
        #expect(w == expected, "\(metric) at 2^\(k): \(w) against \(expected)")
      }
    }
  }

  /// NaN and infinite coordinates are refused with the file and the row; JSON output always
  /// parses, with null and a reason for values that overflow in the input's units.
  @Test func nonFiniteAndOverflowingValues() throws {
    let folder = try temporaryFolder("compare-edge")
    defer { try? FileManager.default.removeItem(at: folder) }
    let good = try write([[0, 0], [1, 1]], "good.csv", in: folder)
    for (name, text) in [("nan.csv", "1,2\nnan,0\n"), ("inf.csv", "1,2\n3,inf\n"), ("neg.csv", "1,-inf\n2,2\n")] {
      try text.write(toFile: folder.appendingPathComponent(name).path, atomically: true, encoding: .utf8)
      for metric in ["w2", "sinkhorn", "sliced-w2", "kl"] {
        let r = try mfsweep(["compare", name, good, "--metric", metric, "--json"], in: folder)
        #expect(r.status == 2, "\(name) \(metric): \(r.status) \(r.stdout)")
        #expect(r.stderr.contains(name) && r.stderr.contains("row"), "\(r.stderr)")
      }
    }
    let huge = try write([[1e200, 0], [2e200, 1], [3e200, 5]], "huge.csv", in: folder)
    let other = try write([[0, 0], [1e200, 1], [-1e200, 2]], "other.csv", in: folder)
    for metric in ["w2", "sinkhorn", "sliced-w2", "kl"] {
      let r = try mfsweep(["compare", huge, other, "--metric", metric, "--json", "--k", "1"], in: folder)
      #expect(r.status == 0, "\(metric): \(r.stderr)")
      let object = try json(r)
      let value = object["value"] as? Double
      #expect(value.map { $0.isFinite && $0 > 0 } == true, "\(metric): \(r.stdout)")
      if metric == "sinkhorn" {
        #expect(
          object["divergence"] is NSNull && object["length_scale"] != nil
            && (object["null_reason"] as? String)?.contains("divergence") == true, "\(r.stdout)")
      }
    }
    // Exact W2 of the huge sets against the closed form of the optimal matching: sorted by
    // first coordinate, x_i ↔ y_(i) is optimal here (checked by brute force over 3! matchings).
    let r = try mfsweep(["compare", huge, other, "--json"], in: folder)
    let xs: [[Double]] = [[1, 0], [2, 1e-200], [3, 5e-200]], ys: [[Double]] = [[0, 0], [1, 1e-200], [-1, 2e-200]]
    var best = Double.infinity
    for p in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
      var cost = 0.0
      for i in 0..<3 { cost += zip(xs[i], ys[p[i]]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
      best = min(best, cost)
    }
    let expected = (best / 3).squareRoot() * 1e200
    let value = try json(r)["value"] as? Double ?? .nan
    #expect(abs(value - expected) <= 1e-14 * expected, "\(value) against \(expected)")
  }
}

/// One malformed `compare` call: files to write, the arguments, a fragment of the message.
struct BadCompare: CustomStringConvertible, Sendable {
  var label: String
  var files: [String: String]
  var arguments: [String]
  var fragment: String
  var description: String { label }
}

private let good2 = "0,0\n1,1\n2,0.5\n"
private let good2b = "0.5,0\n1,2\n-1,0.5\n"

let compareCorpus: [BadCompare] = [
  BadCompare(label: "missing file", files: [:], arguments: ["absent.csv", "b.csv"], fragment: "absent.csv"),
  BadCompare(label: "empty file", files: ["a.csv": ""], arguments: ["a.csv", "b.csv"], fragment: "a.csv"),
  BadCompare(label: "header only", files: ["a.csv": "x,y\n"], arguments: ["a.csv", "b.csv"], fragment: "a.csv"),
  BadCompare(label: "ragged rows", files: ["a.csv": "1,2\n3\n"], arguments: ["a.csv", "b.csv"], fragment: "a.csv"),
  BadCompare(
    label: "a word in the data", files: ["a.csv": "1,2\n3,four\n"], arguments: ["a.csv", "b.csv"], fragment: "a.csv"),
  BadCompare(label: "NaN", files: ["a.csv": "1,2\nnan,0\n"], arguments: ["a.csv", "b.csv"], fragment: "row"),
  BadCompare(label: "infinity", files: ["a.csv": "1,2\ninf,0\n"], arguments: ["a.csv", "b.csv"], fragment: "row"),
  BadCompare(
    label: "minus infinity", files: ["a.csv": "1,-inf\n2,0\n"], arguments: ["a.csv", "b.csv"], fragment: "row"),
  BadCompare(
    label: "overflowing literal", files: ["a.csv": "1e400,2\n2,0\n"], arguments: ["a.csv", "b.csv"], fragment: "a.csv"),
  BadCompare(
    label: "dimension mismatch", files: ["a.csv": "1,2,3\n4,5,6\n"], arguments: ["a.csv", "b.csv"],
    fragment: "different dimensions"),
  BadCompare(
    label: "weights of the wrong count", files: ["w.csv": "1\n2\n"],
    arguments: ["b.csv", "c.csv", "--weights-a", "w.csv"],
    fragment: "holds 2 weights"),
  BadCompare(
    label: "a negative weight", files: ["w.csv": "1\n-2\n1\n"], arguments: ["b.csv", "c.csv", "--weights-b", "w.csv"],
    fragment: "-2"),
  BadCompare(
    label: "a missing weight column", files: [:], arguments: ["b.csv", "c.csv", "--weights-a", "column:mass"],
    fragment: "mass"),
  BadCompare(
    label: "a pandas header 0,1 without --header", files: ["a.csv": "0,1\n1,2\n"], arguments: ["a.csv", "b.csv"],
    fragment: "--header yes or --header no"),
  BadCompare(
    label: "too few points for k", files: [:], arguments: ["b.csv", "c.csv", "--metric", "kl"], fragment: "--k 5"),
  BadCompare(
    label: "not an HDF5 file", files: ["x.h5": "not hdf5"], arguments: ["x.h5:/data", "b.csv"], fragment: "x.h5"),
  BadCompare(label: "HDF5 file missing", files: [:], arguments: ["absent.h5:/data", "b.csv"], fragment: "absent.h5"),
  BadCompare(
    label: "binary junk", files: ["a.csv": "\u{7f}ELF\u{01}\u{02}\u{03}"], arguments: ["a.csv", "b.csv"],
    fragment: "a.csv"),
  BadCompare(label: "a folder as input", files: ["d/keep.csv": good2], arguments: ["d", "b.csv"], fragment: "d"),
  BadCompare(
    label: "epsilon zero", files: [:], arguments: ["b.csv", "c.csv", "--metric", "sinkhorn", "--epsilon", "0"],
    fragment: "--epsilon"),
  BadCompare(
    label: "epsilon negative", files: [:], arguments: ["b.csv", "c.csv", "--epsilon", "-1"], fragment: "--epsilon"),
  BadCompare(
    label: "epsilon NaN", files: [:], arguments: ["b.csv", "c.csv", "--epsilon", "nan"], fragment: "--epsilon"),
  BadCompare(
    label: "tolerance zero", files: [:], arguments: ["b.csv", "c.csv", "--metric", "sinkhorn", "--tolerance", "0"],
    fragment: "tolerance"),
  BadCompare(
    label: "projections zero", files: [:], arguments: ["b.csv", "c.csv", "--projections", "0"],
    fragment: "--projections"),
  BadCompare(label: "k zero", files: [:], arguments: ["b.csv", "c.csv", "--k", "0"], fragment: "--k"),
  BadCompare(
    label: "threads zero", files: [:], arguments: ["b.csv", "c.csv", "--threads", "0"], fragment: "--threads"),
  BadCompare(label: "unknown metric", files: [:], arguments: ["b.csv", "c.csv", "--metric", "w3"], fragment: "w3"),
  BadCompare(label: "one argument", files: [:], arguments: ["b.csv"], fragment: "<b>"),
  BadCompare(label: "seed negative", files: [:], arguments: ["b.csv", "c.csv", "--seed", "-1"], fragment: "seed"),
  BadCompare(
    label: "projections a word", files: [:], arguments: ["b.csv", "c.csv", "--projections", "many"], fragment: "many"),
  BadCompare(label: "unknown option", files: [:], arguments: ["b.csv", "c.csv", "--bogus"], fragment: "--bogus"),
  BadCompare(label: "non-UTF-8 file", files: [:], arguments: ["latin.csv", "b.csv"], fragment: "latin.csv"),
  BadCompare(
    label: "slice of a missing dataset", files: [:], arguments: ["b.csv", "x.h5:/runs/r00000/particles[3]"],
    fragment: "x.h5"),
]

@Suite struct BadCompareCorpusTests {
  /// Each case exits 2 with a message naming the fault, prints nothing on standard output, and
  /// stays within a CPU-time limit of 2 s and an address space of 4 GiB.
  @Test(arguments: compareCorpus)
  func refused(_ bad: BadCompare) throws {
    let folder = try temporaryFolder("compare-corpus")
    defer { try? FileManager.default.removeItem(at: folder) }
    var files = ["b.csv": good2, "c.csv": good2b]
    for (name, text) in bad.files { files[name] = text }
    for (name, text) in files {
      let url = folder.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data(text.utf8).write(to: url)
    }
    try Data([0x31, 0x2c, 0xe9, 0x0a]).write(to: folder.appendingPathComponent("latin.csv"))
    let r = try runProcess(
      "/bin/sh",
      ["-c", "ulimit -t 2; ulimit -v 4194304; exec \"$0\" \"$@\"", try mfsweepPath(), "compare"] + bad.arguments,
      currentDirectory: folder)
    #expect(r.status == 2, "\(bad.label): status \(r.status), \(r.stdout) \(r.stderr)")
    #expect(r.stdout.isEmpty, "\(bad.label): \(r.stdout)")
    #expect(r.stderr.lowercased().hasPrefix("error"), "\(bad.label): \(r.stderr)")
    #expect(r.stderr.contains(bad.fragment), "\(bad.label): expected '\(bad.fragment)' in \(r.stderr)")
  }

  @Test func theCorpusIsLargeEnough() { #expect(compareCorpus.count >= 30) }
}

// MARK: - Slurm scripts

@Suite struct SubmitSafetyTests {
  /// Hostile output folders: each is either refused with exit 2 (control characters, double
  /// quotes) or rendered so that running both scripts executes nothing it holds.
  @Test func hostileOutputsNeverReachTheShell() throws {
    let folder = try temporaryFolder("inject")
    defer { try? FileManager.default.removeItem(at: folder) }
    let marker = folder.appendingPathComponent("PWNED").path
    let hostile = [
      "o$(touch \(marker))", "o`touch \(marker)`", "o'; touch \(marker); '", "o;touch \(marker)",
      "o && touch \(marker)",
      "o$IFS$(touch${IFS}\(marker))", "o%x\\$(touch \(marker))",
    ]
    for (i, output) in hostile.enumerated() {
      let yaml =
        baseJob + "sweep: {grid: {seed: [1, 2]}}\noutput: '\(output.replacingOccurrences(of: "'", with: "''"))'\n"
      let job = try writeJob(yaml, named: "job\(i).yaml", in: folder)
      let r = try mfsweep(["submit", job, "--tasks", "2", "--time", "10:00", "--dry-run"], in: folder)
      #expect(r.status == 0, "\(output): \(r.stderr)")
      // Run both rendered scripts with stand-ins for srun, scontrol and mfsweep's own path.
      // Split after the line naming the aggregation script (the rest of that part is a comment).
      let parts = r.stdout.components(
        separatedBy: "aggregate.sbatch  (sbatch --parsable --dependency=afterany:<sweep job id>)\n")
      #expect(parts.count == 2, "\(r.stdout)")
      let bin = folder.appendingPathComponent("bin")
      try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
      for tool in ["srun", "scontrol"] {
        let stub = bin.appendingPathComponent(tool).path
        try "#!/bin/sh\nexit 0\n".write(toFile: stub, atomically: true, encoding: .utf8)
        chmod(stub, 0o755)
      }
      for (k, script) in parts.enumerated() {
        let path = folder.appendingPathComponent("script\(i)-\(k).sh").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["SLURM_ARRAY_TASK_ID"] = "0"
        env["SLURM_ARRAY_JOB_ID"] = "1"
        env["SLURM_JOB_ID"] = "1"
        env["SLURM_JOB_NODELIST"] = "node"
        _ = try runProcess("/bin/bash", [path], environment: env)
      }
      #expect(!FileManager.default.fileExists(atPath: marker), "\(output) executed a command")
      // The folder the scripts pass on is exactly the one written.
      #expect(
        r.stdout.contains("OUTPUT=" + SlurmSubmission.shellQuote(folder.appendingPathComponent(output).path)),
        "\(r.stdout)")
    }
    for output in ["o\"x", "o\\nx"] {
      let job = try writeJob(
        baseJob + "output: \"\(output.replacingOccurrences(of: "\"", with: "\\\""))\"\n", named: "bad.yaml", in: folder)
      let r = try mfsweep(["submit", job, "--tasks", "1", "--time", "10:00", "--dry-run"], in: folder)
      #expect(r.status == 2, "\(output): \(r.stdout)")
    }
  }

  @Test func shellQuoteRoundTrips() throws {
    for text in ["plain", "a b", "it's", "$(x)", "`x`", "\"q\"", "a\\b", "'''", ""] {
      let r = try runProcess("/bin/sh", ["-c", "printf %s " + SlurmSubmission.shellQuote(text)])
      #expect(r.stdout == text, "\(text) → \(r.stdout)")
    }
  }

  @Test func slurmTimes() {
    let cases: [(String, Int?)] = [
      ("30", 1800), ("1:30", 90), ("01:30:00", 5400), ("1-0", 86400), ("1-12:30", 131400), ("2-00:00:10", 172810),
      ("abc-1", nil), ("1:75", nil), ("", nil), ("-1", nil), ("1-25", nil), ("1:2:3:4", nil), ("1.5", nil), ("٣", nil),
    ]
    for (text, seconds) in cases {
      #expect(SlurmSubmission.seconds(ofSlurmTime: text) == seconds, "\(text)")
    }
  }

  /// The templates built into the binary are the files in slurm/, and a submission from a
  /// binary copied elsewhere renders without any templates beside it.
  @Test func builtInTemplatesMatchTheFiles() throws {
    let root = repositoryRoot().appendingPathComponent("slurm")
    #expect(
      try String(contentsOf: root.appendingPathComponent("sweep.sbatch"), encoding: .utf8) == SlurmTemplates.sweep)
    #expect(
      try String(contentsOf: root.appendingPathComponent("aggregate.sbatch"), encoding: .utf8)
        == SlurmTemplates.aggregate)
    let folder = try temporaryFolder("copied")
    defer { try? FileManager.default.removeItem(at: folder) }
    let copy = folder.appendingPathComponent("mfsweep").path
    try FileManager.default.copyItem(atPath: try mfsweepPath(), toPath: copy)
    let job = try writeJob(baseJob, in: folder)
    let r = try runProcess(copy, ["submit", job, "--tasks", "1", "--time", "5", "--dry-run"], currentDirectory: folder)
    #expect(r.status == 0 && r.stdout.contains("#SBATCH --signal=B:USR1@120"), "\(r.stderr)")
  }

  /// The array script's signal policy, run with stand-ins: USR1 (the time-limit warning)
  /// requeues the task up to the cap; TERM (scancel) stops it without a requeue.
  @Test(arguments: [("USR1", "0", true), ("USR1", "2", false), ("TERM", "0", false)])
  func signalPolicy(_ signal: String, _ restarts: String, _ requeues: Bool) throws {
    let folder = try temporaryFolder("signals")
    defer { try? FileManager.default.removeItem(at: folder) }
    let jobPath = try writeJob(baseJob, in: folder)
    let bin = folder.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    let log = folder.appendingPathComponent("calls.log").path
    // The launch: waits for a TERM, then "checkpoints" and exits 3. srun is never signalled
    // itself (it would kill its step): `scancel --signal=TERM JOB` reaches the tasks.
    let pidFile = folder.appendingPathComponent("task.pid").path
    let launch = bin.appendingPathComponent("srun").path
    try
      "#!/bin/bash\ntrap 'echo checkpointed >> \(log); exit 3' TERM\necho $$ > \(pidFile)\necho started >> \(log)\nwhile true; do sleep 0.05; done\n"
      .write(toFile: launch, atomically: true, encoding: .utf8)
    let scontrol = bin.appendingPathComponent("scontrol").path
    try "#!/bin/sh\necho scontrol \"$@\" >> \(log)\n".write(toFile: scontrol, atomically: true, encoding: .utf8)
    let scancel = bin.appendingPathComponent("scancel").path
    try "#!/bin/sh\necho scancel \"$@\" >> \(log)\nkill -TERM $(cat \(pidFile))\n".write(
      toFile: scancel, atomically: true, encoding: .utf8)
    let status = bin.appendingPathComponent("fake-mfsweep").path
    try "#!/bin/sh\nexit 3\n".write(toFile: status, atomically: true, encoding: .utf8)
    for path in [launch, scontrol, scancel, status] { chmod(path, 0o755) }
    var submission = SlurmSubmission(
      job: try Job.load(path: jobPath), jobFile: jobPath, output: folder.appendingPathComponent("out").path,
      executable: status,
      tasks: 1, ranks: 1, time: "10:00", partition: nil, account: nil, grace: 30, maxArraySize: 10, templates: nil)
    submission.maxRequeues = 2
    try submission.validate()
    let script = folder.appendingPathComponent("sweep.sbatch").path
    try submission.render().sweep.write(toFile: script, atomically: true, encoding: .utf8)
    var env = ProcessInfo.processInfo.environment
    env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
    env["SLURM_ARRAY_TASK_ID"] = "0"
    env["SLURM_ARRAY_JOB_ID"] = "1"
    env["SLURM_JOB_ID"] = "7"
    env["SLURM_JOB_NODELIST"] = "node"
    env["SLURM_RESTART_COUNT"] = restarts
    // The test runner may leave SIGUSR1 ignored, and a shell cannot trap a signal ignored on
    // entry: start the script with default dispositions, as slurmstepd does.
    let driver =
      "env --default-signal bash \(script) > \(folder.path)/out.txt 2>&1 & pid=$!; "
      + "for i in $(seq 1 100); do grep -q started \(log) 2>/dev/null && break; sleep 0.05; done; "
      + "kill -\(signal) $pid; wait $pid; echo \"exit=$?\" >> \(folder.path)/out.txt"
    _ = try runProcess("/bin/bash", ["-c", driver], environment: env, timeout: 60)
    let calls = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    let out = (try? String(contentsOfFile: folder.appendingPathComponent("out.txt").path, encoding: .utf8)) ?? ""
    #expect(calls.contains("checkpointed"), "\(calls) \(out)")
    #expect(calls.contains("scancel --signal=TERM 7"), "\(calls)")
    #expect(calls.contains("scontrol requeue 7") == requeues, "\(calls) \(out)")
    #expect(out.contains(requeues ? "exit=0" : "exit=3"), "\(out)")
    if signal == "USR1" && !requeues { #expect(out.contains("the cap (--max-requeues 2)"), "\(out)") }
  }
}
