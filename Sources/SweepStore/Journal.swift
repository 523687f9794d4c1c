import Foundation

// The durable store of completed runs: append-only journals of checksummed records.
//
// Every rank of a launch that has something to keep appends records to its own journal
// (`store/journal-<launch>-<rank>.mfj`), never to another process's file and never into an
// existing record: a record, once written, is never rewritten. A record is a 56-byte header
// (with the digest of its payload and of itself) followed by the payload, padded to 8 bytes,
// so a reader finds every intact record and skips a damaged one (a torn write at the end, a
// flipped bit, random bytes) without losing the records around it. This is the pattern of
// checkpoint libraries (SCR, VeloC): per-process files, written then committed, verified on
// read.

/// An identity of 128 bits (the leading half of a SHA-256 digest), printed as 32 hex digits.
public struct RunKey: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var high: UInt64
  public var low: UInt64

  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// The key of the first 16 bytes of a digest.
  public init(digest: [UInt8]) {
    precondition(digest.count >= 16)
    var h: UInt64 = 0, l: UInt64 = 0
    for i in 0..<8 { h = h << 8 | UInt64(digest[i]) }
    for i in 8..<16 { l = l << 8 | UInt64(digest[i]) }
    self.init(high: h, low: l)
  }

  /// Parses 32 hex digits.
  public init?(hex: String) {
    guard hex.utf8.count == 32, let h = UInt64(hex.prefix(16), radix: 16), let l = UInt64(hex.suffix(16), radix: 16)
    else { return nil }
    self.init(high: h, low: l)
  }

  public static let zero = RunKey(high: 0, low: 0)

  public var description: String {
    func hex(_ v: UInt64) -> String {
      let s = String(v, radix: 16)
      return String(repeating: "0", count: 16 - s.count) + s
    }
    return hex(high) + hex(low)
  }

  /// The first 12 hex digits, for messages.
  public var short: String { String(description.prefix(12)) }

  public static func < (a: RunKey, b: RunKey) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// The kinds of journal records.
public enum RecordKind: UInt16, Sendable, CaseIterable {
  /// The first record of a journal: who wrote it (JSON).
  case header = 1
  /// A run started (or resumed) on this launch; payload: the run id and the step.
  case start = 2
  /// A rank's rows of one particle snapshot.
  case rows = 3
  /// A run's committed result: status, metrics, settings, where its snapshots are.
  case result = 4
  /// A checkpoint's manifest (in checkpoint files only).
  case checkpoint = 5
  /// A rank's rows of a checkpoint (in checkpoint files only).
  case state = 6
}

/// A failed file operation, with the POSIX error.
public struct StoreError: Error, CustomStringConvertible, Sendable {
  /// What was being done ("append to", "create", ...).
  public var operation: String
  public var path: String
  /// `errno`, or 0 when the problem is not a system error.
  public var code: Int32
  /// Extra detail (damage found, ...).
  public var detail: String

  public init(_ operation: String, path: String, code: Int32 = 0, detail: String = "") {
    self.operation = operation
    self.path = path
    self.code = code
    self.detail = detail
  }

  /// The error of the last failed call.
  public static func system(_ operation: String, path: String) -> StoreError {
    StoreError(operation, path: path, code: errno)
  }

  /// Whether the file system is full (or the quota reached).
  public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
  /// Whether the file system refuses writes.
  public var isReadOnly: Bool { code == EROFS }

  public var description: String {
    var text = "cannot \(operation) \(path)"
    if code != 0 { text += ": " + String(cString: strerror(code)) }
    if !detail.isEmpty { text += (code != 0 ? " (" : ": ") + detail + (code != 0 ? ")" : "") }
    return text
  }
}

/// The fixed part of a record.
public struct RecordHeader: Sendable, Equatable {
  public static let magic: UInt32 = 0x524A_464D  // "MFJR" little-endian
  public static let size = 56

  public var kind: RecordKind
  public var key: RunKey
  /// Identifies one attempt at a run (a launch and a counter): rows and results of the same
  /// attempt belong together.
  public var attempt: UInt64
  public var length: UInt64
  public var payloadHash: UInt64

  public init(kind: RecordKind, key: RunKey, attempt: UInt64, length: UInt64, payloadHash: UInt64) {
    self.kind = kind
    self.key = key
    self.attempt = attempt
    self.length = length
    self.payloadHash = payloadHash
  }

  /// Bytes of the payload plus its padding to a multiple of 8.
  public var paddedLength: UInt64 { (length + 7) & ~7 }

