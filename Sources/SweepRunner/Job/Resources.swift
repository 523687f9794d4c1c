import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

/// What one run needs, estimated from its configuration before anything is allocated, so that
/// a job asking for more than a machine can hold is refused at once (with the numbers) instead
/// of crashing, swapping or filling the disk mid-sweep.
///
/// The estimates are upper bounds of the dominant terms (in bytes, as `Double` so that absurd
/// sizes do not overflow): particle state and scratch, the gathered snapshot, the data set,
/// the recorded samples, the reference PDE's grid; the file holds the samples, the snapshots
/// and two checkpoint slots.
public struct ResourceEstimate: Sendable, Equatable {
  /// Peak memory of the busiest rank of the run's group (rank 0 gathers the snapshot).
  public var memoryPerRank: Double
  /// Bytes the run adds to its task file (samples, snapshots, checkpoints).
  public var fileBytes: Double
  /// The job key whose value dominates the memory estimate, for messages.
  public var dominantKey: String
}

/// Limits a job is checked against.
public struct ResourceLimits: Sendable, Equatable {
  /// Memory one rank may use (bytes); nil: unchecked.
  public var memoryPerRank: Double?

  public init(memoryPerRank: Double?) { self.memoryPerRank = memoryPerRank }

  /// This machine's physical memory.
  public static var machine: ResourceLimits {
    ResourceLimits(memoryPerRank: Double(ProcessInfo.processInfo.physicalMemory))
  }
  /// No limit (`--ignore-memory-limit`, for a login node smaller than the compute nodes).
  public static let unchecked = ResourceLimits(memoryPerRank: nil)
}

/// `12.3 GiB`, `512 B`, `4.8e+07 TiB`.
public func formatBytes(_ bytes: Double) -> String {
  let units = ["B", "KiB", "MiB", "GiB", "TiB"]
  var value = bytes
  var unit = 0
  while value >= 1024 && unit < units.count - 1 {
    value /= 1024
    unit += 1
  }
  if unit == 0 { return "\(Int(value)) B" }
  return value < 1e5 ? String(format: "%.3g %@", value, units[unit]) : String(format: "%.2g %@", value, units[unit])
}

extension RunConfiguration {
  /// Number of metric samples of the run (steps 0, every, 2·every, ..., last), computed
  /// without building the list.
  public var sampleCount: Double { Double(steps / diagnostics.every) + (steps % diagnostics.every == 0 ? 1 : 2) }

  /// Number of particle snapshots of the run.
  public var snapshotCount: Double {
    guard let k = diagnostics.snapshotsEvery else { return 1 }
    if k == 0 { return 0 }
    return Double(steps / k) + (steps % k == 0 ? 1 : 2)
  }

  /// The estimate for a run split over `ranksPerRun` ranks with `cacheBytes` of model cache.
  public func resources(ranksPerRun: Int, cacheBytes: Double) -> ResourceEstimate {
    let n = Double(particles), d = Double(dimension)
    let local = (n / Double(max(1, ranksPerRun))).rounded(.up)
    let stateCopies = dynamics.hasVelocities ? 10.0 : 6.0
    // Positions, previous positions, drift, noise (and velocities), then the whole ensemble
    // once more on the rank that gathers a snapshot or a sample-based metric.
    let particleBytes = 8 * (stateCopies * local * d + n * d)
    var dataBytes = 0.0
    var modelCache = 0.0
    if case .twoLayerNetwork(let net) = model {
      let rows = Double(net.data.samples), columns = Double(net.data.inputs + 2)
      dataBytes = 8 * rows * columns * 2
      modelCache = min(cacheBytes, 8 * local * rows)
    }
    let widths = diagnostics.metrics.reduce(2.0) {
      $0 + Double($1.width(dimension: dimension, basins: diagnostics.basinCount))
    }
    let sampleBytes = 8 * sampleCount * (widths + 2)
    // The reference PDE: its solver's grid buffers, and its density at every sample.
    var cells = 0.0
    if let reference {
      cells = reference.cells.reduce(1.0) { $0 * Double($1) }
      if let v = reference.velocity { cells *= Double(v.cells) }
    }
    let referenceBytes = 8 * 16 * cells + 8 * sampleCount * cells
    let memory = particleBytes + dataBytes + modelCache + sampleBytes + referenceBytes
    let terms: [(String, Double)] = [
      ("particles", particleBytes), ("model.data", dataBytes + modelCache),
      ("diagnostics.every", sampleBytes), ("reference.cells", referenceBytes),
    ]
    let dominant = terms.max { $0.1 < $1.1 }!.0
    let snapshotBytes = 8 * snapshotCount * n * d
    let checkpointBytes = 2 * 8 * n * d * (dynamics.hasVelocities ? 2 : 1)
    // The HDF5 groups, datasets and attributes of one run take about 16 KiB of bookkeeping.
    let file = sampleBytes + snapshotBytes + checkpointBytes + 8 * sampleCount * cells + 16 * 1024
    return ResourceEstimate(memoryPerRank: memory, fileBytes: file, dominantKey: dominant)
  }
}
