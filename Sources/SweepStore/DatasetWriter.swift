import Foundation

/// One run of a dataset view: its place, state and settings, and its result when it has one.
public struct DatasetRun: Sendable {
  /// The `run` coordinate (the run's index in its job's grid).
  public var index: Int
  public var runID: String
  public var key: RunKey
  /// The array task of the current task count, for the summary.
  public var task: Int?
  /// The output folder, when several are merged.
  public var folder: String?
  /// `completed`, `pending`, `interrupted`, ... (or `damaged`).
  public var status: String
  public var stepsDone: Int
  public var wallSeconds: Double
  public var ranks: Int
  public var divergenceStep: Int
  public var message: String
  public var settings: [(key: String, value: SettingValue)]
  public var result: RunResult?

  public init(
    index: Int, runID: String, key: RunKey, task: Int?, folder: String? = nil, status: String, stepsDone: Int,
    wallSeconds: Double, ranks: Int, divergenceStep: Int, message: String,
    settings: [(key: String, value: SettingValue)], result: RunResult?
  ) {
    self.index = index
    self.runID = runID
    self.key = key
    self.task = task
    self.folder = folder
    self.status = status
    self.stepsDone = stepsDone
    self.wallSeconds = wallSeconds
    self.ranks = ranks
    self.divergenceStep = divergenceStep
    self.message = message
    self.settings = settings
    self.result = result
  }
}

/// A per-run variable added by the caller (summary statistics): `runs × width` values.
public struct RunVariable: Sendable {
  public var name: String
  /// The component axis (with its labels), or nil for one number per run.
  public var axis: (name: String, labels: [String])?
  public var values: [Double]
  public var longName: String
  public var units: String
  public var description: String

  public init(
    name: String, axis: (name: String, labels: [String])?, values: [Double], longName: String, units: String,
    description: String
  ) {
    self.name = name
    self.axis = axis
    self.values = values
    self.longName = longName
    self.units = units
    self.description = description
  }
}

/// How a view is written.
public struct DatasetOptions: Sendable {
  /// Root attributes.
  public var attributes: [(String, H5Value)]
  /// Whether particle snapshots are included.
  public var includeSnapshots: Bool
  /// Extra per-run variables (summary statistics).
  public var extra: [RunVariable]

  public init(attributes: [(String, H5Value)], includeSnapshots: Bool, extra: [RunVariable] = []) {
    self.attributes = attributes
    self.includeSnapshots = includeSnapshots
    self.extra = extra
  }
}

/// Writes the `mfsweep/2` view of a set of runs: one netCDF-4-compatible HDF5 file in which
/// runs are a dimension, so that `xarray.open_dataset(path)` returns every run with every time
/// series (engines h5netcdf and netcdf4).
///
/// Layout (dimensions in brackets):
///
///     run [R]                 coordinate: the run's index in its job's grid
///     run_id, run_key, status, steps_done, wall_seconds, ranks, divergence_step, message,
///     samples, (task, folder)                                           (run)
///     every setting of the runs, named by its leaf (`temperature`) when that is unique,
///     else by its path (`dynamics_step`), with its natural type         (run)
///     sample [S], step and time  (sample) when all runs share them, else (run, sample)
///     <metric>                   (run, sample) or (run, sample, <axis>) with labelled axes
///     snapshot [K]: snapshot_step, snapshot_time, snapshot_start        (run, snapshot)
///     positions, velocities      (row, coordinate): the rows of snapshot k of run r are
///                                snapshot_start[r, k] ..< + particles[r]
///     reference_density          (run, sample, reference_<axis>...) with the cell centres
///
/// Runs with fewer samples or snapshots are padded with NaN (−1 for integers); `samples` holds
/// the count recorded. Every variable carries `long_name`, `description` and, where one exists,
/// `units`; data variables list the per-run coordinates in `coordinates`.
public enum DatasetWriter {
  /// Names that settings may not take (they name the view's own variables).
  static let reserved: Set<String> = [
    "run", "run_id", "run_key", "task", "folder", "status", "steps_done", "wall_seconds", "ranks",
    "divergence_step", "message", "samples", "sample", "step", "time", "snapshot", "snapshot_step",
    "snapshot_time", "snapshot_start", "row", "positions", "velocities", "coordinate", "basin",
    "reference_density", "particle", "dimension",
  ]

