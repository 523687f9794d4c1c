// Transport benchmark: the optimal-transport diagnostics against POT on shared data.
//
//   TransportBenchmark generate DIR
//       writes the benchmark clouds as raw little-endian float64, row-major (n × d), to DIR
//   TransportBenchmark run CASE DIR [--reps R] [--warmup W] [--threads T]
//       times one case on the files in DIR (W untimed runs first, default 1); prints one JSON
//       object with wall and process-CPU seconds per timed run
//   TransportBenchmark sinkhorn-memory [--n N] [--threads T]
//       Sinkhorn at n = N (default 10⁵), d = 10, ε = 5% of the largest cost; prints time,
//       iterations and the peak resident set size (VmHWM)
//
// Cases: exact (n = 5000, d = 10), sinkhorn (n = 10⁴, d = 10, ε = 0.05 · max cost,
// tolerance 1e-9 on ‖Pᵀ1 − b‖₂ as POT's stopThr), sliced (n = 10⁴, d = 10, 200 directions).
// scripts/bench-transport.sh runs everything together with the Python baseline.

import BenchmarkSupport
import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

let dimension = 10

/// The benchmark clouds: x ~ N(0, I), y ~ N(0.5, 1.44 I), from Philox (stream .data).
func makeCloud(_ n: Int, seed: UInt64, shift: Double, scale: Double) -> [Double] {
  var z = [Double](repeating: 0, count: n * dimension)
  let field = GaussianField(seed: seed, runIndex: 0)
  z.withUnsafeMutableBufferPointer { p in
    field.fillNormals(p, rows: n, dimension: dimension, firstParticle: 0, step: 0, stream: .data)
  }
  return z.map { shift + scale * $0 }
}

/// Case name → (points per cloud, seed of x, seed of y).
let cases: [String: (Int, UInt64, UInt64)] = [
  "exact": (5000, 11, 12),
  "sinkhorn": (10000, 21, 22),
  "sliced": (10000, 31, 32),
]

/// Exact transport between general measures (the network simplex): name → (n, m, weighted,
/// seeds). Weights are 0.1 + U(0, 1), from SplitMix, written as `NAME_a.f64`, `NAME_b.f64`.
let generalCases: [String: (Int, Int, Bool, UInt64, UInt64)] = [
  "weighted-5000": (5000, 5000, true, 51, 52),
  "uniform-2000x7000": (2000, 7000, false, 61, 62),
  "weighted-2000x7000": (2000, 7000, true, 71, 72),
]

func weights(_ n: Int, seed: UInt64) -> [Double] {
  var g = SplitMix(seed: seed)
  return (0..<n).map { _ in 0.1 + Double(g.next() >> 11) * 0x1p-53 }
}
let slicedProjections = 200
let slicedSeed: UInt64 = 2024

func write(_ values: [Double], to url: URL) throws { try Bench.writeRaw(values, to: url) }
func read(_ url: URL) throws -> [Double] { try Bench.readRaw(url) }
let peakResidentKiB = Bench.peakResidentKiB
let median = Bench.median

func option(_ name: String, default value: Int) -> Int {
  Bench.option(name).flatMap { Int($0) } ?? value
}

func json(_ fields: [(String, Any)]) -> String {
  func encode(_ v: Any) -> String {
    switch v {
    case let s as String: return "\"\(s)\""
    case let d as Double: return d.isFinite ? "\(d)" : "null"
    case let i as Int: return "\(i)"
    case let b as Bool: return b ? "true" : "false"
    case let a as [Double]: return "[" + a.map { encode($0) }.joined(separator: ", ") + "]"
    default: return "null"
    }
  }
  return "{" + fields.map { "\"\($0.0)\": \(encode($0.1))" }.joined(separator: ", ") + "}"
}

/// CPU seconds of the timed runs, in order (filled by `timed`).
nonisolated(unsafe) var cpuTimes: [Double] = []

