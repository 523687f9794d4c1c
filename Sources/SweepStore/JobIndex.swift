import Foundation

/// The settings of many runs as columns: a key whose value is the same in every run is
/// stored once.
public struct SettingsTable: Sendable, Equatable {
  public enum Column: Sendable, Equatable {
    case constant(SettingValue)
    case varying([SettingValue])

    public func value(_ run: Int) -> SettingValue {
      switch self {
      case .constant(let v): return v
      case .varying(let v): return v[run]
      }
    }
  }

  public var keys: [String]
  public var columns: [Column]
  public var rows: Int

  public init(keys: [String], columns: [Column], rows: Int) {
    self.keys = keys
    self.columns = columns
    self.rows = rows
  }

  /// Columns of per-run settings lists (every list holds the same keys in the same order;
  /// a key missing from some run is an empty string there).
  public init(_ runs: [[(key: String, value: SettingValue)]]) {
    var order = [String]()
    var seen = Set<String>()
    for run in runs {
      for (k, _) in run where seen.insert(k).inserted { order.append(k) }
    }
    rows = runs.count
    keys = order
    var position = [String: Int]()
    for (i, k) in order.enumerated() { position[k] = i }
    var values = [[SettingValue]](
      repeating: [SettingValue](repeating: .string(""), count: runs.count), count: order.count)
    for (r, run) in runs.enumerated() {
      for (k, v) in run { values[position[k]!][r] = v }
    }
    columns = values.map { column in
      if let first = column.first, column.allSatisfy({ $0 == first }) { return .constant(first) }
      return .varying(column)
    }
  }

  /// The settings of run `r`.
  public func settings(of r: Int) -> [(key: String, value: SettingValue)] {
    zip(keys, columns).map { ($0, $1.value(r)) }
  }

  func encode(into w: inout ByteWriter) {
    w.int(rows)
    w.strings(keys)
    for column in columns {
      switch column {
      case .constant(let v):
        w.u8(0)
        RunResult.encode(settings: [("", v)], into: &w)
      case .varying(let values):
        w.u8(1)
        RunResult.encode(settings: values.map { ("", $0) }, into: &w)
      }
    }
  }

  static func decode(_ r: inout ByteReader) throws -> SettingsTable {
    let rows = try r.int()
    let keys = try r.strings()
    var columns = [Column]()
    for _ in keys {
      if try r.u8() == 0 {
        columns.append(.constant(try RunResult.decodeSettings(&r).first?.value ?? .string("")))
      } else {
        let values = try RunResult.decodeSettings(&r).map(\.value)
        guard values.count == rows else {
          throw StoreError("decode", path: r.what, detail: "a settings column of the wrong length")
        }
        columns.append(.varying(values))
      }
    }
    return SettingsTable(keys: keys, columns: columns, rows: rows)
  }
}

/// The job an output folder currently holds (`store/job.mfj`): its text, and every run of its
/// grid with its identity and settings. Written atomically by each launch before any run starts.
public struct JobIndex: Sendable {
  public var jobName: String
  public var jobFile: String
  public var jobText: String
  public var created: String
  public var toolVersion: String
  /// The swept keys, in grid order.
  public var sweptKeys: [String]
  /// Per run, in grid order.
  public var runIDs: [String]
  public var keys: [RunKey]
  /// Estimated cost of each run (for shares of array tasks).
  public var costs: [Double]
  public var settings: SettingsTable

  public init(
    jobName: String, jobFile: String, jobText: String, created: String, toolVersion: String, sweptKeys: [String],
    runIDs: [String], keys: [RunKey], costs: [Double], settings: SettingsTable
  ) {
    self.jobName = jobName
    self.jobFile = jobFile
    self.jobText = jobText
    self.created = created
    self.toolVersion = toolVersion
    self.sweptKeys = sweptKeys
    self.runIDs = runIDs
    self.keys = keys
    self.costs = costs
    self.settings = settings
  }

  public static let fileName = "job.mfj"

  public func encoded() -> [UInt8] {
    var w = ByteWriter(capacity: 4096 + 48 * keys.count)
    w.string(sweepSchema)
    w.string(jobName)
    w.string(jobFile)
    w.string(jobText)
    w.string(created)
    w.string(toolVersion)
    w.strings(sweptKeys)
    w.strings(runIDs)
    w.int(keys.count)
    for k in keys {
      w.u64(k.high)
      w.u64(k.low)
    }
    w.doubles(costs)
    settings.encode(into: &w)
    let payload = w.bytes
    let header = RecordHeader(
      kind: .header, key: .zero, attempt: 0, length: UInt64(payload.count), payloadHash: XXHash64.hash(payload)
    ).encoded()
    return header + payload
  }

