import MeanFieldCore

/// The block exchange of one run whose particles are spread over the ranks of a communicator.
///
/// Rank r of G owns the contiguous blocks `layout.blocks(ofPart: r, parts: G)`. An ordered sum
/// all-gathers every block's partial (blocks × length numbers) and adds them in block order on
/// every rank, so the result is bitwise the same for any G, including G = 1 without MPI.
public final class CommunicatorExchange<C: Communicator>: BlockExchange, @unchecked Sendable {
  public let communicator: C
  public let layout: BlockLayout
  public let ownedBlocks: Range<Int>
  /// Blocks of every rank, for the gather displacements.
  private let blocksPerRank: [Range<Int>]
  private var gathered: UnsafeMutableBufferPointer<Double>
  private var gatheredLength = -1
  private let counts: UnsafeMutableBufferPointer<Int32>
  private let displacements: UnsafeMutableBufferPointer<Int32>
  private var countsLength = -1

  /// An exchange for `layout` over `communicator`.
  public init(layout: BlockLayout, communicator: C) {
    self.communicator = communicator
    self.layout = layout
    blocksPerRank = (0..<communicator.size).map { layout.blocks(ofPart: $0, parts: communicator.size) }
    ownedBlocks = blocksPerRank[communicator.rank]
    gathered = .allocate(capacity: 1)
    counts = .allocate(capacity: communicator.size)
    displacements = .allocate(capacity: communicator.size)
    counts.initialize(repeating: 0)
    displacements.initialize(repeating: 0)
  }

  deinit {
    gathered.deallocate()
    counts.deallocate()
    displacements.deallocate()
  }

  /// Sets counts and displacements for `unit` values per block (cached between calls).
  private func prepare(unitsPerBlock unit: Int, rowsNotBlocks: Bool) {
    let key = rowsNotBlocks ? -unit - 1 : unit
    if countsLength == key { return }
    for r in 0..<communicator.size {
      let blocks = blocksPerRank[r]
      if rowsNotBlocks {
        let rows = layout.particles(ofBlocks: blocks)
        counts[r] = Int32(rows.count * unit)
        displacements[r] = Int32(rows.lowerBound * unit)
      } else {
        counts[r] = Int32(blocks.count * unit)
        displacements[r] = Int32(blocks.lowerBound * unit)
      }
    }
    countsLength = key
  }

  public func orderedSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int,
    into result: UnsafeMutableBufferPointer<Double>
  ) throws {
    if communicator.size == 1 {
      Self.foldInBlockOrder(localPartials, blocks: layout.blockCount, length: length, into: result)
      return
    }
    let total = layout.blockCount * length
    if gatheredLength < total {
      gathered.deallocate()
      gathered = .allocate(capacity: Swift.max(1, total))
      gatheredLength = total
    }
    prepare(unitsPerBlock: length, rowsNotBlocks: false)
    try communicator.allGatherV(
      UnsafeBufferPointer(rebasing: localPartials.prefix(ownedBlocks.count * length)),
      into: gathered, counts: UnsafeBufferPointer(counts), displacements: UnsafeBufferPointer(displacements))
    Self.foldInBlockOrder(
      UnsafeBufferPointer(gathered), blocks: layout.blockCount, length: length, into: result)
  }

  public func allGather(
    local: UnsafeBufferPointer<Double>, rowLength: Int,
    into all: UnsafeMutableBufferPointer<Double>
  ) throws {
    prepare(unitsPerBlock: rowLength, rowsNotBlocks: true)
    try communicator.allGatherV(
      local, into: all, counts: UnsafeBufferPointer(counts),
      displacements: UnsafeBufferPointer(displacements))
  }

  public func broadcastFromLeader(_ values: UnsafeMutableBufferPointer<Double>) throws {
    try communicator.broadcast(values, root: 0)
  }

  public func sumExactly(_ values: UnsafeMutableBufferPointer<Double>) throws {
    try communicator.allReduce(values, op: .sum)
  }
}
