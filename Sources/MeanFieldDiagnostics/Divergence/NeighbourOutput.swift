import Dispatch
import MeanFieldCore

/// Raw views shared by the workers of a parallel neighbour search: each worker writes only
/// its own rows of the outputs and its own counter slot.
@usableFromInline
struct NeighbourOutput: @unchecked Sendable {
  @usableFromInline let indices: UnsafeMutablePointer<Int>
  @usableFromInline let distances: UnsafeMutablePointer<Double>
  @usableFromInline let zeros: UnsafeMutablePointer<Int>
  @usableFromInline let incomplete: UnsafeMutablePointer<Int>

  @inlinable
  init(
    indices: UnsafeMutablePointer<Int>, distances: UnsafeMutablePointer<Double>,
    zeros: UnsafeMutablePointer<Int>, incomplete: UnsafeMutablePointer<Int>
  ) {
    self.indices = indices
    self.distances = distances
    self.zeros = zeros
    self.incomplete = incomplete
  }
}

extension NeighbourTable {
  /// Runs `body(output, chunk, range)` over `chunks` blocks of queries with raw views of this
  /// table, then sums the per-chunk counters into ``zeroDistancePairs`` and
  /// ``incompleteQueries``.
  @inlinable
  mutating func fill(chunks: Int, _ body: (NeighbourOutput, Int, Range<Int>) -> Void) {
    let chunks = max(1, min(chunks, queryCount))
    var zeros = [Int](repeating: 0, count: chunks)
    var incomplete = [Int](repeating: 0, count: chunks)
    let n = queryCount
    indices.withUnsafeMutableBufferPointer { ix in
      distances.withUnsafeMutableBufferPointer { ds in
        zeros.withUnsafeMutableBufferPointer { zc in
          incomplete.withUnsafeMutableBufferPointer { ic in
            let out = NeighbourOutput(
              indices: ix.baseAddress!, distances: ds.baseAddress!, zeros: zc.baseAddress!,
              incomplete: ic.baseAddress!)
            Parallel.forEachRange(count: n, chunks: chunks) { c, range in body(out, c, range) }
          }
        }
      }
    }
    zeroDistancePairs = zeros.reduce(0, +)
    incompleteQueries = incomplete.reduce(0, +)
  }
}
