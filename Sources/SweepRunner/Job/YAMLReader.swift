import Foundation
import Yams

/// A position in a job file's YAML tree: the node, its dotted key path, and the file.
///
/// Every accessor checks the node's type and range and throws a ``JobError`` naming the file,
/// the line, the key path and what was expected.
struct Cursor {
  let node: Node
  let path: String
  let file: String
  /// Notes on key paths whose values a grid point substituted (for messages).
  let origins: [String: String]

  init(node: Node, path: String, file: String, origins: [String: String] = [:]) {
    self.node = node
    self.path = path
    self.file = file
    self.origins = origins
  }

  /// Where this value came from, when a grid point set it.
  var origin: String? {
    if let note = origins[path] { return note }
    // A value inside a substituted mapping or list.
    for (key, note) in origins where path.hasPrefix(key + ".") || path.hasPrefix(key + "[") {
      return note
    }
    return nil
  }

  /// The cursor of a child.
  func child(_ node: Node, path: String) -> Cursor {
    Cursor(node: node, path: path, file: file, origins: origins)
  }

  func error(_ message: String) -> JobError {
    var text = message
    if let origin { text += " (\(origin))" }
    return JobError(file: file, line: node.mark?.line, column: node.mark?.column, keyPath: path, message: text)
  }

  /// The node as a mapping whose keys must all be in `allowed` (a misspelt key is reported
  /// before anything else, with the nearest allowed word).
  func mapping(_ what: String = "a mapping", allowed: [String]) throws -> MappingReader {
    guard case .mapping(let m) = node else { throw error("expected \(what), found \(describe(node))") }
    let reader = try MappingReader(mapping: m, cursor: self)
    try reader.rejectUnknownKeys(allowed: allowed)
    return reader
  }

  /// The node as a mapping with arbitrary keys (the sweep grid).
  func mappingOfAnyKeys(_ what: String = "a mapping") throws -> MappingReader {
    guard case .mapping(let m) = node else { throw error("expected \(what), found \(describe(node))") }
    return try MappingReader(mapping: m, cursor: self)
  }

  var isMapping: Bool { if case .mapping = node { return true } else { return false } }
  var isSequence: Bool { if case .sequence = node { return true } else { return false } }

  /// Elements of a sequence.
  func sequence() throws -> [Cursor] {
    guard case .sequence(let s) = node else { throw error("expected a list, found \(describe(node))") }
    return s.enumerated().map { child($1, path: "\(path)[\($0)]") }
  }

  /// The scalar text, if the node is a plain scalar.
  var scalarText: String? {
    if case .scalar(let s) = node { return s.string }
    return nil
  }

  /// A finite number. Accepts forms YAML 1.1 reads as strings, such as `1e-3`.
  func double(_ expectation: String = "a number") throws -> Double {
    guard case .scalar(let s) = node, s.style == .plain || s.style == .any,
      let v = Double(s.string.replacingOccurrences(of: "_", with: "")), v.isFinite
    else { throw error("expected \(expectation), found \(describe(node))") }
    return v
  }

  /// An integer (a number with an integral value such as `1e3` is accepted).
  func int(_ expectation: String = "an integer") throws -> Int {
    guard case .scalar(let s) = node, s.style == .plain || s.style == .any else {
      throw error("expected \(expectation), found \(describe(node))")
    }
    let text = s.string.replacingOccurrences(of: "_", with: "")
    if let v = Int(text) { return v }
    if let v = Double(text), v.isFinite, v.rounded() == v, abs(v) < 9e15 { return Int(v) }
    throw error("expected \(expectation), found \(describe(node))")
  }

