import Foundation
import Yams

/// One value of a swept key: the YAML node to substitute and where it came from.
struct GridValue {
  var node: Node
  var keyNode: Node
  /// `grid.dynamics.temperature[2]`, for messages.
  var source: String
}

/// `sweep: {grid: {...}, zip: {...}}` expanded into its points.
///
/// The points are the Cartesian product of the grid axes in the order written (the last axis
/// varying fastest), and within that the zip axis (all zip lists advancing together) varying
/// fastest of all. An axis is a list, `{range: [start, stop]}` or `{range: [start, stop, step]}`
/// (integers, stop excluded, as Python's range), `{linspace: [first, last, count]}` or
/// `{logspace: [first, last, count]}` (count values from first to last inclusive, evenly spaced
/// in value or in logarithm; rounded to 15 significant digits).
struct SweepGrid {
  var keys: [String]
  var points: [[(key: String, value: GridValue)]]
  var count: Int { points.count }

  static let reservedKeys = ["sweep", "output", "parallel", "name", "description", "checkpoint", "analysis"]
  /// Runs one job file may expand to: every run is decoded and held while the job is checked.
  static let maximumRuns = 1_000_000

  static func decode(_ cursor: Cursor?) throws -> SweepGrid {
    guard let cursor else { return SweepGrid(keys: [], points: [[]]) }
    let m = try cursor.mapping(allowed: ["grid", "zip"])
    // The size is known before any axis is materialised: refuse a grid too large to hold.
    var product = 1
    var factors = [String]()
    for section in ["grid", "zip"] {
      guard let c = m.optional(section), c.isMapping else { continue }
      let axes = try c.mappingOfAnyKeys()
      for key in axes.keys {
        guard let n = try axisCount(axes.optional(key)!) else { continue }
        if section == "zip" {
          if factors.contains(where: { $0.hasPrefix("zip ") }) { continue }
          factors.append("zip \(key): \(n)")
        } else {
          factors.append("\(key): \(n)")
        }
        let (next, overflow) = product.multipliedReportingOverflow(by: n)
        product = overflow ? Int.max : next
      }
    }
    if product > maximumRuns {
      throw cursor.error(
        "expands to \(product == Int.max ? "more than 9.2e18" : String(product)) runs (\(factors.joined(separator: " × "))); at most \(maximumRuns) runs fit in one job file: split the sweep into several jobs"
      )
    }
    var axes: [(key: String, values: [GridValue])] = []
    if let grid = m.optional("grid") {
      let g = try grid.mappingOfAnyKeys()
      for key in g.keys {
        let c = g.optional(key)!
        try checkKey(key, at: g.keyCursor(key))
        axes.append((key, try values(of: c, key: key, keyNode: g.keyCursor(key).node, section: "grid")))
      }
    }
    var zipAxis: [(key: String, values: [GridValue])] = []
    if let zip = m.optional("zip") {
      let z = try zip.mappingOfAnyKeys()
      for key in z.keys {
        let c = z.optional(key)!
        try checkKey(key, at: z.keyCursor(key))
        if axes.contains(where: { $0.key == key }) {
          throw z.keyCursor(key).error("this key is also in sweep.grid; a key may be swept once")
        }
        zipAxis.append((key, try values(of: c, key: key, keyNode: z.keyCursor(key).node, section: "zip")))
      }
      if let first = zipAxis.first {
        for other in zipAxis.dropFirst() where other.values.count != first.values.count {
          throw z.keyCursor(other.key).error(
            "has \(other.values.count) values but \(first.key) has \(first.values.count); zip lists vary together and must have the same length"
          )
        }
      }
    }

    var points: [[(key: String, value: GridValue)]] = [[]]
    for axis in axes {
      var next: [[(key: String, value: GridValue)]] = []
      next.reserveCapacity(points.count * axis.values.count)
      for p in points {
        for v in axis.values { next.append(p + [(axis.key, v)]) }
      }
      points = next
    }
    if let first = zipAxis.first {
      var next: [[(key: String, value: GridValue)]] = []
      for p in points {
        for i in 0..<first.values.count {
          next.append(p + zipAxis.map { ($0.key, $0.values[i]) })
        }
      }
      points = next
    }
    return SweepGrid(keys: axes.map(\.key) + zipAxis.map(\.key), points: points)
  }

