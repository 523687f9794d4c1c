// Scaling record of one large network run split across ranks, and the snapshot write (each rank
// appends its rows to its own journal) against a plain sequential write of the same bytes,
// measured in one mpirun launch:
//
//   mpirun -np 2 ScalingBenchmark [--particles 131072] [--steps 8] [--samples 1000] [--inputs 20]
//                                 [--block-size 256]
//
// Then the cost model of docs/SCALING.md fed with what was measured here (compute per
// particle-data pair, the exact sum's deposit, rounding and addition costs) and stated network
// figures, for N = 2¹⁷ and 2²⁰ on 64 … 4 096 ranks.
//
// Phase 1: rank 0 alone (a one-rank communicator); rank 1 sleeps meanwhile, polling for a marker
// file rather than spinning in an MPI call, so that it takes no processor time from rank 0.
// Phase 2: both ranks share the ensemble. One thread per rank in both, so the comparison is
// ranks against ranks.
import BenchmarkSupport
import Foundation
import MeanFieldCore
import ParallelRuntime
import SweepStore

func option(_ name: String, _ fallback: Int) -> Int {
  Bench.option(name).flatMap { Int($0) } ?? fallback
}
let median = Bench.median

try MPIEnvironment.initialize()
let world = MPIEnvironment.world
guard world.size == 2 else {
  if world.rank == 0 { print("run under mpirun -np 2") }
  MPIEnvironment.finalize()
  exit(2)
}
let particles = option("--particles", 1 << 17), steps = option("--steps", 8)
let n = option("--samples", 1000), p = option("--inputs", 20), blockSize = option("--block-size", 256)
BLAS.setThreadCount(1)
let data = TeacherSpecification(inputs: p, samples: n, teacherWidth: 4, noise: 0.1, seed: 1, activation: .tanh)
  .makeDataSet()
let model = TwoLayerNetwork(data: data, activation: .tanh)
let layout = BlockLayout(particleCount: particles, blockSize: blockSize)
let dynamics = Dynamics.overdamped(.init(step: 0.01, temperature: 1e-3, l2: 1e-3))

/// Median wall time of a step over `steps` steps on `comm` (timed between barriers).
func timeSteps<C: Communicator>(_ comm: C) throws -> (median: Double, positions: [Double]) {
  let engine = ParticleEngine(
    model: model, exchange: CommunicatorExchange(layout: layout, communicator: comm), dynamics: dynamics,
    initial: .gaussian(mean: [0], std: [1]), noise: GaussianField(seed: 1, runIndex: 0), threads: 1)
  _ = try engine.step()
  var times = [Double]()
  for _ in 0..<steps {
    try comm.barrier()
    let t0 = MPIEnvironment.wallTime
    _ = try engine.step()
    try comm.barrier()
    times.append(MPIEnvironment.wallTime - t0)
  }
  return (median(times), engine.positions)
}

let folder = try world.broadcast(
  FileManager.default.temporaryDirectory.appendingPathComponent("scaling-\(getpid())").path, root: 0)
