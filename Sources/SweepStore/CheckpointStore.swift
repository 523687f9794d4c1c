import Foundation

/// One part of a checkpoint: a rank's rows, in its own file.
public struct CheckpointPart: Sendable, Equatable {
  /// File name in the run's checkpoint folder.
  public var file: String
  public var firstParticle: Int
  public var rows: Int
  /// Digest of the part's record payload.
  public var hash: UInt64

  public init(file: String, firstParticle: Int, rows: Int, hash: UInt64) {
    self.file = file
    self.firstParticle = firstParticle
    self.rows = rows
    self.hash = hash
  }
}

/// What a resume needs besides the particles: the manifest of a checkpoint slot, written
/// last (atomically) so that a slot without a valid manifest is simply absent.
public struct CheckpointManifest: Sendable, Equatable {
  public var step: Int
  public var wallSeconds: Double
  public var particles: Int
  public var dimension: Int
  public var hasVelocities: Bool
  public var parts: [CheckpointPart]
  /// Metric values recorded so far (one array per metric, in `metricNames` order).
  public var metricNames: [String]
  public var metrics: [[Double]]
  /// Samples recorded so far.
  public var samplesDone: Int
  public var snapshots: [SnapshotSource]
  /// Notes gathered so far (metric preconditions that failed).
  public var notes: [String]

  public init(
    step: Int, wallSeconds: Double, particles: Int, dimension: Int, hasVelocities: Bool, parts: [CheckpointPart],
    metricNames: [String], metrics: [[Double]], samplesDone: Int, snapshots: [SnapshotSource], notes: [String]
  ) {
    self.step = step
    self.wallSeconds = wallSeconds
    self.particles = particles
    self.dimension = dimension
    self.hasVelocities = hasVelocities
    self.parts = parts
    self.metricNames = metricNames
    self.metrics = metrics
    self.samplesDone = samplesDone
    self.snapshots = snapshots
    self.notes = notes
  }

  public func encoded() -> [UInt8] {
    var w = ByteWriter()
    w.u64(1)
    w.int(step)
    w.double(wallSeconds)
    w.int(particles)
    w.int(dimension)
    w.bool(hasVelocities)
    w.int(parts.count)
    for p in parts {
      w.string(p.file)
      w.int(p.firstParticle)
      w.int(p.rows)
      w.u64(p.hash)
    }
    w.strings(metricNames)
    w.int(metrics.count)
    for m in metrics { w.doubles(m) }
    w.int(samplesDone)
    RunResult.encode(snapshots: snapshots, into: &w)
    w.strings(notes)
    return w.bytes
  }

  public static func decode(_ bytes: [UInt8], what: String) throws -> CheckpointManifest {
    var r = ByteReader(bytes, what: what)
    guard try r.u64() == 1 else { throw StoreError("decode", path: what, detail: "unknown checkpoint format") }
    let step = try r.int()
    let wall = try r.double()
    let particles = try r.int()
    let d = try r.int()
    let hasV = try r.bool()
    let n = try r.count(unit: 32)
    var parts = [CheckpointPart]()
    for _ in 0..<n {
      parts.append(
        CheckpointPart(file: try r.string(), firstParticle: try r.int(), rows: try r.int(), hash: try r.u64()))
    }
    let names = try r.strings()
    let m = try r.count(unit: 8)
    let metrics = try (0..<m).map { _ in try r.doubles() }
    let samples = try r.int()
    let snapshots = try RunResult.decodeSnapshots(&r)
    let notes = try r.strings()
    return CheckpointManifest(
      step: step, wallSeconds: wall, particles: particles, dimension: d, hasVelocities: hasV, parts: parts,
      metricNames: names, metrics: metrics, samplesDone: samples, snapshots: snapshots, notes: notes)
  }
}

/// The checkpoints of the runs in flight: `store/checkpoints/<run key>/`, two slots per run,
/// each slot a part file per rank plus a manifest.
///
/// A checkpoint is written as: remove the slot's manifest; every rank writes its rows into a
/// part file (temporary file, flushed, renamed); the leader writes the manifest with every
/// part's digest (temporary file, flushed, renamed). The other slot stays valid throughout, so
/// a kill at any moment leaves at least one usable checkpoint; a part that does not match its
/// digest on resume makes the slot unusable (the other slot, or a restart, is used instead),
/// never a silently different state.
public struct CheckpointStore: Sendable {
  /// `store/checkpoints`.
  public let folder: String

  public init(folder: String) { self.folder = folder }

  public func directory(_ key: RunKey) -> String { (folder as NSString).appendingPathComponent(key.description) }

  func manifestPath(_ key: RunKey, slot: Int) -> String {
    (directory(key) as NSString).appendingPathComponent("slot\(slot).manifest")
  }

  public static func partName(slot: Int, firstParticle: Int) -> String {
    String(format: "slot%d-p%012d.part", slot, firstParticle)
  }

  /// Removes a slot's manifest (the slot becomes invalid until its new manifest is written).
  public func invalidate(_ key: RunKey, slot: Int) throws {
    try FileOperations.makeFolder(directory(key))
    let path = manifestPath(key, slot: slot)
    if unlink(path) != 0 && errno != ENOENT { throw StoreError.system("remove", path: path) }
  }