/// Wall-clock seconds of `body`; its CPU seconds are appended to `cpuTimes`.
func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
  let c0 = Bench.processCPUSeconds()
  let start = Bench.now()
  let r = try body()
  let wall = Bench.now() - start
  cpuTimes.append(Bench.processCPUSeconds() - c0)
  return (r, wall)
}

func generate(into dir: URL) throws {
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  for (name, (n, sx, sy)) in cases {
    try write(
      makeCloud(n, seed: sx, shift: 0, scale: 1), to: dir.appendingPathComponent("\(name)_x.f64"))
    try write(
      makeCloud(n, seed: sy, shift: 0.5, scale: 1.2),
      to: dir.appendingPathComponent("\(name)_y.f64"))
  }
  for (name, (n, m, weighted, sx, sy)) in generalCases {
    try write(makeCloud(n, seed: sx, shift: 0, scale: 1), to: dir.appendingPathComponent("\(name)_x.f64"))
    try write(makeCloud(m, seed: sy, shift: 0.5, scale: 1.2), to: dir.appendingPathComponent("\(name)_y.f64"))
    if weighted {
      try write(weights(n, seed: sx), to: dir.appendingPathComponent("\(name)_a.f64"))
      try write(weights(m, seed: sy), to: dir.appendingPathComponent("\(name)_b.f64"))
    }
  }
  // The sliced directions as a d × P matrix (POT's `projections` layout).
  let theta = OptimalTransport.slicingDirections(
    count: slicedProjections, dimension: dimension, seed: slicedSeed)
  var transposed = [Double](repeating: 0, count: theta.count)
  for p in 0..<slicedProjections {
    for k in 0..<dimension { transposed[k * slicedProjections + p] = theta[p * dimension + k] }
  }
  try write(transposed, to: dir.appendingPathComponent("sliced_directions.f64"))
}

func run(case name: String, dir: URL, reps timedReps: Int, warmup: Int, threads: Int) throws
  -> String
{
  let reps = timedReps + warmup
  let weighted = generalCases[name]?.2 ?? false
  let x = PointCloud(
    values: try read(dir.appendingPathComponent("\(name)_x.f64")), dimension: dimension,
    weights: weighted ? try read(dir.appendingPathComponent("\(name)_a.f64")) : nil)
  let y = PointCloud(
    values: try read(dir.appendingPathComponent("\(name)_y.f64")), dimension: dimension,
    weights: weighted ? try read(dir.appendingPathComponent("\(name)_b.f64")) : nil)
  var times = [Double]()
  var fields: [(String, Any)] = [
    ("case", name), ("side", "ours"), ("threads", threads), ("n", x.count), ("m", y.count),
  ]
  switch name {
  case "exact":
    var last: AssignmentResult?
    for _ in 0..<reps {
      let (r, t) = try timed {
        try OptimalTransport.exactWasserstein(between: x, and: y, threads: threads)
      }
      times.append(t)
      last = r
    }
    guard let r = last else { break }
    fields += [
      ("value", r.squaredDistance), ("optimal", r.status == .optimal), ("gap", r.optimalityGap),
      ("bids", r.statistics.bids), ("free_after_reduction", r.statistics.freeAfterReduction),
      ("path_scans", r.statistics.pathScans),
    ]
  case "sinkhorn":
    var last: SinkhornResult?
    var epsilon = 0.0
    for _ in 0..<reps {
      // End to end from the clouds: the largest cost (to set ε) and the solve.
      let (r, t) = try timed { () throws -> SinkhornResult in
        epsilon =
          0.05 * (try OptimalTransport.maximumSquaredDistance(between: x, and: y, threads: threads))
        return try OptimalTransport.sinkhorn(
          between: x, and: y, regularization: epsilon,
          options: SinkhornOptions(tolerance: 1e-9, maxIterations: 1000, threads: threads))
      }
      times.append(t)
      last = r
    }
    guard let r = last else { break }
    fields += [
      ("value", r.cost), ("regularization", epsilon), ("iterations", r.iterations),
      ("single_precision_iterations", r.singlePrecisionIterations),
      ("marginal_error", r.marginalError), ("converged", r.isConverged),
    ]
  case "sliced":
    var last: SlicedWassersteinResult?
    for _ in 0..<reps {
      let (r, t) = try timed {
        try OptimalTransport.slicedWasserstein(
          between: x, and: y, projections: slicedProjections, seed: slicedSeed, threads: threads)
      }
      times.append(t)
      last = r
    }
    guard let r = last else { break }
    fields += [("value", r.distance), ("standard_error_squared", r.standardError)]
  case _ where generalCases[name] != nil:
    var last: TransportPlanResult?
    for _ in 0..<reps {
      let (r, t) = try timed { try OptimalTransport.exactTransport(between: x, and: y, threads: threads) }
      times.append(t)
      last = r
    }
    guard let r = last else { break }
    fields += [
      ("value", r.squaredDistance), ("optimal", r.status == .optimal), ("gap", r.optimalityGap),
      ("marginal_error", r.marginalError), ("pivots", r.pivots), ("degenerate_pivots", r.degeneratePivots),
      ("pricing_rounds", r.pricingRounds), ("arcs", r.arcs), ("plan_entries", r.plan.count),
    ]
  default:
    throw TransportBenchmarkError.unknownCase(name)
  }
  let wall = Array(times.dropFirst(warmup)), cpu = Array(cpuTimes.dropFirst(warmup))
  fields += [
    ("times", wall), ("median", median(wall)), ("cpu_times", cpu),
    ("peak_rss_kib", peakResidentKiB()),
  ]
  return json(fields)
}

