import Foundation

/// The operations of a compiled expression (docs/EXPRESSIONS.md lists the functions).
public enum ExpressionOperation: UInt8, Sendable {
  case constant, variable
  case add, subtract, multiply, divide, negate
  case exp, log, sqrt, sin, cos, tan, tanh, sinh, cosh, atan, log1p, expm1, abs
  /// `u^c` for a constant real c (in the node's `value`), by `pow`.
  case power
  case minimum, maximum
  /// The sign of u (−1, 0, 1) and the step `u > 0 ? 1 : 0`: the derivatives of abs, min, max.
  case sign, step

  public var arity: Int {
    switch self {
    case .constant, .variable: return 0
    case .add, .subtract, .multiply, .divide, .minimum, .maximum: return 2
    default: return 1
    }
  }
}

/// A node of the expression graph: an operation on earlier nodes (`a`, `b`), a constant, or a
/// variable (its index in `value`).
struct ExpressionNode: Hashable, Sendable {
  var operation: ExpressionOperation
  var a: Int32 = -1
  var b: Int32 = -1
  /// The constant, the variable's index, or the real exponent of ``ExpressionOperation/power``.
  var value: Double = 0

  static func == (l: Self, r: Self) -> Bool {
    l.operation == r.operation && l.a == r.a && l.b == r.b && l.value.bitPattern == r.value.bitPattern
  }
  func hash(into h: inout Hasher) {
    h.combine(operation)
    h.combine(a)
    h.combine(b)
    h.combine(value.bitPattern)
  }
}

/// A hash-consed graph of expression nodes: equal sub-expressions are one node, operands of
/// commutative operations are ordered, constants are folded and the identities that hold
/// exactly in IEEE arithmetic are applied (`x + 0`, `x·1`, `x·0` in derivatives, `x + x = 2x`,
/// `−(−x)`). Nodes are created after their operands, so index order is an evaluation order.
///
/// Derivatives are taken symbolically on the graph (``derivative(_:by:)``), memoised per node
/// and variable, so the gradient shares every sub-expression with the value and with the other
/// partial derivatives, and the Hessian is the derivative of the gradient: exact derivatives,
/// not finite differences.
struct ExpressionGraph {
  private(set) var nodes: [ExpressionNode] = []
  private var index: [ExpressionNode: Int32] = [:]
  private var derivatives: [Int64: Int32] = [:]

  func node(_ i: Int32) -> ExpressionNode { nodes[Int(i)] }
  func isConstant(_ i: Int32) -> Bool { nodes[Int(i)].operation == .constant }
  func constantValue(_ i: Int32) -> Double? { isConstant(i) ? nodes[Int(i)].value : nil }

  mutating func intern(_ n: ExpressionNode) -> Int32 {
    if let i = index[n] { return i }
    let i = Int32(nodes.count)
    nodes.append(n)
    index[n] = i
    return i
  }

  mutating func constant(_ v: Double) -> Int32 { intern(ExpressionNode(operation: .constant, value: v)) }
  mutating func variable(_ k: Int) -> Int32 { intern(ExpressionNode(operation: .variable, value: Double(k))) }

  /// A unary operation, folded when its operand is constant.
  mutating func unary(_ op: ExpressionOperation, _ u: Int32, exponent: Double = 0) -> Int32 {
    if let c = constantValue(u) {
      return constant(ExpressionKernels.apply(op, c, exponent))
    }
    if op == .negate, node(u).operation == .negate { return node(u).a }
    if op == .power {
      if exponent == 1 { return u }
      if exponent == 0 { return constant(1) }
    }
    return intern(ExpressionNode(operation: op, a: u, value: exponent))
  }

  /// A binary operation with constant folding, exact identities and ordered commutative operands.
  mutating func binary(_ op: ExpressionOperation, _ x: Int32, _ y: Int32) -> Int32 {
    if let a = constantValue(x), let b = constantValue(y) { return constant(ExpressionKernels.apply(op, a, b)) }
    let cx = constantValue(x), cy = constantValue(y)
    switch op {
    case .add:
      if cx == 0 { return y }
      if cy == 0 { return x }
      if x == y { return binary(.multiply, constant(2), x) }
    case .subtract:
      if cy == 0 { return x }
      if cx == 0 { return unary(.negate, y) }
    case .multiply:
      if cx == 0 || cy == 0 { return constant(0) }
      if cx == 1 { return y }
      if cy == 1 { return x }
      if cx == -1 { return unary(.negate, y) }
      if cy == -1 { return unary(.negate, x) }
    case .divide:
      if cy == 1 { return x }
      if cx == 0 { return constant(0) }
    default: break
    }
    var (a, b) = (x, y)
    if (op == .add || op == .multiply || op == .minimum || op == .maximum) && a > b { swap(&a, &b) }
    return intern(ExpressionNode(operation: op, a: a, b: b))
  }

