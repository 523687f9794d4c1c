import Foundation

/// Little-endian binary encoding of record payloads.
public struct ByteWriter: Sendable {
  public private(set) var bytes: [UInt8] = []

  public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

  public mutating func u8(_ v: UInt8) { bytes.append(v) }
  public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

  public mutating func u64(_ v: UInt64) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
  }

  public mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }

  public mutating func double(_ v: Double) { u64(v.bitPattern) }

  public mutating func string(_ s: String) {
    let utf8 = Array(s.utf8)
    int(utf8.count)
    bytes.append(contentsOf: utf8)
  }

  public mutating func doubles(_ values: [Double]) {
    int(values.count)
    values.withUnsafeBytes { b in
      // The platforms mfsweep runs on are little-endian; the format says so.
      bytes.append(contentsOf: b)
    }
  }

  public mutating func ints(_ values: [Int]) {
    int(values.count)
    for v in values { int(v) }
  }

  public mutating func strings(_ values: [String]) {
    int(values.count)
    for s in values { string(s) }
  }
}

/// Reads what ``ByteWriter`` wrote; every read checks the bounds.
public struct ByteReader {
  let bytes: [UInt8]
  public private(set) var position = 0
  /// Describes the record for errors.
  let what: String

  public init(_ bytes: [UInt8], what: String = "record") {
    self.bytes = bytes
    self.what = what
  }

  public var isAtEnd: Bool { position == bytes.count }

  func need(_ n: Int) throws {
    guard n >= 0, position + n <= bytes.count else {
      throw StoreError("decode", path: what, detail: "the record ends early (damaged or from another version)")
    }
  }

  public mutating func u8() throws -> UInt8 {
    try need(1)
    defer { position += 1 }
    return bytes[position]
  }

  public mutating func bool() throws -> Bool { try u8() != 0 }

  public mutating func u64() throws -> UInt64 {
    try need(8)
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
    position += 8
    return v
  }

  public mutating func int() throws -> Int { Int(Int64(bitPattern: try u64())) }

  public mutating func double() throws -> Double { Double(bitPattern: try u64()) }

  /// A count, checked against the bytes left (`unit` bytes per element at least).
  mutating func count(unit: Int) throws -> Int {
    let n = try int()
    guard n >= 0, n <= (bytes.count - position) / Swift.max(1, unit) else {
      throw StoreError("decode", path: what, detail: "a length of \(n) does not fit the record (damaged?)")
    }
    return n
  }

  public mutating func string() throws -> String {
    let n = try count(unit: 1)
    defer { position += n }
    return String(decoding: bytes[position..<(position + n)], as: UTF8.self)
  }

  public mutating func doubles() throws -> [Double] {
    let n = try count(unit: 8)
    var out = [Double](repeating: 0, count: n)
    out.withUnsafeMutableBytes { o in
      bytes.withUnsafeBytes { b in
        o.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[position..<(position + 8 * n)]))
      }
    }
    position += 8 * n
    return out
  }

  public mutating func ints() throws -> [Int] {
    let n = try count(unit: 8)
    return try (0..<n).map { _ in try int() }
  }

  public mutating func strings() throws -> [String] {
    let n = try count(unit: 8)
    return try (0..<n).map { _ in try string() }
  }
}
