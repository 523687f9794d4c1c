// The portable build against a native one: the same job (Benchmarks/jobs/portable.yaml) run by
// two builds of mfsweep, alternately in one invocation, wall time of `mfsweep run` medians and
// their ratio. The portable build is the x86-64-v2 binary that hands over to its widest variant
// at start (docs/PORTABILITY.md); the native one is compiled with -target-cpu native. Target:
// portable within 5% of native on the machine that built both.
//
//   PortableBenchmark --portable PATH --native PATH [--job PATH] [--repetitions R]
import BenchmarkSupport
import Foundation

let portable = Bench.option("--portable") ?? ".build/release/mfsweep"
let native = Bench.option("--native") ?? ".build-native/release/mfsweep"
let job = Bench.option("--job") ?? "Benchmarks/jobs/portable.yaml"
let repetitions = Int(Bench.option("--repetitions") ?? "5")!
for path in [portable, native] where !FileManager.default.isExecutableFile(atPath: path) {
  print("no mfsweep at \(path) (scripts/bench-portable.sh builds both)")
  exit(2)
}

/// Runs `binary` with `arguments`, returns (seconds, standard output); exits on failure.
func run(_ binary: String, _ arguments: [String]) throws -> (Double, String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: binary)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = FileHandle.standardError
  let t0 = Bench.now()
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let seconds = Bench.now() - t0
  guard process.terminationStatus == 0 else {
    print("\(binary) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
    exit(1)
  }
  return (seconds, String(decoding: data, as: UTF8.self))
}

let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
  "portable-bench-\(ProcessInfo.processInfo.processIdentifier)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

print("The same job by two builds of mfsweep, alternately; \(Bench.machine())")
for (name, binary) in [("portable", portable), ("native", native)] {
  let version = try run(binary, ["--version"]).1.trimmingCharacters(in: .whitespacesAndNewlines)
  print("  \(name): \(binary) — \(version)")
}
var times: [String: [Double]] = ["portable": [], "native": []]
for r in 0..<(repetitions + 1) {
  // Alternate which goes first; the first round warms the caches and is not counted.
  let order = r % 2 == 0 ? [("portable", portable), ("native", native)] : [("native", native), ("portable", portable)]
  for (name, binary) in order {
    let output = folder.appendingPathComponent("\(name)-\(r)").path
    let (seconds, _) = try run(binary, ["run", job, "--output", output])
    if r > 0 { times[name]!.append(seconds) }
    try? FileManager.default.removeItem(atPath: output)
  }
}
let p = Bench.median(times["portable"]!), n = Bench.median(times["native"]!)
print(String(format: "mfsweep run %@: portable %.3f s, native %.3f s (medians of %d)", job, p, n, repetitions))
print(String(format: "portable / native: %.3f (target <= 1.05)", p / n))