  mutating func add(_ x: Int32, _ y: Int32) -> Int32 { binary(.add, x, y) }
  mutating func subtract(_ x: Int32, _ y: Int32) -> Int32 { binary(.subtract, x, y) }
  mutating func multiply(_ x: Int32, _ y: Int32) -> Int32 { binary(.multiply, x, y) }
  mutating func divide(_ x: Int32, _ y: Int32) -> Int32 { binary(.divide, x, y) }

  /// `u^n` for an integer n by repeated squaring (`u²` is `u·u`, exactly as written by hand);
  /// a negative n is `1/u^|n|`.
  mutating func integerPower(_ u: Int32, _ n: Int) -> Int32 {
    if n == 0 { return constant(1) }
    if n < 0 { return divide(constant(1), integerPower(u, -n)) }
    if n == 1 { return u }
    if n == 2 { return multiply(u, u) }
    if n == 3 { return multiply(multiply(u, u), u) }
    let half = integerPower(u, n / 2)
    let square = multiply(half, half)
    return n % 2 == 0 ? square : multiply(square, u)
  }

  /// `u^v`: an integer power (|v| ≤ 64) by products, a real constant power by `pow`, otherwise
  /// `exp(v·log u)`.
  mutating func power(_ u: Int32, _ v: Int32) -> Int32 {
    if let c = constantValue(v) {
      if c == c.rounded(), Swift.abs(c) <= 64 { return integerPower(u, Int(c)) }
      return unary(.power, u, exponent: c)
    }
    return unary(.exp, multiply(v, unary(.log, u)))
  }

  /// ∂n/∂x_k, as a node of the same graph.
  mutating func derivative(_ n: Int32, by k: Int) -> Int32 {
    let key = Int64(n) << 20 | Int64(k)
    if let d = derivatives[key] { return d }
    let d = computeDerivative(n, by: k)
    derivatives[key] = d
    return d
  }

  private mutating func computeDerivative(_ n: Int32, by k: Int) -> Int32 {
    let e = node(n)
    switch e.operation {
    case .constant, .sign, .step: return constant(0)
    case .variable: return constant(Int(e.value) == k ? 1 : 0)
    default: break
    }
    let u = e.a, du = derivative(u, by: k)
    if e.operation.arity == 1 && isConstant(du) && constantValue(du) == 0 { return constant(0) }
    switch e.operation {
    case .add: return add(du, derivative(e.b, by: k))
    case .subtract: return subtract(du, derivative(e.b, by: k))
    case .multiply:
      let db = derivative(e.b, by: k)
      return add(multiply(du, e.b), multiply(u, db))
    case .divide:
      let db = derivative(e.b, by: k)
      if constantValue(db) == 0 { return divide(du, e.b) }
      return divide(subtract(du, multiply(n, db)), e.b)
    case .negate: return unary(.negate, du)
    case .exp: return multiply(n, du)
    case .expm1: return multiply(unary(.exp, u), du)
    case .log: return divide(du, u)
    case .log1p: return divide(du, add(constant(1), u))
    case .sqrt: return divide(du, multiply(constant(2), n))
    case .sin: return multiply(unary(.cos, u), du)
    case .cos: return unary(.negate, multiply(unary(.sin, u), du))
    case .tan: return multiply(add(constant(1), multiply(n, n)), du)
    case .tanh: return multiply(subtract(constant(1), multiply(n, n)), du)
    case .sinh: return multiply(unary(.cosh, u), du)
    case .cosh: return multiply(unary(.sinh, u), du)
    case .atan: return divide(du, add(constant(1), multiply(u, u)))
    case .abs: return multiply(unary(.sign, u), du)
    case .power:
      let c = e.value
      let lower =
        c - 1 == c.rounded() && Swift.abs(c - 1) <= 64 ? integerPower(u, Int(c - 1)) : unary(.power, u, exponent: c - 1)
      return multiply(multiply(constant(c), lower), du)
    case .minimum, .maximum:
      // min(a, b)' = a' + step(a − b)(b' − a'); max(a, b)' = a' + step(b − a)(b' − a').
      let db = derivative(e.b, by: k)
      let gap = e.operation == .minimum ? subtract(u, e.b) : subtract(e.b, u)
      return add(du, multiply(unary(.step, gap), subtract(db, du)))
    case .constant, .variable, .sign, .step: return constant(0)
    }
  }

  /// The nodes `outputs` depend on, in evaluation order.
  func closure(of outputs: [Int32]) -> [Int32] {
    var needed = [Bool](repeating: false, count: nodes.count)
    var stack = outputs
    while let i = stack.popLast() {
      if needed[Int(i)] { continue }
      needed[Int(i)] = true
      let n = nodes[Int(i)]
      if n.a >= 0 { stack.append(n.a) }
      if n.b >= 0 { stack.append(n.b) }
    }
    return needed.indices.filter { needed[$0] }.map { Int32($0) }
  }

  /// The variables a node depends on.
  func variables(of output: Int32) -> Set<Int> {
    Set(closure(of: [output]).compactMap { nodes[Int($0)].operation == .variable ? Int(nodes[Int($0)].value) : nil })
  }
}
