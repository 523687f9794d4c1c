import Foundation
import ParallelRuntime

/// The schema name written to every file; readers check it.
public let sweepSchema = "mfsweep/1"

/// Where a run stands. Stored as an int8 code in `/status/code`, and as the `status` string
/// attribute of `/runs/<id>` once the file is closed cleanly.
public enum RunStatus: Int8, Sendable, CaseIterable, CustomStringConvertible {
  case pending = 0
  case running = 1
  case completed = 2
  case diverged = 3
  case failed = 4
  /// Stopped by a signal after writing a checkpoint; a rerun resumes it.
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

/// A column of the `/grid` table.
public enum GridColumn: Sendable, Equatable {
  case numbers([Double])
  case strings([String])
}

/// What one run's group in the file holds, known before anything runs.
public struct RunLayout: Sendable {
  public var index: Int
  public var id: String
  /// Attributes of `/runs/<id>` (hyperparameters, seed, sizes).
  public var attributes: [(String, H5Value)]
  /// Steps and times at which metrics are recorded.
  public var sampleSteps: [Int]
  public var sampleTimes: [Double]
  /// Metric names and numbers per sample (1 for scalars).
  public var metrics: [(name: String, width: Int)]
  /// Steps and times of particle snapshots.
  public var snapshotSteps: [Int]
  public var snapshotTimes: [Double]
  public var particles: Int
  public var dimension: Int
  /// Particles per block: the chunk size along the particle axis.
  public var blockSize: Int
  /// Whether the state has velocities (checkpointed with the positions).
  public var hasVelocities: Bool = false
  /// Axes (name and cell centres) of a reference PDE density recorded at every sample time.
  public var referenceAxes: [(name: String, centres: [Double])]? = nil

  public init(
    index: Int, id: String, attributes: [(String, H5Value)], sampleSteps: [Int], sampleTimes: [Double],
    metrics: [(name: String, width: Int)], snapshotSteps: [Int], snapshotTimes: [Double],
    particles: Int, dimension: Int, blockSize: Int, hasVelocities: Bool = false,
    referenceAxes: [(name: String, centres: [Double])]? = nil
  ) {
    self.index = index
    self.id = id
    self.attributes = attributes
    self.sampleSteps = sampleSteps
    self.sampleTimes = sampleTimes
    self.metrics = metrics
    self.snapshotSteps = snapshotSteps
    self.snapshotTimes = snapshotTimes
    self.particles = particles
    self.dimension = dimension
    self.blockSize = blockSize
    self.hasVelocities = hasVelocities
    self.referenceAxes = referenceAxes
  }
}

/// The whole file, known before anything runs.
public struct FileLayout: Sendable {
  public var attributes: [(String, H5Value)]
  public var runs: [RunLayout]
  /// `/grid/<key>` columns, one value per run (in `runs` order).
  public var grid: [(name: String, column: GridColumn)]
  /// `/sweep/<key>` columns over every run of the whole sweep (all tasks), so that any task file
  /// can tell every run's hyperparameters.
  public var sweep: [(name: String, column: GridColumn)]
  /// Number of runs in the whole sweep.
  public var sweepRunCount: Int

  public init(
    attributes: [(String, H5Value)], runs: [RunLayout], grid: [(name: String, column: GridColumn)],
    sweep: [(name: String, column: GridColumn)] = [], sweepRunCount: Int = 0
  ) {
    self.attributes = attributes
    self.runs = runs
    self.grid = grid
    self.sweep = sweep
    self.sweepRunCount = sweepRunCount
  }
}

/// One row of the `/status` table.
public struct StatusRow: Sendable, Equatable {
  public var status: RunStatus
  public var stepsDone: Int
  public var wallSeconds: Double
  public var ranks: Int
  /// Step at which a divergence was detected, or -1.
  public var divergenceStep: Int
  public var message: String

