/// XXH64, the 64-bit xxHash of Yann Collet (specification: xxhash.com, "xxHash fast digest
/// algorithm", version 0.1.1): the digest of every record and checkpoint part mfsweep writes.
///
/// Not a cryptographic hash: it detects accidental damage (a flipped bit, random bytes, a torn
/// write) with probability 1 − 2⁻⁶⁴ per damaged record, at several GB/s.
public struct XXHash64: Sendable {
  @usableFromInline static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
  @usableFromInline static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
  @usableFromInline static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
  @usableFromInline static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
  @usableFromInline static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

  @usableFromInline var v1, v2, v3, v4: UInt64
  @usableFromInline let seed: UInt64
  /// Bytes not yet folded into the lanes (fewer than 32).
  @usableFromInline var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
  @usableFromInline var buffered = 0
  @usableFromInline var total: UInt64 = 0

  /// A hasher with the given seed.
  public init(seed: UInt64 = 0) {
    self.seed = seed
    v1 = seed &+ Self.prime1 &+ Self.prime2
    v2 = seed &+ Self.prime2
    v3 = seed
    v4 = seed &- Self.prime1
  }

  @inlinable @inline(__always)
  static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
    let a = acc &+ input &* prime2
    return ((a << 31) | (a >> 33)) &* prime1
  }

  @inlinable @inline(__always)
  static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
    let a = acc ^ round(0, v)
    return a &* prime1 &+ prime4
  }

  @inlinable @inline(__always)
  static func load64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// Adds bytes to the digest.
  @inlinable
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    total &+= UInt64(bytes.count)
    var offset = 0
    let n = bytes.count
    if buffered > 0 {
      withUnsafeMutableBytes(of: &buffer) { b in
        let take = Swift.min(32 - buffered, n)
        b.baseAddress!.advanced(by: buffered).copyMemory(from: base, byteCount: take)
        buffered += take
        offset = take
      }
      if buffered < 32 { return }
      withUnsafeBytes(of: buffer) { b in
        let p = b.baseAddress!
        v1 = Self.round(v1, Self.load64(p, 0))
        v2 = Self.round(v2, Self.load64(p, 8))
        v3 = Self.round(v3, Self.load64(p, 16))
        v4 = Self.round(v4, Self.load64(p, 24))
      }
      buffered = 0
    }
    var a = v1, b = v2, c = v3, d = v4
    while offset + 32 <= n {
      a = Self.round(a, Self.load64(base, offset))
      b = Self.round(b, Self.load64(base, offset + 8))
      c = Self.round(c, Self.load64(base, offset + 16))
      d = Self.round(d, Self.load64(base, offset + 24))
      offset += 32
    }
    v1 = a
    v2 = b
    v3 = c
    v4 = d
    if offset < n {
      let rest = n - offset
      withUnsafeMutableBytes(of: &buffer) { buf in
        buf.baseAddress!.copyMemory(from: base + offset, byteCount: rest)
      }
      buffered = rest
    }
  }

  /// Adds the bytes of an array's elements.
  public mutating func update<T: BitwiseCopyable>(_ values: [T]) {
    values.withUnsafeBytes { update($0) }
  }

  /// The digest of everything added so far.
  public func finalize() -> UInt64 {
    var h: UInt64
    if total >= 32 {
      h =
        ((v1 << 1) | (v1 >> 63)) &+ ((v2 << 7) | (v2 >> 57)) &+ ((v3 << 12) | (v3 >> 52))
        &+ ((v4 << 18) | (v4 >> 46))
      h = Self.merge(h, v1)
      h = Self.merge(h, v2)
      h = Self.merge(h, v3)
      h = Self.merge(h, v4)
    } else {
      h = seed &+ Self.prime5
    }
    h &+= total
    withUnsafeBytes(of: buffer) { b in
      let p = b.baseAddress!
      var i = 0
      let n = buffered
      while i + 8 <= n {
        h ^= Self.round(0, Self.load64(p, i))
        h = ((h << 27) | (h >> 37)) &* Self.prime1 &+ Self.prime4
        i += 8
      }
      if i + 4 <= n {
        h ^= UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self))) &* Self.prime1
        h = ((h << 23) | (h >> 41)) &* Self.prime2 &+ Self.prime3
        i += 4
      }
      while i < n {
        h ^= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) &* Self.prime5
        h = ((h << 11) | (h >> 53)) &* Self.prime1
        i += 1
      }
    }
    h ^= h >> 33
    h &*= Self.prime2
    h ^= h >> 29
    h &*= Self.prime3
    h ^= h >> 32
    return h
  }

  /// The digest of a byte buffer.
  public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    var h = XXHash64(seed: seed)
    h.update(bytes)
    return h.finalize()
  }

  /// The digest of an array's bytes.
  public static func hash<T: BitwiseCopyable>(_ values: [T], seed: UInt64 = 0) -> UInt64 {
    values.withUnsafeBytes { hash($0, seed: seed) }
  }
}
