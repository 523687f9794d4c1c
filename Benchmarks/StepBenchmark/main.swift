// Step benchmark of the two-layer network model against the vectorised NumPy step and against
// the machine's roofline, measured in the same invocation.
//
//   StepBenchmark [--python PATH] [--sizes 1024,16384,131072] [--repetitions R] [--threads T]
//
//                [--cache-mb M] [--block-size B] [--reduction-size 16384]
//
// For each N: the time of one MFLD step (tanh, p = 20 inputs, n = 1000 data points, float64,
// with noise), NumPy's time for the same step on the same inputs with the same thread count
// (the faster of a plain and a careful in-place, row-chunked NumPy step; see
// Benchmarks/python/step_baseline.py), the roofline (the two GEMMs of a step at OpenBLAS's rate
// plus one vectorised tanh per pair), the allocations made inside our steps, and the agreement
// of one noise-free step with NumPy's. NumPy runs without this machine's OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE overrides (which hold back a current OpenBLAS); the kernel it then uses is
// printed. Exits 1 if the noise-free steps disagree beyond 1e-12 relative.
//
// Then the price of reproducibility at one size: the step with its exact sums (deposit every
// block partial into exact accumulators, round once) against the same step with the block-order
// fold they replaced (an exchange defined here that adds the partials in block order), timed
// alternately, and the exact reduction alone.
import AllocationCounter
import BenchmarkSupport
import CBLAS
import Dispatch
import Foundation
import MeanFieldCore

let now = Bench.now
let median = Bench.median
let option = Bench.option
let python = option("--python") ?? "Benchmarks/.venv/bin/python"
let sizes = (option("--sizes") ?? "1024,16384,131072").split(separator: ",").map { Int($0)! }
let repetitions = Int(option("--repetitions") ?? "7")!
let threads = Int(option("--threads") ?? String(ProcessInfo.processInfo.activeProcessorCount))!
let cacheBudget = Int(option("--cache-mb") ?? "1024")! << 20
let blockSize = Int(option("--block-size") ?? "256")!
let p = 20, n = 1000, eta = 0.05, temperature = 1e-3, l2 = 1e-3
let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("python/step_baseline.py").path

// Inputs shared with NumPy.
let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
  "step-bench-\(ProcessInfo.processInfo.processIdentifier)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let data = TeacherSpecification(inputs: p, samples: n, teacherWidth: 4, noise: 0.1, seed: 1, activation: .tanh)
  .makeDataSet()
let model = TwoLayerNetwork(data: data, activation: .tanh)
@MainActor func write(_ values: [Double], _ name: String) throws {
  try Bench.writeRaw(values, to: folder.appendingPathComponent(name))
}
try write(data.inputs, "Z.bin")
try write(data.labels, "y.bin")
let params: [String: Any] = [
  "inputs": p, "samples": n, "eta": eta, "temperature": temperature, "l2": l2, "warmup": 1, "repetitions": repetitions,
]
try JSONSerialization.data(withJSONObject: params).write(to: folder.appendingPathComponent("params.json"))

@MainActor func makeEngine(_ count: Int, temperature: Double) -> ParticleEngine<TwoLayerNetwork, LocalExchange> {
  ParticleEngine(
    model: model, exchange: LocalExchange(layout: BlockLayout(particleCount: count, blockSize: blockSize)),
    dynamics: .overdamped(.init(step: eta, temperature: temperature, l2: l2)), initial: .gaussian(mean: [0], std: [1]),
    noise: GaussianField(seed: 1, runIndex: 0), threads: threads, cacheBudget: cacheBudget)
}
var initial = [Int: [Double]]()
for count in sizes {
  initial[count] = makeEngine(count, temperature: temperature).positions
  try write(initial[count]!, "X_\(count).bin")
}

// NumPy, same thread count for its BLAS.
let output = try Bench.pythonBaseline(
  python: python, script: script, arguments: [folder.path] + sizes.map(String.init), threads: threads)
var numpy = [Int: (median: Double, plain: Double, inplace: Double, next: [Double])]()
var numpyBLAS = "unknown"
for object in output {
  if let blas = object["blas"] {
    numpyBLAS =
      try (blas as? String) ?? String(decoding: JSONSerialization.data(withJSONObject: blas), as: UTF8.self)
    continue
  }
  let count = object["N"] as! Int
  let plain = median(object["times"] as! [Double])
  let inplace = median(object["inplace_times"] as! [Double])
  let next = try Bench.readRaw(URL(fileURLWithPath: object["next"] as! String))
  numpy[count] = (min(plain, inplace), plain, inplace, next)
}