  public init(status: RunStatus, stepsDone: Int, wallSeconds: Double, ranks: Int, divergenceStep: Int, message: String) {
    self.status = status
    self.stepsDone = stepsDone
    self.wallSeconds = wallSeconds
    self.ranks = ranks
    self.divergenceStep = divergenceStep
    self.message = message
  }
}

/// Storage limits of the status table.
public enum StatusLimits {
  /// Bytes kept of a failure message.
  public static let messageBytes = 240
}

/// A task's output file, open on every rank of the task through MPI-IO.
///
/// Creation (``create(path:layout:communicator:)``) makes every group and dataset up front,
/// collectively, and flushes; afterwards ranks only write raw data into datasets whose storage
/// already exists, independently, so groups of ranks never wait for each other and a killed
/// process leaves a readable file. Closing is collective.
public final class SweepFile: @unchecked Sendable {
  public let path: String
  public let file: H5File
  public let runIDs: [String]
  private let communicator: MPICommunicator

  private init(path: String, file: H5File, runIDs: [String], communicator: MPICommunicator) {
    self.path = path
    self.file = file
    self.runIDs = runIDs
    self.communicator = communicator
  }

  /// Creates the file and its whole layout. Collective.
  public static func create(path: String, layout: FileLayout, communicator: MPICommunicator) throws -> SweepFile {
    let file = try H5File.create(path: path, communicator: communicator)
    let root = file.root
    for (name, value) in layout.attributes { try root.setAttribute(name, value) }
    let runCount = layout.runs.count
    let writer = communicator.rank == 0

    // /grid: the task's points.
    let gridRun = try root.createDataset("grid/run", type: .int64, shape: [runCount])
    try gridRun.makeDimensionScale(name: "run")
    let gridID = try root.createDataset("grid/run-id", type: .fixedString(16), shape: [runCount])
    try gridID.attach(scale: gridRun, to: 0)
    let gridColumns = try createColumns(layout.grid, in: root, group: "grid", rows: runCount, scale: gridRun)

    // /sweep: every run of the whole sweep.
    let sweepRunCount = max(layout.sweepRunCount, layout.runs.count)
    let sweepRun = try root.createDataset("sweep/run", type: .int64, shape: [sweepRunCount])
    try sweepRun.makeDimensionScale(name: "run")
    let sweepColumns = try createColumns(layout.sweep, in: root, group: "sweep", rows: sweepRunCount, scale: sweepRun)

    // /status: the live state of every run (raw data, so it can change without collectives).
    let statusRun = try root.createDataset("status/run", type: .int64, shape: [runCount])
    try statusRun.makeDimensionScale(name: "run")
    let code = try root.createDataset("status/code", type: .int8, shape: [runCount], fill: .int(0))
    let steps = try root.createDataset("status/steps-done", type: .int64, shape: [runCount], fill: .int(0))
    let wall = try root.createDataset("status/wall-seconds", type: .float64, shape: [runCount], fill: .double(0))
    let ranks = try root.createDataset("status/ranks", type: .int64, shape: [runCount], fill: .int(0))
    let divergence = try root.createDataset("status/divergence-step", type: .int64, shape: [runCount], fill: .int(-1))
    let message = try root.createDataset("status/message", type: .fixedString(StatusLimits.messageBytes), shape: [runCount])
    for ds in [code, steps, wall, ranks, divergence, message] { try ds.attach(scale: statusRun, to: 0) }
    try code.setAttribute("codes", .string(RunStatus.allCases.map { "\($0.rawValue)=\($0)" }.joined(separator: " ")))

    // /runs/<id>
    var deferred: [() throws -> Void] = []
    for run in layout.runs {
      let g = try root.createGroup("runs/\(run.id)")
      for (name, value) in run.attributes { try g.setAttribute(name, value) }
      try g.setAttribute("status", .string(RunStatus.pending.description))
      let s = run.sampleSteps.count
      let time = try g.createDataset("time", type: .float64, shape: [s])
      try time.makeDimensionScale(name: "time")
      let step = try g.createDataset("step", type: .int64, shape: [s])
      try step.attach(scale: time, to: 0)
      for metric in run.metrics {
        let shape = metric.width == 1 ? [s] : [s, metric.width]
        let ds = try g.createDataset("metrics/\(metric.name)", type: .float64, shape: shape, fill: .double(.nan))
        try ds.attach(scale: time, to: 0)
      }
      let k = run.snapshotSteps.count
      let snapshot = try g.createDataset("snapshot", type: .float64, shape: [k])
      try snapshot.makeDimensionScale(name: "snapshot")
      try snapshot.setAttribute("meaning", .string("time of each particle snapshot"))
      let snapshotStep = try g.createDataset("snapshot-step", type: .int64, shape: [k])
      try snapshotStep.attach(scale: snapshot, to: 0)
      let particle = try g.createDataset("particle", type: .int64, shape: [run.particles])
      try particle.makeDimensionScale(name: "particle")
      let coordinate = try g.createDataset("coordinate", type: .int64, shape: [run.dimension])
      try coordinate.makeDimensionScale(name: "coordinate")
      let particles = try g.createDataset(
        "particles", type: .float64, shape: [k, run.particles, run.dimension],
        chunk: [1, run.blockSize, run.dimension], fill: .double(.nan))
      try particles.attach(scale: snapshot, to: 0)
      try particles.attach(scale: particle, to: 1)
      try particles.attach(scale: coordinate, to: 2)
      if let axes = run.referenceAxes {
        var scales = [H5Dataset]()
        for axis in axes {
          let ds = try g.createDataset("reference/\(axis.name)", type: .float64, shape: [axis.centres.count])
          try ds.makeDimensionScale(name: axis.name)
          scales.append(ds)
          if writer { let values = axis.centres; deferred.append { try ds.write(values) } }
        }
        let density = try g.createDataset(
          "reference/density", type: .float64, shape: [s] + axes.map { $0.centres.count }, fill: .double(.nan))
        try density.attach(scale: time, to: 0)
        for (i, scale) in scales.enumerated() { try density.attach(scale: scale, to: i + 1) }
        try density.setAttribute("meaning", .string("reference PDE density at each sample time, on the cell centres"))
      }
      // Two checkpoint slots, written alternately; a slot's step is -1 while it is written.
      let stamps = try g.createDataset("checkpoint/step", type: .int64, shape: [2], fill: .int(-1))
      try stamps.setAttribute("meaning", .string("step of the state in each slot; -1: empty or being written"))
      try g.createDataset(
        "checkpoint/positions", type: .float64, shape: [2, run.particles, run.dimension],
        chunk: [1, run.blockSize, run.dimension])
      if run.hasVelocities {
        try g.createDataset(
          "checkpoint/velocities", type: .float64, shape: [2, run.particles, run.dimension],
          chunk: [1, run.blockSize, run.dimension])
      }
      if writer {
        deferred.append {
          try time.write(run.sampleTimes)
          try step.write(run.sampleSteps.map(Int64.init))
          try snapshot.write(run.snapshotTimes)
          try snapshotStep.write(run.snapshotSteps.map(Int64.init))
          try particle.write((0..<run.particles).map(Int64.init))
          try coordinate.write((0..<run.dimension).map(Int64.init))
        }
      }
    }
    if writer {
      try gridRun.write(layout.runs.map { Int64($0.index) })
      try statusRun.write(layout.runs.map { Int64($0.index) })
      try gridID.write(layout.runs.map(\.id))
      for (ds, column) in gridColumns + sweepColumns {
        switch column {
        case .numbers(let v): try ds.write(v)
        case .strings(let s): try ds.write(s)
        }
      }
      try sweepRun.write((0..<sweepRunCount).map(Int64.init))
      for write in deferred { try write() }
    }
    try file.flush()
    try communicator.barrier()
    return SweepFile(path: path, file: file, runIDs: layout.runs.map(\.id), communicator: communicator)
  }