  static func checkKey(_ key: String, at cursor: Cursor) throws {
    let parts = key.split(separator: ".", omittingEmptySubsequences: false)
    if parts.contains(where: { $0.isEmpty }) {
      throw cursor.error("is not a dotted key path such as dynamics.temperature")
    }
    if let head = parts.first, reservedKeys.contains(String(head)) {
      throw cursor.error("'\(head)' cannot be swept")
    }
  }

  /// The number of values of an axis, computed without materialising them; nil when the
  /// axis is malformed (``values(of:key:keyNode:section:)`` then reports it).
  static func axisCount(_ cursor: Cursor) throws -> Int? {
    if case .sequence(let items) = cursor.node { return items.count }
    guard case .mapping(let m) = cursor.node, m.count == 1, let (formNode, specNode) = m.first,
      case .sequence(let args) = specNode, let form = formNode.string
    else { return nil }
    func integer(_ node: Node) -> Int? { node.string.flatMap { Int($0) } }
    switch form {
    case "range":
      guard args.count == 2 || args.count == 3, let start = integer(args[0]), let stop = integer(args[1]) else {
        return nil
      }
      let step = args.count == 3 ? integer(args[2]) ?? 1 : 1
      guard step != 0 else { return nil }
      let span = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
      if span.overflow { return Int.max }
      if span.partialValue <= 0 { return 0 }
      let count = (UInt(span.partialValue) + step.magnitude - 1) / step.magnitude
      return count > UInt(Int.max) ? Int.max : Int(count)
    case "linspace", "logspace":
      guard args.count == 3 else { return nil }
      return integer(args[2])
    default:
      return nil
    }
  }

  static func values(of cursor: Cursor, key: String, keyNode: Node, section: String) throws -> [GridValue] {
    let source = "\(section).\(key)"
    if cursor.isSequence {
      let items = try cursor.sequence()
      if items.isEmpty { throw cursor.error("is an empty list; expected at least one value") }
      return items.enumerated().map { GridValue(node: $1.node, keyNode: keyNode, source: "\(source)[\($0)]") }
    }
    guard cursor.isMapping else {
      throw cursor.error(
        "expected a list of values or {range|linspace|logspace: [...]}, found \(describe(cursor.node))")
    }
    let m = try cursor.mapping(allowed: ["range", "linspace", "logspace"])
    guard m.keys.count == 1, let form = m.keys.first, let spec = m.optional(form) else {
      throw cursor.error("expected exactly one of range, linspace, logspace")
    }
    let args = try spec.sequence()
    let mark = spec.node.mark
    func scalar(_ text: String) -> Node { .scalar(Node.Scalar(text, .implicit, .plain, mark)) }
    switch form {
    case "range":
      guard args.count == 2 || args.count == 3 else {
        throw spec.error("expected [start, stop] or [start, stop, step]")
      }
      let start = try args[0].int(), stop = try args[1].int()
      let step = args.count == 3 ? try args[2].int(where: { $0 != 0 }, "a non-zero integer") : 1
      // Count before materialising (in exact integer arithmetic: no overflow near Int.max).
      let span = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
      let magnitude = step.magnitude
      let count: UInt =
        span.overflow ? UInt.max : (span.partialValue <= 0 ? 0 : (UInt(span.partialValue) + magnitude - 1) / magnitude)
      if count == 0 { throw spec.error("is empty (range stops before it starts)") }
      if count > UInt(maximumRuns) {
        throw spec.error(
          "has \(count == UInt.max ? "more than 9.2e18" : String(count)) values; at most \(maximumRuns) runs fit in one job file"
        )
      }
      let values = Array(stride(from: start, to: stop, by: step))
      return values.enumerated().map {
        GridValue(node: scalar(String($1)), keyNode: keyNode, source: "\(source)[\($0)]")
      }
    default:
      guard args.count == 3 else { throw spec.error("expected [first, last, count]") }
      let first = try args[0].double(), last = try args[1].double()
      let count = try args[2].int(where: { $0 >= 1 && $0 <= maximumRuns }, "a positive count of at most \(maximumRuns)")
      if form == "logspace" && (first <= 0 || last <= 0) {
        throw spec.error("logspace needs positive first and last values")
      }
      var values = [Double]()
      for i in 0..<count {
        let t = count == 1 ? 0 : Double(i) / Double(count - 1)
        let v = form == "linspace" ? first + (last - first) * t : exp(log(first) + (log(last) - log(first)) * t)
        values.append(Double(String(format: "%.15g", v))!)
      }
      return values.enumerated().map { GridValue(node: scalar("\($1)"), keyNode: keyNode, source: "\(source)[\($0)]") }
    }
  }
}
