import Foundation

/// The first point where an expression's gradient was not finite, kept so that a run that
/// diverges can say where and with which expression (one record per model; the drift of any
/// thread may write it, once).
public final class ExpressionFault: @unchecked Sendable {
  private let lock = NSLock()
  private var record: (what: String, point: [Double], gradient: [Double])? = nil

  public init() {}

  /// What was recorded, as a sentence, or nil.
  public var description: String? {
    lock.lock()
    defer { lock.unlock() }
    guard let r = record else { return nil }
    func list(_ v: [Double]) -> String { "(" + v.map { String($0) }.joined(separator: ", ") + ")" }
    return "\(r.what) = \(list(r.gradient)) at x = \(list(r.point))"
  }

  /// Scans `rows` gradients (row-major, d each) with one vectorised reduction; records the
  /// first non-finite row with its point, unless a record exists.
  @inlinable
  public func check(
    _ g: UnsafePointer<Double>, rows: Int, dimension d: Int, points x: UnsafePointer<Double>,
    what: @autoclosure () -> String
  ) {
    // The largest exponent field: all ones only for an infinity or a NaN. (A flag or-reduction
    // is turned into a scalar search with an early exit; a maximum stays a vector reduction.)
    let exponent: UInt64 = 0x7ff0_0000_0000_0000
    var highest: UInt64 = 0
    for i in 0..<(rows &* d) { highest = max(highest, g[i].bitPattern & exponent) }
    if highest == exponent { recordFirst(g, rows: rows, dimension: d, points: x, what: what()) }
  }

  @usableFromInline
  func recordFirst(
    _ g: UnsafePointer<Double>, rows: Int, dimension d: Int, points x: UnsafePointer<Double>, what: String
  ) {
    guard
      let i = (0..<rows).first(where: { i in (0..<d).contains { !g[i * d + $0].isFinite } })
    else { return }
    lock.lock()
    defer { lock.unlock() }
    if record == nil {
      record = (
        what, Array(UnsafeBufferPointer(start: x + i * d, count: d)),
        Array(UnsafeBufferPointer(start: g + i * d, count: d))
      )
    }
  }
}