  /// Creates one dataset per column under `group`, attached to the run scale (collective).
  private static func createColumns(
    _ columns: [(name: String, column: GridColumn)], in root: H5Group, group: String, rows: Int, scale: H5Dataset
  ) throws -> [(H5Dataset, GridColumn)] {
    try columns.map { name, column in
      let type: H5ElementType
      switch column {
      case .numbers: type = .float64
      case .strings(let s): type = .fixedString(max(16, s.map { $0.utf8.count }.max() ?? 16))
      }
      let ds = try root.createDataset("\(group)/\(name)", type: type, shape: [rows])
      try ds.attach(scale: scale, to: 0)
      return (ds, column)
    }
  }

  /// Opens an existing task file for a rerun. Collective.
  public static func open(path: String, communicator: MPICommunicator) throws -> SweepFile {
    let file = try H5File.open(path: path, mode: .readWrite, communicator: communicator)
    let ids = try file.root.openDataset("grid/run-id").readStrings()
    return SweepFile(path: path, file: file, runIDs: ids, communicator: communicator)
  }

  /// The slot of a run id in the status table.
  public func slot(of id: String) -> Int? { runIDs.firstIndex(of: id) }

  // MARK: - Independent writes (any rank, no coordination)

  /// Writes a run's status row.
  public func writeStatus(slot: Int, _ row: StatusRow) throws {
    let root = file.root
    try root.openDataset("status/code").write([Int64(row.status.rawValue)], start: [slot], count: [1])
    try root.openDataset("status/steps-done").write([Int64(row.stepsDone)], start: [slot], count: [1])
    try root.openDataset("status/wall-seconds").write([row.wallSeconds], start: [slot], count: [1])
    try root.openDataset("status/ranks").write([Int64(row.ranks)], start: [slot], count: [1])
    try root.openDataset("status/divergence-step").write([Int64(row.divergenceStep)], start: [slot], count: [1])
    try root.openDataset("status/message").write([row.message], start: [slot], count: [1])
  }

