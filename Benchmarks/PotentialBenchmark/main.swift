// Benchmark of particles in a potential and of the pairwise Gaussian interaction, against NumPy
// and JAX (jit) measured in the same invocation, and against the machine's bound.
//
//   PotentialBenchmark [--python PATH] [--double-well 10000,1000000] [--pairwise 2048,8192,32768]
//                      [--repetitions R] [--threads T] [--ours-only] [--expressions-only]
//
// Double well: one overdamped step with noise in V(x) = (|x|² − 1)², d = 2; ns per particle-step.
// The bound is the larger of two normals per particle (the engine's own generator, in cache) and
// one read and one write of the particle at this N (a streaming pass over the positions): the
// least any step with fresh Gaussian noise must do. Pairwise: one step of the Gaussian
// interaction W(z) = −c exp(−|z|²/(2s²)), d = 2, N² (ordered) pairs; ns per pair. The bound is
// one exponential per unordered pair, i.e. half of ours (vectorised, in cache) per ordered pair:
// exp(−|x_i − x_j|²/2s²) serves both particles. For the double well NumPy's figure is the faster
// of its plain and in-place variants; for the pairs both NumPy forms are shown, the usual one
// (differences: the faster of whole arrays, N ≤ 8192, and row chunks) and the expanded one (one GEMM per chunk), with JAX
// (Benchmarks/python/potential_baseline.py); the pairwise baselines time the drift
// alone, ours the whole step. Both sides run on `threads` threads (one by default: the Python
// process pins itself to one CPU). Exits 1 if a noise-free step or drift disagrees with
// NumPy's beyond 1e-12 relative. `--ours-only` times our steps alone (for a profiler). Last, the
// double well and the Gaussian interaction written as expressions (docs/EXPRESSIONS.md) against
// the built-in models, alternately in the same run.
import AllocationCounter
import BenchmarkSupport
import Foundation
import MeanFieldCore

let now = Bench.now
let median = Bench.median
let option = Bench.option
let python = option("--python") ?? "Benchmarks/.venv/bin/python"
let wellSizes = (option("--double-well") ?? "10000,1000000").split(separator: ",").map { Int($0)! }
let pairSizes = (option("--pairwise") ?? "2048,8192,32768").split(separator: ",").map { Int($0)! }
let repetitions = Int(option("--repetitions") ?? "7")!
let threads = Int(option("--threads") ?? "1")!
let eta = 0.01, temperature = 0.5, strength = 1.0, width = 0.5
let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("python/potential_baseline.py").path

let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
  "potential-bench-\(ProcessInfo.processInfo.processIdentifier)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

typealias Engine = ParticleEngine<PotentialSystem, LocalExchange>
@MainActor func engine(_ model: PotentialSystem, _ count: Int, temperature: Double) -> Engine {
  Engine(
    model: model, exchange: LocalExchange(layout: BlockLayout(particleCount: count, blockSize: 256)),
    dynamics: .overdamped(.init(step: eta, temperature: temperature, l2: 0)), initial: .gaussian(mean: [0], std: [1]),
    noise: GaussianField(seed: 1, runIndex: 0), threads: threads)
}
let wellModel = PotentialSystem(potential: .doubleWell, interaction: .none, dimension: 2)
let pairModel = PotentialSystem(
  potential: .none, interaction: .gaussianKernel(strength: strength, width: width), dimension: 2)

var initial = [String: [Double]]()
for count in wellSizes {
  initial["dw_\(count)"] = engine(wellModel, count, temperature: temperature).positions
  try Bench.writeRaw(initial["dw_\(count)"]!, to: folder.appendingPathComponent("X_dw_\(count).bin"))
}
for count in pairSizes {
  initial["pair_\(count)"] = engine(pairModel, count, temperature: temperature).positions
  try Bench.writeRaw(initial["pair_\(count)"]!, to: folder.appendingPathComponent("X_pair_\(count).bin"))
}
let params: [String: Any] = [
  "threads": threads, "eta": eta, "temperature": temperature, "strength": strength, "width": width, "warmup": 1,
  "repetitions": repetitions, "double_well": wellSizes, "pairwise": pairSizes,
]
try JSONSerialization.data(withJSONObject: params).write(to: folder.appendingPathComponent("params.json"))

