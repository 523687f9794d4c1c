/// The collective operations the engine needs from whoever holds the rest of the ensemble.
///
/// MeanFieldCore never talks to MPI: a single process uses ``LocalExchange``; the parallel
/// runtime supplies an implementation over a communicator. Every method is collective over the
/// ranks that share one run and must be called by all of them in the same order.
public protocol BlockExchange {
  /// The block layout of the whole ensemble.
  var layout: BlockLayout { get }
  /// The blocks this process owns (contiguous; may be empty).
  var ownedBlocks: Range<Int> { get }

  /// The correctly rounded sum, over every block of the ensemble, of per-block partials
  /// (see ``ExactSum``): each process deposits its blocks' partials into exact accumulators,
  /// the processes add them (``sumIntegers(_:)``), and every component is rounded once. The
  /// result does not depend on the number of processes or threads or on which of them owns a
  /// block. Has a default implementation.
  ///
  /// - Parameters:
  ///   - localPartials: `ownedBlocks.count × length` values, block-major.
  ///   - length: entries per block partial.
  ///   - accumulators: scratch of at least `length × ExactSum.width` words.
  ///   - result: receives `length` values on every process.
  func exactSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int, accumulators: UnsafeMutableBufferPointer<Int64>,
    into result: UnsafeMutableBufferPointer<Double>) throws

  /// Adds `words` element-wise over the processes, in place: 64-bit integer sums, exact in any
  /// order (the exact accumulators, whose words stay below 2⁶³ by the bounds of ``ExactSum``,
  /// and counts).
  func sumIntegers(_ words: UnsafeMutableBufferPointer<Int64>) throws

  /// Gathers the rows of every process into `all` in global particle order.
  ///
  /// - Parameters:
  ///   - local: this process's rows (`particles(ofBlocks: ownedBlocks).count × rowLength`).
  ///   - all: receives `particleCount × rowLength` values.
  func allGather(
    local: UnsafeBufferPointer<Double>, rowLength: Int,
    into all: UnsafeMutableBufferPointer<Double>) throws

  /// Broadcasts `values` from the process that owns block 0 (the group leader) to all others.
  func broadcastFromLeader(_ values: UnsafeMutableBufferPointer<Double>) throws
}

extension BlockExchange {
  /// Global particle indices this process owns.
  @inlinable
  public var ownedParticles: Range<Int> { layout.particles(ofBlocks: ownedBlocks) }

  public func exactSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int, accumulators: UnsafeMutableBufferPointer<Int64>,
    into result: UnsafeMutableBufferPointer<Double>
  ) throws {
    try exactSumRoundingEverywhere(
      localPartials: localPartials, length: length, accumulators: accumulators, into: result)
  }

  /// ``exactSum(localPartials:length:accumulators:into:)`` by one all-reduce of the
  /// accumulators, every process rounding every number.
  public func exactSumRoundingEverywhere(
    localPartials: UnsafeBufferPointer<Double>, length: Int, accumulators: UnsafeMutableBufferPointer<Int64>,
    into result: UnsafeMutableBufferPointer<Double>
  ) throws {
    precondition(result.count >= length)
    deposit(localPartials, length: length, into: accumulators)
    try sumIntegers(UnsafeMutableBufferPointer(rebasing: accumulators.prefix(length * ExactSum.width)))
    let acc = accumulators.baseAddress!
    for j in 0..<length { result[j] = ExactSum.rounded(acc + j * ExactSum.width) }
  }

  /// Zeroes `length` accumulators and deposits the owned blocks' partials into them (bounded
  /// afterwards, ready to be added across processes).
  public func deposit(
    _ localPartials: UnsafeBufferPointer<Double>, length: Int, into accumulators: UnsafeMutableBufferPointer<Int64>
  ) {
    let blocks = ownedBlocks.count, width = ExactSum.width
    precondition(localPartials.count >= blocks * length && accumulators.count >= length * width)
    let acc = accumulators.baseAddress!
    acc.update(repeating: 0, count: length * width)
    if let partials = localPartials.baseAddress {
      for b in 0..<blocks {
        let p = partials + b * length
        for j in 0..<length { ExactSum.deposit(p[j], into: acc + j * width) }
        if (b + 1) % ExactSum.depositsBetweenBounds == 0 {
          for j in 0..<length { ExactSum.bound(acc + j * width) }
        }
      }
    }
    for j in 0..<length { ExactSum.bound(acc + j * width) }
  }
}

/// The exchange of a process that holds the whole ensemble.
public struct LocalExchange: BlockExchange, Sendable {
  public let layout: BlockLayout
  public var ownedBlocks: Range<Int> { 0..<layout.blockCount }

  /// An exchange owning every block of `layout`.
  public init(layout: BlockLayout) { self.layout = layout }

  public func sumIntegers(_ words: UnsafeMutableBufferPointer<Int64>) throws {}

  public func allGather(
    local: UnsafeBufferPointer<Double>, rowLength: Int,
    into all: UnsafeMutableBufferPointer<Double>
  ) throws {
    precondition(all.count >= local.count)
    if UnsafePointer(all.baseAddress) != local.baseAddress {
      for i in 0..<local.count { all[i] = local[i] }
    }
  }

  public func broadcastFromLeader(_ values: UnsafeMutableBufferPointer<Double>) throws {}
}