  /// Writes samples `0 ..< values.count / width` of a metric.
  public func writeMetric(run id: String, name: String, values: [Double], width: Int) throws {
    let samples = values.count / max(1, width)
    if samples == 0 { return }
    let ds = try file.root.openDataset("runs/\(id)/metrics/\(name)")
    if width == 1 {
      try ds.write(values, start: [0], count: [samples])
    } else {
      try ds.write(values, start: [0, 0], count: [samples, width])
    }
  }

  /// Writes this rank's rows of particle snapshot `snapshot`.
  public func writeParticles(
    run id: String, snapshot: Int, firstParticle: Int, rows: Int, dimension: Int,
    values: UnsafeBufferPointer<Double>
  ) throws {
    if rows == 0 { return }
    let ds = try file.root.openDataset("runs/\(id)/particles")
    try ds.write(values, start: [snapshot, firstParticle, 0], count: [1, rows, dimension])
  }

  /// Writes the reference PDE density of sample `sample`.
  public func writeReference(run id: String, sample: Int, values: [Double]) throws {
    let ds = try file.root.openDataset("runs/\(id)/reference/density")
    var start = [sample], count = [1]
    for extent in ds.shape.dropFirst() {
      start.append(0)
      count.append(extent)
    }
    try ds.write(values, start: start, count: count)
  }

  /// Sets the step stamp of a checkpoint slot (-1 marks it invalid while it is rewritten).
  public func writeCheckpointStamp(run id: String, slot: Int, step: Int) throws {
    try file.root.openDataset("runs/\(id)/checkpoint/step").write([Int64(step)], start: [slot], count: [1])
  }

