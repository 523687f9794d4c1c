import MeanFieldCore

/// The block exchange of one run whose particles are spread over the ranks of a communicator.
///
/// Rank r of G owns a contiguous range of blocks, by default `layout.blocks(ofPart: r, parts:
/// G)`. A sum over particles deposits each owned block's partial into exact accumulators
/// (``ExactSum``) and adds the accumulators with an `MPI_Allreduce` of 64-bit integers, so it
/// is bitwise the same for any G and any assignment of blocks to ranks, including G = 1
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
    counts.initialize(repeating: 0)
    displacements.initialize(repeating: 0)
  }

  deinit {
    counts.deallocate()
    displacements.deallocate()
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