// Roofline pieces at this machine's rates: GEMMs with OpenBLAS on `threads` threads, tanh
// vectorised on `threads` threads.
@MainActor func roofline(_ count: Int) -> (gemm: Double, tanh: Double) {
  let x = initial[count]!
  let u = UnsafeMutableBufferPointer<Double>.allocate(capacity: count * n)
  u.initialize(repeating: 0)
  defer { u.deallocate() }
  var g = [Double](repeating: 0, count: count * p)
  openblas_set_num_threads(Int32(threads))
  var gemm = [Double](), tanhTimes = [Double]()
  for _ in 0..<3 {
    let t0 = now()
    x.withUnsafeBufferPointer { xp in
      data.inputs.withUnsafeBufferPointer { z in
        BLAS.gemm(
          transposeB: true, m: count, n: n, k: p, a: xp.baseAddress!, lda: p + 1, b: z.baseAddress!, ldb: p,
          c: u.baseAddress!, ldc: n)
      }
    }
    g.withUnsafeMutableBufferPointer { gp in
      data.inputs.withUnsafeBufferPointer { z in
        BLAS.gemm(
          m: count, n: p, k: n, a: u.baseAddress!, lda: n, b: z.baseAddress!, ldb: p, c: gp.baseAddress!, ldc: p)
      }
    }
    gemm.append(now() - t0)
    let t1 = now()
    let chunk = (count * n + threads - 1) / threads
    let base = UncheckedPointer(u.baseAddress!)
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      let lo = t * chunk, hi = min(count * n, lo + chunk)
      let up = base.pointer
      for i in lo..<hi { up[i] = FastMath.tanh(up[i]) }
    }
    tanhTimes.append(now() - t1)
  }
  openblas_set_num_threads(1)
  return (median(gemm), median(tanhTimes))
}
/// The in-cache roofline: the forward and backward GEMMs on cache-sized tiles (the shapes the
/// engine uses, one thread, OpenBLAS) and one vectorised tanh per particle–data pair, scaled to
/// N × n pairs over `threads` threads — the least time any implementation of the step can take
/// on this machine without reusing work across steps.
@MainActor func inCacheRoofline(_ count: Int) -> Double {
  openblas_set_num_threads(1)
  let tile = 32
  let x = initial[count]!
  var u = [Double](repeating: 0, count: tile * n)
  var g = [Double](repeating: 0, count: tile * (p + 1))
  var gemm = [Double](), tanhTimes = [Double]()
  for _ in 0..<9 {
    let t0 = now()
    for _ in 0..<20 {
      x.withUnsafeBufferPointer { xp in
        data.inputs.withUnsafeBufferPointer { z in
          u.withUnsafeMutableBufferPointer { up in
            BLAS.gemm(
              transposeB: true, m: tile, n: n, k: p, a: xp.baseAddress!, lda: p + 1, b: z.baseAddress!, ldb: p,
              c: up.baseAddress!, ldc: n)
            g.withUnsafeMutableBufferPointer { gp in
              BLAS.gemm(
                m: tile, n: p, k: n, a: up.baseAddress!, lda: n, b: z.baseAddress!, ldb: p, c: gp.baseAddress!,
                ldc: p + 1)
            }
          }
        }
      }
    }
    gemm.append((now() - t0) / Double(20 * tile * n))
    let t1 = now()
    for _ in 0..<20 {
      u.withUnsafeMutableBufferPointer { up in
        for i in 0..<up.count { up[i] = FastMath.tanh(up[i] * 1e-3) }
      }
    }
    tanhTimes.append((now() - t1) / Double(20 * tile * n))
  }
  return Double(count * n) * (median(gemm) + median(tanhTimes)) / Double(threads)
}

struct UncheckedPointer: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Double>; init(_ p: UnsafeMutablePointer<Double>) { pointer = p }
}

print("MFLD step, two-layer tanh network: p = \(p), n = \(n), float64, \(threads) thread(s) on both sides")
print("machine: \(Bench.machine())")
print("NumPy's BLAS: \(numpyBLAS); NumPy ms is the faster of its plain and in-place variants")
print("roofline: the step's two GEMMs at OpenBLAS's rate plus one vectorised tanh per pair; 'full' runs")
print("the GEMMs on the whole N × n matrices (as NumPy does), 'cache' on cache-sized tiles (the bound)")
print(
  "N        ours ms   NumPy ms   NumPy/ours   full ms  ours/full   cache ms  ours/cache   allocs/step   max |Δ| vs NumPy   NumPy plain/in-place ms"
)
var disagreement = 0.0
for count in sizes {
  BLAS.setThreadCount(1)
  let engine = makeEngine(count, temperature: temperature)
  engine.restore(positions: initial[count]!, step: 0)
  _ = try engine.step()
  var times = [Double]()
  times.reserveCapacity(repetitions)
  allocation_counter_start()
  for _ in 0..<repetitions {
    let t0 = now()
    _ = try engine.step()
    times.append(now() - t0)
  }
  let allocations = allocation_counter_stop()
  let ours = median(times)
  // One noise-free step from the shared initial particles, against NumPy's.
  let exact = makeEngine(count, temperature: 0)
  exact.restore(positions: initial[count]!, step: 0)
  _ = try exact.step()
  let reference = numpy[count]!.next
  let scale = reference.map(abs).max()!
  let difference = zip(exact.positions, reference).map { abs($0 - $1) }.max()! / scale
  let (gemm, tanhTime) = roofline(count)
  let roof = gemm + tanhTime
  let bound = inCacheRoofline(count)
  let np = numpy[count]!.median
  disagreement = max(disagreement, difference)
  print(
    String(
      format: "%-8d %8.2f   %8.2f   %9.1fx   %7.2f  %8.2f   %8.2f  %9.2f   %11.1f   %.1e            %.2f / %.2f",
      count, ours * 1e3, np * 1e3, np / ours, roof * 1e3, ours / roof, bound * 1e3, ours / bound,
      Double(allocations) / Double(repetitions), difference, numpy[count]!.plain * 1e3,
      numpy[count]!.inplace * 1e3))
}
if disagreement > 1e-12 {
  FileHandle.standardError.write(Data("noise-free steps disagree with NumPy's: \(disagreement)\n".utf8))
  exit(1)
}

