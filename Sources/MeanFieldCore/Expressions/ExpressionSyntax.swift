import Foundation

/// A problem with an expression, at a character offset of its text (0-based).
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
  /// Offset of the offending character (in Unicode scalars) in the text.
  public let position: Int
  public let message: String

  public init(_ message: String, at position: Int) {
    self.message = message
    self.position = position
  }

  public var description: String { "at column \(position + 1): \(message)" }

  /// The text with a caret under the offending column (for messages).
  public func pointing(into text: String) -> String {
    let line = String(text.unicodeScalars.map { $0 == "\n" || $0 == "\t" ? " " : Character($0) })
    return "  " + line + "\n  " + String(repeating: " ", count: max(0, position)) + "^"
  }
}

/// The parsed form of an expression, before names are resolved.
public indirect enum ExpressionSyntax: Sendable, Equatable {
  case number(Double, at: Int)
  case name(String, at: Int)
  case call(String, [ExpressionSyntax], at: Int)
  case negate(ExpressionSyntax, at: Int)
  case binary(Character, ExpressionSyntax, ExpressionSyntax, at: Int)

  /// Where the node starts in the text (a binary operation: where its left operand starts).
  public var position: Int {
    switch self {
    case .number(_, let p), .name(_, let p), .call(_, _, let p), .negate(_, let p): return p
    case .binary(_, let left, _, _): return left.position
    }
  }
}

/// A recursive-descent parser of the expression grammar (docs/EXPRESSIONS.md):
///
///     sum     := product (('+' | '-') product)*
///     product := unary (('*' | '/') unary)*
///     unary   := ('-' | '+') unary | power
///     power   := primary (('^' | '**') unary)?          right-associative: 2^3^2 = 2^9
///     primary := number | name | name '(' sum (',' sum)* ')' | '(' sum ')'
///
/// so `-x^2` is `-(x^2)` and `x^-1` is `1/x`, as in mathematics.
public struct ExpressionParser {
  /// Deepest nesting of parentheses, calls, powers and signs accepted.
  public static let maximumDepth = 64
  /// Longest text accepted (characters).
  public static let maximumLength = 10_000

  enum Token: Equatable {
    case number(Double)
    case name(String)
    case symbol(String)
    case end
  }

  let scalars: [Unicode.Scalar]
  var tokens: [(token: Token, at: Int)] = []
  var index = 0
  var depth = 0

  /// Parses `text` into its syntax tree.
  public static func parse(_ text: String) throws -> ExpressionSyntax {
    var parser = try ExpressionParser(text)
    let tree = try parser.sum()
    let (token, at) = parser.tokens[parser.index]
    switch token {
    case .end: return tree
    case .symbol(")"): throw ExpressionError("unbalanced parentheses: this ')' closes nothing", at: at)
    default: throw ExpressionError("expected an operator (+ - * / ^) or the end, found \(describe(token))", at: at)
    }
  }

  init(_ text: String) throws {
    scalars = Array(text.unicodeScalars)
    guard scalars.count <= Self.maximumLength else {
      throw ExpressionError("the expression is longer than \(Self.maximumLength) characters", at: Self.maximumLength)
    }
    try tokenize()
  }