  /// The variable name of each setting key: its leaf when that is unique among the keys and
  /// free, else its path, with `.` and `-` turned into `_` (so `ds.temperature`,
  /// `ds.dynamics_step`).
  public static func variableNames(for keys: [String], avoiding taken: Set<String>) -> [String: String] {
    func clean(_ s: String) -> String {
      String(s.map { $0 == "." || $0 == "-" ? "_" : $0 })
    }
    var leafCount = [String: Int]()
    for k in keys { leafCount[clean(String(k.split(separator: ".").last ?? Substring(k))), default: 0] += 1 }
    var names = [String: String]()
    var used = taken.union(reserved)
    for k in keys {
      let leaf = clean(String(k.split(separator: ".").last ?? Substring(k)))
      var name = leafCount[leaf] == 1 && !used.contains(leaf) ? leaf : clean(k)
      while used.contains(name) { name += "_setting" }
      used.insert(name)
      names[k] = name
    }
    return names
  }

  /// The variable name of a metric (`second-moment` → `second_moment`).
  public static func metricVariable(_ name: String) -> String {
    String(name.map { $0 == "-" || $0 == "." ? "_" : $0 })
  }

  /// Writes the view to `path` atomically (a temporary file beside it, flushed, renamed).
  /// `snapshot(i, k)` returns the positions and velocities of snapshot k of run i (called only
  /// when snapshots are included).
  public static func write(
    path: String, runs: [DatasetRun], options: DatasetOptions,
    snapshot: (Int, Int) throws -> (positions: [Double], velocities: [Double])
  ) throws {
    let temporary = path + ".tmp-\(getpid())"
    unlink(temporary)
    do {
      let file = try H5File.createReplacing(path: temporary)
      try build(file: file, runs: runs, options: options, snapshot: snapshot)
      try file.close()
      let fd = open(temporary, O_RDONLY | O_CLOEXEC)
      if fd >= 0 {
        if fsync(fd) != 0 {
          let e = StoreError.system("flush", path: temporary)
          close(fd)
          throw e
        }
        close(fd)
      }
      if rename(temporary, path) != 0 { throw StoreError.system("rename \(temporary) to", path: path) }
      FileOperations.syncDirectory(of: path)
    } catch {
      unlink(temporary)
      throw error
    }
  }

