// swift-tools-version:6.0
import PackageDescription

// Release builds are compiled for an x86-64 micro-architecture level, the portable x86-64-v2 by
// default: the binary runs on every x86-64 CPU of the last fifteen years. scripts/build.sh adds
// the x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512) variants beside it, and the binary hands
// itself over at start to the widest variant the CPU runs (docs/PORTABILITY.md). Results do not
// depend on the level (no fast-math, no FMA contraction, fixed reduction orders), only speed.
// MFSWEEP_TARGET_CPU=x86-64-v3 (or native, or a named CPU) builds for another level.
#if arch(x86_64)
  let defaultCPU = "x86-64-v2"
#else
  let defaultCPU = "generic"
#endif
let targetCPU = Context.environment["MFSWEEP_TARGET_CPU"] ?? defaultCPU
// The compiler takes CPU names, not psABI levels: each level is built as the oldest CPU that has
// exactly its instruction set (Nehalem: v2; Haswell: v3's AVX2, FMA, BMI2, F16C, MOVBE, LZCNT;
// Skylake-SP: v4's AVX-512 F/BW/CD/DQ/VL), whose few extras (AES, RDRAND, CLWB, …) the compiler
// emits only for intrinsics, which mfsweep does not use. The level is known to the program
// (MeanFieldCore's BuildTarget) for the hand-over and the benchmarks' records.
let (compilerCPU, levelDefine): (String, String) = {
  switch targetCPU {
  case "x86-64-v2": return ("nehalem", "MFSWEEP_CPU_X86_64_V2")
  case "x86-64-v3": return ("haswell", "MFSWEEP_CPU_X86_64_V3")
  case "x86-64-v4": return ("skylake-avx512", "MFSWEEP_CPU_X86_64_V4")
  case "native": return ("native", "MFSWEEP_CPU_NATIVE")
  default: return (targetCPU, "MFSWEEP_CPU_OTHER")
  }
}()
// For the x86-64-v4 level the tuning for 256-bit vectors that LLVM gives Skylake-SP (to spare its
// clock on 512-bit instructions) is switched off: the loops then run on eight doubles per
// instruction, 1.4× faster for the normals and exponentials on the machines measured (an AMD Zen 4
// and an Intel Sapphire Rapids), with the same instruction set and the same bits.
let tuningFlags: [String] =
  levelDefine == "MFSWEEP_CPU_X86_64_V4"
  ? ["-Xcc", "-Xclang", "-Xcc", "-target-feature", "-Xcc", "-Xclang", "-Xcc", "-prefer-256-bit"] : []
let numericsFlags: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", compilerCPU] + tuningFlags, .when(configuration: .release)), .define(levelDefine),
]

let package = Package(
  name: "mfsweep",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "mfsweep", targets: ["mfsweep"]),
    .library(name: "MeanFieldCore", targets: ["MeanFieldCore"]),
    .library(name: "MeanFieldDiagnostics", targets: ["MeanFieldDiagnostics"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: [
    // MARK: - C libraries (header-only shims over Debian's Open MPI, parallel HDF5, OpenBLAS)
    .systemLibrary(
      name: "CMPI", pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
    .systemLibrary(
      name: "CHDF5", pkgConfig: "hdf5-openmpi",
      providers: [.apt(["libhdf5-openmpi-dev"])]),
    .systemLibrary(
      name: "CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),

    // MARK: - Numerics (no MPI, no I/O)
    .target(
      name: "MeanFieldCore", dependencies: ["CBLAS"], swiftSettings: numericsFlags),
    .target(
      name: "MeanFieldDiagnostics", dependencies: ["MeanFieldCore"], swiftSettings: numericsFlags),

    // MARK: - Distribution and storage
    .target(name: "ParallelRuntime", dependencies: ["CMPI", "MeanFieldCore"], swiftSettings: numericsFlags),
    .target(name: "SweepStore", dependencies: ["CHDF5"], swiftSettings: numericsFlags),
    .target(name: "CPUFeatures"),

    // MARK: - Sweeps and the command line
    .target(
      name: "SweepRunner",
      dependencies: [
        "MeanFieldCore", "MeanFieldDiagnostics", "ParallelRuntime", "SweepStore",
        .product(name: "Yams", package: "Yams"),
      ], swiftSettings: numericsFlags),
    .executableTarget(
      name: "mfsweep",
      dependencies: [
        "SweepRunner", "ParallelRuntime", "SweepStore", "MeanFieldCore", "CPUFeatures",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ], swiftSettings: numericsFlags),

    // MARK: - Benchmarks
    .target(
      name: "BenchmarkSupport", dependencies: ["MeanFieldCore"], path: "Benchmarks/BenchmarkSupport",
      swiftSettings: numericsFlags),
    .target(name: "AllocationCounter", path: "Benchmarks/AllocationCounter"),
    .executableTarget(
      name: "ScalingBenchmark",
      dependencies: ["MeanFieldCore", "ParallelRuntime", "SweepStore", "BenchmarkSupport"],
      path: "Benchmarks/ScalingBenchmark", swiftSettings: numericsFlags),
    .executableTarget(
      name: "StepBenchmark",
      dependencies: ["MeanFieldCore", "AllocationCounter", "CBLAS", "BenchmarkSupport"],
      path: "Benchmarks/StepBenchmark", swiftSettings: numericsFlags),
    .executableTarget(
      name: "PotentialBenchmark",
      dependencies: ["MeanFieldCore", "AllocationCounter", "BenchmarkSupport"],
      path: "Benchmarks/PotentialBenchmark", swiftSettings: numericsFlags),
    .executableTarget(
      name: "TransportBenchmark", dependencies: ["MeanFieldDiagnostics", "BenchmarkSupport"],
      path: "Benchmarks/TransportBenchmark", swiftSettings: numericsFlags),
    .executableTarget(
      name: "PortableBenchmark", dependencies: ["BenchmarkSupport"], path: "Benchmarks/PortableBenchmark"),
    .executableTarget(
      name: "StoreBenchmark", dependencies: ["BenchmarkSupport"], path: "Benchmarks/StoreBenchmark"),
    .executableTarget(
      name: "DivergenceBenchmark", dependencies: ["MeanFieldDiagnostics", "BenchmarkSupport"],
      path: "Benchmarks/DivergenceBenchmark", swiftSettings: numericsFlags),

    // MARK: - Tests
    .testTarget(name: "MeanFieldCoreTests", dependencies: ["MeanFieldCore"]),
    .testTarget(name: "MeanFieldDiagnosticsTests", dependencies: ["MeanFieldDiagnostics"]),
    .testTarget(
      name: "SweepRunnerTests",
      dependencies: ["SweepRunner", "SweepStore", "ParallelRuntime", "mfsweep"]),
  ]
)