  /// Writes this rank's rows of a checkpoint slot.
  public func writeCheckpoint(
    run id: String, slot: Int, firstParticle: Int, rows: Int, dimension: Int,
    positions: UnsafeBufferPointer<Double>, velocities: UnsafeBufferPointer<Double>?
  ) throws {
    if rows == 0 { return }
    try file.root.openDataset("runs/\(id)/checkpoint/positions")
      .write(positions, start: [slot, firstParticle, 0], count: [1, rows, dimension])
    if let velocities {
      try file.root.openDataset("runs/\(id)/checkpoint/velocities")
        .write(velocities, start: [slot, firstParticle, 0], count: [1, rows, dimension])
    }
  }

  /// The step stamps of the two checkpoint slots.
  public func checkpointStamps(run id: String) throws -> [Int] {
    try file.root.openDataset("runs/\(id)/checkpoint/step").readInts().map(Int.init)
  }

  /// Reads this rank's rows of a checkpoint slot (positions, and velocities when present).
  public func readCheckpoint(
    run id: String, slot: Int, firstParticle: Int, rows: Int, dimension: Int, velocities: Bool
  ) throws -> (positions: [Double], velocities: [Double]) {
    if rows == 0 { return ([], []) }
    let x = try file.root.openDataset("runs/\(id)/checkpoint/positions")
      .readDoubles(start: [slot, firstParticle, 0], count: [1, rows, dimension])
    let v = velocities
      ? try file.root.openDataset("runs/\(id)/checkpoint/velocities")
        .readDoubles(start: [slot, firstParticle, 0], count: [1, rows, dimension]) : []
    return (x, v)
  }

  /// Reads the first `samples` values (times `width`) of a metric.
  public func readMetricPrefix(run id: String, name: String, samples: Int, width: Int) throws -> [Double] {
    if samples == 0 { return [] }
    let ds = try file.root.openDataset("runs/\(id)/metrics/\(name)")
    return width == 1
      ? try ds.readDoubles(start: [0], count: [samples]) : try ds.readDoubles(start: [0, 0], count: [samples, width])
  }

  // MARK: - Collective

  /// Reads the whole status table (collective only in that every rank reads the same bytes).
  public func readStatusTable() throws -> [StatusRow] {
    try SweepFileReader.readStatus(root: file.root)
  }

  /// Mirrors the status table into the `status`, `steps-done`, `wall-seconds` attributes of every
  /// run, then closes the file. Collective.
  public func close(mirrorStatus: Bool = true) throws {
    try communicator.barrier()
    if mirrorStatus {
      let table = try readStatusTable()
      for (slot, id) in runIDs.enumerated() {
        let g = try file.root.openGroup("runs/\(id)")
        let row = table[slot]
        try g.setAttribute("status", .string(row.status.description))
        try g.setAttribute("steps-done", .int(Int64(row.stepsDone)))
        try g.setAttribute("wall-seconds", .double(row.wallSeconds))
        if !row.message.isEmpty { try g.setAttribute("message", .string(row.message)) }
      }
    }
    try file.close()
  }
}

/// Read access to a task file from one process (no MPI), for status, aggregation and tests.
public final class SweepFileReader: @unchecked Sendable {
  public let path: String
  public let file: H5File

  /// Opens a task file read-only and checks its schema.
  public init(path: String) throws {
    self.path = path
    guard FileManager.default.fileExists(atPath: path) else {
      throw HDF5Error(call: "open", detail: "\(path): no such file")
    }
    guard H5File.isHDF5(path: path) else {
      throw HDF5Error(call: "open", detail: "\(path) is not an HDF5 file (truncated or damaged?)")
    }
    file = try H5File.open(path: path, mode: .readOnly)
    guard case .string(let schema)? = try file.root.attribute("schema"), schema == sweepSchema else {
      throw HDF5Error(call: "open", detail: "\(path) is not an mfsweep output file (schema \(sweepSchema))")
    }
  }

  /// Root attributes.
  public func attribute(_ name: String) throws -> H5Value? { try file.root.attribute(name) }

  /// Run ids in table order.
  public func runIDs() throws -> [String] { try file.root.openDataset("grid/run-id").readStrings() }