@MainActor func compareExpressions() throws {
  print()
  print("Expressions against the built-in models, same run: ns per particle-step (per ordered pair for W)")
  print(
    "model                                  N          built-in  expression  expression/built-in  allocs/step  same bits"
  )
  let expressionWell = PotentialSystem(
    potential: .expression(try ExpressionPotential("(x1^2 + x2^2 - 1)^2", dimension: 2)), interaction: .none,
    dimension: 2)
  let expressionPair = PotentialSystem(
    potential: .none,
    interaction: .expression(
      try ExpressionInteraction("-c*exp(-r^2/(2*s^2))", dimension: 2, parameters: ["c": strength, "s": width])),
    dimension: 2)
  var expressionRatio = 0.0
  for (label, builtIn, expression, count) in [
    ("V = (x1^2 + x2^2 - 1)^2", wellModel, expressionWell, wellSizes.max()!),
    ("W = -c*exp(-r^2/(2*s^2))", pairModel, expressionPair, pairSizes.min()!),
  ] {
    let a = engine(builtIn, count, temperature: temperature), b = engine(expression, count, temperature: temperature)
    _ = try a.step()
    _ = try b.step()
    var builtInTimes = [Double](), expressionTimes = [Double](), allocations = 0.0
    for _ in 0..<max(3, repetitions / 2) {
      builtInTimes.append(try timeSteps(a, 2).seconds)
      let (t, n) = try timeSteps(b, 2)
      expressionTimes.append(t)
      allocations = max(allocations, n)
    }
    let units = builtIn.needsAllPositions ? Double(count) * Double(count) : Double(count)
    let ratio = median(expressionTimes) / median(builtInTimes)
    if !builtIn.needsAllPositions { expressionRatio = ratio }
    let same = a.positions.map(\.bitPattern) == b.positions.map(\.bitPattern)
    print(
      String(
        format: "%@ %-9d %8.2f  %10.2f  %14.2fx        %9.1f    %@",
        label.padding(toLength: 38, withPad: " ", startingAt: 0), count, median(builtInTimes) / units * 1e9,
        median(expressionTimes) / units * 1e9, ratio, allocations, same ? "yes" : "no (different operations)"))
  }
  print(String(format: "expression double well: %.2fx the built-in step (target <= 1.5x)", expressionRatio))
}

if CommandLine.arguments.contains("--expressions-only") {
  try compareExpressions()
  exit(0)
}

if CommandLine.arguments.contains("--ours-only") {
  for (model, sizes) in [(wellModel, wellSizes), (pairModel, pairSizes)] {
    for count in sizes {
      let e = engine(model, count, temperature: temperature)
      var times = [Double]()
      for _ in 0..<repetitions { times.append(try Bench.seconds { _ = try e.step() }) }
      print(count, median(times))
    }
  }
  exit(0)
}

// The baselines.
let output = try Bench.pythonBaseline(python: python, script: script, arguments: [folder.path], threads: threads)
struct Baseline { var numpy: Double; var variants: [String: Double]; var jax: Double?; var result: [Double] }
var baselines = [String: Baseline]()
var header = ""
for object in output {
  guard let kind = object["kind"] as? String else {
    header = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    continue
  }
  let count = object["N"] as! Int
  let names = kind == "double-well" ? ["plain", "inplace"] : ["differences", "expanded"]
  var variants = [String: Double]()
  for name in names { variants[name] = median(object[name] as! [Double]) }
  if kind == "pairwise", let plain = object["plain"] as? [Double] {
    variants["differences"] = min(variants["differences"]!, median(plain))
  }
  let file = object[kind == "double-well" ? "next" : "drift"] as! String
  baselines[(kind == "double-well" ? "dw_" : "pair_") + String(count)] = Baseline(
    numpy: variants.values.min()!, variants: variants, jax: (object["jax"] as? [Double]).map(median),
    result: try Bench.readRaw(URL(fileURLWithPath: file)))
}

// The bound's pieces, measured here.
@MainActor func normalSeconds() -> Double {
  let rows = 4096
  let out = UnsafeMutableBufferPointer<Double>.allocate(capacity: rows * 2)
  let scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: GaussianField.normalScratchLength)
  defer {
    out.deallocate()
    scratch.deallocate()
  }
  let field = GaussianField(seed: 7, runIndex: 0)
  var times = [Double]()
  for trial in 0..<15 {
    let t0 = now()
    for k in 0..<20 {
      field.fillNormals(
        out, rows: rows, dimension: 2, firstParticle: 0, step: UInt64(trial * 20 + k), stream: .dynamics,
        scratch: scratch)
    }
    times.append((now() - t0) / Double(20 * rows * 2))
  }
  return median(times)
}
@MainActor func expSeconds() -> Double {
  let count = 4096
  var input = (0..<count).map { -8.0 * Double($0) / Double(count) }
  var out = [Double](repeating: 0, count: count)
  var times = [Double]()
  for _ in 0..<15 {
    let t0 = now()
    for _ in 0..<50 {
      input.withUnsafeBufferPointer { a in
        out.withUnsafeMutableBufferPointer { o in
          for i in 0..<count { o[i] = FastMath.exp(a[i]) }
        }
      }
      input[0] = out[count - 1] * 1e-300  // keeps the loop from being hoisted
    }
    times.append((now() - t0) / Double(50 * count))
  }
  return median(times)
}
/// One read and one write of `count` particles (d = 2), per particle.
@MainActor func streamSeconds(_ count: Int) -> Double {
  let x = UnsafeMutableBufferPointer<Double>.allocate(capacity: count * 2)
  x.initialize(repeating: 1)
  defer { x.deallocate() }
  var times = [Double]()
  for _ in 0..<9 {
    let t0 = now()
    for i in 0..<x.count { x[i] = x[i].addingProduct(x[i], 1e-9) }
    times.append((now() - t0) / Double(count))
  }
  return median(times)
}

