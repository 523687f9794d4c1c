import Foundation

/// Turns the syntax of an expression into a node of an ``ExpressionGraph``, resolving names:
/// the variables (`x1…xd` for a potential, `z1…zd` and `r = |z|` for an interaction), the
/// named parameters (constants of this run), `pi` and `e`, and the functions.
struct ExpressionCompiler {
  /// Functions by name: the operation and the number of arguments (`min`/`max` take two or more).
  static let functions: [String: (ExpressionOperation?, Int)] = [
    "exp": (.exp, 1), "log": (.log, 1), "sqrt": (.sqrt, 1), "sin": (.sin, 1), "cos": (.cos, 1),
    "tan": (.tan, 1), "tanh": (.tanh, 1), "sinh": (.sinh, 1), "cosh": (.cosh, 1), "atan": (.atan, 1),
    "log1p": (.log1p, 1), "expm1": (.expm1, 1), "abs": (.abs, 1), "pow": (nil, 2), "min": (.minimum, 2),
    "max": (.maximum, 2),
  ]
  static let constants: [String: Double] = ["pi": Double.pi, "e": M_E]

  /// Prefix of the variables (`x` or `z`) and their number.
  let prefix: String
  let dimension: Int
  /// Whether `r = |z|` is a name (interactions).
  let radius: Bool
  let parameters: [String: Double]
  var graph = ExpressionGraph()
  private(set) var usedParameters = Set<String>()
  private var radiusSquared: Int32? = nil

  init(prefix: String, dimension: Int, radius: Bool, parameters: [String: Double]) {
    self.prefix = prefix
    self.dimension = dimension
    self.radius = radius
    self.parameters = parameters
  }

  var variableNames: [String] { (1...dimension).map { "\(prefix)\($0)" } }

  /// The node of `text`'s value.
  mutating func compile(_ text: String) throws -> Int32 {
    try build(ExpressionParser.parse(text))
  }

  mutating func build(_ syntax: ExpressionSyntax) throws -> Int32 {
    let node: Int32
    switch syntax {
    case .number(let v, _): node = graph.constant(v)
    case .name(let name, let at): node = try resolve(name, at: at)
    case .negate(let u, _): node = graph.unary(.negate, try build(u))
    case .binary(let op, let l, let r, _):
      if op == "^" {
        node = try power(l, r)
      } else {
        let a = try build(l), b = try build(r)
        switch op {
        case "+": node = graph.add(a, b)
        case "-": node = graph.subtract(a, b)
        case "*": node = graph.multiply(a, b)
        default: node = graph.divide(a, b)
        }
      }
    case .call(let name, let arguments, let at): node = try call(name, arguments, at: at)
    }
    if let c = graph.constantValue(node), !c.isFinite {
      let shown = c.isNaN ? "NaN" : c > 0 ? "inf" : "-inf"
      throw ExpressionError(
        "this part is constant and evaluates to \(shown) (not a finite number)", at: syntax.position)
    }
    return node
  }

  /// `base^exponent`; `r^n` with an even n is `(z·z)^(n/2)`, smooth at z = 0.
  mutating func power(_ base: ExpressionSyntax, _ exponent: ExpressionSyntax) throws -> Int32 {
    let v = try build(exponent)
    if radius, case .name("r", _) = base, let c = graph.constantValue(v), c == c.rounded(), abs(c) <= 64,
      Int(c) % 2 == 0
    {
      return graph.integerPower(squaredRadius(), Int(c) / 2)
    }
    return graph.power(try build(base), v)
  }

  /// `z1·z1 + … + zd·zd`, in coordinate order.
  mutating func squaredRadius() -> Int32 {
    if let s = radiusSquared { return s }
    var s = graph.multiply(graph.variable(0), graph.variable(0))
    for c in 1..<dimension { s = graph.add(s, graph.multiply(graph.variable(c), graph.variable(c))) }
    radiusSquared = s
    return s
  }

