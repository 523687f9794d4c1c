import Foundation

/// The paths of an output folder.
public struct StoreLayout: Sendable {
  /// The output folder.
  public let output: String

  public init(output: String) { self.output = output }

  /// `OUT/store`: journals, checkpoints, locks, the job index.
  public var store: String { (output as NSString).appendingPathComponent("store") }
  public var checkpoints: String { (store as NSString).appendingPathComponent("checkpoints") }
  public var locks: String { (store as NSString).appendingPathComponent("locks") }

  /// `journal-<launch>-<rank>.mfj`.
  public static func journalName(launch: String, rank: Int) -> String {
    "journal-\(launch)-" + String(format: "%05d", rank) + ".mfj"
  }

  /// The launch of a journal, from its name.
  public static func launch(ofJournal name: String) -> String? {
    guard name.hasPrefix("journal-"), name.hasSuffix(".mfj") else { return nil }
    let core = name.dropFirst("journal-".count).dropLast(".mfj".count)
    guard let dash = core.lastIndex(of: "-") else { return nil }
    return String(core[..<dash])
  }

  public func journalPath(launch: String, rank: Int) -> String {
    (store as NSString).appendingPathComponent(Self.journalName(launch: launch, rank: rank))
  }

  /// `task-0003-of-0016`.
  public static func taskName(task: Int, count: Int) -> String {
    String(format: "task-%04d-of-%04d", task, count)
  }

  /// The task's view, `OUT/task-0003-of-0016.h5`.
  public func taskView(task: Int, count: Int) -> String {
    (output as NSString).appendingPathComponent(Self.taskName(task: task, count: count) + ".h5")
  }

  public func lockPath(task: Int, count: Int) -> String {
    (locks as NSString).appendingPathComponent(Self.taskName(task: task, count: count) + ".lock")
  }
}

/// A start record: a run began (or resumed) in a launch.
public struct RunStart: Sendable, Equatable {
  public var runID: String
  public var launch: String
  /// The step it started from (0, or a checkpoint's).
  public var step: Int

  public init(runID: String, launch: String, step: Int) {
    self.runID = runID
    self.launch = launch
    self.step = step
  }

  /// The payload (the launch is the journal's own, read from its name).
  public func encoded() -> [UInt8] {
    var w = ByteWriter()
    w.string(runID)
    w.int(step)
    return w.bytes
  }

  static func decode(_ bytes: [UInt8], launch: String, what: String) throws -> RunStart {
    var r = ByteReader(bytes, what: what)
    return RunStart(runID: try r.string(), launch: launch, step: try r.int())
  }
}

/// Damage found in the store.
public struct StoreDamage: Sendable, Equatable, CustomStringConvertible {
  public var file: String
  public var what: String
  /// The run it touches, when known.
  public var key: RunKey?

  public var description: String {
    "\((file as NSString).lastPathComponent): \(what)" + (key.map { " (run \($0.short))" } ?? "")
  }
}

/// Everything the journals of a store hold, found by scanning their record headers.
public final class StoreIndex: @unchecked Sendable {
  public let layout: StoreLayout
  /// Journal file names, sorted.
  public private(set) var journals: [String] = []
  public private(set) var resultLocations: [RunKey: [RecordLocation]] = [:]
  struct RowsKey: Hashable {
    var key: RunKey
    var attempt: UInt64
  }
  private var rowsLocations: [RowsKey: [RecordLocation]] = [:]
  public private(set) var starts: [RunKey: RunStart] = [:]
  /// Byte ranges that do not hold intact records (a torn end, overwritten bytes).
  public private(set) var damage: [StoreDamage] = []
  private var readers: [String: JournalReader] = [:]
  private var loaded: [RunKey: RunResult] = [:]

  /// Scans every journal of the store (headers only; payloads are read and verified on use).
  public init(layout: StoreLayout) throws {
    self.layout = layout
    let names = FileOperations.list(layout.store).filter { $0.hasPrefix("journal-") && $0.hasSuffix(".mfj") }
    journals = names
    for name in names {
      let path = (layout.store as NSString).appendingPathComponent(name)
      let reader: JournalReader
      do { reader = try JournalReader(path: path) } catch {
        damage.append(StoreDamage(file: path, what: "cannot be read: \(error)", key: nil))
        continue
      }
      readers[path] = reader
      let (records, damaged) = try reader.scan()
      for range in damaged {
        damage.append(
          StoreDamage(
            file: path, what: "bytes \(range.lowerBound)..<\(range.upperBound) hold no intact record", key: nil))
      }
      for location in records {
        switch location.header.kind {
        case .result: resultLocations[location.header.key, default: []].append(location)
        case .rows:
          rowsLocations[RowsKey(key: location.header.key, attempt: location.header.attempt), default: []].append(
            location)
        case .start:
          if let payload = try reader.payload(location),
            let start = try? RunStart.decode(payload, launch: StoreLayout.launch(ofJournal: name) ?? "", what: path)
          {
            starts[location.header.key] = start
          }
        case .header, .checkpoint, .state: break
        }
      }
    }
  }