@MainActor func timeSteps(_ e: Engine, _ reps: Int) throws -> (seconds: Double, allocations: Double) {
  var times = [Double]()
  times.reserveCapacity(reps)  // the counter counts every allocation of the process
  allocation_counter_start()
  for _ in 0..<reps {
    let t0 = now()
    _ = try e.step()
    times.append(now() - t0)
  }
  let allocations = allocation_counter_stop()
  return (median(times), Double(allocations) / Double(reps))
}

func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
  let scale = b.map(abs).max()!
  return zip(a, b).map { abs($0 - $1) }.max()! / scale
}

let normal = normalSeconds(), exponential = expSeconds()
print("Particles in a potential, d = 2, float64, \(threads) thread(s) on every side; \(Bench.machine())")
print("Python: \(header)")
print(
  String(
    format: "measured here: %.2f ns per normal (Box-Muller, vectorised), %.3f ns per exp (vectorised), in cache",
    normal * 1e9, exponential * 1e9))
print()
print("Double well, one overdamped step with noise: ns per particle-step (medians of \(repetitions) steps)")
print(
  "N          ours    NumPy    JAX    NumPy/ours  JAX/ours   bound  ours/bound  allocs/step  max |Δ| vs NumPy  NumPy plain/in-place"
)
var disagreement = 0.0
for count in wellSizes {
  let e = engine(wellModel, count, temperature: temperature)
  _ = try e.step()
  let (seconds, allocations) = try timeSteps(e, repetitions)
  let exact = engine(wellModel, count, temperature: 0)
  exact.restore(positions: initial["dw_\(count)"]!, step: 0)
  _ = try exact.step()
  let base = baselines["dw_\(count)"]!
  let difference = relativeDifference(exact.positions, base.result)
  disagreement = max(disagreement, difference)
  let ours = seconds / Double(count) * 1e9, numpy = base.numpy / Double(count) * 1e9
  let jax = base.jax.map { $0 / Double(count) * 1e9 }
  let bound = max(2 * normal, streamSeconds(count)) * 1e9
  print(
    String(
      format: "%-9d %6.2f  %7.2f  %6@  %8.1fx  %7@   %6.2f  %8.2f   %9.1f    %.1e           %.2f / %.2f", count, ours,
      numpy, jax.map { String(format: "%.2f", $0) } ?? "—", numpy / ours,
      jax.map { String(format: "%.1fx", $0 / ours) } ?? "—", bound, ours / bound, allocations, difference,
      base.variants["plain"]! / Double(count) * 1e9, base.variants["inplace"]! / Double(count) * 1e9))
}
print()
print(
  "Gaussian interaction, one step (NumPy/JAX: the drift alone): ns per ordered pair (N² pairs); bound: ½ exp per pair")
print(
  "NumPy differences: the faster of whole arrays (N ≤ 8192) and 1024-row chunks; NumPy expanded: |x|² + |y|² − 2x·y by one GEMM per chunk"
)
print(
  "N         ours  NumPy differences  /ours   NumPy expanded  /ours    JAX   /ours   bound  ours/bound  allocs/step  max |Δ| vs NumPy"
)
for count in pairSizes {
  let e = engine(pairModel, count, temperature: temperature)
  _ = try e.step()
  let (seconds, allocations) = try timeSteps(e, count > 8192 ? max(1, repetitions / 2) : repetitions)
  let exact = engine(pairModel, count, temperature: temperature)
  exact.restore(positions: initial["pair_\(count)"]!, step: 0)
  try exact.prepareField()
  let base = baselines["pair_\(count)"]!
  let difference = relativeDifference(exact.driftOfCurrentState(), base.result)
  disagreement = max(disagreement, difference)
  let pairs = Double(count) * Double(count)
  let ours = seconds / pairs * 1e9
  let differences = base.variants["differences"]! / pairs * 1e9, expanded = base.variants["expanded"]! / pairs * 1e9
  let jax = base.jax.map { $0 / pairs * 1e9 }
  // One exponential per unordered pair: e_ij serves both particles of a pair.
  let bound = exponential / 2 * 1e9
  print(
    String(
      format: "%-8d %5.2f  %16.2f  %5.1fx  %14.2f  %5.1fx  %5@  %5@   %5.3f  %8.2f   %9.1f    %.1e", count, ours,
      differences,
      differences / ours, expanded, expanded / ours, jax.map { String(format: "%.2f", $0) } ?? "—",
      jax.map { String(format: "%.1fx", $0 / ours) } ?? "—", bound, ours / bound, allocations, difference))
}
// Expression potentials: the double well written as an expression against the built-in one,
// timed alternately in the same run (target: at most 1.5× the built-in step); the two must give
// the same bits. The Gaussian interaction as an expression is shown for information.
try compareExpressions()

if disagreement > 1e-12 {
  FileHandle.standardError.write(Data("results disagree with NumPy's: \(disagreement)\n".utf8))
  exit(1)
}