  static func build(
    file: H5File, runs: [DatasetRun], options: DatasetOptions,
    snapshot: (Int, Int) throws -> (positions: [Double], velocities: [Double])
  ) throws {
    let root = file.root
    let r = runs.count
    for (name, value) in options.attributes { try root.setAttribute(name, value) }
    try root.setAttribute("runs", .int(Int64(r)))

    func describe(_ ds: H5Object, _ longName: String, _ description: String, units: String = "") throws {
      try ds.setAttribute("long_name", .string(longName))
      if !units.isEmpty { try ds.setAttribute("units", .string(units)) }
      if !description.isEmpty { try ds.setAttribute("description", .string(description)) }
    }

    // MARK: run axis and per-run state
    let run = try root.createDataset("run", type: .int64, shape: [r])
    try run.write(runs.map { Int64($0.index) })
    try run.makeDimensionScale(name: "run")
    try describe(run, "run index", "the run's position in its job's expanded grid (run ids r00000, r00001, ...)")
    var runCoordinates = [String]()
    // String-length dimensions of the character arrays, one per length.
    var stringDimensions = [Int: H5Dataset]()
    func stringDimension(_ width: Int) throws -> H5Dataset {
      if let d = stringDimensions[width] { return d }
      let d = try root.createDataset("string\(width)", type: .float64, shape: [width], allocateEarly: false)
      try d.makeDimensionScale(
        name: "This is a netCDF dimension but not a netCDF variable.\(String(repeating: " ", count: 10))\(width)")
      stringDimensions[width] = d
      return d
    }
    func perRun(
      _ name: String, ints: [Int]? = nil, doubles: [Double]? = nil, strings: [String]? = nil,
      longName: String, description: String, units: String = "", boolean: Bool = false
    ) throws {
      let ds: H5Dataset
      if let ints {
        ds = try root.createDataset(name, type: boolean ? .int8 : .int64, shape: [r])
        try ds.write(ints.map(Int64.init))
        if boolean { try ds.setAttribute("dtype", .string("bool")) }
      } else if let doubles {
        ds = try root.createDataset(name, type: .float64, shape: [r])
        try ds.write(doubles)
      } else {
        let values = strings ?? []
        let width = max(1, values.map(\.utf8.count).max() ?? 1)
        ds = try root.createCharArray(name, values: values, width: width)
        try ds.attach(scale: try stringDimension(width), to: 1)
        try ds.setAttribute("_Encoding", .string("utf-8"))
      }
      try ds.attach(scale: run, to: 0)
      try describe(ds, longName, description, units: units)
      runCoordinates.append(name)
    }
    try perRun(
      "run_id", strings: runs.map(\.runID), longName: "run id",
      description: "r followed by the run index, as in messages and logs")
    try perRun(
      "run_key", strings: runs.map { $0.key.description }, longName: "run identity",
      description:
        "first 128 bits of the SHA-256 of the run's fully resolved configuration; a rerun keeps a run whose identity is unchanged"
    )
    if runs.contains(where: { $0.task != nil }) {
      try perRun(
        "task", ints: runs.map { $0.task ?? -1 }, longName: "array task",
        description: "the array task whose share holds the run (-1: none)")
    }
    if runs.contains(where: { $0.folder != nil }) {
      try perRun(
        "folder", strings: runs.map { $0.folder ?? "" }, longName: "output folder",
        description: "the output folder the run was read from")
    }
    try perRun(
      "status", strings: runs.map(\.status), longName: "run status",
      description:
        "completed, diverged or failed (final); pending, running or interrupted (resumed by a rerun); damaged (rerun recomputes it)"
    )
    try perRun(
      "steps_done", ints: runs.map(\.stepsDone), longName: "steps done", description: "steps the run completed")
    try perRun(
      "wall_seconds", doubles: runs.map(\.wallSeconds), longName: "wall time",
      description: "wall-clock time spent on the run, over every launch", units: "s")
    try perRun(
      "ranks", ints: runs.map(\.ranks), longName: "ranks", description: "MPI ranks that shared the run's particles")
    try perRun(
      "divergence_step", ints: runs.map(\.divergenceStep), longName: "divergence step",
      description: "step at which the run diverged (-1: it did not)")
    try perRun(
      "message", strings: runs.map(\.message), longName: "message",
      description: "why a run diverged or failed, and notes on metrics that could not be computed")
    try perRun(
      "samples", ints: runs.map { $0.result?.recordedSamples ?? 0 }, longName: "samples recorded",
      description: "metric samples recorded (the rest of the sample axis is padding)")
    try perRun(
      "dimension", ints: runs.map { $0.result?.dimension ?? 0 }, longName: "particle dimension",
      description: "d, the number of coordinates of a particle (0: not recorded yet)")

    // MARK: settings
    var keyOrder = [String]()
    var seenKeys = Set<String>()
    for run in runs { for (k, _) in run.settings where seenKeys.insert(k).inserted { keyOrder.append(k) } }
    var metricOrder = [String]()
    var metricInfo = [String: MetricInfo]()
    for run in runs {
      for m in run.result?.metrics ?? [] {
        if let known = metricInfo[m.info.name] {
          if m.info.width > known.width { metricInfo[m.info.name] = m.info }
        } else {
          metricInfo[m.info.name] = m.info
          metricOrder.append(m.info.name)
        }
      }
    }
    let metricNames = Set(metricOrder.map(metricVariable)).union(options.extra.map(\.name))
    let settingNames = variableNames(for: keyOrder, avoiding: metricNames)
    for key in keyOrder {
      let values = runs.map { run in run.settings.first(where: { $0.key == key })?.value }
      let name = settingNames[key]!
      let description = "the run's setting \(key) (job file key)"
      if values.allSatisfy({ if case .int? = $0 { return true } else { return false } }) {
        try perRun(
          name, ints: values.map { if case .int(let v)? = $0 { return v } else { return 0 } }, longName: key,
          description: description)
      } else if values.allSatisfy({ if case .bool? = $0 { return true } else { return false } }) {
        try perRun(
          name, ints: values.map { if case .bool(let v)? = $0 { return v ? 1 : 0 } else { return 0 } }, longName: key,
          description: description, boolean: true)
      } else if values.allSatisfy({ $0 == nil || $0?.number != nil }) && values.contains(where: { $0 != nil }) {
        try perRun(name, doubles: values.map { $0?.number ?? .nan }, longName: key, description: description)
      } else {
        try perRun(name, strings: values.map { $0?.description ?? "" }, longName: key, description: description)
      }
      if let ds = try? root.openDataset(name) { try ds.setAttribute("key", .string(key)) }
    }

    // MARK: samples
    let s = runs.map { $0.result?.sampleSteps.count ?? 0 }.max() ?? 0
    let sample = try root.createDataset("sample", type: .int64, shape: [s])
    try sample.write((0..<s).map(Int64.init))
    try sample.makeDimensionScale(name: "sample")
    try describe(
      sample, "sample index", "position in the run's metric schedule (steps 0, every, 2·every, ... and the last)")
    let withResults = runs.compactMap(\.result)
    let sharedSteps =
      withResults.first.map { first in withResults.allSatisfy { $0.sampleSteps == first.sampleSteps } } ?? true
    let sharedTimes =
      withResults.first.map { first in withResults.allSatisfy { $0.sampleTimes == first.sampleTimes } } ?? true
    var sampleCoordinates = [String]()
    if sharedSteps {
      let steps = withResults.first?.sampleSteps ?? []
      let ds = try root.createDataset("step", type: .int64, shape: [s])
      try ds.write((0..<s).map { $0 < steps.count ? Int64(steps[$0]) : -1 })
      try ds.attach(scale: sample, to: 0)
      try describe(ds, "step", "step index k of each sample (t = k·step)")
    } else {
      var values = [Int64](repeating: -1, count: r * s)
      for (i, run) in runs.enumerated() {
        for (j, k) in (run.result?.sampleSteps ?? []).enumerated() { values[i * s + j] = Int64(k) }
      }
      let ds = try root.createDataset("step", type: .int64, shape: [r, s])
      try ds.write(values)
      try ds.attach(scale: run, to: 0)
      try ds.attach(scale: sample, to: 1)
      try describe(ds, "step", "step index k of each sample of each run (-1: padding)")
    }
    sampleCoordinates.append("step")
    if sharedTimes {
      let times = withResults.first?.sampleTimes ?? []
      let ds = try root.createDataset("time", type: .float64, shape: [s])
      try ds.write((0..<s).map { $0 < times.count ? times[$0] : .nan })
      try ds.attach(scale: sample, to: 0)
      try describe(ds, "time", "t = k·η of each sample (τ·k for JKO)", units: "1")
    } else {
      var values = [Double](repeating: .nan, count: r * s)
      for (i, run) in runs.enumerated() {
        for (j, t) in (run.result?.sampleTimes ?? []).enumerated() { values[i * s + j] = t }
      }
      let ds = try root.createDataset("time", type: .float64, shape: [r, s])
      try ds.write(values)
      try ds.attach(scale: run, to: 0)
      try ds.attach(scale: sample, to: 1)
      try describe(ds, "time", "t = k·η of each sample of each run (NaN: padding)", units: "1")
    }
    sampleCoordinates.append("time")

    // MARK: component axes (labelled)
    var axes = [String: H5Dataset]()
    func axis(_ name: String, labels: [String]) throws -> H5Dataset {
      if let a = axes[name] { return a }
      let ds = try root.createStringDataset(name, values: labels)
      try ds.makeDimensionScale(name: name)
      try describe(
        ds, name, name == "coordinate" ? "coordinates x1 ... xd of a particle" : "components of \(name)-valued metrics")
      axes[name] = ds
      return ds
    }
    let coordinatesText = (runCoordinates + sampleCoordinates).joined(separator: " ")

    // MARK: metrics
    let rowBudget = max(1, (64 << 20) / max(1, s * 8))
    for name in metricOrder {
      let info = metricInfo[name]!
      let w = info.width
      let variable = metricVariable(name)
      let shape = info.axis.isEmpty ? [r, s] : [r, s, w]
      let ds = try root.createDataset(variable, type: .float64, shape: shape, fill: .double(.nan))
      try ds.attach(scale: run, to: 0)
      try ds.attach(scale: sample, to: 1)
      if !info.axis.isEmpty {
        let labels = info.labels.count == w ? info.labels : (0..<w).map { "\($0)" }
        try ds.attach(scale: try axis(info.axis, labels: labels), to: 2)
      }
      try describe(ds, info.longName, info.description, units: info.units)
      try ds.setAttribute("metric", .string(name))
      try ds.setAttribute("coordinates", .string(coordinatesText))
      // Write in blocks of runs (bounded memory for any number of runs).
      var first = 0
      while first < r {
        let count = min(rowBudget / max(1, w), r - first)
        var block = [Double](repeating: .nan, count: count * s * w)
        for i in 0..<count {
          guard let m = runs[first + i].result?.metrics.first(where: { $0.info.name == name }) else { continue }
          let mw = m.info.width
          for j in 0..<min(m.samples, s) {
            for c in 0..<min(mw, w) { block[(i * s + j) * w + c] = m.values[j * mw + c] }
          }
        }
        if count > 0 {
          try ds.write(
            block, start: shape.count == 2 ? [first, 0] : [first, 0, 0],
            count: shape.count == 2 ? [count, s] : [count, s, w])
        }
        first += count
      }
    }

    // MARK: extra per-run variables (summaries)
    for extra in options.extra {
      let width = extra.axis.map { $0.labels.count } ?? 1
      let ds = try root.createDataset(
        extra.name, type: .float64, shape: extra.axis == nil ? [r] : [r, width], fill: .double(.nan))
      try ds.write(extra.values)
      try ds.attach(scale: run, to: 0)
      if let a = extra.axis { try ds.attach(scale: try axis(a.name, labels: a.labels), to: 1) }
      try describe(ds, extra.longName, extra.description, units: extra.units)
      try ds.setAttribute("coordinates", .string(runCoordinates.joined(separator: " ")))
    }

    // MARK: reference PDE densities
    let references = runs.compactMap { $0.result?.reference }
    if let firstReference = references.first {
      let sharedGrid = references.allSatisfy { $0.axes.map(\.centres) == firstReference.axes.map(\.centres) }
      var scales = [H5Dataset]()
      var sizes = [Int]()
      for (a, ax) in firstReference.axes.enumerated() {
        let size = references.map { $0.axes.count > a ? $0.axes[a].centres.count : 0 }.max() ?? 0
        let dimension = "reference_\(ax.name)"
        let scale: H5Dataset
        if sharedGrid {
          scale = try root.createDataset(dimension, type: .float64, shape: [size])
          try scale.write(ax.centres)
          try scale.makeDimensionScale(name: dimension)
          try describe(scale, "reference grid \(ax.name)", "cell centres of the reference PDE's grid along \(ax.name)")
        } else {
          scale = try root.createDataset(dimension, type: .float64, shape: [size], allocateEarly: false)
          try scale.makeDimensionScale(
            name: "This is a netCDF dimension but not a netCDF variable.\(String(repeating: " ", count: 10))\(size)")
          var centres = [Double](repeating: .nan, count: r * size)
          for (i, run) in runs.enumerated() {
            if let ref = run.result?.reference, ref.axes.count > a {
              for (j, c) in ref.axes[a].centres.enumerated() { centres[i * size + j] = c }
            }
          }
          let ds = try root.createDataset("\(dimension)_centre", type: .float64, shape: [r, size])
          try ds.write(centres)
          try ds.attach(scale: run, to: 0)
          try ds.attach(scale: scale, to: 1)
          try describe(
            ds, "reference grid \(ax.name)", "cell centres of each run's reference grid along \(ax.name) (NaN: padding)"
          )
        }
        scales.append(scale)
        sizes.append(size)
      }
      let cells = sizes.reduce(1, *)
      let ds = try root.createDataset("reference_density", type: .float64, shape: [r, s] + sizes, fill: .double(.nan))
      try ds.attach(scale: run, to: 0)
      try ds.attach(scale: sample, to: 1)
      for (i, scale) in scales.enumerated() { try ds.attach(scale: scale, to: i + 2) }
      try describe(
        ds, "reference PDE density",
        "density of the reference PDE at each sample time on its grid (the position marginal is its sum over v times the cell width)"
      )
      try ds.setAttribute("coordinates", .string(coordinatesText))
      for (i, run) in runs.enumerated() {
        guard let ref = run.result?.reference, ref.cells > 0, ref.axes.map({ $0.centres.count }) == sizes else {
          continue
        }
        let samples = min(ref.density.count / cells, s)
        if samples > 0 {
          try ds.write(
            Array(ref.density.prefix(samples * cells)), start: [i, 0] + sizes.map { _ in 0 },
            count: [1, samples] + sizes)
        }
      }
    }

    // MARK: snapshots
    guard options.includeSnapshots else { return }
    let k = runs.map { $0.result?.snapshots.count ?? 0 }.max() ?? 0
    let d = max(1, runs.map { $0.result?.dimension ?? 0 }.max() ?? 1)
    let snapshotScale = try root.createDataset("snapshot", type: .int64, shape: [k])
    try snapshotScale.write((0..<k).map(Int64.init))
    try snapshotScale.makeDimensionScale(name: "snapshot")
    try describe(snapshotScale, "snapshot index", "position in the run's snapshot schedule")
    var steps = [Int64](repeating: -1, count: r * k), times = [Double](repeating: .nan, count: r * k)
    var starts = [Int64](repeating: -1, count: r * k)
    var totalRows = 0
    for (i, run) in runs.enumerated() {
      guard let result = run.result else { continue }
      for (j, source) in result.snapshots.enumerated() {
        steps[i * k + j] = Int64(source.step)
        times[i * k + j] = source.time
        starts[i * k + j] = Int64(totalRows)
        totalRows += result.particles
      }
    }
    for (name, longName, description) in [
      ("snapshot_step", "snapshot step", "step index of each particle snapshot (-1: padding)"),
      (
        "snapshot_start", "first row",
        "row of `positions` where the snapshot's particles start (-1: no snapshot); its rows are snapshot_start ..< snapshot_start + particles"
      ),
    ] {
      let ds = try root.createDataset(name, type: .int64, shape: [r, k])
      try ds.write(name == "snapshot_step" ? steps : starts)
      try ds.attach(scale: run, to: 0)
      try ds.attach(scale: snapshotScale, to: 1)
      try describe(ds, longName, description)
    }
    let timeDataset = try root.createDataset("snapshot_time", type: .float64, shape: [r, k])
    try timeDataset.write(times)
    try timeDataset.attach(scale: run, to: 0)
    try timeDataset.attach(scale: snapshotScale, to: 1)
    try describe(timeDataset, "snapshot time", "time of each particle snapshot (NaN: padding)", units: "1")

    let rowScale = try root.createDataset("row", type: .float64, shape: [totalRows], allocateEarly: false)
    try rowScale.makeDimensionScale(
      name: "This is a netCDF dimension but not a netCDF variable.\(String(repeating: " ", count: 10))\(totalRows)")
    let coordinate = try axis("coordinate", labels: (1...d).map { "x\($0)" })
    let chunkRows = max(1, min(totalRows, (1 << 20) / (8 * d)))
    let anyVelocities = runs.contains { $0.result?.hasVelocities == true }
    var fields = [
      ("positions", "particle positions", "every snapshot's particle positions, run after run (see snapshot_start)")
    ]
    if anyVelocities {
      fields.append(
        (
          "velocities", "particle velocities",
          "velocities of the underdamped runs' particles, in the rows of `positions` (NaN for runs without velocities)"
        ))
    }
    var datasets = [H5Dataset]()
    for (name, longName, description) in fields {
      let ds = try root.createDataset(
        name, type: .float64, shape: [totalRows, d], chunk: totalRows > 0 ? [chunkRows, d] : nil, fill: .double(.nan),
        allocateEarly: false)
      try ds.attach(scale: rowScale, to: 0)
      try ds.attach(scale: coordinate, to: 1)
      try describe(ds, longName, description)
      datasets.append(ds)
    }
    // Rows are laid out in order; buffer them and write in large contiguous pieces.
    var buffer = [Double](), velocityBuffer = [Double]()
    var bufferStart = 0
    func flush() throws {
      let rows = buffer.count / d
      if rows == 0 { return }
      try datasets[0].write(buffer, start: [bufferStart, 0], count: [rows, d])
      if anyVelocities { try datasets[1].write(velocityBuffer, start: [bufferStart, 0], count: [rows, d]) }
      bufferStart += rows
      buffer.removeAll(keepingCapacity: true)
      velocityBuffer.removeAll(keepingCapacity: true)
    }
    for (i, run) in runs.enumerated() {
      guard let result = run.result else { continue }
      for j in result.snapshots.indices {
        let (x, v) = try snapshot(i, j)
        let n = result.particles, rd = result.dimension
        for p in 0..<n {
          for c in 0..<d {
            buffer.append(c < rd ? x[p * rd + c] : .nan)
            if anyVelocities { velocityBuffer.append(c < rd && !v.isEmpty ? v[p * rd + c] : .nan) }
          }
        }
        if buffer.count >= (4 << 20) / 8 { try flush() }
      }
    }
    try flush()
  }
}
