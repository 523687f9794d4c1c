// What the benchmark executables share: clocks, the median, raw float64 files, the peak resident
// set size and command-line options.
import Foundation
import MeanFieldCore

public enum Bench {
  /// Monotonic wall-clock seconds.
  public static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

  /// CPU seconds of the whole process (all threads).
  public static func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
  }

  /// Wall-clock seconds of `body`.
  public static func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
  }

  /// CPU seconds of the process spent in `body`.
  public static func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
    let start = processCPUSeconds()
    try body()
    return processCPUSeconds() - start
  }

  /// The median (the mean of the two middle values for an even count).
  public static func median(_ xs: [Double]) -> Double {
    precondition(!xs.isEmpty, "median of no values")
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
  }

  /// Writes `values` as raw little-endian float64.
  public static func writeRaw(_ values: [Double], to url: URL) throws {
    try values.withUnsafeBytes { try Data($0).write(to: url) }
  }

  /// Reads a file of raw little-endian float64.
  public static func readRaw(_ url: URL) throws -> [Double] {
    let data = try Data(contentsOf: url)
    return data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
  }

  /// The process's peak resident set size in KiB (VmHWM), or -1 where unavailable.
  public static func peakResidentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return -1
    }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
  }

  /// The value after `name` on the command line (e.g. `--threads 2`), if given.
  public static func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
  }
}

extension Bench {
  /// The CPU's model name, the widest vector instruction set it offers, and the level the
  /// benchmark's kernels were compiled for, e.g. `"… Xeon … · AVX-512 · kernels x86-64-v4 (AVX-512)"`.
  public static func machine() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    let lines = info.split(separator: "\n")
    let model =
      lines.first { $0.hasPrefix("model name") }.map {
        $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
      } ?? "unknown CPU"
    let flags = Set(
      (lines.first { $0.hasPrefix("flags") } ?? "").split(separator: ":", maxSplits: 1).last?.split(separator: " ")
        .map(String.init) ?? [])
    let isa =
      flags.contains("avx512f")
      ? "AVX-512"
      : flags.contains("avx2") && flags.contains("fma") ? "AVX2+FMA" : flags.contains("avx") ? "AVX" : "SSE2"
    return "\(model) · \(isa) · kernels \(BuildTarget.description)"
  }
}

extension Bench {
  /// Runs a Python baseline script and returns the JSON objects it prints, one per line. Its BLAS
  /// gets `threads` threads and none of this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
  /// overrides (which hold back a current OpenBLAS). Exits the benchmark if the script fails.
  public static func pythonBaseline(python: String, script: String, arguments: [String], threads: Int) throws
    -> [[String: Any]]
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = String(threads)
    environment["OMP_NUM_THREADS"] = String(threads)
    environment.removeValue(forKey: "OPENBLAS_CORETYPE")
    environment.removeValue(forKey: "OPENBLAS_L2_SIZE")
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      FileHandle.standardError.write(Data("Python baseline failed (run scripts/bench-venv.sh)\n".utf8))
      exit(1)
    }
    return try String(decoding: output, as: UTF8.self).split(separator: "\n").map {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
  }
}
