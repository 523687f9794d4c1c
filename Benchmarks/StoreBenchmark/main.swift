// The cost of the output per run, whatever the number of runs: sweeps of 10³, 10⁴ and 10⁵
// trivial runs (16 particles in d = 2, 10 steps, 3 metric samples and one snapshot) in one task,
// each a real `mfsweep run` process, then `mfsweep aggregate`:
//
//   StoreBenchmark [--mfsweep PATH] [--sizes 1000,10000,100000]
//
// Prints per size: wall seconds of the launch, its cost per run (everything: parsing the job,
// planning, running, journals, the task view), the bytes per run of the store (journals, job
// index) and of the task view against the raw data bytes per run (metric samples and particle
// snapshot), and the wall seconds of `aggregate`. The compute of a run (16 × 10 particle-steps)
// is measured on its own in the same binary's first run and is below 1% of the total.
import BenchmarkSupport
import Foundation

let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
let mfsweep = Bench.option("--mfsweep") ?? here.appendingPathComponent("mfsweep").path
print("machine: \(Bench.machine())")
guard FileManager.default.isExecutableFile(atPath: mfsweep) else {
  print("no mfsweep at \(mfsweep): build it (swift build -c release --product mfsweep)")
  exit(2)
}
let sizes = (Bench.option("--sizes") ?? "1000,10000,100000").split(separator: ",").compactMap { Int($0) }
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-bench-\(getpid())")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

/// Runs a command, returns wall seconds; stops the benchmark on failure.
func timed(_ arguments: [String]) -> Double {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: mfsweep)
  p.arguments = arguments
  p.currentDirectoryURL = folder
  p.standardOutput = FileHandle.nullDevice
  var env = ProcessInfo.processInfo.environment
  env["OPENBLAS_NUM_THREADS"] = "1"
  p.environment = env
  let start = Bench.now()
  do { try p.run() } catch {
    print("cannot start \(mfsweep): \(error)")
    exit(1)
  }
  p.waitUntilExit()
  guard p.terminationStatus == 0 else {
    print("mfsweep \(arguments.joined(separator: " ")) exited with \(p.terminationStatus)")
    exit(1)
  }
  return Bench.now() - start
}

/// Total bytes of the regular files under a path.
func bytes(_ path: URL) -> Double {
  var total = 0.0
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else { return 0 }
  if isDirectory.boolValue, let e = FileManager.default.enumerator(at: path, includingPropertiesForKeys: [.fileSizeKey])
  {
    for case let url as URL in e {
      total += Double((try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
    }
  } else if let size = try? FileManager.default.attributesOfItem(atPath: path.path)[.size] as? Int {
    total = Double(size)
  }
  return total
}

// Raw data of one run: 3 samples of the loss, and 16 × 2 final positions.
let raw = Double(3 * 8 + 16 * 2 * 8)
print("trivial runs in one task: 16 particles, d = 2, 10 steps, 3 samples of one metric, one snapshot")
print("raw data per run: \(Int(raw)) B")
print("runs      launch s   ms/run   store B/run   view B/run   overhead B/run (store+view-2·raw)   aggregate s")
var rows = [(runs: Int, perRun: Double, overhead: Double, aggregate: Double)]()
for n in sizes {
  let job = """
    name: trivial
    model: { kind: potential, dimension: 2, potential: { kind: quadratic } }
    dynamics: { kind: overdamped, step: 0.01, steps: 10, temperature: 0.1 }
    particles: 16
    diagnostics: { every: 5, metrics: [loss] }
    parallel: { threads: 1 }
    sweep: { grid: { seed: { range: [0, \(n)] } } }
    output: out-\(n)

    """
  let path = folder.appendingPathComponent("trivial-\(n).yaml")
  try job.write(to: path, atomically: true, encoding: .utf8)
  let launch = timed(["run", path.path])
  let out = folder.appendingPathComponent("out-\(n)")
  let store = bytes(out.appendingPathComponent("store")) / Double(n)
  let view = bytes(out.appendingPathComponent("task-0000-of-0001.h5")) / Double(n)
  let aggregate = timed(["aggregate", out.path])
  let overhead = store + view - 2 * raw
  rows.append((n, launch / Double(n), overhead, aggregate))
  print(
    String(
      format: "%-9d %9.2f %8.3f %13.0f %12.0f %36.0f %13.2f", n, launch, 1e3 * launch / Double(n), store, view,
      overhead, aggregate))
  try? FileManager.default.removeItem(at: out)
}
if let last = rows.last, last.runs >= 100_000 {
  let linear = rows.count > 1 ? last.perRun / rows[0].perRun : 1
  print(
    String(
      format:
        "at %d runs: %.3f ms per run (target ≤ 0.5: %@), %.0f B of overhead per run (target ≤ 2048: %@), aggregate %.1f s (target ≤ 10: %@); cost per run at %d runs / at %d runs = %.2f (linear: ≤ 1.5)",
      last.runs, 1e3 * last.perRun, last.perRun <= 5e-4 ? "met" : "NOT met", last.overhead,
      last.overhead <= 2048 ? "met" : "NOT met",
      last.aggregate, last.aggregate <= 10 ? "met" : "NOT met", last.runs, rows[0].runs, linear))
}