func sinkhornMemory(n: Int, threads: Int) throws -> String {
  let x = PointCloud(values: makeCloud(n, seed: 41, shift: 0, scale: 1), dimension: dimension)
  let y = PointCloud(values: makeCloud(n, seed: 42, shift: 0.5, scale: 1.2), dimension: dimension)
  let before = peakResidentKiB()
  let (r, t) = try timed { () throws -> (SinkhornResult, Double) in
    let eps =
      0.05 * (try OptimalTransport.maximumSquaredDistance(between: x, and: y, threads: threads))
    return (
      try OptimalTransport.sinkhorn(
        between: x, and: y, regularization: eps,
        options: SinkhornOptions(tolerance: 1e-9, maxIterations: 1000, threads: threads)), eps
    )
  }
  return json([
    ("case", "sinkhorn-memory"), ("side", "ours"), ("threads", threads), ("n", n),
    ("seconds", t), ("value", r.0.cost), ("regularization", r.1), ("iterations", r.0.iterations),
    ("marginal_error", r.0.marginalError), ("converged", r.0.isConverged),
    ("peak_rss_kib_after_data", before), ("peak_rss_kib", peakResidentKiB()),
  ])
}

enum TransportBenchmarkError: Error {
  case unknownCase(String)
  case usage
}

let args = CommandLine.arguments
do {
  guard args.count >= 2 else { throw TransportBenchmarkError.usage }
  let threads = option("--threads", default: 2)
  switch args[1] {
  case "generate":
    guard args.count >= 3 else { throw TransportBenchmarkError.usage }
    try generate(into: URL(fileURLWithPath: args[2]))
  case "run":
    guard args.count >= 4 else { throw TransportBenchmarkError.usage }
    print(
      try run(
        case: args[2], dir: URL(fileURLWithPath: args[3]), reps: option("--reps", default: 5),
        warmup: option("--warmup", default: 1), threads: threads))
  case "sinkhorn-memory":
    print(try sinkhornMemory(n: option("--n", default: 100_000), threads: threads))
  default:
    throw TransportBenchmarkError.usage
  }
} catch {
  FileHandle.standardError.write(
    "usage: TransportBenchmark generate DIR | run exact|sinkhorn|sliced DIR [--reps R] [--warmup W] [--threads T] | sinkhorn-memory [--n N] [--threads T]\n(\(error))\n"
      .data(using: .utf8)!)
  exit(2)
}