  /// Writes the index atomically into `store` as the current job, and once into
  /// `store/jobs/` as an archive of this job version (where the settings of runs that a later
  /// version no longer lists are found).
  public func write(store: String) throws {
    try FileOperations.makeFolder(store)
    let bytes = encoded()
    try FileOperations.writeAtomically(bytes, to: (store as NSString).appendingPathComponent(Self.fileName))
    let archive = (store as NSString).appendingPathComponent("jobs")
    try FileOperations.makeFolder(archive)
    let path = (archive as NSString).appendingPathComponent(version + ".mfj")
    if !FileManager.default.fileExists(atPath: path) { try FileOperations.writeAtomically(bytes, to: path) }
  }

  /// This job version's name in the archive: the digest of its run identities.
  public var version: String {
    var h = XXHash64()
    for k in keys { h.update([k.high, k.low]) }
    return String(format: "%016llx", h.finalize())
  }

  /// The archived indexes of a store (every job version that ran there).
  public static func archive(store: String) -> [JobIndex] {
    let folder = (store as NSString).appendingPathComponent("jobs")
    return FileOperations.list(folder).filter { $0.hasSuffix(".mfj") }.compactMap {
      try? read(path: (folder as NSString).appendingPathComponent($0))
    }
  }

  /// Reads the index of a store folder (nil when there is none).
  public static func read(store: String) throws -> JobIndex? {
    try read(path: (store as NSString).appendingPathComponent(fileName))
  }

  /// Reads an index file (nil when it does not exist).
  public static func read(path: String) throws -> JobIndex? {
    guard let bytes = try FileOperations.read(path) else { return nil }
    let damaged = StoreError("read", path: path, detail: "the job index is damaged; run the job again to rewrite it")
    guard bytes.count >= RecordHeader.size, let header = bytes.withUnsafeBytes({ RecordHeader.decode($0) }),
      bytes.count == RecordHeader.size + Int(header.length)
    else { throw damaged }
    let payload = Array(bytes[RecordHeader.size...])
    guard XXHash64.hash(payload) == header.payloadHash else { throw damaged }
    var r = ByteReader(payload, what: path)
    let schema = try r.string()
    guard schema == sweepSchema else {
      throw StoreError("read", path: path, detail: "schema \(schema); this version reads \(sweepSchema)")
    }
    let name = try r.string()
    let file = try r.string()
    let text = try r.string()
    let created = try r.string()
    let version = try r.string()
    let swept = try r.strings()
    let ids = try r.strings()
    let n = try r.count(unit: 16)
    var keys = [RunKey]()
    keys.reserveCapacity(n)
    for _ in 0..<n { keys.append(RunKey(high: try r.u64(), low: try r.u64())) }
    let costs = try r.doubles()
    let settings = try SettingsTable.decode(&r)
    guard ids.count == n, settings.rows == n, costs.count == n else { throw damaged }
    return JobIndex(
      jobName: name, jobFile: file, jobText: text, created: created, toolVersion: version, sweptKeys: swept,
      runIDs: ids, keys: keys, costs: costs, settings: settings)
  }
}

/// Builds a ``SettingsTable`` run by run, keeping a column constant until a run differs.
public struct SettingsTableBuilder: Sendable {
  private var keys = [String]()
  private var position = [String: Int]()
  private var first = [SettingValue]()
  private var varying = [[SettingValue]?]()
  private var rows = 0

  public init() {}

  /// Adds the next run's settings.
  public mutating func add(_ settings: [(key: String, value: SettingValue)]) {
    var present = [Bool](repeating: false, count: keys.count)
    for (k, v) in settings {
      if let i = position[k] {
        present[i] = true
        set(i, v)
      } else {
        // A key first seen now: earlier runs lack it.
        position[k] = keys.count
        keys.append(k)
        first.append(rows == 0 ? v : .string(""))
        varying.append(rows == 0 ? nil : [SettingValue](repeating: .string(""), count: rows) + [v])
        present.append(true)
      }
    }
    for i in present.indices where !present[i] { set(i, .string("")) }
    rows += 1
  }

  private mutating func set(_ i: Int, _ v: SettingValue) {
    if varying[i] != nil {
      varying[i]!.append(v)
    } else if v != first[i] {
      varying[i] = [SettingValue](repeating: first[i], count: rows) + [v]
    }
  }

  public var table: SettingsTable {
    SettingsTable(
      keys: keys,
      columns: keys.indices.map { i in varying[i].map { .varying($0) } ?? .constant(first[i]) }, rows: rows)
  }
}
