// Benchmarks and tables for the divergence diagnostics (not tests).
//
//   DivergenceBenchmark scan [--reps R] [--sizes 1000,10000] [--dims 1,2,..] [--leaves 8,32,..]
//                            [--rows B]             (B: brute-force GEMM block rows, 0 = auto)
//                                                       k-d tree vs brute force, by (n, d)
//   DivergenceBenchmark generate --n N --d D --seed S --out FILE
//                                                       P ~ N(0, I), Q ~ N(m, s² I) as raw f64
//   DivergenceBenchmark knn-kl --input FILE --n N --d D [--k K] [--reps R] [--threads T]
//                                                       WKV KL and KL entropy timings (JSON)
//   DivergenceBenchmark bias-table [--reps R] [--k K] [--sizes 100,1000,10000]
//                                  [--setting test|benchmark --d D]
//                                                       the tables of docs/KL-BIAS.md
import BenchmarkSupport
import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

func seconds(_ body: () throws -> Void) rethrows -> Double { try Bench.seconds(body) }
/// CPU seconds: on a shared machine, less sensitive than wall time to other processes.
func cpuSeconds(_ body: () throws -> Void) rethrows -> Double { try Bench.cpuSeconds(body) }
let median = Bench.median

func option(_ name: String, _ fallback: String? = nil) -> String {
  if let value = Bench.option("--" + name) { return value }
  guard let fallback else {
    FileHandle.standardError.write(Data("missing --\(name)\n".utf8))
    exit(2)
  }
  return fallback
}

func intOption(_ name: String, _ fallback: Int? = nil) -> Int {
  guard let v = Int(option(name, fallback.map(String.init))) else {
    FileHandle.standardError.write(Data("--\(name) must be an integer\n".utf8))
    exit(2)
  }
  return v
}

func f(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }

/// The benchmark's pair of laws in dimension d: P = N(0, I), Q = N(0.5·1, 1.5 I).
func benchmarkLaws(dimension d: Int) -> (GaussianLaw, GaussianLaw) {
  (
    GaussianLaw.standard(dimension: d),
    GaussianLaw.isotropic(mean: [Double](repeating: 0.5, count: d), variance: 1.5)
  )
}

func intList(_ name: String, _ fallback: String) -> [Int] {
  option(name, fallback).split(separator: ",").compactMap { Int($0) }
}

/// Tree vs brute force: median seconds of self k-NN (k = 5, zero distances skipped).
func scan() {
  let reps = intOption("reps", 5)
  let k = 5
  let sizes = intList("sizes", "1000,10000"), dims = intList("dims", "1,2,3,5,8,10,20")
  let leaves = intList("leaves", "8,32,64")
  let rows = intOption("rows", 0)
  print("CPU seconds, medians of \(reps); self-queries, k = \(k), zero distances skipped, one thread")
  print("")
  print("| n | d | tree leaf | build (s) | tree query (s) | brute force (s) | tree / brute | equal |")
  print("|---|---|---|---|---|---|---|---|")
  for n in sizes {
    for d in dims {
      let p = GaussianLaw.standard(dimension: d).sample(
        count: n, field: GaussianField(seed: 11, runIndex: UInt64(d)))
      for leaf in leaves {
        var tb = [Double](), tq = [Double](), tf = [Double]()
        var equal = true
        for _ in 0..<reps {
          var tree: KDTree? = nil
          tb.append(cpuSeconds { tree = KDTree(p, leafSize: leaf) })
          var a: NeighbourTable? = nil, b: NeighbourTable? = nil
          tq.append(
            cpuSeconds {
              a = tree?.neighbours(of: p, k: k, exclusion: .sameIndex, zeroDistances: .skip)
            })
          tf.append(
            cpuSeconds {
              b = BruteForceNeighbours.neighbours(
                of: p, in: p, k: k, exclusion: .sameIndex, zeroDistances: .skip, blockRows: rows)
            })
          equal = equal && a == b
        }
        let tree = median(tb) + median(tq), brute = median(tf)
        print(
          "| \(n) | \(d) | \(leaf) | \(f(median(tb))) | \(f(median(tq))) | \(f(brute)) | "
            + "\(f(tree / brute, 2)) | \(equal) |")
      }
    }
  }
}

func generate() {
  let n = intOption("n"), d = intOption("d"), seed = UInt64(intOption("seed", 1))
  let path = option("out")
  let (lawP, lawQ) = benchmarkLaws(dimension: d)
  let field = GaussianField(seed: seed, runIndex: 0)
  let p = lawP.sample(count: n, field: field, step: 0)
  let q = lawQ.sample(count: n, field: field, step: 1)
  let bytes = (p.values + q.values).withUnsafeBufferPointer { Data(buffer: $0) }
  do {
    try bytes.write(to: URL(fileURLWithPath: path))
  } catch {
    FileHandle.standardError.write(Data("cannot write \(path): \(error)\n".utf8))
    exit(1)
  }
  print(
    "{\"closed_form_kl\": \(klDivergence(of: lawP, relativeTo: lawQ)), "
      + "\"closed_form_entropy\": \(lawP.entropy)}")
}

