// swift-tools-version:6.0
import PackageDescription

// Hot loops are compiled for the build machine's instruction set (AVX2/AVX-512 where present);
// per-element results do not change with it (no fast-math, no FMA contraction), only speed.
// Build for another machine with MFSWEEP_TARGET_CPU=x86-64 (or a named CPU).
let targetCPU = Context.environment["MFSWEEP_TARGET_CPU"] ?? "native"
let numericsFlags: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", targetCPU], .when(configuration: .release))
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
    .target(name: "ParallelRuntime", dependencies: ["CMPI", "MeanFieldCore"]),
    .target(name: "SweepStore", dependencies: ["CHDF5"]),

    // MARK: - Sweeps and the command line
    .target(
      name: "SweepRunner",
      dependencies: [
        "MeanFieldCore", "MeanFieldDiagnostics", "ParallelRuntime", "SweepStore",
        .product(name: "Yams", package: "Yams"),
      ]),
    .executableTarget(
      name: "mfsweep",
      dependencies: [
        "SweepRunner", "ParallelRuntime", "SweepStore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // MARK: - Benchmarks
    .target(name: "BenchmarkSupport", path: "Benchmarks/BenchmarkSupport"),
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
