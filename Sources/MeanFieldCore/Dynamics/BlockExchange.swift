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

  /// Sums per-block partials over all blocks of the ensemble, in block order.
  ///
  ///     result = ((p_0 + p_1) + p_2) + ... + p_{B-1}
  ///
  /// - Parameters:
  ///   - localPartials: `ownedBlocks.count × length` values, block-major.
  ///   - length: entries per block partial.
  ///   - result: receives `length` values on every process.
  func orderedSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int,
    into result: UnsafeMutableBufferPointer<Double>) throws

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

  /// Sums `values` element-wise over the processes, in place. Only for sums that are exact in
  /// any order (integer counts below 2^53): the order of the reduction is MPI's.
  func sumExactly(_ values: UnsafeMutableBufferPointer<Double>) throws
}

extension BlockExchange {
  /// Global particle indices this process owns.
  @inlinable
  public var ownedParticles: Range<Int> { layout.particles(ofBlocks: ownedBlocks) }

  /// Adds `partials` (block-major, `blocks × length`) in block order into `result`.
  @inlinable
  public static func foldInBlockOrder(
    _ partials: UnsafeBufferPointer<Double>, blocks: Int, length: Int,
    into result: UnsafeMutableBufferPointer<Double>
  ) {
    precondition(partials.count >= blocks * length && result.count >= length)
    for j in 0..<length { result[j] = 0 }
    for b in 0..<blocks {
      let base = b * length
      for j in 0..<length { result[j] += partials[base + j] }
    }
  }
}

/// The exchange of a process that holds the whole ensemble.
public struct LocalExchange: BlockExchange, Sendable {
  public let layout: BlockLayout
  public var ownedBlocks: Range<Int> { 0..<layout.blockCount }

  /// An exchange owning every block of `layout`.
  public init(layout: BlockLayout) { self.layout = layout }

  public func orderedSum(
    localPartials: UnsafeBufferPointer<Double>, length: Int,
    into result: UnsafeMutableBufferPointer<Double>
  ) throws {
    Self.foldInBlockOrder(localPartials, blocks: layout.blockCount, length: length, into: result)
  }

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

  public func sumExactly(_ values: UnsafeMutableBufferPointer<Double>) throws {}
}
