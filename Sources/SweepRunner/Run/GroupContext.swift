import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import ParallelRuntime
import SweepStore

/// What the runs of one rank group share during a launch.
final class GroupContext<C: Communicator> {
  let group: C
  /// World rank of every member of the group, in group order.
  let worldRanks: [Int]
  let layout: StoreLayout
  let launch: String
  /// This rank's journal.
  let journal: JournalWriter
  let checkpoints: CheckpointStore
  let jobName: String
  let blockSize: Int
  let threads: Int
  /// Whether `threads` is the machine's default (`parallel.threads: auto`): a run whose step is
  /// too small to pay for waking threads then runs on fewer.
  var automaticThreads = false
  let cacheBudget: Int
  let checkpoint: CheckpointSpec
  let stopFiles: StopFiles
  let progress: ProgressReporter?
  /// Whether another group asked the launch to stop (polled between steps).
  let abortRequested: () -> Bool
  /// Called between steps (the lock's heartbeat on the launch's first rank).
  let tick: () -> Void

  init(
    group: C, worldRanks: [Int], layout: StoreLayout, launch: String, journal: JournalWriter, jobName: String,
    blockSize: Int, threads: Int, cacheBudget: Int, checkpoint: CheckpointSpec, stopFiles: StopFiles,
    progress: ProgressReporter?, abortRequested: @escaping () -> Bool, tick: @escaping () -> Void
  ) {
    self.group = group
    self.worldRanks = worldRanks
    self.layout = layout
    self.launch = launch
    self.journal = journal
    self.checkpoints = CheckpointStore(folder: layout.checkpoints)
    self.jobName = jobName
    self.blockSize = blockSize
    self.threads = threads
    self.cacheBudget = cacheBudget
    self.checkpoint = checkpoint
    self.stopFiles = stopFiles
    self.progress = progress
    self.abortRequested = abortRequested
    self.tick = tick
  }

  /// The attempt id of a run in this launch (the same on every rank).
  func attempt(for key: RunKey) -> UInt64 {
    var h = XXHash64(seed: key.low)
    Array((launch + ":" + key.description).utf8).withUnsafeBytes { h.update($0) }
    return h.finalize()
  }

  /// The journals of the group's ranks that own particles of an ensemble of `layout`.
  func journalsHolding(_ blocks: BlockLayout) -> [String] {
    (0..<group.size).compactMap { r in
      blocks.blocks(ofPart: r, parts: group.size).isEmpty
        ? nil : StoreLayout.journalName(launch: launch, rank: worldRanks[r])
    }
  }
}

/// Decides, between steps, whether to checkpoint and whether to stop. Every rank of a group
/// reaches the same decision: the local reasons (a signal, a stop file, another group's abort,
/// a storage failure, the wall clock) are combined by an all-reduce.
struct StepControl<C: Communicator> {
  let group: C
  let every: Int?
  let seconds: Double?
  let stopFiles: StopFiles
  let abortRequested: () -> Bool
  let tick: () -> Void
  var lastCheckpoint: Double
  var lastCheck = -Double.infinity
  var stopSeen = false

  init(context: GroupContext<C>) {
    group = context.group
    every = context.checkpoint.every
    seconds = context.checkpoint.seconds
    stopFiles = context.stopFiles
    abortRequested = context.abortRequested
    tick = context.tick
    lastCheckpoint = monotonicSeconds()
  }

  /// `failed`: this rank saw a storage failure since the last decision.
  mutating func decide(step k: Int, startedAt start: Int, failed: Bool) throws -> (
    checkpoint: Bool, stop: Bool, failed: Bool
  ) {
    let now = monotonicSeconds()
    if now - lastCheck > 1 {
      lastCheck = now
      if !stopSeen { stopSeen = stopFiles.requested() || abortRequested() }
      tick()
    }
    var flags: [Int64] = [
      Interruption.receivedSignal != nil || stopSeen ? 1 : 0,
      seconds.map { now - lastCheckpoint >= $0 } == true ? 1 : 0,
      failed ? 1 : 0,
    ]
    if group.size > 1 {
      try flags.withUnsafeMutableBufferPointer { try group.allReduce($0, op: .max) }
    }
    let stop = flags[0] > 0
    let byStep = every.map { k > start && k % $0 == 0 } ?? false
    return (!(flags[2] > 0) && (stop || byStep || flags[1] > 0), stop || flags[2] > 0, flags[2] > 0)
  }

  mutating func didCheckpoint() { lastCheckpoint = monotonicSeconds() }
}

/// `MFSWEEP_BLOCK_SPLIT`: how a run's blocks are assigned to the ranks of its group.
enum BlockSplitSetting {
  static var value: String { ProcessInfo.processInfo.environment["MFSWEEP_BLOCK_SPLIT"] ?? "" }

  /// Refuses a value other than unset, `balanced` or `skewed` (at the start of a launch).
  static func check() throws {
    if !["", "balanced", "skewed"].contains(value) {
      throw LaunchError("MFSWEEP_BLOCK_SPLIT must be 'balanced' or 'skewed', not '\(value.prefix(40))'")
    }
  }
}

extension GroupContext {
  /// The blocks each rank of the group owns, when `MFSWEEP_BLOCK_SPLIT=skewed` asks for an
  /// uneven assignment (for the tests: sums are exact, so no assignment changes a bit). Rank 0
  /// owns one block and rank r ≥ 1 a share of the rest proportional to r. Nil: blocks dealt
  /// evenly.
  func blockSplit(blocks: Int) -> [Int]? {
    let g = group.size
    if BlockSplitSetting.value != "skewed" || g == 1 || blocks == 0 { return nil }
    var counts = [1] + [Int](repeating: 0, count: g - 1)
    let rest = blocks - 1, total = g * (g - 1) / 2
    var assigned = 0, cumulative = 0
    for r in 1..<g {
      cumulative += r
      let upTo = rest * cumulative / total
      counts[r] = upTo - assigned
      assigned = upTo
    }
    if group.rank == 0 {
      FileHandle.standardError.write(
        Data(
          "mfsweep: MFSWEEP_BLOCK_SPLIT=skewed: blocks per rank \(counts.map(String.init).joined(separator: ","))\n"
            .utf8))
    }
    return counts
  }
}

/// `MFSWEEP_FAIL_RUNS` (comma-separated run ids), read once per process.