  /// Global run indices in table order.
  public func runIndices() throws -> [Int] { try file.root.openDataset("grid/run").readInts().map(Int.init) }

  /// The status table.
  public func statusTable() throws -> [StatusRow] { try Self.readStatus(root: file.root) }

  static func readStatus(root: H5Group) throws -> [StatusRow] {
    let code = try root.openDataset("status/code").readInts()
    let steps = try root.openDataset("status/steps-done").readInts()
    let wall = try root.openDataset("status/wall-seconds").readDoubles()
    let ranks = try root.openDataset("status/ranks").readInts()
    let divergence = try root.openDataset("status/divergence-step").readInts()
    let message = try root.openDataset("status/message").readStrings()
    return code.indices.map { i in
      StatusRow(
        status: RunStatus(rawValue: Int8(truncatingIfNeeded: code[i])) ?? .pending, stepsDone: Int(steps[i]),
        wallSeconds: wall[i], ranks: Int(ranks[i]), divergenceStep: Int(divergence[i]), message: message[i])
    }
  }

  /// Names of a run's metrics.
  public func metricNames(run id: String) throws -> [String] {
    try file.root.openGroup("runs/\(id)/metrics").memberNames()
  }

  /// A metric's samples (flattened when it has a width).
  public func metric(run id: String, name: String) throws -> [Double] {
    try file.root.openDataset("runs/\(id)/metrics/\(name)").readDoubles()
  }

  /// A run's sample times.
  public func times(run id: String) throws -> [Double] {
    try file.root.openDataset("runs/\(id)/time").readDoubles()
  }

  /// A run's attributes.
  public func runAttribute(run id: String, _ name: String) throws -> H5Value? {
    try file.root.openGroup("runs/\(id)").attribute(name)
  }

  /// A run's attribute names.
  public func runAttributeNames(run id: String) throws -> [String] {
    try file.root.openGroup("runs/\(id)").attributeNames()
  }

  /// Particle snapshot `index` (negative counts from the end), N × d row-major.
  public func particles(run id: String, snapshot index: Int) throws -> (values: [Double], rows: Int, dimension: Int) {
    let ds = try file.root.openDataset("runs/\(id)/particles")
    let k = ds.shape[0], n = ds.shape[1], d = ds.shape[2]
    let i = index < 0 ? k + index : index
    guard i >= 0 && i < k else { throw HDF5Error(call: "particles", detail: "snapshot \(index) out of range 0..<\(k)") }
    return (try ds.readDoubles(start: [i, 0, 0], count: [1, n, d]), n, d)
  }

  /// The `/sweep` columns (every run of the whole sweep), as text per run index.
  public func sweepColumns() throws -> [(name: String, values: [String])] {
    guard try file.root.exists("sweep") else { return [] }
    return try file.root.openGroup("sweep").memberNames().filter { $0 != "run" }.map { name in
      let ds = try file.root.openDataset("sweep/\(name)")
      if case .fixedString = ds.type { return (name, try ds.readStrings()) }
      return (name, try ds.readDoubles().map(formatValue))
    }
  }

  /// The `/grid` columns other than run and run-id.
  public func gridColumns() throws -> [String] {
    try file.root.openGroup("grid").memberNames().filter { $0 != "run" && $0 != "run-id" }
  }

  /// A `/grid` column as text.
  public func gridColumnText(_ name: String) throws -> [String] {
    let ds = try file.root.openDataset("grid/\(name)")
    if case .fixedString = ds.type { return try ds.readStrings() }
    return try ds.readDoubles().map(formatValue)
  }
}

/// A number as text: integers without a decimal point, others in the shortest form that reads
/// back exactly.
public func formatValue(_ v: Double) -> String {
  if v.isNaN { return "nan" }
  if v.rounded() == v && abs(v) < 1e15 { return String(Int(v)) }
  return "\(v)"
}
