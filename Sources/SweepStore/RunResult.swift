import Foundation

/// The schema name of every file mfsweep writes; readers check it.
public let sweepSchema = "mfsweep/2"

/// Where a run stands.
public enum RunStatus: Int8, Sendable, CaseIterable, CustomStringConvertible {
  case pending = 0
  case running = 1
  case completed = 2
  case diverged = 3
  case failed = 4
  /// Stopped after writing a checkpoint; a rerun resumes it.
  case interrupted = 5

  public var description: String {
    switch self {
    case .pending: return "pending"
    case .running: return "running"
    case .completed: return "completed"
    case .diverged: return "diverged"
    case .failed: return "failed"
    case .interrupted: return "interrupted"
    }
  }

  /// Whether a rerun leaves the run alone.
  public var isFinal: Bool { self == .completed || self == .diverged || self == .failed }
}

/// A setting of a run with its natural type.
public enum SettingValue: Sendable, Equatable, Hashable, CustomStringConvertible {
  case int(Int)
  case double(Double)
  case string(String)
  case bool(Bool)

  public var description: String {
    switch self {
    case .int(let v): return String(v)
    case .double(let v): return formatValue(v)
    case .string(let s): return s
    case .bool(let b): return b ? "true" : "false"
    }
  }

  /// The value as a number, when it is one.
  public var number: Double? {
    switch self {
    case .int(let v): return Double(v)
    case .double(let v): return v
    case .bool(let b): return b ? 1 : 0
    case .string: return nil
    }
  }
}

/// A number as text: integers without a decimal point, others in the shortest form that reads
/// back exactly.
public func formatValue(_ v: Double) -> String {
  if v.isNaN { return "nan" }
  if v.rounded() == v && abs(v) < 1e15 { return String(Int(v)) }
  return "\(v)"
}

/// What a metric is, as it is written beside its values.
public struct MetricInfo: Sendable, Equatable {
  /// The job-file name (`second-moment`).
  public var name: String
  /// Numbers per sample.
  public var width: Int
  /// Name of the component axis (`coordinate`, `basin`); empty for a scalar.
  public var axis: String
  /// Label of each component (`x1`, `sharp`, ...).
  public var labels: [String]
  public var longName: String
  /// Units (`nats`, `1`, ...), empty when the quantity has none that can be named.
  public var units: String
  public var description: String

  public init(
    name: String, width: Int, axis: String, labels: [String], longName: String, units: String, description: String
  ) {
    self.name = name
    self.width = width
    self.axis = axis
    self.labels = labels
    self.longName = longName
    self.units = units
    self.description = description
  }
}

/// A metric's recorded samples (`samples × width`, row-major).
public struct MetricSeries: Sendable, Equatable {
  public var info: MetricInfo
  public var values: [Double]

  public init(info: MetricInfo, values: [Double]) {
    self.info = info
    self.values = values
  }

  /// Samples recorded.
  public var samples: Int { values.count / Swift.max(1, info.width) }
}

/// Where the rows of one particle snapshot were written.
public struct SnapshotSource: Sendable, Equatable {
  public var step: Int
  public var time: Double
  /// The attempt that wrote the rows.
  public var attempt: UInt64
  /// Journal files (names in the store folder) holding the rows.
  public var journals: [String]

  public init(step: Int, time: Double, attempt: UInt64, journals: [String]) {
    self.step = step
    self.time = time
    self.attempt = attempt
    self.journals = journals
  }
}

/// A reference PDE's density at each recorded sample.
public struct ReferenceSeries: Sendable, Equatable {
  /// Names and cell centres of the grid axes (`x`, and `v` or `y`).
  public var axes: [(name: String, centres: [Double])]
  /// `samples × cells`, row-major.
  public var density: [Double]

  public init(axes: [(name: String, centres: [Double])], density: [Double]) {
    self.axes = axes
    self.density = density
  }

  public var cells: Int { axes.reduce(1) { $0 * $1.centres.count } }

  public static func == (a: ReferenceSeries, b: ReferenceSeries) -> Bool {
    a.axes.map(\.name) == b.axes.map(\.name) && a.axes.map(\.centres) == b.axes.map(\.centres)
      && a.density.elementsEqual(b.density) { $0.bitPattern == $1.bitPattern }
  }
}

/// A run's committed result: everything the views and the summary show of it.
public struct RunResult: Sendable {
  public var key: RunKey
  /// The run's id and grid index in the job that ran it.
  public var runID: String
  public var index: Int
  public var jobName: String
  public var status: RunStatus
  public var stepsDone: Int
  public var wallSeconds: Double
  public var ranks: Int
  /// Step at which a divergence was detected, or -1.
  public var divergenceStep: Int
  public var message: String
  /// The planned sample schedule (recorded samples are the first `metrics[i].samples`).
  public var sampleSteps: [Int]
  public var sampleTimes: [Double]
  public var metrics: [MetricSeries]
  public var particles: Int
  public var dimension: Int
  public var hasVelocities: Bool
  /// Snapshots taken, in order.
  public var snapshots: [SnapshotSource]
  public var reference: ReferenceSeries?