  /// The 56 bytes of the header, its own digest last.
  func encoded() -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: Self.size)
    bytes.withUnsafeMutableBytes { b in
      b.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
      b.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 4, as: UInt16.self)
      b.storeBytes(of: key.high.littleEndian, toByteOffset: 8, as: UInt64.self)
      b.storeBytes(of: key.low.littleEndian, toByteOffset: 16, as: UInt64.self)
      b.storeBytes(of: attempt.littleEndian, toByteOffset: 24, as: UInt64.self)
      b.storeBytes(of: length.littleEndian, toByteOffset: 32, as: UInt64.self)
      b.storeBytes(of: payloadHash.littleEndian, toByteOffset: 40, as: UInt64.self)
      let own = XXHash64.hash(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(b)[0..<48]))
      b.storeBytes(of: own.littleEndian, toByteOffset: 48, as: UInt64.self)
    }
    return bytes
  }

  /// Decodes a header; nil unless the magic, the kind and the header's own digest are right.
  static func decode(_ b: UnsafeRawBufferPointer) -> RecordHeader? {
    guard b.count >= size else { return nil }
    guard UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic else { return nil }
    let own = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 48, as: UInt64.self))
    guard XXHash64.hash(UnsafeRawBufferPointer(rebasing: b[0..<48])) == own else { return nil }
    guard let kind = RecordKind(rawValue: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
    else { return nil }
    let key = RunKey(
      high: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
      low: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
    return RecordHeader(
      kind: kind, key: key,
      attempt: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
      length: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 32, as: UInt64.self)),
      payloadHash: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 40, as: UInt64.self)))
  }
}

/// An append-only journal file of one process, created on the first append.
///
/// Appends go straight to the file (`write(2)`): a killed process loses nothing it appended.
/// ``sync(olderThan:)`` bounds what a power loss can take (the last second, by default).
public final class JournalWriter: @unchecked Sendable {
  public let path: String
  private var fd: Int32 = -1
  private var lastSync = 0.0
  private var unsynced = false
  /// The record written first (who wrote the journal).
  private let header: [UInt8]?

  /// A journal at `path` (not created until the first append). `header` is the payload of its
  /// first record.
  public init(path: String, header: [UInt8]? = nil) {
    self.path = path
    self.header = header
  }

  deinit { if fd >= 0 { Glibc.close(fd) } }

  /// Whether anything was written.
  public var isOpen: Bool { fd >= 0 }

  private func open() throws {
    if fd >= 0 { return }
    let opened = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
    if opened < 0 { throw StoreError.system("create", path: path) }
    fd = opened
    lastSync = monotonicSeconds()
    if let header {
      try writeRecord(kind: .header, key: .zero, attempt: 0, pieces: [], extra: header)
    }
  }

  /// Appends a record whose payload is `payload`.
  public func append(kind: RecordKind, key: RunKey, attempt: UInt64, payload: [UInt8]) throws {
    try open()
    try writeRecord(kind: kind, key: key, attempt: attempt, pieces: [], extra: payload)
  }

  /// Appends a record whose payload is `prefix` followed by the bytes of `pieces`, without
  /// copying the pieces.
  public func append(kind: RecordKind, key: RunKey, attempt: UInt64, prefix: [UInt8], pieces: [UnsafeRawBufferPointer])
    throws
  {
    try open()
    try writeRecord(kind: kind, key: key, attempt: attempt, pieces: pieces, extra: prefix)
  }

  private func writeRecord(
    kind: RecordKind, key: RunKey, attempt: UInt64, pieces: [UnsafeRawBufferPointer], extra: [UInt8]
  ) throws {
    var hasher = XXHash64()
    extra.withUnsafeBytes { hasher.update($0) }
    var length = UInt64(extra.count)
    for p in pieces {
      hasher.update(p)
      length += UInt64(p.count)
    }
    let head = RecordHeader(kind: kind, key: key, attempt: attempt, length: length, payloadHash: hasher.finalize())
      .encoded()
    let padding = [UInt8](repeating: 0, count: Int((8 - length % 8) % 8))
    try head.withUnsafeBytes { h in
      try extra.withUnsafeBytes { e in
        try padding.withUnsafeBytes { z in
          try writeAll([h, e] + pieces + [z])
        }
      }
    }
    unsynced = true
  }