  /// Keys with at least one result record (not yet verified).
  public var committedKeys: Set<RunKey> { Set(resultLocations.keys) }

  /// The verified result of a run, or nil when it has none; a result record whose payload does
  /// not match its digest is recorded in ``damage`` and skipped (another copy is used if any,
  /// the newest first).
  public func result(_ key: RunKey) throws -> RunResult? {
    if let r = loaded[key] { return r }
    return try results(key).first
  }

  /// Every intact result of a run, newest first (a run recomputed after damage has several).
  public func results(_ key: RunKey) throws -> [RunResult] {
    var out = [RunResult]()
    for location in (resultLocations[key] ?? []).reversed() {
      guard let reader = readers[location.file] else { continue }
      guard let payload = try reader.payload(location) else {
        noteDamage(StoreDamage(file: location.file, what: "a result record does not match its digest", key: key))
        continue
      }
      do {
        out.append(try RunResult.decode(payload, key: key, what: location.file))
      } catch {
        noteDamage(StoreDamage(file: location.file, what: "a result record cannot be decoded: \(error)", key: key))
      }
    }
    if let first = out.first, loaded[key] == nil { loaded[key] = first }
    return out
  }

  private func noteDamage(_ d: StoreDamage) {
    if !damage.contains(d) { damage.append(d) }
  }

  /// Chooses a result whose snapshots all verify (newest first); nil when none does, with the
  /// problem of the newest.
  public func verifiedResult(_ key: RunKey) throws -> (result: RunResult?, problem: String?) {
    var problem: String? = nil
    for r in try results(key) {
      do {
        for i in r.snapshots.indices { _ = try snapshot(of: r, index: i) }
        loaded[key] = r
        return (r, nil)
      } catch {
        if problem == nil { problem = "\(error)" }
      }
    }
    return (nil, problem ?? "no intact result record")
  }

  /// Whether every result record of a key disagrees: two different results under one identity.
  public func clash(_ key: RunKey) throws -> Bool {
    var digests = Set<UInt64>()
    for location in resultLocations[key] ?? [] {
      guard let reader = readers[location.file], let payload = try reader.payload(location),
        let r = try? RunResult.decode(payload, key: key, what: location.file)
      else { continue }
      digests.insert(r.dataDigest)
    }
    return digests.count > 1
  }

  /// The particles (and velocities) of snapshot `index` of a result, assembled from the rows
  /// records of every rank that wrote them and verified; throws when any is missing or damaged.
  public func snapshot(of result: RunResult, index: Int) throws -> (positions: [Double], velocities: [Double]) {
    let source = result.snapshots[index]
    let n = result.particles, d = result.dimension
    var positions = [Double](repeating: .nan, count: n * d)
    var velocities = [Double](repeating: .nan, count: result.hasVelocities ? n * d : 0)
    var covered = [Bool](repeating: false, count: n)
    let allowed = Set(source.journals.map { (layout.store as NSString).appendingPathComponent($0) })
    for location in rowsLocations[RowsKey(key: result.key, attempt: source.attempt)] ?? [] {
      guard allowed.contains(location.file), let reader = readers[location.file] else { continue }
      guard let payload = try reader.payload(location) else {
        noteDamage(
          StoreDamage(file: location.file, what: "a snapshot's rows do not match their digest", key: result.key))
        continue
      }
      let rows = try SnapshotRows.decode(payload, what: location.file)
      guard rows.snapshot == index, rows.dimension == d, rows.firstParticle >= 0, rows.firstParticle + rows.rows <= n
      else { continue }
      for i in 0..<rows.rows {
        covered[rows.firstParticle + i] = true
        for c in 0..<d {
          positions[(rows.firstParticle + i) * d + c] = rows.positions[i * d + c]
          if result.hasVelocities && !rows.velocities.isEmpty {
            velocities[(rows.firstParticle + i) * d + c] = rows.velocities[i * d + c]
          }
        }
      }
    }
    if let missing = covered.firstIndex(of: false) {
      throw StoreError(
        "read", path: layout.store,
        detail:
          "snapshot \(index) of run \(result.runID) (\(result.key.short)) lacks particle \(missing): its rows are missing or damaged"
      )
    }
    return (positions, velocities)
  }
}
