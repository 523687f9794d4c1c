import Foundation

/// One expression compiled: its source (text, parameters, dimension), which alone decides
/// equality, and the programs of its value and exact derivatives (shared, immutable).
public final class ExpressionPrograms: Sendable, Hashable {
  public let text: String
  public let parameters: [String: Double]
  public let dimension: Int
  /// `x` for a potential's variables, `z` for an interaction's.
  public let prefix: String
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
    self.text = text
    self.parameters = parameters
    self.dimension = d
    self.prefix = prefix
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

  public static func == (l: ExpressionPrograms, r: ExpressionPrograms) -> Bool {
    l.text == r.text && l.parameters == r.parameters && l.dimension == r.dimension && l.prefix == r.prefix
  }
  public func hash(into h: inout Hasher) {
    h.combine(text)
    h.combine(parameters)
    h.combine(dimension)
    h.combine(prefix)
  }

  /// f at one point.
  public func valueAt(_ x: UnsafePointer<Double>) -> Double {
    var v = 0.0
    value.evaluate(at: x, into: &v)
    return v
  }

  /// ∇f at one point, into `g`.
  public func gradientAt(_ x: UnsafePointer<Double>, into g: UnsafeMutablePointer<Double>) {
    gradient.evaluate(at: x, into: g)
  }

  /// Δf at one point.
  public func laplacianAt(_ x: UnsafePointer<Double>) -> Double {
    var v = 0.0
    laplacian.evaluate(at: x, into: &v)
    return v
  }

  /// The Hessian of f at one point (d × d, row-major).
  public func hessianAt(_ x: [Double]) -> [Double] {
    let u = usedVariables, d = dimension
    var used = [Double](repeating: 0, count: max(1, u.count * u.count))
    x.withUnsafeBufferPointer { hessian.evaluate(at: $0.baseAddress!, into: &used) }
    var h = [Double](repeating: 0, count: d * d)
    for (a, i) in u.enumerated() { for (b, j) in u.enumerated() { h[i * d + j] = used[a * u.count + b] } }
    return h
  }
}

/// A confining potential given as an expression in x1…xd with named parameters
/// (`(x1^2 - 1)^2 + b*x2^2`), its gradient, Laplacian and Hessian exact by symbolic
/// differentiation of the expression graph (docs/EXPRESSIONS.md).
public struct ExpressionPotential: Sendable, Hashable {
  public let programs: ExpressionPrograms
  /// Points given as starting guesses of the minima.
  public let minimumGuesses: [[Double]]
  /// The minima Newton's method reaches from the guesses (each a point where ∇V = 0 to
  /// rounding with a positive-definite Hessian), or why a guess does not lead to one.
  public let refinedMinima: Result<[[Double]], ExpressionError>

  public var text: String { programs.text }
  public var parameters: [String: Double] { programs.parameters }
  public var dimension: Int { programs.dimension }

  /// Compiles `text`; throws an ``ExpressionError`` naming the position of the first problem.
  public init(_ text: String, dimension: Int, parameters: [String: Double] = [:], minima: [[Double]] = []) throws {
    programs = try ExpressionPrograms(text, prefix: "x", dimension: dimension, radius: false, parameters: parameters)
    minimumGuesses = minima
    refinedMinima = ExpressionMinimum.refine(programs, guesses: minima)
  }

  /// V(x).
  public func value(_ x: UnsafePointer<Double>) -> Double { programs.valueAt(x) }

  /// ∇V(x) into `g`.
  public func gradient(_ x: UnsafePointer<Double>, into g: UnsafeMutablePointer<Double>) {
    programs.gradientAt(x, into: g)
  }

  /// ΔV(x).
  public func laplacian(_ x: UnsafePointer<Double>) -> Double { programs.laplacianAt(x) }

  /// The Hessian of V at x (d × d, row-major).
  public func hessian(_ x: [Double]) -> [Double] { programs.hessianAt(x) }

  /// ∇V for `rows` particles (row-major `rows × d`); `work` holds ``ExpressionPrograms/workLength``
  /// numbers. Each particle's arithmetic is the same whatever the block, so results are
  /// bitwise those of ``gradient(_:into:)``.
  @inlinable
  public func gradients(
    _ x: UnsafePointer<Double>, rows: Int, into g: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let program = programs.gradient
    withUnsafeTemporaryAllocation(of: UnsafePointer<Double>.self, capacity: dimension) { outputs in
      for k in 0..<dimension { outputs[k] = program.output(k, in: work) }
      let out = outputs.baseAddress!
      specialisingDimension(dimension) { d in
        program.evaluate(
          count: rows, work: work,
          load: { registers, first, n in
            ExpressionProgram.transpose(x, dimension: d, first: first, count: n, into: registers)
          },
          store: { first, n in
            // One interleaved pass back to row-major.
            let target = g + first &* d
            for l in 0..<n { for k in 0..<d { target[l &* d &+ k] = out[k][l] } }
          })
      }
    }
  }

  /// Σ_i V(x^i) over `rows` particles, in particle order.
  @inlinable
  public func valueSum(_ x: UnsafePointer<Double>, rows: Int, work: UnsafeMutablePointer<Double>) -> Double {
    let program = programs.value
    let v = program.output(0, in: work)
    var e = 0.0
    specialisingDimension(dimension) { d in
      program.evaluate(
        count: rows, work: work,
        load: { registers, first, n in
          ExpressionProgram.transpose(x, dimension: d, first: first, count: n, into: registers)
        },
        store: { _, n in for l in 0..<n { e += v[l] } })
    }
    return e
  }
}
