import Foundation
import MeanFieldCore
import Testing

/// Expression potentials and interactions: the grammar, exact gradients and Hessians against
/// hand-derived ones and high-order finite differences, the built-in potentials re-written as
/// expressions, the pair sums against a direct double loop, and the errors with their columns.
@Suite struct ExpressionTests {
  static func value(_ text: String, _ x: [Double], parameters: [String: Double] = [:]) throws -> Double {
    let v = try ExpressionPotential(text, dimension: x.count, parameters: parameters)
    return x.withUnsafeBufferPointer { v.value($0.baseAddress!) }
  }

  static func gradient(_ v: ExpressionPotential, _ x: [Double]) -> [Double] {
    var g = [Double](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { p in
      g.withUnsafeMutableBufferPointer { v.gradient(p.baseAddress!, into: $0.baseAddress!) }
    }
    return g
  }

  @Test func theGrammarReadsAsMathematics() throws {
    let cases: [(String, [Double], Double)] = [
      ("-x1^2", [3], -9), ("2^3^2", [0], 512), ("x1^-1", [2], 0.5), ("2*x1 + 3*x2/4", [1, 2], 3.5),
      ("(1 + x1)*(2 - x2)", [1, 0.5], 3), ("x1**2", [1.5], 2.25), ("min(x1, x2, 0.5)", [1, 2], 0.5),
      ("max(x1, -x2)", [1, -2], 2), ("pow(x1, 0.5)", [4], 2), ("pi", [0], Double.pi), ("2*e", [0], 2 * M_E),
      ("1e-3*x1 + .5", [2], 0.502), ("abs(-x1)", [1.25], 1.25), ("--x1", [3], 3), ("+x1 - -x1", [3], 6),
      ("x1 - x2 - 1", [5, 1], 3), ("x1 / x2 / 2", [8, 2], 2), ("exp(log(x1))", [3.5], 3.5),
      ("sqrt(x1^2 + x2^2)", [3, 4], 5), ("x1^2.5", [4], 32), ("2^x1", [3], 8), ("x1^0", [7], 1),
    ]
    for (text, x, expected) in cases {
      let v = try Self.value(text, x)
      #expect(abs(v - expected) <= 1e-14 * max(1, abs(expected)), "\(text) = \(v), expected \(expected)")
    }
  }

  /// Rosenbrock's valley with parameters, against its hand-derived gradient and Hessian.
  @Test func rosenbrockGradientAndHessianAreTheHandDerivedOnes() throws {
    let v = try ExpressionPotential("(a - x1)^2 + b*(x2 - x1^2)^2", dimension: 2, parameters: ["a": 1, "b": 100])
    for x in [[1.5, 2.5], [-0.7, 0.3], [1, 1], [0.123, -2.2]] {
      let (a, b) = (1.0, 100.0)
      let w = x[1] - x[0] * x[0]
      let g = [-2 * (a - x[0]) - 4 * b * x[0] * w, 2 * b * w]
      let h = [2 - 4 * b * w + 8 * b * x[0] * x[0], -4 * b * x[0], -4 * b * x[0], 2 * b]
      let ours = Self.gradient(v, x)
      for c in 0..<2 { #expect(abs(ours[c] - g[c]) <= 1e-13 * max(1, abs(g[c])), "∂\(c + 1) at \(x)") }
      let hessian = v.hessian(x)
      for k in 0..<4 { #expect(abs(hessian[k] - h[k]) <= 1e-13 * max(1, abs(h[k])), "H[\(k)] at \(x)") }
      let laplacian = x.withUnsafeBufferPointer { v.laplacian($0.baseAddress!) }
      #expect(abs(laplacian - (h[0] + h[3])) <= 1e-13 * abs(h[0] + h[3]))
    }
  }

  /// Every function at once, against central differences of order 8 (truncation ~h⁸, rounding
  /// ~1e-16/h): the gradient of V and the Hessian (differences of the exact gradient).
  @Test func everyFunctionDifferentiatesLikeFiniteDifferences() throws {
    let text = """
      exp(0.3*x1)*sin(x2) + log(1 + x1^2) + sqrt(2 + cos(x1*x2)) + tanh(x1 - x2) + atan(x2) + sinh(0.2*x1) \
      + cosh(0.1*x2) + log1p(x1^2) + expm1(0.1*x2) + abs(x1 - 3) + pow(2 + x1^2, 1.5) + tan(0.2*x2) \
      + max(x1, x2)^2/(1 + x1^2) + min(x1, -x2) + (x2^2 + 1)^x1 + x1^3*x2^-2
      """
    let v = try ExpressionPotential(text, dimension: 2)
    let weights: [Double] = [1 / 280, -4 / 105, 0.2, -0.8, 0, 0.8, -0.2, 4 / 105, -1 / 280]
    let h = 1e-3
    func difference(_ f: ([Double]) -> Double, _ x: [Double], _ c: Int) -> Double {
      var s = 0.0
      for (k, w) in weights.enumerated() where w != 0 {
        var y = x
        y[c] += Double(k - 4) * h
        s += w * f(y)
      }
      return s / h
    }
    for x in [[0.4, 1.1], [-0.9, 0.6], [1.3, -0.8], [0.2, 2.0]] {
      let g = Self.gradient(v, x)
      let hessian = v.hessian(x)
      for c in 0..<2 {
        let fd = difference({ y in y.withUnsafeBufferPointer { v.value($0.baseAddress!) } }, x, c)
        #expect(abs(g[c] - fd) <= 1e-9 * max(1, abs(fd)), "∂\(c + 1) at \(x): \(g[c]) against \(fd)")
        for k in 0..<2 {
          let fdh = difference({ y in Self.gradient(v, y)[k] }, x, c)
          #expect(abs(hessian[c * 2 + k] - fdh) <= 1e-8 * max(1, abs(fdh)), "H[\(c)][\(k)] at \(x)")
        }
      }
    }
  }

  static func points(_ n: Int, _ d: Int) -> [[Double]] {
    PotentialKernelTests.points(n, d).chunks(d)
  }

  /// The double well and the quadratic, written by hand, give the built-in gradients and values
  /// bit for bit (the same operations: 2·(t·(2x)) is 4tx rounded once); Rosenbrock and
  /// flat-sharp, written with different operations, agree to 1e-13.
  @Test func builtInPotentialsRewrittenAsExpressions() throws {
    let cases: [(ConfiningPotential, String, [String: Double], Int, Bool)] = [
      (.doubleWell, "(x1^2 - 1)^2", [:], 1, true),
      (.doubleWell, "(x1^2 + x2^2 - 1)^2", [:], 2, true),
      (.doubleWell, "(x1^2 + x2^2 + x3^2 - 1)^2", [:], 3, true),
      (.quadratic(stiffness: 1.7), "k/2*(x1^2 + x2^2)", ["k": 1.7], 2, true),
      (.rosenbrock(a: 1, b: 100), "(a - x1)^2 + b*(x2 - x1^2)^2", ["a": 1, "b": 100], 2, false),
      (
        .flatSharp(sharp: 8, flat: 1, transverse: 2),
        "sqrt(ks*kf)/8*exp(0.5*log(kf/ks)*tanh(x1)/tanh(1))*(x1^2 - 1)^2 + kt/2*x2^2", ["ks": 8, "kf": 1, "kt": 2],
        2, false
      ),
    ]
    for (builtIn, text, parameters, d, bitwise) in cases {
      let e = try ExpressionPotential(text, dimension: d, parameters: parameters)
      for x in Self.points(40, d) {
        var g = [Double](repeating: 0, count: d)
        let v = x.withUnsafeBufferPointer { p in
          g.withUnsafeMutableBufferPointer { builtIn.gradient(p.baseAddress!, dimension: d, into: $0.baseAddress!) }
          return builtIn.value(p.baseAddress!, dimension: d)
        }
        let ours = Self.gradient(e, x)
        let value = x.withUnsafeBufferPointer { e.value($0.baseAddress!) }
        if bitwise {
          #expect(ours.map(\.bitPattern) == g.map(\.bitPattern), "\(text) at \(x): \(ours) against \(g)")
          #expect(value.bitPattern == v.bitPattern, "\(text) at \(x)")
        } else {
          let scale = g.map { abs($0) }.max()! + 1
          for c in 0..<d { #expect(abs(ours[c] - g[c]) <= 1e-13 * scale, "\(text) ∂\(c + 1) at \(x)") }
          #expect(abs(value - v) <= 1e-13 * max(1, abs(v)), "\(text) at \(x)")
        }
      }
    }
  }

  /// Whole trajectories (40 steps, 333 particles, 2 threads): the double well written as an
  /// expression moves the particles bit for bit like the built-in one, overdamped and BAOAB; the
  /// Gaussian interaction written as an expression agrees with the built-in kernel to 1e-12.
  @Test func trajectoriesOfBuiltInModelsWrittenAsExpressions() throws {
    func run(_ model: PotentialSystem, _ dynamics: Dynamics) throws -> [Double] {
      let engine = ParticleEngine(
        model: model, exchange: LocalExchange(layout: BlockLayout(particleCount: 333, blockSize: 40)),
        dynamics: dynamics, initial: .gaussian(mean: [0], std: [1]), noise: GaussianField(seed: 4, runIndex: 0),
        threads: 2)
      for _ in 0..<40 { _ = try engine.step() }
      return engine.positions
    }
    let well = try ExpressionPotential("(x1^2 + x2^2 - 1)^2", dimension: 2)
    for dynamics in [
      Dynamics.overdamped(.init(step: 0.01, temperature: 0.3, l2: 0.01)),
      .underdamped(.init(step: 0.02, temperature: 0.3, l2: 0, friction: 1, scheme: .baoab)),
    ] {
      let a = try run(PotentialSystem(potential: .doubleWell, interaction: .none, dimension: 2), dynamics)
      let b = try run(PotentialSystem(potential: .expression(well), interaction: .none, dimension: 2), dynamics)
      #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(dynamics)")
    }
    let w = try ExpressionInteraction("-c*exp(-r^2/(2*s^2))", dimension: 2, parameters: ["c": 0.5, "s": 0.7])
    let dynamics = Dynamics.overdamped(.init(step: 0.01, temperature: 0.3, l2: 0))
    let a = try run(
      PotentialSystem(potential: .doubleWell, interaction: .gaussianKernel(strength: 0.5, width: 0.7), dimension: 2),
      dynamics)
    let b = try run(PotentialSystem(potential: .doubleWell, interaction: .expression(w), dimension: 2), dynamics)
    let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($0)) }.max()!
    #expect(worst <= 1e-12, "largest difference \(worst)")
  }

  /// Malformed expressions: each error names the column of the problem.
  @Test func malformedExpressionsNameTheColumn() {
    let corpus: [(String, Int, String)] = [
      ("x1 + foo(x2)", 5, "unknown function 'foo'"),
      ("exq(x1)", 0, "did you mean 'exp'?"),
      ("x1 + y", 5, "unknown name 'y'"),
      ("x1 + x3", 5, "'x3' is beyond the dimension"),
      ("x1 + x0", 5, "'x0' is beyond the dimension"),
      ("(x1 + 1", 0, "unbalanced parentheses"),
      ("x1 + 1)", 6, "unbalanced parentheses"),
      ("exp(x1, x2)", 0, "exp takes 1 argument, given 2"),
      ("pow(x1)", 0, "pow takes 2 arguments, given 1"),
      ("max(x1)", 0, "max takes at least 2 arguments"),
      ("x1 +", 4, "ends where a number"),
      ("x1 * * x2", 5, "expected a number, a name or '('"),
      ("2 x1", 2, "expected an operator"),
      ("x1 $ 2", 3, "unexpected character '$'"),
      ("log(0) + x1", 0, "evaluates to -inf"),
      ("x1 + 1/0", 5, "evaluates to inf"),
      ("sqrt(-1)*x1", 0, "evaluates to NaN"),
      ("exp + x1", 0, "'exp' is a function"),
      ("x1(2)", 0, "'x1' is not a function"),
      ("1.2.3 + x1", 0, "'1.2.3' is not a number"),
      ("", 0, "ends where a number"),
      (String(repeating: "(", count: 70) + "x1" + String(repeating: ")", count: 70), 64, "nests deeper than 64"),
      (String(repeating: "-", count: 70) + "x1", 64, "nests deeper than 64"),
    ]
    for (text, column, phrase) in corpus {
      do {
        _ = try ExpressionPotential(text, dimension: 2)
        Issue.record("'\(text)' was accepted")
      } catch let e as ExpressionError {
        #expect(e.position == column, "'\(text)': column \(e.position), expected \(column) (\(e.message))")
        #expect(e.message.contains(phrase), "'\(text)': \(e.message)")
      } catch {
        Issue.record("'\(text)': \(error)")
      }
    }
  }

  /// The minima of a tilted double well, by Newton's method from rough guesses, against the
  /// roots of V'(x) = 4x³ − 4x + 0.3 found by bisection.
  @Test func minimaAreRefinedByNewtonsMethod() throws {
    let v = try ExpressionPotential(
      "(x1^2 - 1)^2 + t*x1 + x2^2", dimension: 2, parameters: ["t": 0.3], minima: [[-1.2, 0.4], [0.8, -0.3], [0, 0]])
    let minima = try v.refinedMinima.get()
    func root(_ a: Double, _ b: Double) -> Double {
      var (lo, hi) = (a, b)
      for _ in 0..<200 {
        let m = 0.5 * (lo + hi)
        if (4 * m * m * m - 4 * m + 0.3 > 0) == (4 * lo * lo * lo - 4 * lo + 0.3 > 0) { lo = m } else { hi = m }
      }
      return 0.5 * (lo + hi)
    }
    let expected = [root(-1.5, -0.5), root(0.5, 1.5)]
    #expect(minima.count == 2, "\(minima)")
    for (m, x) in zip(minima, expected) {
      #expect(abs(m[0] - x) <= 1e-12 && abs(m[1]) <= 1e-12, "\(m) against \(x)")
    }
    let unbounded = try ExpressionPotential("x1 + x2^2", dimension: 2, minima: [[0, 0]])
    if case .success(let m) = unbounded.refinedMinima { Issue.record("x1 + x2² has no minimum, found \(m)") }
  }

  /// (1/N) Σ_j ∇W(x^i − x^j) of `-c exp(-r²/(2s²))` against the Gaussian pair sums in extended
  /// precision, and the same bits whichever targets form a block.
  @Test func interactionSumsMatchADirectDoubleLoop() throws {
    let (c, s, d) = (0.7, 1.3, 2)
    let w = try ExpressionInteraction("-c*exp(-r^2/(2*s^2))", dimension: d, parameters: ["c": c, "s": s])
    let n = 150
    let x = PotentialKernelTests.points(n, d, seed: 9)
    let reference = PotentialKernelTests.reference(x, x, d, 1 / (2 * s * s))
    let work = UnsafeMutablePointer<Double>.allocate(capacity: w.programs.workLength)
    defer { work.deallocate() }
    func drift(blocks: [Int]) -> [Double] {
      var g = [Double](repeating: 0, count: n * d)
      var first = 0
      x.withUnsafeBufferPointer { xp in
        g.withUnsafeMutableBufferPointer { gp in
          for rows in blocks {
            w.addGradientMeans(
              targets: xp.baseAddress! + first * d, rows: rows, sources: xp.baseAddress!, count: n,
              into: gp.baseAddress! + first * d, work: work)
            first += rows
          }
        }
      }
      return g
    }
    let whole = drift(blocks: [n])
    #expect(drift(blocks: [1, 63, 64, 22]).map(\.bitPattern) == whole.map(\.bitPattern))
    for k in 0..<(n * d) {
      let expected = c / (s * s) / Double(n) * reference.m[k]
      #expect(abs(whole[k] - expected) <= 1e-13 * (1 + abs(expected)), "component \(k)")
    }
    let energy = x.withUnsafeBufferPointer {
      w.valueSum(targets: $0.baseAddress!, rows: n, sources: $0.baseAddress!, count: n, work: work)
    }
    let expectedEnergy = -c * reference.k.reduce(0, +)
    #expect(abs(energy - expectedEnergy) <= 1e-12 * abs(expectedEnergy))
  }

  @Test func interactionsMustBeSymmetricAndDefinedOnTheDiagonal() throws {
    for (text, phrase) in [
      ("z1^3", "not symmetric"), ("z1 + 0.1*z2^2", "not symmetric"), ("exp(-r)", "not defined at z = 0"),
      ("r^3", "not defined at z = 0"), ("log(r^2)", "W(0) is -inf"),
    ] {
      do {
        _ = try ExpressionInteraction(text, dimension: 2)
        Issue.record("'\(text)' was accepted")
      } catch let e as ExpressionError {
        #expect(e.message.contains(phrase), "'\(text)': \(e.message)")
      }
    }
    for text in ["z1*z2", "exp(-(z1^2 + 2*z2^2))", "(r^2)^1.5", "cos(z1) + r^4", "-log(1 + r^2)"] {
      _ = try ExpressionInteraction(text, dimension: 2)
    }
  }
}

extension Array {
  func chunks(_ size: Int) -> [[Element]] {
    stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
  }
}