  /// Writes every buffer, in order, at the end of the file.
  private func writeAll(_ buffers: [UnsafeRawBufferPointer]) throws {
    var items = buffers.filter { $0.count > 0 }
    while !items.isEmpty {
      let batch = Array(items.prefix(64))
      var vectors = batch.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
      let written = writev(fd, &vectors, Int32(vectors.count))
      if written < 0 {
        if errno == EINTR { continue }
        throw StoreError.system("append to", path: path)
      }
      var left = written
      var rest = [UnsafeRawBufferPointer]()
      for b in items {
        if left >= b.count {
          left -= b.count
        } else {
          rest.append(UnsafeRawBufferPointer(rebasing: b[left...]))
          left = 0
        }
      }
      if written == 0 { throw StoreError("append to", path: path, code: ENOSPC) }
      items = rest
    }
  }

  /// Flushes the journal to stable storage if the last flush is older than `seconds`.
  public func sync(olderThan seconds: Double = 1) throws {
    guard fd >= 0, unsynced else { return }
    let now = monotonicSeconds()
    if now - lastSync < seconds { return }
    if fdatasync(fd) != 0 { throw StoreError.system("flush", path: path) }
    lastSync = now
    unsynced = false
  }

  /// Flushes and closes.
  public func close() throws {
    guard fd >= 0 else { return }
    defer {
      Glibc.close(fd)
      fd = -1
    }
    if unsynced && fdatasync(fd) != 0 { throw StoreError.system("flush", path: path) }
    unsynced = false
  }
}

/// Seconds of a monotonic clock.
public func monotonicSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Where a record lies in a journal.
public struct RecordLocation: Sendable {
  public var file: String
  /// Offset of the payload.
  public var offset: UInt64
  public var header: RecordHeader
}

/// Reads the records of a journal (or checkpoint) file.
public final class JournalReader: @unchecked Sendable {
  public let path: String
  private let fd: Int32
  /// Size of the file when opened.
  public let size: UInt64

  public init(path: String) throws {
    self.path = path
    fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw StoreError.system("open", path: path) }
    var st = stat()
    if fstat(fd, &st) != 0 {
      let e = StoreError.system("read", path: path)
      Glibc.close(fd)
      throw e
    }
    size = UInt64(st.st_size)
  }

  deinit { Glibc.close(fd) }

  /// Reads `count` bytes at `offset`; fewer when the file ends first.
  public func read(offset: UInt64, count: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    var done = 0
    try out.withUnsafeMutableBytes { b in
      while done < count {
        let n = pread(fd, b.baseAddress! + done, count - done, off_t(offset) + off_t(done))
        if n < 0 {
          if errno == EINTR { continue }
          throw StoreError.system("read", path: path)
        }
        if n == 0 { break }
        done += n
      }
    }
    if done < count { out.removeLast(count - done) }
    return out
  }

  /// Every intact record header, in file order, and the byte ranges that held damage (a
  /// header that does not check, or a record running past the end of the file). After damage
  /// the scan resumes at the next 8-byte boundary that starts an intact header.
  public func scan() throws -> (records: [RecordLocation], damaged: [Range<UInt64>]) {
    var records = [RecordLocation]()
    var damaged = [Range<UInt64>]()
    var offset: UInt64 = 0
    var damageStart: UInt64? = nil
    let chunk = 1 << 20
    var window = [UInt8]()
    var windowStart: UInt64 = 0
    while offset + UInt64(RecordHeader.size) <= size {
      if offset < windowStart || offset + UInt64(RecordHeader.size) > windowStart + UInt64(window.count) {
        window = try read(offset: offset, count: chunk)
        windowStart = offset
      }
      let at = Int(offset - windowStart)
      let header = window.withUnsafeBytes { b in
        RecordHeader.decode(UnsafeRawBufferPointer(rebasing: b[at..<(at + RecordHeader.size)]))
      }
      if let header, offset + UInt64(RecordHeader.size) + header.length <= size {
        if let start = damageStart {
          damaged.append(start..<offset)
          damageStart = nil
        }
        records.append(RecordLocation(file: path, offset: offset + UInt64(RecordHeader.size), header: header))
        offset += UInt64(RecordHeader.size) + header.paddedLength
      } else {
        if damageStart == nil { damageStart = offset }
        offset += 8
      }
    }
    if let start = damageStart {
      damaged.append(start..<size)
    } else if offset < size {
      damaged.append(offset..<size)
    }
    return (records, damaged)
  }

  /// The payload of a record, verified against its digest (nil when damaged).
  public func payload(_ location: RecordLocation) throws -> [UInt8]? {
    let bytes = try read(offset: location.offset, count: Int(location.header.length))
    guard bytes.count == Int(location.header.length) else { return nil }
    return XXHash64.hash(bytes) == location.header.payloadHash ? bytes : nil
  }
}