  /// Writes this rank's rows into its part file of a slot; returns the part's description.
  public func writePart(
    _ key: RunKey, slot: Int, firstParticle: Int, rows: Int, dimension: Int,
    positions: UnsafeBufferPointer<Double>, velocities: UnsafeBufferPointer<Double>?
  ) throws -> CheckpointPart {
    try FileOperations.makeFolder(directory(key))
    let name = Self.partName(slot: slot, firstParticle: firstParticle)
    let path = (directory(key) as NSString).appendingPathComponent(name)
    let prefix = SnapshotRows.prefix(
      snapshot: -1, firstParticle: firstParticle, rows: rows, dimension: dimension, velocities: velocities != nil)
    var pieces = [UnsafeRawBufferPointer(positions)]
    if let velocities { pieces.append(UnsafeRawBufferPointer(velocities)) }
    var hasher = XXHash64()
    prefix.withUnsafeBytes { hasher.update($0) }
    for p in pieces { hasher.update(p) }
    let hash = hasher.finalize()
    let length = UInt64(prefix.count + pieces.reduce(0) { $0 + $1.count })
    let header = RecordHeader(kind: .state, key: key, attempt: 0, length: length, payloadHash: hash).encoded()
    try FileOperations.writeAtomically(path: path) { fd, temporary in
      try header.withUnsafeBytes { try FileOperations.writeAll(fd, $0, path: temporary) }
      try prefix.withUnsafeBytes { try FileOperations.writeAll(fd, $0, path: temporary) }
      for p in pieces { try FileOperations.writeAll(fd, p, path: temporary) }
    }
    return CheckpointPart(file: name, firstParticle: firstParticle, rows: rows, hash: hash)
  }

  /// Writes a slot's manifest (the commit of the checkpoint) and removes the slot's parts that
  /// it does not name (left from an earlier rank layout).
  public func writeManifest(_ key: RunKey, slot: Int, _ manifest: CheckpointManifest) throws {
    let payload = manifest.encoded()
    let header = RecordHeader(
      kind: .checkpoint, key: key, attempt: 0, length: UInt64(payload.count), payloadHash: XXHash64.hash(payload)
    ).encoded()
    try FileOperations.writeAtomically(header + payload, to: manifestPath(key, slot: slot))
    let keep = Set(manifest.parts.map(\.file))
    for name in FileOperations.list(directory(key))
    where name.hasPrefix("slot\(slot)-") && name.hasSuffix(".part") && !keep.contains(name) {
      unlink((directory(key) as NSString).appendingPathComponent(name))
    }
  }

  /// A slot's manifest, or nil when the slot is empty; throws when it is damaged.
  public func manifest(_ key: RunKey, slot: Int) throws -> CheckpointManifest? {
    let path = manifestPath(key, slot: slot)
    guard let bytes = try FileOperations.read(path) else { return nil }
    let damaged = StoreError("read", path: path, detail: "the checkpoint manifest is damaged")
    guard bytes.count >= RecordHeader.size else { throw damaged }
    let header = bytes.withUnsafeBytes { RecordHeader.decode($0) }
    guard let header, header.kind == .checkpoint, header.key == key,
      bytes.count == RecordHeader.size + Int(header.length)
    else { throw damaged }
    let payload = Array(bytes[RecordHeader.size...])
    guard XXHash64.hash(payload) == header.payloadHash else { throw damaged }
    return try CheckpointManifest.decode(payload, what: path)
  }

  /// The usable manifests of a run, newest first, and what was wrong with the others.
  public func manifests(_ key: RunKey) -> (valid: [(slot: Int, manifest: CheckpointManifest)], problems: [String]) {
    var valid = [(slot: Int, manifest: CheckpointManifest)]()
    var problems = [String]()
    for slot in 0..<2 {
      do {
        if let m = try manifest(key, slot: slot) { valid.append((slot, m)) }
      } catch {
        problems.append("\(error)")
      }
    }
    valid.sort { $0.manifest.step > $1.manifest.step }
    return (valid, problems)
  }

  /// Reads rows `range` of a checkpoint from the parts that hold them, verifying each part.
  public func readRows(
    _ key: RunKey, _ manifest: CheckpointManifest, range: Range<Int>
  ) throws -> (positions: [Double], velocities: [Double]) {
    let d = manifest.dimension
    var positions = [Double](repeating: .nan, count: range.count * d)
    var velocities = [Double](repeating: .nan, count: manifest.hasVelocities ? range.count * d : 0)
    var covered = 0
    for part in manifest.parts {
      let lo = max(part.firstParticle, range.lowerBound), hi = min(part.firstParticle + part.rows, range.upperBound)
      if lo >= hi { continue }
      let path = (directory(key) as NSString).appendingPathComponent(part.file)
      let reader = try JournalReader(path: path)
      let (records, _) = try reader.scan()
      guard let location = records.first, location.header.kind == .state, location.header.payloadHash == part.hash,
        let payload = try reader.payload(location)
      else {
        throw StoreError("read", path: path, detail: "the checkpoint part is damaged or does not match its manifest")
      }
      let rows = try SnapshotRows.decode(payload, what: path)
      guard rows.firstParticle == part.firstParticle, rows.rows == part.rows, rows.dimension == d,
        (rows.velocities.count > 0) == manifest.hasVelocities
      else {
        throw StoreError("read", path: path, detail: "the checkpoint part does not match its manifest")
      }
      for i in lo..<hi {
        let from = (i - part.firstParticle) * d, to = (i - range.lowerBound) * d
        for c in 0..<d {
          positions[to + c] = rows.positions[from + c]
          if manifest.hasVelocities { velocities[to + c] = rows.velocities[from + c] }
        }
      }
      covered += hi - lo
    }
    guard covered == range.count else {
      throw StoreError("read", path: directory(key), detail: "the checkpoint's parts do not cover particles \(range)")
    }
    return (positions, velocities)
  }

  /// Removes a run's checkpoints (after its result is committed).
  public func remove(_ key: RunKey) {
    FileOperations.remove(directory(key))
  }

  /// Keys of the runs with a checkpoint folder.
  public func keys() -> [RunKey] {
    FileOperations.list(folder).compactMap { RunKey(hex: $0) }
  }
}