  mutating func tokenize() throws {
    var i = 0
    func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
    func isLetter(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic && c.isASCII || c == "_" }
    while i < scalars.count {
      let c = scalars[i]
      if c == " " || c == "\t" || c == "\n" || c == "\r" {
        i += 1
      } else if isDigit(c) || (c == "." && i + 1 < scalars.count && isDigit(scalars[i + 1])) {
        let start = i
        while i < scalars.count && (isDigit(scalars[i]) || scalars[i] == ".") { i += 1 }
        if i < scalars.count && (scalars[i] == "e" || scalars[i] == "E") {
          var j = i + 1
          if j < scalars.count && (scalars[j] == "+" || scalars[j] == "-") { j += 1 }
          if j < scalars.count && isDigit(scalars[j]) {
            i = j
            while i < scalars.count && isDigit(scalars[i]) { i += 1 }
          }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<i]))
        guard let value = Double(text), value.isFinite else {
          throw ExpressionError("'\(text)' is not a number", at: start)
        }
        tokens.append((.number(value), start))
      } else if isLetter(c) {
        let start = i
        while i < scalars.count && (isLetter(scalars[i]) || isDigit(scalars[i])) { i += 1 }
        tokens.append((.name(String(String.UnicodeScalarView(scalars[start..<i]))), start))
      } else if c == "*" && i + 1 < scalars.count && scalars[i + 1] == "*" {
        tokens.append((.symbol("^"), i))
        i += 2
      } else if "+-*/^(),".unicodeScalars.contains(c) {
        tokens.append((.symbol(String(c)), i))
        i += 1
      } else {
        throw ExpressionError("unexpected character '\(c)'", at: i)
      }
    }
    tokens.append((.end, scalars.count))
  }

  static func describe(_ token: Token) -> String {
    switch token {
    case .number(let v): return "the number \(v)"
    case .name(let n): return "'\(n)'"
    case .symbol(let s): return "'\(s)'"
    case .end: return "the end of the expression"
    }
  }

  var current: (token: Token, at: Int) { tokens[index] }

  mutating func enter(at position: Int) throws {
    depth += 1
    if depth > Self.maximumDepth {
      throw ExpressionError("the expression nests deeper than \(Self.maximumDepth) levels", at: position)
    }
  }

  mutating func sum() throws -> ExpressionSyntax {
    var left = try product()
    while case .symbol(let s) = current.token, s == "+" || s == "-" {
      let at = current.at
      index += 1
      left = .binary(Character(s), left, try product(), at: at)
    }
    return left
  }

  mutating func product() throws -> ExpressionSyntax {
    var left = try unary()
    while case .symbol(let s) = current.token, s == "*" || s == "/" {
      let at = current.at
      index += 1
      left = .binary(Character(s), left, try unary(), at: at)
    }
    return left
  }

  mutating func unary() throws -> ExpressionSyntax {
    if case .symbol(let s) = current.token, s == "-" || s == "+" {
      let at = current.at
      index += 1
      try enter(at: at)
      defer { depth -= 1 }
      let operand = try unary()
      return s == "-" ? .negate(operand, at: at) : operand
    }
    return try power()
  }

  mutating func power() throws -> ExpressionSyntax {
    let base = try primary()
    if case .symbol("^") = current.token {
      let at = current.at
      index += 1
      try enter(at: at)
      defer { depth -= 1 }
      return .binary("^", base, try unary(), at: at)
    }
    return base
  }

  mutating func primary() throws -> ExpressionSyntax {
    let (token, at) = current
    switch token {
    case .number(let v):
      index += 1
      return .number(v, at: at)
    case .name(let n):
      index += 1
      guard case .symbol("(") = current.token else { return .name(n, at: at) }
      let open = current.at
      index += 1
      try enter(at: open)
      defer { depth -= 1 }
      var arguments = [try sum()]
      while case .symbol(",") = current.token {
        index += 1
        arguments.append(try sum())
      }
      try close(open: open)
      return .call(n, arguments, at: at)
    case .symbol("("):
      index += 1
      try enter(at: at)
      defer { depth -= 1 }
      let inner = try sum()
      try close(open: at)
      return inner
    case .end:
      throw ExpressionError("the expression ends where a number, a name or '(' was expected", at: at)
    case .symbol(")"):
      throw ExpressionError("expected a number, a name or '(' before this ')'", at: at)
    default:
      throw ExpressionError("expected a number, a name or '(', found \(Self.describe(token))", at: at)
    }
  }

  mutating func close(open: Int) throws {
    guard case .symbol(")") = current.token else {
      if case .end = current.token {
        throw ExpressionError("unbalanced parentheses: the '(' here is never closed", at: open)
      }
      throw ExpressionError(
        "expected ',' or ')' (for the '(' at column \(open + 1)), found \(Self.describe(current.token))",
        at: current.at)
    }
    index += 1
  }
}