  public init(
    key: RunKey, runID: String, index: Int, jobName: String, status: RunStatus, stepsDone: Int, wallSeconds: Double,
    ranks: Int, divergenceStep: Int, message: String,
    sampleSteps: [Int], sampleTimes: [Double], metrics: [MetricSeries], particles: Int, dimension: Int,
    hasVelocities: Bool, snapshots: [SnapshotSource], reference: ReferenceSeries?
  ) {
    self.key = key
    self.runID = runID
    self.index = index
    self.jobName = jobName
    self.status = status
    self.stepsDone = stepsDone
    self.wallSeconds = wallSeconds
    self.ranks = ranks
    self.divergenceStep = divergenceStep
    self.message = message
    self.sampleSteps = sampleSteps
    self.sampleTimes = sampleTimes
    self.metrics = metrics
    self.particles = particles
    self.dimension = dimension
    self.hasVelocities = hasVelocities
    self.snapshots = snapshots
    self.reference = reference
  }

  /// Samples recorded (the longest metric; 0 without metrics).
  public var recordedSamples: Int { metrics.map(\.samples).max() ?? 0 }

  /// The digest of the data a clash check compares (status, steps, metrics, reference):
  /// two results under one key must agree on it.
  public var dataDigest: UInt64 {
    var h = XXHash64()
    h.update([Int64(status.rawValue), Int64(stepsDone), Int64(divergenceStep)])
    for m in metrics { h.update(m.values) }
    if let r = reference { h.update(r.density) }
    return h.finalize()
  }

  // MARK: - Encoding

  static let version: UInt64 = 2

  /// The payload of a result record. The run's settings are not repeated here: they are in the
  /// job index of every job version that listed the run (`store/jobs/`), found by the key.
  /// Metrics carry their name, width and component labels; their descriptions come from the
  /// metric definitions when a view is written.
  public func encoded() -> [UInt8] {
    var w = ByteWriter(capacity: 1024 + metrics.reduce(0) { $0 + 8 * $1.values.count })
    w.u64(Self.version)
    w.string(runID)
    w.int(index)
    w.string(jobName)
    w.u8(UInt8(status.rawValue))
    w.int(stepsDone)
    w.double(wallSeconds)
    w.int(ranks)
    w.int(divergenceStep)
    w.string(message)
    w.ints(sampleSteps)
    w.doubles(sampleTimes)
    w.int(metrics.count)
    for m in metrics {
      w.string(m.info.name)
      w.int(m.info.width)
      w.string(m.info.axis)
      w.strings(m.info.labels)
      w.doubles(m.values)
    }
    w.int(particles)
    w.int(dimension)
    w.bool(hasVelocities)
    Self.encode(snapshots: snapshots, into: &w)
    w.bool(reference != nil)
    if let r = reference {
      w.int(r.axes.count)
      for a in r.axes {
        w.string(a.name)
        w.doubles(a.centres)
      }
      w.doubles(r.density)
    }
    return w.bytes
  }

  /// Decodes a result record's payload.
  public static func decode(_ bytes: [UInt8], key: RunKey, what: String) throws -> RunResult {
    var r = ByteReader(bytes, what: what)
    let version = try r.u64()
    guard version == Self.version else {
      throw StoreError("decode", path: what, detail: "result format \(version) (this version reads \(Self.version))")
    }
    let runID = try r.string()
    let index = try r.int()
    let jobName = try r.string()
    guard let status = RunStatus(rawValue: Int8(bitPattern: try r.u8())) else {
      throw StoreError("decode", path: what, detail: "unknown run status")
    }
    let stepsDone = try r.int()
    let wall = try r.double()
    let ranks = try r.int()
    let divergence = try r.int()
    let message = try r.string()
    let sampleSteps = try r.ints()
    let sampleTimes = try r.doubles()
    let metricCount = try r.count(unit: 8)
    var metrics = [MetricSeries]()
    for _ in 0..<metricCount {
      let name = try r.string()
      let width = try r.int()
      let axis = try r.string()
      let labels = try r.strings()
      let values = try r.doubles()
      metrics.append(
        MetricSeries(
          info: MetricInfo(
            name: name, width: width, axis: axis, labels: labels, longName: name, units: "", description: ""),
          values: values))
    }
    let particles = try r.int()
    let dimension = try r.int()
    let hasVelocities = try r.bool()
    let snapshots = try decodeSnapshots(&r)
    var reference: ReferenceSeries? = nil
    if try r.bool() {
      let n = try r.count(unit: 16)
      var axes = [(name: String, centres: [Double])]()
      for _ in 0..<n { axes.append((try r.string(), try r.doubles())) }
      reference = ReferenceSeries(axes: axes, density: try r.doubles())
    }
    return RunResult(
      key: key, runID: runID, index: index, jobName: jobName, status: status,
      stepsDone: stepsDone, wallSeconds: wall, ranks: ranks, divergenceStep: divergence, message: message,
      sampleSteps: sampleSteps, sampleTimes: sampleTimes, metrics: metrics, particles: particles,
      dimension: dimension, hasVelocities: hasVelocities, snapshots: snapshots, reference: reference)
  }

