import Foundation

/// The compiled programs of one expression and its exact derivatives (shared, immutable).
public final class ExpressionPrograms: Sendable {
  /// `[f]`.
  public let value: ExpressionProgram
  /// `[∂f/∂v_1, …, ∂f/∂v_d]`.
  public let gradient: ExpressionProgram
  /// `[Δf]`.
  public let laplacian: ExpressionProgram
  /// The second derivatives `∂²f/∂v_i∂v_j` over the variables the expression reads
  /// (``usedVariables``, row-major); every other entry of the Hessian is 0.
  public let hessian: ExpressionProgram
  /// The variables the expression depends on, ascending.
  public let usedVariables: [Int]
  /// The parameters the expression names.
  public let usedParameters: Set<String>
  /// Numbers of working memory the largest program needs.
  public let workLength: Int

  init(_ text: String, prefix: String, dimension d: Int, radius: Bool, parameters: [String: Double]) throws {
    var compiler = ExpressionCompiler(prefix: prefix, dimension: d, radius: radius, parameters: parameters)
    let root = try compiler.compile(text)
    var graph = compiler.graph
    usedVariables = graph.variables(of: root).sorted()
    usedParameters = compiler.usedParameters
    let partials = (0..<d).map { graph.derivative(root, by: $0) }
    var trace = graph.constant(0)
    var second = [Int32]()
    for i in usedVariables {
      for j in usedVariables { second.append(graph.derivative(partials[i], by: j)) }
      trace = graph.add(trace, graph.derivative(partials[i], by: i))
    }
    value = ExpressionProgram(graph: graph, outputs: [root], variableCount: d)
    gradient = ExpressionProgram(graph: graph, outputs: partials, variableCount: d)
    laplacian = ExpressionProgram(graph: graph, outputs: [trace], variableCount: d)
    hessian = ExpressionProgram(graph: graph, outputs: second.isEmpty ? [graph.constant(0)] : second, variableCount: d)
    workLength = [value, gradient, laplacian, hessian].map(\.workLength).max()!
  }
}

/// A confining potential given as an expression in x1…xd with named parameters
/// (`(x1^2 - 1)^2 + b*x2^2`), its gradient, Laplacian and Hessian exact by symbolic
/// differentiation of the expression graph (docs/EXPRESSIONS.md).
public struct ExpressionPotential: Sendable, Hashable {
  public let text: String
  public let parameters: [String: Double]
  public let dimension: Int
  /// Points given as starting guesses of the minima (refined by Newton's method for basins).
  public let minimumGuesses: [[Double]]
  public let programs: ExpressionPrograms

  /// Compiles `text`; throws an ``ExpressionError`` naming the position of the first problem,
  /// or a parameter the expression does not use.
  public init(_ text: String, dimension: Int, parameters: [String: Double] = [:], minima: [[Double]] = []) throws {
    self.text = text
    self.parameters = parameters
    self.dimension = dimension
    minimumGuesses = minima
    programs = try ExpressionPrograms(text, prefix: "x", dimension: dimension, radius: false, parameters: parameters)
  }

  public static func == (l: Self, r: Self) -> Bool {
    l.text == r.text && l.parameters == r.parameters && l.dimension == r.dimension
      && l.minimumGuesses == r.minimumGuesses
  }
  public func hash(into h: inout Hasher) {
    h.combine(text)
    h.combine(dimension)
    for k in parameters.keys.sorted() {
      h.combine(k)
      h.combine(parameters[k]!)
    }
  }

  /// V(x).
  public func value(_ x: UnsafePointer<Double>) -> Double {
    var v = 0.0
    programs.value.evaluate(at: x, into: &v)
    return v
  }

  /// ∇V(x) into `g`.
  public func gradient(_ x: UnsafePointer<Double>, into g: UnsafeMutablePointer<Double>) {
    programs.gradient.evaluate(at: x, into: g)
  }

  /// ΔV(x).
  public func laplacian(_ x: UnsafePointer<Double>) -> Double {
    var v = 0.0
    programs.laplacian.evaluate(at: x, into: &v)
    return v
  }

  /// The Hessian of V at x (d × d, row-major).
  public func hessian(_ x: [Double]) -> [Double] {
    let u = programs.usedVariables
    var used = [Double](repeating: 0, count: max(1, u.count * u.count))
    x.withUnsafeBufferPointer { programs.hessian.evaluate(at: $0.baseAddress!, into: &used) }
    var h = [Double](repeating: 0, count: dimension * dimension)
    for (a, i) in u.enumerated() { for (b, j) in u.enumerated() { h[i * dimension + j] = used[a * u.count + b] } }
    return h
  }

  /// ∇V for `rows` particles (row-major `rows × d`); `work` holds ``ExpressionPrograms/workLength``
  /// numbers. Each particle's arithmetic is the same whatever the block, so results are
  /// bitwise those of ``gradient(_:into:)``.
  @inlinable
  public func gradients(
    _ x: UnsafePointer<Double>, rows: Int, into g: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let program = programs.gradient, width = ExpressionProgram.lanes
    program.fillConstants(work)
    withUnsafeTemporaryAllocation(of: UnsafePointer<Double>.self, capacity: dimension) { outputs in
      for k in 0..<dimension { outputs[k] = UnsafePointer(program.register(program.outputRegisters[k], in: work)) }
      let out = outputs.baseAddress!
      specialisingDimension(dimension) { d in
        var first = 0
        while first < rows {
          let n = Swift.min(width, rows &- first)
          // Variables are registers 0..<d: the block is transposed in one pass, and written back
          // in one pass (interleaved loads and stores the compiler vectorises).
          let source = x + first &* d, target = g + first &* d
          for l in 0..<n { for k in 0..<d { work[k &* width &+ l] = source[l &* d &+ k] } }
          program.run(lanes: n, registers: work)
          for l in 0..<n { for k in 0..<d { target[l &* d &+ k] = out[k][l] } }
          first &+= n
        }
      }
    }
  }

  /// Σ_i V(x^i) over `rows` particles, in particle order.
  @inlinable
  public func valueSum(_ x: UnsafePointer<Double>, rows: Int, work: UnsafeMutablePointer<Double>) -> Double {
    let d = dimension
    var e = 0.0
    programs.value.evaluate(
      count: rows, work: work,
      load: { k, r, first, n in
        let source = x + (first &* d &+ k)
        for l in 0..<n { r[l] = source[l &* d] }
      },
      store: { _, r, _, n in
        for l in 0..<n { e += r[l] }
      })
    return e
  }

  /// The local minima reached by Newton's method (with the exact Hessian, damped to descend)
  /// from the given guesses, each where the gradient vanishes to rounding and the Hessian is
  /// positive definite; nil with the reason when a guess does not lead to a minimum.
  public func refinedMinima() -> Result<[[Double]], ExpressionError> {
    var found = [[Double]]()
    for guess in minimumGuesses {
      guard let m = ExpressionMinimum.newton(self, from: guess) else {
        let at = "(" + guess.map { String($0) }.joined(separator: ", ") + ")"
        return .failure(
          ExpressionError(
            "Newton's method from \(at) does not reach a point where ∇V = 0 with a positive-definite Hessian", at: 0))
      }
      if !found.contains(where: { zip($0, m).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < 1e-12 }) { found.append(m) }
    }
    return .success(found)
  }
}
