import MeanFieldCore

/// The block exchange of one run whose particles are spread over the ranks of a communicator.
///
/// Rank r of G owns a contiguous range of blocks, by default `layout.blocks(ofPart: r, parts:
/// G)`. A sum over particles deposits each owned block's partial into exact accumulators
/// (``ExactSum``), which the ranks add as 64-bit integers (an all-reduce, or for long sums a
/// reduce-scatter, each rank rounding its share, then an all-gather of the rounded values), so
/// it is bitwise the same for any G and any assignment of blocks to ranks, including G = 1
/// without MPI; positions are all-gathered only for the models and metrics that need them.
public final class CommunicatorExchange<C: Communicator>: BlockExchange, @unchecked Sendable {
  public let communicator: C
  public let layout: BlockLayout
  public let ownedBlocks: Range<Int>
  /// Blocks of every rank, for the gather displacements.
  private let blocksPerRank: [Range<Int>]
  private let counts: UnsafeMutableBufferPointer<Int32>
  private let displacements: UnsafeMutableBufferPointer<Int32>
  private var countsRowLength = -1
  /// The numbers of a scattered exact sum each rank rounds (cached per length): words received,
  /// and the rounded values' counts and displacements.
  private let shareWords: UnsafeMutableBufferPointer<Int32>
  private let shareCounts: UnsafeMutableBufferPointer<Int32>
  private let shareDisplacements: UnsafeMutableBufferPointer<Int32>
  private var sharesLength = -1
  private var received = UnsafeMutableBufferPointer<Int64>.allocate(capacity: 1)
  private var rounded = UnsafeMutableBufferPointer<Double>.allocate(capacity: 1)

  /// From this many numbers on, an exact sum over several ranks is reduce-scattered: each rank
  /// receives the summed accumulators of its share of the numbers (an `MPI_Reduce_scatter`),
  /// rounds them, and the rounded values are all-gathered. Half the bytes of an all-reduce of
  /// the accumulators, and 1/P of the rounding; below it, one all-reduce (one latency instead
  /// of two) and every rank rounds everything. Both give the same bits (the rounding of an
  /// exact sum is unique).
  public static var scatterThreshold: Int { 64 }

  /// An exchange for `layout` over `communicator`. `split`, when given, is the number of
  /// blocks each rank owns, in rank order (contiguous ranges; rank 0, the group's leader, owns
  /// block 0); by default blocks are dealt as evenly as possible.
  public init(layout: BlockLayout, communicator: C, split: [Int]? = nil) {
    self.communicator = communicator
    self.layout = layout
    if let split {
      precondition(
        split.count == communicator.size && split.allSatisfy { $0 >= 0 }
          && split.reduce(0, +) == layout.blockCount && (split[0] > 0 || layout.blockCount == 0),
        "invalid block split")
      var lower = 0
      blocksPerRank = split.map { count in
        defer { lower += count }
        return lower..<(lower + count)
      }
    } else {
      blocksPerRank = (0..<communicator.size).map { layout.blocks(ofPart: $0, parts: communicator.size) }
    }
    ownedBlocks = blocksPerRank[communicator.rank]
    counts = .allocate(capacity: communicator.size)
    displacements = .allocate(capacity: communicator.size)
    shareWords = .allocate(capacity: communicator.size)
    shareCounts = .allocate(capacity: communicator.size)
    shareDisplacements = .allocate(capacity: communicator.size)
    for b in [counts, displacements, shareWords, shareCounts, shareDisplacements] { b.initialize(repeating: 0) }
  }

  deinit {
    for b in [counts, displacements, shareWords, shareCounts, shareDisplacements] { b.deallocate() }
    received.deallocate()
    rounded.deallocate()
  }

  /// Sets counts and displacements for rows of `rowLength` values (cached between calls).
  private func prepare(rowLength: Int) {
    if countsRowLength == rowLength { return }
    for r in 0..<communicator.size {
      let rows = layout.particles(ofBlocks: blocksPerRank[r])
      counts[r] = Int32(rows.count * rowLength)
      displacements[r] = Int32(rows.lowerBound * rowLength)
    }
    countsRowLength = rowLength
  }

  public func exactSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int, accumulators: UnsafeMutableBufferPointer<Int64>,
    into result: UnsafeMutableBufferPointer<Double>
  ) throws {
    let g = communicator.size
    if g == 1 || length < Self.scatterThreshold {
      try exactSumRoundingEverywhere(
        localPartials: localPartials, length: length, accumulators: accumulators, into: result)
      return
    }
    precondition(result.count >= length)
    deposit(localPartials, length: length, into: accumulators)
    let width = ExactSum.width
    if sharesLength != length {
      // Numbers dealt to ranks as blocks of one are (as evenly as possible, earlier ranks
      // taking the remainder).
      let numbers = BlockLayout(particleCount: length, blockSize: 1)
      for k in 0..<g {
        let share = numbers.blocks(ofPart: k, parts: g)
        shareCounts[k] = Int32(share.count)
        shareDisplacements[k] = Int32(share.lowerBound)
        shareWords[k] = Int32(share.count * width)
      }
      let most = numbers.blocks(ofPart: 0, parts: g).count
      if received.count < most * width {
        received.deallocate()
        received = .allocate(capacity: most * width)
        rounded.deallocate()
        rounded = .allocate(capacity: max(1, most))
      }
      sharesLength = length
    }
    let mine = Int(shareCounts[communicator.rank])
    try communicator.reduceScatterSum(
      UnsafeBufferPointer(rebasing: accumulators.prefix(length * width)), into: received,
      counts: UnsafeBufferPointer(shareWords))
    for k in 0..<mine { rounded[k] = ExactSum.rounded(received.baseAddress! + k * width) }
    try communicator.allGatherV(
      UnsafeBufferPointer(rebasing: rounded.prefix(mine)), into: result, counts: UnsafeBufferPointer(shareCounts),
      displacements: UnsafeBufferPointer(shareDisplacements))
  }

  public func sumIntegers(_ words: UnsafeMutableBufferPointer<Int64>) throws {
    if communicator.size > 1 { try communicator.allReduce(words, op: .sum) }
  }

  public func allGather(
    local: UnsafeBufferPointer<Double>, rowLength: Int,
    into all: UnsafeMutableBufferPointer<Double>
  ) throws {
    prepare(rowLength: rowLength)
    try communicator.allGatherV(
      local, into: all, counts: UnsafeBufferPointer(counts),
      displacements: UnsafeBufferPointer(displacements))
  }

  public func broadcastFromLeader(_ values: UnsafeMutableBufferPointer<Double>) throws {
    try communicator.broadcast(values, root: 0)
  }
}
