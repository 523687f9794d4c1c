import CPUFeatures
import Foundation
import MeanFieldCore

/// The portable build's hand-over (docs/PORTABILITY.md): `mfsweep` is compiled for x86-64-v2 and
/// runs on any x86-64 CPU since 2009; beside it, `mfsweep-x86-64-v3` (AVX2, FMA) and
/// `mfsweep-x86-64-v4` (AVX-512) are the same program compiled for wider vectors. Before anything
/// else (before MPI starts), the process replaces itself by the widest variant the CPU and its
/// operating system run, so one installed copy is fast on every node of a mixed cluster and
/// never stops with an illegal instruction. Results are the same bits on every level.
/// `MFSWEEP_ISA=x86-64-v2|v3|v4` forces a level (tests, comparisons); an unknown, missing or
/// unsupported level is refused with exit status 2.
enum InstructionSetDispatch {
  static let forcing = "MFSWEEP_ISA"
  /// Set in the environment of the process that runs to the level it was built for and its
  /// process id (`x86-64-v4:1234`; `execv` keeps the id, so only the hand-over's own variant
  /// matches it).
  static let active = "MFSWEEP_ISA_ACTIVE"
  /// The path of the binary that was started (the portable one), for what must start mfsweep
  /// again elsewhere (the Slurm scripts of `submit`), not the variant it handed over to.
  static let entry = "MFSWEEP_ENTRY"

  /// The mfsweep a script should start: the binary this process was started as.
  static var entryExecutable: String {
    ProcessInfo.processInfo.environment[entry]
      ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
  }

  static func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    exit(2)
  }

  /// The level of `x86-64-v3` (or `v3`), or nil.
  static func level(_ text: String) -> Int? {
    let t = text.hasPrefix("x86-64-") ? String(text.dropFirst(7)) : text
    guard t.count == 2, t.first == "v", let n = Int(t.dropFirst()), (2...4).contains(n) else { return nil }
    return n
  }

  static func variant(_ level: Int, beside executable: String) -> String {
    URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("mfsweep-x86-64-v\(level)").path
  }

  /// The highest level this CPU and OS support (0 on other architectures).
  static var cpuLevel: Int { Int(mfsweep_cpu_level()) }

  /// Replaces the process by the chosen variant, or returns when this binary is the one.
  static func handOver() {
    let environment = ProcessInfo.processInfo.environment
    // Handed over already: this process is the variant the marker names. (Any other marker is
    // inherited, e.g. by a Slurm job from the shell that submitted it: decide again.)
    let marker = { (name: String) in "\(name):\(getpid())" }
    if environment[active] == marker(BuildTarget.name) { return }
    let forced = environment[forcing].flatMap { $0.isEmpty ? nil : $0 }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    setenv(entry, executable, 1)
    guard let own = BuildTarget.level, cpuLevel > 0 else {
      if let forced {
        fail(
          "\(forcing)=\(forced): this mfsweep was built for \(BuildTarget.name) and has no variants (the portable build of scripts/build.sh has them)"
        )
      }
      return
    }
    if own > cpuLevel {
      fail(
        "this mfsweep was built for \(BuildTarget.describe(level: own)); this CPU runs up to \(BuildTarget.describe(level: cpuLevel)): start the portable mfsweep beside it"
      )
    }
    var target = own
    if let forced {
      guard let wanted = level(forced) else { fail("\(forcing)=\(forced): expected x86-64-v2, x86-64-v3 or x86-64-v4") }
      guard wanted <= cpuLevel else {
        fail("\(forcing)=\(forced): this CPU runs up to \(BuildTarget.describe(level: cpuLevel))")
      }
      if wanted != own && !FileManager.default.isExecutableFile(atPath: variant(wanted, beside: executable)) {
        fail("\(forcing)=\(forced): there is no \(variant(wanted, beside: executable)); scripts/build.sh builds it")
      }
      target = wanted
    } else {
      for candidate in stride(from: min(cpuLevel, 4), to: own, by: -1)
      where FileManager.default.isExecutableFile(atPath: variant(candidate, beside: executable)) {
        target = candidate
        break
      }
    }
    setenv(active, marker("x86-64-v\(target)"), 1)
    guard target != own else { return }
    let path = variant(target, beside: executable)
    execv(path, CommandLine.unsafeArgv)
    fail("could not start \(path): \(String(cString: strerror(errno)))")
  }

  /// `kernels x86-64-v4 (AVX-512); this CPU runs up to x86-64-v4 (AVX-512)`, for --version.
  static var summary: String {
    let cpu = cpuLevel > 0 ? "; this CPU runs up to \(BuildTarget.describe(level: cpuLevel))" : ""
    return "kernels \(BuildTarget.description)\(cpu)"
  }
}
