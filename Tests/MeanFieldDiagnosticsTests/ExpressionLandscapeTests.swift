import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

/// The diagnostics on expression potentials: the Gibbs law's normalisation against an
/// independent quadrature of the same function written in Swift, and basins found from the
/// minima the job gives, against the saddle computed by bisection.
@Suite struct ExpressionLandscapeTests {
  /// A tilted, anisotropic double well that no built-in kind covers.
  static let text = "(x1^2 - 1)^2 + 0.3*x1 + 2*(x2 - 0.5*x1)^2"
  static func closedForm(_ x: Double, _ y: Double) -> Double {
    (x * x - 1) * (x * x - 1) + 0.3 * x + 2 * (y - 0.5 * x) * (y - 0.5 * x)
  }

  /// log Z at λ = 0.4 by the library's trapezoid rule on the expression, against composite
  /// Simpson's rule (2 001² nodes) on the closed form, in extended precision.
  @Test func gibbsNormalisationMatchesAnIndependentQuadrature() throws {
    let v = ConfiningPotential.expression(try ExpressionPotential(Self.text, dimension: 2))
    let lambda = 0.4
    let box = [-4.0...4.0, -4.0...4.0]
    let ours = try GibbsQuadrature.logPartition(of: v, temperature: lambda, over: box, intervals: 512)
    let n = 2000
    let h = 8.0 / Double(n)
    var sum: Float80 = 0
    for i in 0...n {
      let wi: Float80 = i == 0 || i == n ? 1 : (i % 2 == 1 ? 4 : 2)
      for j in 0...n {
        let wj: Float80 = j == 0 || j == n ? 1 : (j % 2 == 1 ? 4 : 2)
        let x = -4 + Double(i) * h, y = -4 + Double(j) * h
        sum += wi * wj * Float80(Foundation.exp(-Self.closedForm(x, y) / lambda))
      }
    }
    let reference = Foundation.log(Double(sum) * h * h / 9)
    #expect(abs(ours.logPartition - reference) <= 1e-10, "\(ours.logPartition) against \(reference)")
  }

  /// The basin of a point in 1-D is the side of the saddle it starts on: the minima come from
  /// the guesses, the classification from the flow of the exact gradient.
  @Test func basinsFollowTheGivenMinima() throws {
    let e = try ExpressionPotential("(x1^2 - 1)^2 + 0.3*x1", dimension: 1, minima: [[-1], [1]])
    let classifier = BasinClassifier(potential: .expression(e), dimension: 1)
    #expect(classifier.minima.count == 2)
    // The saddle: the middle root of 4x³ − 4x + 0.3 (near 0.075), by bisection.
    var (lo, hi) = (-0.5, 0.5)
    for _ in 0..<200 {
      let m = 0.5 * (lo + hi)
      if 4 * m * m * m - 4 * m + 0.3 > 0 { lo = m } else { hi = m }
    }
    let saddle = 0.5 * (lo + hi)
    for x in [-2.0, -0.5, saddle - 0.01, saddle + 0.01, 0.6, 2.5] {
      let basin = [x].withUnsafeBufferPointer { classifier.basin(of: $0) }
      #expect(basin == (x < saddle ? 0 : 1), "x = \(x): basin \(String(describing: basin))")
    }
  }
}