  /// A boolean (`true`/`false`, `yes`/`no`).
  func bool() throws -> Bool {
    guard case .scalar(let s) = node else { throw error("expected true or false, found \(describe(node))") }
    switch s.string.lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default: throw error("expected true or false, found \(describe(node))")
    }
  }

  /// A string scalar.
  func string(_ expectation: String = "a string") throws -> String {
    guard case .scalar(let s) = node else { throw error("expected \(expectation), found \(describe(node))") }
    return s.string
  }

  /// One of a fixed set of words.
  func choice(_ options: [String]) throws -> String {
    let value = try string("one of \(options.joined(separator: ", "))")
    guard options.contains(value) else {
      var message = "unknown value '\(value)'; expected one of \(options.joined(separator: ", "))"
      if let close = closestMatch(value, in: options) { message += " (did you mean '\(close)'?)" }
      throw error(message)
    }
    return value
  }

  /// A number in a range, described for the message.
  func double(where valid: (Double) -> Bool, _ expectation: String) throws -> Double {
    let v = try double(expectation)
    guard valid(v) else { throw error("\(formatNumber(v)) is out of range; expected \(expectation)") }
    return v
  }

  /// An integer in a range, described for the message.
  func int(where valid: (Int) -> Bool, _ expectation: String) throws -> Int {
    let v = try int(expectation)
    guard valid(v) else { throw error("\(v) is out of range; expected \(expectation)") }
    return v
  }

  /// A number or a list of numbers.
  func doubles(where valid: (Double) -> Bool, _ expectation: String) throws -> [Double] {
    if isSequence {
      let items = try sequence()
      if items.isEmpty { throw error("expected \(expectation) or a non-empty list of them") }
      return try items.map { try $0.double(where: valid, expectation) }
    }
    return [try double(where: valid, expectation)]
  }
}

/// Reads the keys of one mapping.
final class MappingReader {
  let cursor: Cursor
  private var entries: [(key: String, keyNode: Node, value: Node)] = []

  init(mapping: Node.Mapping, cursor: Cursor) throws {
    self.cursor = cursor
    var seen = Set<String>()
    for (k, v) in mapping {
      guard case .scalar(let s) = k else {
        throw cursor.child(k, path: cursor.path).error("keys must be plain words")
      }
      if seen.contains(s.string) {
        throw cursor.child(k, path: join(cursor.path, s.string)).error("this key appears twice")
      }
      seen.insert(s.string)
      entries.append((s.string, k, v))
    }
  }

  /// The keys present, in file order.
  var keys: [String] { entries.map(\.key) }

  /// A cursor at the key itself (for messages about the key).
  func keyCursor(_ key: String) -> Cursor {
    let e = entries.first(where: { $0.key == key })!
    return cursor.child(e.keyNode, path: join(cursor.path, key))
  }

  /// The value at `key`, or nil when absent.
  func optional(_ key: String) -> Cursor? {
    guard let e = entries.first(where: { $0.key == key }) else { return nil }
    return cursor.child(e.value, path: join(cursor.path, key))
  }

  /// The value at `key`; a missing key is an error naming it.
  func required(_ key: String, _ expectation: String) throws -> Cursor {
    if let c = optional(key) { return c }
    throw cursor.error("missing key '\(key)' (\(expectation))")
  }

  /// Rejects keys outside `allowed`, naming the allowed ones and the nearest.
  func rejectUnknownKeys(allowed: [String]) throws {
    for e in entries where !allowed.contains(e.key) {
      var message = "unknown key; expected one of \(allowed.joined(separator: ", "))"
      if let close = closestMatch(e.key, in: allowed) { message += " (did you mean '\(close)'?)" }
      throw cursor.child(e.keyNode, path: join(cursor.path, e.key)).error(message)
    }
  }
}

func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : "\(a).\(b)" }

func describe(_ node: Node) -> String {
  switch node {
  case .scalar(let s):
    if s.string.isEmpty { return "nothing" }
    return "'\(s.string)'"
  case .mapping: return "a mapping"
  case .sequence: return "a list"
  case .alias: return "an alias"
  }
}

func formatNumber(_ v: Double) -> String {
  if v.rounded() == v && abs(v) < 1e15 { return String(Int(v)) }
  return "\(v)"
}

/// The closest word within edit distance 2 (for "did you mean").
func closestMatch(_ word: String, in options: [String]) -> String? {
  func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
      var current = [i] + [Int](repeating: 0, count: b.count)
      for j in 1...max(1, b.count) where !b.isEmpty {
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
  }
  let scored = options.map { ($0, distance(word.lowercased(), $0.lowercased())) }
  guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < word.count else { return nil }
  return best.0
}
