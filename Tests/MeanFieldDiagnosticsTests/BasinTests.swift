import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

/// Basins of attraction of the noise-free flow.
@Suite struct BasinTests {
  /// For the flat-sharp landscape the basins are split at the saddle of V along x₁: the saddle
  /// found by bisection is the independent value (mpmath, 15 digits) −0.288297 for 8:1, −0.208455
  /// for 4:1 and −0.352717 for 16:1; and classifying by the saddle agrees with following the
  /// flow by descent on 4000 random points of [−2, 2] × [−1, 1] (away from the saddle by 1e-6).
  @Test func saddleClassificationAgreesWithTheFlow() throws {
    for (sharp, saddle) in [(8.0, -0.288297), (4.0, -0.208455), (16.0, -0.352717)] {
      let potential = ConfiningPotential.flatSharp(sharp: sharp, flat: 1, transverse: 2)
      let fast = BasinClassifier(potential: potential, dimension: 2)
      let s = try #require(fast.saddles?.first)
      #expect(abs(s - saddle) < 1e-6, "sharp \(sharp): saddle \(s)")
      let slow = BasinClassifier(potential: potential, dimension: 2, minima: fast.minima, bySaddles: false)
      #expect(slow.saddles == nil)
      var state: UInt64 = 12345
      func uniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) * 0x1.0p-53
      }
      var disagreements = 0, checked = 0
      for _ in 0..<4000 {
        let point = [-2 + 4 * uniform(), -1 + 2 * uniform()]
        if abs(point[0] - s) < 1e-6 { continue }
        checked += 1
        let a = point.withUnsafeBufferPointer { fast.basin(of: $0) }
        let b = point.withUnsafeBufferPointer { slow.basin(of: $0) }
        if a != b { disagreements += 1 }
      }
      #expect(disagreements == 0 && checked > 3900, "sharp \(sharp): \(disagreements) of \(checked)")
    }
  }

  /// The 1-D double well splits at 0; a point at the saddle belongs to no basin.
  @Test func doubleWellSplitsAtZero() {
    let c = BasinClassifier(potential: .doubleWell, dimension: 1)
    #expect(c.saddles == [0])
    #expect([-0.3].withUnsafeBufferPointer { c.basin(of: $0) } == 0)
    #expect([1e-300].withUnsafeBufferPointer { c.basin(of: $0) } == 1)
    #expect([0.0].withUnsafeBufferPointer { c.basin(of: $0) } == nil)
  }
}