func knnKL() {
  let n = intOption("n"), d = intOption("d"), k = intOption("k", 5)
  let reps = intOption("reps", 5), threads = intOption("threads", 1)
  let path = option("input")
  guard let data = FileManager.default.contents(atPath: path), data.count == 2 * n * d * 8 else {
    FileHandle.standardError.write(Data("cannot read \(2 * n * d) doubles from \(path)\n".utf8))
    exit(1)
  }
  var values = [Double](repeating: 0, count: 2 * n * d)
  values.withUnsafeMutableBytes { _ = data.copyBytes(to: $0) }
  let p = PointCloud(values: Array(values[0..<(n * d)]), dimension: d)
  let q = PointCloud(values: Array(values[(n * d)...]), dimension: d)
  let options = NeighbourSearchOptions(threads: threads)
  let method = options.method.resolved(referenceCount: n, dimension: d)
  var kl = 0.0, entropy = 0.0
  var tk = [Double](), te = [Double](), ck = [Double](), ce = [Double]()
  do {
    for _ in 0..<reps {
      var wall = 0.0
      ck.append(
        try cpuSeconds {
          wall = try seconds { kl = try klDivergence(of: p, relativeTo: q, k: k, options: options).value }
        })
      tk.append(wall)
      ce.append(
        try cpuSeconds {
          wall = try seconds { entropy = try differentialEntropy(of: p, k: k, options: options).value }
        })
      te.append(wall)
    }
  } catch {
    FileHandle.standardError.write(Data("estimator failed: \(error)\n".utf8))
    exit(1)
  }
  print(
    "{\"kl\": \(kl), \"entropy\": \(entropy), \"kl_median_s\": \(median(tk)), "
      + "\"entropy_median_s\": \(median(te)), \"kl_cpu_median_s\": \(median(ck)), "
      + "\"entropy_cpu_median_s\": \(median(ce)), \"reps\": \(reps), \"threads\": \(threads), "
      + "\"method\": \"\(method)\"}")
}

/// Mean and standard deviation of the WKV estimate over seeds. `--setting test` (default) is
/// the setting of docs/KL-BIAS.md checked by the tests: d = 2, P = N(0, I), Q = N((1, 1), 2I),
/// repetition r drawing P at step 0 and Q at step 1 of GaussianField(seed: 2009, runIndex: r).
/// `--setting benchmark --d D` uses the benchmark's laws in dimension D.
func biasTable() {
  let reps = intOption("reps", 400), k = intOption("k", 5)
  let sizes = intList("sizes", "100,1000,10000")
  let p: GaussianLaw, q: GaussianLaw
  if option("setting", "test") == "benchmark" {
    (p, q) = benchmarkLaws(dimension: intOption("d", 10))
  } else {
    p = GaussianLaw.standard(dimension: 2)
    q = GaussianLaw.isotropic(mean: [1, 1], variance: 2)
  }
  let exact = klDivergence(of: p, relativeTo: q)
  print("d = \(p.dimension), KL(P‖Q) = \(f(exact, 6)) (closed form), k = \(k), \(reps) repetitions")
  print("")
  print("| n = m | mean D̂ | bias (mean − KL) | sd over seeds | sd of the mean | bias / KL |")
  print("|---|---|---|---|---|---|")
  for n in sizes {
    var values = [Double]()
    for r in 0..<reps {
      let field = GaussianField(seed: 2009, runIndex: UInt64(r))
      let x = p.sample(count: n, field: field, step: 0)
      let y = q.sample(count: n, field: field, step: 1)
      guard let e = try? klDivergence(of: x, relativeTo: y, k: k) else { exit(1) }
      values.append(e.value)
    }
    let mean = values.reduce(0, +) / Double(reps)
    let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(reps - 1)).squareRoot()
    print(
      "| \(n) | \(f(mean)) | \(f(mean - exact)) | \(f(sd)) | \(f(sd / Double(reps).squareRoot())) | "
        + "\(f((mean - exact) / exact, 3)) |")
  }
}

switch CommandLine.arguments.dropFirst().first {
case "scan": scan()
case "generate": generate()
case "knn-kl": knnKL()
case "bias-table": biasTable()
default:
  FileHandle.standardError.write(Data("usage: DivergenceBenchmark scan|generate|knn-kl|bias-table\n".utf8))
  exit(2)
}