if world.rank == 0 { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
try world.barrier()

// Phase 1: one rank.
let alone = try world.split(color: world.rank, key: 0)
var single = 0.0
let phaseOneDone = folder + "/phase-1-done"
if world.rank == 0 {
  single = try timeSteps(alone).median
  _ = FileManager.default.createFile(atPath: phaseOneDone, contents: nil)
} else {
  while !FileManager.default.fileExists(atPath: phaseOneDone) { usleep(2000) }
}
try world.barrier()
// Phase 2: two ranks.
let (double, _) = try timeSteps(world)
let efficiency = single / (2 * double)
let statistic = n + 2
// What a step communicates: the statistic's exact accumulators, reduce-scattered (each rank
// receives the sums of its share of the numbers), then the rounded values, all-gathered.
let words = statistic * ExactSum.width
let bytesPerStep = Double(words * MemoryLayout<Int64>.size + statistic * MemoryLayout<Double>.size)

// The model's measured inputs. One step's exact sum on these two ranks (64 blocks each), both
// ways: reduce-scattered (the default from 64 numbers) and all-reduced with every rank rounding
// everything; they must agree bit for bit. Then the local work: deposit a block partial's
// numbers, bound a number's accumulator, round it, add two accumulators.
let sumExchange = CommunicatorExchange(
  layout: BlockLayout(particleCount: 128 * blockSize, blockSize: blockSize), communicator: world)
let ownedPartials = (0..<(sumExchange.ownedBlocks.count * statistic)).map { k in
  sin(Double(k + world.rank * 7919)) * 0.37
}
var accumulators = [Int64](repeating: 0, count: words)
var scattered = [Double](repeating: 0, count: statistic), everywhere = scattered
var scatterTimes = [Double](), everywhereTimes = [Double]()
for _ in 0..<21 {
  try ownedPartials.withUnsafeBufferPointer { p in
    try accumulators.withUnsafeMutableBufferPointer { a in
      try world.barrier()
      var t0 = MPIEnvironment.wallTime
      try scattered.withUnsafeMutableBufferPointer { r in
        try sumExchange.exactSum(localPartials: p, length: statistic, accumulators: a, into: r)
      }
      scatterTimes.append(MPIEnvironment.wallTime - t0)
      try world.barrier()
      t0 = MPIEnvironment.wallTime
      try everywhere.withUnsafeMutableBufferPointer { r in
        try sumExchange.exactSumRoundingEverywhere(localPartials: p, length: statistic, accumulators: a, into: r)
      }
      everywhereTimes.append(MPIEnvironment.wallTime - t0)
    }
  }
}
guard scattered.map(\.bitPattern) == everywhere.map(\.bitPattern) else {
  print("the scattered and the all-reduced exact sums differ")
  exit(1)
}
let blockPartials = (0..<(64 * statistic)).map { k in sin(Double(k)) * 0.37 }
var depositTimes = [Double](), boundTimes = [Double](), roundTimes = [Double](), addTimes = [Double]()
var other = [Int64](repeating: 3, count: words)
var rounded = [Double](repeating: 0, count: statistic)
for _ in 0..<21 {
  accumulators.withUnsafeMutableBufferPointer { a in
    let base = a.baseAddress!
    base.update(repeating: 0, count: words)
    var t0 = MPIEnvironment.wallTime
    for b in 0..<64 {
      for j in 0..<statistic { ExactSum.deposit(blockPartials[b * statistic + j], into: base + j * ExactSum.width) }
    }
    depositTimes.append((MPIEnvironment.wallTime - t0) / Double(64 * statistic))
    t0 = MPIEnvironment.wallTime
    for j in 0..<statistic { ExactSum.bound(base + j * ExactSum.width) }
    boundTimes.append((MPIEnvironment.wallTime - t0) / Double(statistic))
    t0 = MPIEnvironment.wallTime
    for j in 0..<statistic { rounded[j] = ExactSum.rounded(base + j * ExactSum.width) }
    roundTimes.append((MPIEnvironment.wallTime - t0) / Double(statistic))
    t0 = MPIEnvironment.wallTime
    other.withUnsafeBufferPointer { o in
      for j in 0..<statistic { ExactSum.add(o.baseAddress! + j * ExactSum.width, into: base + j * ExactSum.width) }
    }
    addTimes.append((MPIEnvironment.wallTime - t0) / Double(words * 8))
  }
}

// Snapshot write: every rank its rows into its own journal vs rank 0 writing the same bytes
// sequentially with write(2); both followed by fsync, repeated, median.
let d = model.dimension
let mine = layout.particles(ofBlocks: layout.blocks(ofPart: world.rank, parts: 2))
let rows = [Double](repeating: 1.5, count: mine.count * d)
var hdf5Times = [Double](), plainTimes = [Double]()
let all = [Double](repeating: 1.5, count: particles * d)

/// The snapshot path of a run: every rank appends its rows as one checksummed record to its own
/// journal and flushes it (no rank waits for another's file).
func journalWrite(_ repetition: Int) throws -> Double {
  let journal = JournalWriter(path: folder + "/journal-\(repetition)-\(world.rank).mfj")
  try world.barrier()
  let t0 = MPIEnvironment.wallTime
  let prefix = SnapshotRows.prefix(
    snapshot: 0, firstParticle: mine.lowerBound, rows: mine.count, dimension: d, velocities: false)
  try rows.withUnsafeBytes { b in
    try journal.append(kind: .rows, key: RunKey(high: 1, low: 2), attempt: 0, prefix: prefix, pieces: [b])
  }
  try journal.close()
  try world.barrier()
  return MPIEnvironment.wallTime - t0
}

/// Plain sequential write(2) of the same bytes by rank 0 into a new file, then fsync and close
/// (the journals are new files too, allocated as they are written).
func plainWrite(_ repetition: Int) throws -> Double {
  try world.barrier()
  var elapsed = 0.0
  if world.rank == 0 {
    let plain = folder + "/plain-\(repetition).bin"
    let fd = open(plain, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
    let t1 = MPIEnvironment.wallTime
    all.withUnsafeBytes { b in
      var offset = 0
      while offset < b.count { offset += write(fd, b.baseAddress! + offset, b.count - offset) }
    }
    fsync(fd)
    close(fd)
    elapsed = MPIEnvironment.wallTime - t1
  }
  try world.barrier()
  return elapsed
}

// Alternate the order, so that both see the same disk and page-cache conditions.
for repetition in 0..<9 {
  if repetition % 2 == 0 {
    hdf5Times.append(try journalWrite(repetition))
    plainTimes.append(try plainWrite(repetition))
  } else {
    plainTimes.append(try plainWrite(repetition))
    hdf5Times.append(try journalWrite(repetition))
  }
}
if world.rank == 0 {
  let bytes = Double(particles * d * 8)
  let hdf5 = bytes / median(hdf5Times) / 1e6, plain = bytes / median(plainTimes) / 1e6
  print("machine: \(Bench.machine())")
  print("network step, N = \(particles), p = \(p), n = \(n), block size \(blockSize), one thread per rank")
  print(
    String(
      format: "1 rank: %.1f ms/step   2 ranks: %.1f ms/step   speed-up %.2f   parallel efficiency %.0f%%",
      single * 1e3, double * 1e3, single / double, efficiency * 100))
  let accumulatorBytes = Double(words * 8)
  print(
    String(
      format:
        "communicated per step and rank: %.0f KiB (%d numbers × %d words reduce-scattered, then %d doubles all-gathered; independent of N and P)",
      bytesPerStep / 1024, statistic, ExactSum.width, statistic))
  let c = single / Double(particles * n)
  let deposit = median(depositTimes), bound = median(boundTimes), round = median(roundTimes)
  let add = median(addTimes)
  print(
    String(
      format:
        "exact sum of a step on 2 ranks: reduce-scattered %.0f µs, all-reduced with every rank rounding %.0f µs (same bits)",
      median(scatterTimes) * 1e6, median(everywhereTimes) * 1e6))
  print(
    String(
      format:
        "measured: compute %.2f ns per particle-data pair; deposit %.1f ns per number; bound %.1f ns and round %.0f ns per number; adding accumulators %.2f ns per byte",
      c * 1e9, deposit * 1e9, bound * 1e9, round * 1e9, add * 1e9))
  // The model at scale: compute N n c / P; the local exact sum (deposits, bounds, rounding of
  // this rank's share); the reduce-scatter of the accumulators and the all-gather of the
  // rounded values (2 α log₂P latency, β per byte moved, the additions of the accumulators)
  // with InfiniBand-class α = 2 µs and 1/β = 10 GB/s per rank. B = min(256, N/P).
  let alpha = 2e-6, beta = 1 / 10e9
  print("model (α = 2 µs, 1/β = 10 GB/s; the rest measured above):")
  print("N          P      N/P    compute ms   exact sum ms   collectives ms   efficiency")
  for total in [1 << 17, 1 << 20] {
    let t1 =
      Double(total * n) * c + Double(total / blockSize * statistic) * deposit + Double(statistic) * (bound + round)
    for ranks in [64, 256, 1024, 4096] {
      let perRank = total / ranks, b = min(blockSize, perRank)
      let compute = Double(perRank * n) * c
      let share = Double((statistic + ranks - 1) / ranks)
      let local = Double((perRank + b - 1) / b * statistic) * deposit + Double(statistic) * bound + share * round
      let levels = Double(ranks.trailingZeroBitCount)
      let reduce = 2 * alpha * levels + beta * bytesPerStep + add * accumulatorBytes
      let stepTime = compute + local + reduce
      print(
        String(
          format: "%-10d %-6d %-6d %10.3f   %12.3f   %14.3f   %9.0f%%", total, ranks, perRank, compute * 1e3,
          local * 1e3, reduce * 1e3, 100 * t1 / (Double(ranks) * stepTime)))
    }
  }
  print(
    String(
      format: "snapshot (%.1f MB): per-rank journals %.0f MB/s, plain sequential write %.0f MB/s, ratio %.0f%%",
      bytes / 1e6, hdf5, plain, 100 * hdf5 / plain))
  try? FileManager.default.removeItem(atPath: folder)
}
MPIEnvironment.finalize()
