import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

@Suite struct DistributedQuantileTests {
  /// Bisection over the ordering keys finds the exact order statistics, including negatives,
  /// duplicates, signed zeros and extremes.
  @Test func orderStatisticsAreExact() throws {
    var values = (0..<997).map { i in Foundation.sin(Double(i) * 12.9898) * 43758.5453 }
    values += [0.0, -0.0, 1e-300, -1e300, 1e300, 5, 5, 5]
    let sorted = values.sorted()
    let exchange = LocalExchange(layout: BlockLayout(particleCount: values.count, blockSize: 64))
    let ranks = [1, 2, 3, 500, 501, values.count - 1, values.count]
    let found = try DistributedQuantiles.orderStatistics(local: values, ranks: ranks, exchange: exchange)
    for (r, v) in zip(ranks, found) { #expect(v == sorted[r - 1], "rank \(r)") }
  }

  /// With as many levels as points, the midpoint rule is the exact W2 between two equal-size
  /// samples: it equals the sorting formula to rounding.
  @Test func midpointRuleIsExactForEqualSizes() throws {
    let a = (0..<400).map { i in Foundation.cos(Double(i) * 1.3) * 2 }
    let b = (0..<400).map { i in Foundation.sin(Double(i) * 0.7) + 0.5 }
    let exchange = LocalExchange(layout: BlockLayout(particleCount: 400, blockSize: 64))
    let sortedB = b.sorted()
    let w2 = try DistributedQuantiles.squaredWasserstein(
      local: a, total: 400, levels: 400,
      targetQuantile: { s in sortedB[min(399, Int((400 * s).rounded(.up)) - 1)] }, exchange: exchange)
    let exact = zip(a.sorted(), sortedB).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 400
    #expect(abs(w2 - exact) <= 1e-13 * exact)
    #expect(abs(try OptimalTransport.squaredWasserstein1D(a, b) - exact) <= 1e-13 * exact)
  }
}