  static func encode(settings: [(key: String, value: SettingValue)], into w: inout ByteWriter) {
    w.int(settings.count)
    for (k, v) in settings {
      w.string(k)
      switch v {
      case .int(let i):
        w.u8(0)
        w.int(i)
      case .double(let d):
        w.u8(1)
        w.double(d)
      case .string(let s):
        w.u8(2)
        w.string(s)
      case .bool(let b):
        w.u8(3)
        w.bool(b)
      }
    }
  }

  static func decodeSettings(_ r: inout ByteReader) throws -> [(key: String, value: SettingValue)] {
    let n = try r.count(unit: 10)
    var out = [(key: String, value: SettingValue)]()
    out.reserveCapacity(n)
    for _ in 0..<n {
      let k = try r.string()
      switch try r.u8() {
      case 0: out.append((k, .int(try r.int())))
      case 1: out.append((k, .double(try r.double())))
      case 2: out.append((k, .string(try r.string())))
      case 3: out.append((k, .bool(try r.bool())))
      default: throw StoreError("decode", path: r.what, detail: "unknown setting type")
      }
    }
    return out
  }

  /// Snapshots with their journal names listed once.
  static func encode(snapshots: [SnapshotSource], into w: inout ByteWriter) {
    var names = [String]()
    for s in snapshots { for j in s.journals where !names.contains(j) { names.append(j) } }
    w.strings(names)
    w.int(snapshots.count)
    for s in snapshots {
      w.int(s.step)
      w.double(s.time)
      w.u64(s.attempt)
      w.ints(s.journals.map { names.firstIndex(of: $0)! })
    }
  }

  static func decodeSnapshots(_ r: inout ByteReader) throws -> [SnapshotSource] {
    let names = try r.strings()
    let n = try r.count(unit: 32)
    return try (0..<n).map { _ in
      let step = try r.int(), time = try r.double(), attempt = try r.u64()
      let indices = try r.ints()
      guard indices.allSatisfy({ $0 >= 0 && $0 < names.count }) else {
        throw StoreError("decode", path: r.what, detail: "a snapshot names an unknown journal")
      }
      return SnapshotSource(step: step, time: time, attempt: attempt, journals: indices.map { names[$0] })
    }
  }
}

/// The rows of one snapshot written by one rank: `rows × dimension` positions, then as many
/// velocities when the state has them.
public struct SnapshotRows: Sendable {
  public var snapshot: Int
  public var firstParticle: Int
  public var rows: Int
  public var dimension: Int
  public var positions: [Double]
  public var velocities: [Double]

  /// The prefix of a rows record (the values follow it).
  public static func prefix(snapshot: Int, firstParticle: Int, rows: Int, dimension: Int, velocities: Bool) -> [UInt8] {
    var w = ByteWriter(capacity: 48)
    w.int(snapshot)
    w.int(firstParticle)
    w.int(rows)
    w.int(dimension)
    w.bool(velocities)
    // Pad the prefix to 8 bytes so the values that follow stay aligned.
    while w.bytes.count % 8 != 0 { w.u8(0) }
    return w.bytes
  }

  /// Decodes a rows record's payload.
  static func decode(_ bytes: [UInt8], what: String) throws -> SnapshotRows {
    var r = ByteReader(bytes, what: what)
    let snapshot = try r.int()
    let first = try r.int()
    let rows = try r.int()
    let d = try r.int()
    let hasV = try r.bool()
    while r.position % 8 != 0 { _ = try r.u8() }
    let n = rows * d
    guard n >= 0, bytes.count == r.position + 8 * n * (hasV ? 2 : 1) else {
      throw StoreError("decode", path: what, detail: "a rows record of the wrong size")
    }
    var positions = [Double](repeating: 0, count: n)
    var velocities = [Double](repeating: 0, count: hasV ? n : 0)
    let start = r.position
    bytes.withUnsafeBytes { b in
      positions.withUnsafeMutableBytes {
        $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[start..<(start + 8 * n)]))
      }
      if hasV {
        velocities.withUnsafeMutableBytes {
          $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[(start + 8 * n)..<(start + 16 * n)]))
        }
      }
    }
    return SnapshotRows(
      snapshot: snapshot, firstParticle: first, rows: rows, dimension: d, positions: positions, velocities: velocities)
  }
}