  mutating func resolve(_ name: String, at: Int) throws -> Int32 {
    if name.hasPrefix(prefix), let k = Int(name.dropFirst(prefix.count)), String(k) == name.dropFirst(prefix.count) {
      guard k >= 1 && k <= dimension else {
        throw ExpressionError(
          "'\(name)' is beyond the dimension: model.dimension is \(dimension), so the variables are "
            + variableNames.joined(separator: ", "), at: at)
      }
      return graph.variable(k - 1)
    }
    if radius && name == "r" { return graph.unary(.sqrt, squaredRadius()) }
    if let v = parameters[name] {
      usedParameters.insert(name)
      return graph.constant(v)
    }
    if let v = Self.constants[name] { return graph.constant(v) }
    if Self.functions[name] != nil {
      throw ExpressionError("'\(name)' is a function: write \(name)(...)", at: at)
    }
    throw ExpressionError(
      "unknown name '\(name)'" + suggestion(for: name, among: knownNames) + "; " + namesList, at: at)
  }

  mutating func call(_ name: String, _ arguments: [ExpressionSyntax], at: Int) throws -> Int32 {
    guard let (operation, arity) = Self.functions[name] else {
      if knownNames.contains(name) {
        throw ExpressionError(
          "'\(name)' is not a function (a variable, parameter or constant cannot be called)", at: at)
      }
      let all = Self.functions.keys.sorted()
      throw ExpressionError(
        "unknown function '\(name)'" + suggestion(for: name, among: all) + "; the functions are "
          + all.joined(separator: ", "), at: at)
    }
    let variadic = operation == .minimum || operation == .maximum
    guard arguments.count == arity || (variadic && arguments.count > arity) else {
      let expected = variadic ? "at least 2 arguments" : arity == 1 ? "1 argument" : "\(arity) arguments"
      throw ExpressionError("\(name) takes \(expected), given \(arguments.count)", at: at)
    }
    guard let operation else { return try power(arguments[0], arguments[1]) }
    var node = try build(arguments[0])
    if arity == 1 { return graph.unary(operation, node) }
    for argument in arguments.dropFirst() { node = graph.binary(operation, node, try build(argument)) }
    return node
  }

  var knownNames: [String] {
    variableNames + (radius ? ["r"] : []) + parameters.keys.sorted() + Self.constants.keys.sorted()
  }

  var namesList: String {
    var s = "the variables are " + variableNames.joined(separator: ", ") + (radius ? " and r = |z|" : "")
    if !parameters.isEmpty { s += ", the parameters " + parameters.keys.sorted().joined(separator: ", ") }
    return s + ", the constants pi and e"
  }

  /// " (did you mean 'exp'?)" for the closest name within two edits, or "".
  func suggestion(for name: String, among names: [String]) -> String {
    let scored = names.map { ($0, Self.editDistance(name, $0)) }.filter { $0.1 <= 2 }
    guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return "" }
    return " (did you mean '\(best.0)'?)"
  }

  /// Levenshtein distance.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    var row = Array(0...y.count)
    for i in 1...max(1, x.count) where !x.isEmpty {
      var previous = row[0]
      row[0] = i
      for j in 1...max(1, y.count) where !y.isEmpty {
        let current = row[j]
        row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
        previous = current
      }
    }
    return x.isEmpty ? y.count : row[y.count]
  }
}

/// The names of the expression language, for the job file's checks.
public enum ExpressionCompilerNames {
  /// Whether a parameter may not take `name` (a function, a constant, a variable, or r).
  public static func reserved(prefix: String, radius: Bool) -> (String) -> Bool {
    { name in
      ExpressionCompiler.functions[name] != nil || ExpressionCompiler.constants[name] != nil
        || (radius && name == "r") || (name.hasPrefix(prefix) && Int(name.dropFirst(prefix.count)) != nil)
    }
  }
}
