/// How a global ensemble of N particles is cut into fixed blocks of particles.
///
/// A block is the unit of reproducible summation: every sum over particles is taken block by
/// block (in a fixed order inside a block), and the block partials are summed exactly
/// (``ExactSum``) and rounded once. A rank, or a thread, always owns whole blocks, so the result
/// does not depend on how many ranks or threads computed it, or on which owns which block.
public struct BlockLayout: Sendable, Equatable, Hashable {
  /// Number of particles N in the whole ensemble.
  public let particleCount: Int
  /// Particles per block (the last block may be shorter).
  public let blockSize: Int

  /// Creates a layout; `blockSize` must be positive.
  public init(particleCount: Int, blockSize: Int) {
    precondition(particleCount >= 0 && blockSize > 0, "invalid block layout")
    self.particleCount = particleCount
    self.blockSize = blockSize
  }

  /// Number of blocks, `ceil(N / blockSize)`.
  @inlinable
  public var blockCount: Int { (particleCount + blockSize - 1) / blockSize }

  /// Global particle indices of block `b`.
  @inlinable
  public func particles(ofBlock b: Int) -> Range<Int> {
    let lo = b * blockSize
    return lo..<min(lo + blockSize, particleCount)
  }

  /// Global particle indices of a contiguous range of blocks.
  @inlinable
  public func particles(ofBlocks blocks: Range<Int>) -> Range<Int> {
    if blocks.isEmpty { return 0..<0 }
    return particles(ofBlock: blocks.lowerBound).lowerBound..<particles(ofBlock: blocks.upperBound - 1).upperBound
  }

  /// The contiguous blocks that part `part` of `parts` owns; blocks are dealt as evenly as
  /// possible, earlier parts taking the remainder. A part may own no block.
  @inlinable
  public func blocks(ofPart part: Int, parts: Int) -> Range<Int> {
    precondition(parts > 0 && part >= 0 && part < parts)
    let q = blockCount / parts, r = blockCount % parts
    let lo = part * q + min(part, r)
    return lo..<(lo + q + (part < r ? 1 : 0))
  }
}