/// The reduction the exact sums replaced: block partials added in block order (one process).
struct BlockOrderFoldExchange: BlockExchange {
  let layout: BlockLayout
  var ownedBlocks: Range<Int> { 0..<layout.blockCount }
  func exactSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int, accumulators: UnsafeMutableBufferPointer<Int64>,
    into result: UnsafeMutableBufferPointer<Double>
  ) throws {
    for j in 0..<length { result[j] = 0 }
    for b in 0..<layout.blockCount {
      for j in 0..<length { result[j] += localPartials[b * length + j] }
    }
  }
  func sumIntegers(_ words: UnsafeMutableBufferPointer<Int64>) throws {}
  func allGather(
    local: UnsafeBufferPointer<Double>, rowLength: Int, into all: UnsafeMutableBufferPointer<Double>
  ) throws {}
  func broadcastFromLeader(_ values: UnsafeMutableBufferPointer<Double>) throws {}
}

let reductionSize = Int(option("--reduction-size") ?? "16384")!
do {
  BLAS.setThreadCount(1)
  let layout = BlockLayout(particleCount: reductionSize, blockSize: blockSize)
  let dynamics = Dynamics.overdamped(.init(step: eta, temperature: temperature, l2: l2))
  let exact = ParticleEngine(
    model: model, exchange: LocalExchange(layout: layout), dynamics: dynamics,
    initial: .gaussian(mean: [0], std: [1]), noise: GaussianField(seed: 1, runIndex: 0), threads: threads,
    cacheBudget: cacheBudget)
  let fold = ParticleEngine(
    model: model, exchange: BlockOrderFoldExchange(layout: layout), dynamics: dynamics,
    initial: .gaussian(mean: [0], std: [1]), noise: GaussianField(seed: 1, runIndex: 0), threads: threads,
    cacheBudget: cacheBudget)
  _ = try exact.step()
  _ = try fold.step()
  var exactTimes = [Double](), foldTimes = [Double]()
  allocation_counter_start()
  for _ in 0..<(2 * repetitions + 1) {
    var t0 = now()
    _ = try exact.step()
    exactTimes.append(now() - t0)
    t0 = now()
    _ = try fold.step()
    foldTimes.append(now() - t0)
  }
  let allocations = allocation_counter_stop()
  // The exact reduction alone: the statistic's partials of every block (n + 2 numbers each).
  let width = n + 2
  var partials = [Double](repeating: 0, count: layout.blockCount * width)
  var g = SystemRandomNumberGenerator()
  for i in partials.indices { partials[i] = Double.random(in: -1...1, using: &g) }
  var accumulators = [Int64](repeating: 0, count: width * ExactSum.width)
  var result = [Double](repeating: 0, count: width)
  var reduceTimes = [Double]()
  let exchange = LocalExchange(layout: layout)
  for _ in 0..<21 {
    let t0 = now()
    try partials.withUnsafeBufferPointer { pp in
      try accumulators.withUnsafeMutableBufferPointer { ap in
        try result.withUnsafeMutableBufferPointer { rp in
          try exchange.exactSum(localPartials: pp, length: width, accumulators: ap, into: rp)
        }
      }
    }
    reduceTimes.append(now() - t0)
  }
  let ratio = median(exactTimes) / median(foldTimes)
  print("")
  print(
    "exact sums against the block-order fold, N = \(reductionSize), \(layout.blockCount) blocks × \(width) numbers, \(threads) thread(s)"
  )
  print(
    String(
      format: "step with exact sums %.2f ms, with the fold %.2f ms: ratio %.3f (target <= 1.05); %.1f allocs/step",
      median(exactTimes) * 1e3, median(foldTimes) * 1e3, ratio,
      Double(allocations) / Double(2 * (2 * repetitions + 1))))
  let reduce = median(reduceTimes)
  print(
    String(
      format: "exact reduction alone: %.3f ms per step, %.1f ns per deposited number (deposit, bound, round)",
      reduce * 1e3, reduce / Double(layout.blockCount * width) * 1e9))
}
