import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import ParallelRuntime
import SweepStore

/// What became of one run.
public struct RunOutcome: Sendable {
  public var status: RunStatus
  public var stepsDone: Int
  public var wallSeconds: Double
  public var divergence: Divergence?
  public var message: String
  /// Last recorded value of every metric (empty when none was recorded).
  public var finalMetrics: [(Metric, [Double])]
  /// The step the run resumed from, if it resumed.
  public var resumedFrom: Int?
  /// A storage failure (full disk, read-only, I/O error) that stopped the run; the launch stops.
  public var storageFailure: StoreError?
}

private let failingRunsOnce: Set<String> = Set(
  (ProcessInfo.processInfo.environment["MFSWEEP_FAIL_RUNS"] ?? "").split(separator: ",").map(String.init))

/// Runs one grid point on a group of ranks: builds the model and engine (resuming from a
/// checkpoint when there is one), steps, records metrics, writes snapshot rows into each rank's
/// journal, checkpoints, and commits the result. Collective over the group.
struct RunExecutor<C: Communicator> {
  let run: RunSpec
  let key: RunKey
  let context: GroupContext<C>

  var group: C { context.group }

  /// Whether any rank of the group passes true (no communication on a group of one).
  func anyRank(_ flag: Bool) throws -> Bool {
    group.size == 1 ? flag : try group.any(flag)
  }

  /// Runs that must fail (`MFSWEEP_FAIL_RUNS`, for the tests), read once.
  static var failingRuns: Set<String> {
    failingRunsOnce
  }

  func execute() throws -> RunOutcome {
    // Fault injection for the tests: MFSWEEP_FAIL_RUNS names runs that must fail.
    if Self.failingRuns.contains(run.id) { throw LaunchError("injected failure (MFSWEEP_FAIL_RUNS)") }
    let c = run.configuration
    switch c.model {
    case .twoLayerNetwork(let net):
      let network = Self.makeNetwork(net)
      let diagnostics = try makeContext()
      if c.diagnostics.metrics.contains(.ntkDiscrepancy) {
        diagnostics.ntkInputs = (network.data.inputs, network.data.inputDimension)
      }
      return try simulate(model: network, diagnostics: diagnostics)
    case .potential(let p):
      return try simulate(
        model: PotentialSystem(potential: p.potential, interaction: p.interaction, dimension: p.dimension),
        diagnostics: try makeContext())
    }
  }

  /// The network model of a spec, with its data drawn or read.
  static func makeNetwork(_ net: NetworkSpec) -> TwoLayerNetwork {
    let data: DataSet
    switch net.data {
    case .teacher(let p, let n, let m, let noise, let seed):
      data = TeacherSpecification(
        inputs: p, samples: n, teacherWidth: m, noise: noise, seed: seed, activation: net.activation, loss: net.loss
      ).makeDataSet()
    case .file(_, let matrix):
      let p = matrix.columns - 1
      var z = [Double](), y = [Double]()
      z.reserveCapacity(matrix.rows * p)
      for r in 0..<matrix.rows {
        z.append(contentsOf: matrix.values[(r * matrix.columns)..<(r * matrix.columns + p)])
        y.append(matrix.values[r * matrix.columns + p])
      }
      data = DataSet(inputs: z, labels: y, inputDimension: p)
    }
    return TwoLayerNetwork(
      data: data, activation: net.activation, loss: net.loss, bias: net.bias, parametrisation: net.parametrisation)
  }

  /// What the run's metrics need besides the particles.
  func makeContext() throws -> DiagnosticContext {
    let c = run.configuration
    let spec = c.diagnostics
    let context = DiagnosticContext()
    context.temperature = c.dynamics.temperature
    context.l2 = c.dynamics.l2
    context.neighbours = spec.neighbours
    context.sampleLimit = spec.sampleLimit
    context.threads = self.context.threads
    context.wassersteinMethod = spec.wassersteinMethod
    context.terminal = spec.terminal
    context.start = (c.initial, GaussianField(seed: c.seed, runIndex: c.noiseStream))
    if let m = spec.referenceSample {
      context.reference = PointCloud(values: m.values, dimension: m.columns, weights: spec.referenceWeights)
    }
    if let g = spec.gaussian { context.gaussian = (g.mean, g.covariance) }
    if case .potential(let p) = c.model {
      context.landscape = (p.potential, p.interaction)
      // At λ = 0 there is no Gibbs law: the metric is NaN with a note.
      if spec.metrics.contains(.klToGibbs) && c.dynamics.temperature > 0 {
        context.gibbs = try p.gibbsDensity(temperature: c.dynamics.temperature, l2: c.dynamics.l2)
      }
      if spec.metrics.contains(.basinMass) || spec.metrics.contains(.duyIntegral) {
        let classifier = BasinClassifier(potential: p.potential, dimension: p.dimension)
        context.basins = classifier
        context.duyWeights =
          spec.duyWeights
          ?? classifier.minima.map { m in
            m.withUnsafeBufferPointer { p.potential.value(at: $0) }
          }
      }
    }
    if let r = c.reference { context.pde = try PDEReference(spec: r, configuration: c) }
    return context
  }

  /// What a metric of this run is, as written beside its values.
  static func metricInfo(_ metric: Metric, configuration c: RunConfiguration) -> MetricInfo {
    let definition = metric.definition
    let width = metric.width(dimension: c.dimension, basins: c.diagnostics.basinCount)
    var labels = [String]()
    switch definition.axis {
    case .scalar: break
    case .coordinate: labels = (1...max(1, width)).map { "x\($0)" }
    case .basin: labels = c.basinLabels
    }
    return MetricInfo(
      name: metric.rawValue, width: width, axis: definition.axis.rawValue, labels: labels,
      longName: definition.longName, units: definition.units, description: definition.description)
  }

  /// Threads for the steps of a run. With `threads: auto`, one thread per 2¹⁵ units of work per
  /// step on this rank (particles × interaction work × dimension: about half a millisecond of
  /// potential steps): handing a step to a second thread and waiting for it costs tens of
  /// microseconds, which a step of 512 particles does not repay. Results do not depend on the
  /// thread count.
  func stepThreads(_ c: RunConfiguration) -> Int {
    guard context.automaticThreads else { return context.threads }
    let work = c.cost / Double(max(1, c.steps)) / Double(max(1, group.size))
    return max(1, min(context.threads, Int(work / 32768)))
  }

  func simulate<M: MeanFieldModel>(model: M, diagnostics: DiagnosticContext) throws -> RunOutcome {
    let c = run.configuration
    let start = monotonicSeconds()
    let blocks = BlockLayout(particleCount: c.particles, blockSize: context.blockSize)
    let exchange = CommunicatorExchange(
      layout: blocks, communicator: group, split: context.blockSplit(blocks: blocks.blockCount))
    let engine = ParticleEngine(
      model: model, exchange: exchange, dynamics: c.dynamics, initial: c.initial,
      initialVelocity: c.initialVelocity, noise: GaussianField(seed: c.seed, runIndex: c.noiseStream),
      bound: c.bound, threads: stepThreads(c), cacheBudget: context.cacheBudget)
    let samples = c.diagnostics.sampleSteps(totalSteps: c.steps)
    let snapshotSteps = c.diagnostics.snapshotSteps(totalSteps: c.steps)
    let metrics = c.diagnostics.metrics
    let infos = metrics.map { Self.metricInfo($0, configuration: c) }
    let widths = infos.map(\.width)
    let d = model.dimension
    let owned = engine.ownedParticles
    let leader = group.rank == 0
    let hasVelocities = c.dynamics.hasVelocities
    let attempt = context.attempt(for: key)
    let holders = context.journalsHolding(blocks)
    let timeStep = c.dynamics.timeStep
    var notes = [String]()
    /// This rank's first storage failure (the group learns of it at the next decision).
    var failure: StoreError? = nil
    func guarded(_ body: () throws -> Void) throws {
      do { try body() } catch let error as StoreError {
        if failure == nil { failure = error }
      }
    }

    var recorded = metrics.map { _ in [Double]() }
    var density = [Double]()
    var snapshots = [SnapshotSource]()
    var nextSample = 0
    var resumedFrom: Int? = nil
    var earlierWall = 0.0
    var latestSlot = -1

    // Resume from the newest checkpoint whose parts all verify; a damaged one is never used.
    var candidates = [(slot: Int, manifest: CheckpointManifest)]()
    var problems = [String]()
    if leader { (candidates, problems) = context.checkpoints.manifests(key) }
    var w = ByteWriter()
    w.int(candidates.count)
    for (slot, m) in candidates {
      w.int(slot)
      let bytes = m.encoded()
      w.int(bytes.count)
      for b in bytes { w.u8(b) }
    }
    var r = ByteReader(group.size == 1 ? w.bytes : try group.broadcast(w.bytes, root: 0), what: "checkpoint list")
    let count = try r.int()
    for _ in 0..<count {
      let slot = try r.int()
      let length = try r.int()
      let bytes = try (0..<length).map { _ in try r.u8() }
      let m = try CheckpointManifest.decode(bytes, what: "checkpoint")
      var state: (positions: [Double], velocities: [Double])? = nil
      var ok: Int64 = 1
      if m.step > c.steps || m.dimension != d || m.particles != c.particles || m.hasVelocities != hasVelocities
        || m.metricNames != metrics.map(\.rawValue)
      {
        ok = 0
      } else {
        do { state = try context.checkpoints.readRows(key, m, range: owned) } catch {
          ok = 0
          if leader || !owned.isEmpty { problems.append("\(error)") }
        }
      }
      var flag = [ok]
      if group.size > 1 { try flag.withUnsafeMutableBufferPointer { try group.allReduce($0, op: .min) } }
      if flag[0] == 1, let state {
        engine.restore(positions: state.positions, velocities: state.velocities, step: m.step)
        recorded = m.metrics
        nextSample = m.samplesDone
        snapshots = m.snapshots
        notes = m.notes
        earlierWall = m.wallSeconds
        latestSlot = slot
        resumedFrom = m.step
        break
      }
    }
    var resumeNote: String? = nil
    if !problems.isEmpty {
      resumeNote =
        "checkpoint not used: " + problems.joined(separator: "; ")
        + (resumedFrom.map { " (resumed from the other slot at step \($0))" } ?? " (restarted from step 0)")
    }
    if leader {
      try guarded {
        try context.journal.append(
          kind: .start, key: key, attempt: attempt,
          payload: RunStart(runID: run.id, launch: context.launch, step: engine.stepIndex).encoded())
      }
    }
    let firstStep = engine.stepIndex
    var nextSnapshot = snapshots.count
    // A resumed run's reference PDE starts afresh: replay its sample intervals in order, the
    // same arithmetic as an uninterrupted run's, recording the densities again.
    if let pde = diagnostics.pde {
      for j in 0..<nextSample {
        do {
          try pde.advance(to: Double(samples[j]) * timeStep)
          if leader { density += pde.snapshot }
        } catch let error as MetricError {
          notes.append("reference: \(error)")
          break
        }
      }
    }
    var control = StepControl(context: context)
    var divergence: Divergence? = nil
    var interrupted = false
    var storageStop = false

    /// Writes a checkpoint into the other slot; false when a rank of the group failed.
    func writeCheckpoint(at k: Int) throws -> Bool {
      let slot = latestSlot == 0 ? 1 : 0
      var part: CheckpointPart? = nil
      try guarded {
        if leader { try context.checkpoints.invalidate(key, slot: slot) }
      }
      if group.size > 1 { try group.barrier() }
      if !owned.isEmpty {
        try guarded {
          part = try engine.withPositions { x in
            try engine.withVelocities { v in
              try context.checkpoints.writePart(
                key, slot: slot, firstParticle: owned.lowerBound, rows: owned.count, dimension: d, positions: x,
                velocities: hasVelocities ? v : nil)
            }
          }
        }
      }
      // The leader needs every part's description for the manifest.
      var description = [Int64](repeating: 0, count: 4 * group.size)
      if let part {
        description[4 * group.rank] = 1
        description[4 * group.rank + 1] = Int64(part.firstParticle)
        description[4 * group.rank + 2] = Int64(part.rows)
        description[4 * group.rank + 3] = Int64(bitPattern: part.hash)
      } else if failure != nil {
        description[4 * group.rank] = -1
      }
      if group.size > 1 { description = try group.sum(description) }
      var ok = !(0..<group.size).contains { description[4 * $0] < 0 }
      if leader && ok {
        let parts = (0..<group.size).compactMap { rank -> CheckpointPart? in
          guard description[4 * rank] > 0 else { return nil }
          let first = Int(description[4 * rank + 1])
          return CheckpointPart(
            file: CheckpointStore.partName(slot: slot, firstParticle: first), firstParticle: first,
            rows: Int(description[4 * rank + 2]), hash: UInt64(bitPattern: description[4 * rank + 3]))
        }
        let manifest = CheckpointManifest(
          step: k, wallSeconds: earlierWall + monotonicSeconds() - start, particles: c.particles, dimension: d,
          hasVelocities: hasVelocities, parts: parts, metricNames: metrics.map(\.rawValue), metrics: recorded,
          samplesDone: nextSample, snapshots: snapshots, notes: notes)
        try guarded { try context.checkpoints.writeManifest(key, slot: slot, manifest) }
        if failure != nil { ok = false }
      }
      ok = !(try anyRank(!ok))
      if ok {
        latestSlot = slot
        control.didCheckpoint()
      }
      return ok
    }

    while true {
      let k = engine.stepIndex
      if nextSample < samples.count && samples[nextSample] == k {
        let time = Double(k) * timeStep
        let values = try MetricEvaluator.evaluate(metrics, on: engine, context: diagnostics, time: time, notes: &notes)
        for i in metrics.indices { recorded[i] += values[i] }
        if let pde = diagnostics.pde {
          do {
            try pde.advance(to: time)
            if leader { density += pde.snapshot }
          } catch let error as MetricError {
            notes.append("reference: \(error)")
          }
        }
        nextSample += 1
      }
      if nextSnapshot < snapshotSteps.count && snapshotSteps[nextSnapshot] == k {
        if !owned.isEmpty {
          try guarded {
            let prefix = SnapshotRows.prefix(
              snapshot: nextSnapshot, firstParticle: owned.lowerBound, rows: owned.count, dimension: d,
              velocities: hasVelocities)
            try engine.withPositions { x in
              try engine.withVelocities { v in
                var pieces = [UnsafeRawBufferPointer(x)]
                if hasVelocities { pieces.append(UnsafeRawBufferPointer(v)) }
                try context.journal.append(kind: .rows, key: key, attempt: attempt, prefix: prefix, pieces: pieces)
              }
            }
          }
        }
        snapshots.append(SnapshotSource(step: k, time: Double(k) * timeStep, attempt: attempt, journals: holders))
        nextSnapshot += 1
      }
      if k >= c.steps { break }
      // Spread the reference PDE's interval to the next sample over the steps before it.
      if let pde = diagnostics.pde, nextSample > 0, nextSample < samples.count {
        let from = samples[nextSample - 1], to = samples[nextSample]
        do {
          try pde.advance(toward: Double(to) * timeStep, fraction: Double(k - from) / Double(to - from))
        } catch let error as MetricError {
          notes.append("reference: \(error)")
        }
      }
      let (save, stop, failed) = try control.decide(step: k, startedAt: firstStep, failed: failure != nil)
      if failed {
        storageStop = true
        break
      }
      if save {
        let written = try writeCheckpoint(at: k)
        if !written {
          storageStop = true
          break
        }
      }
      if stop {
        interrupted = true
        break
      }
      if let diverged = try engine.step() {
        divergence = diverged
        break
      }
      context.progress?.update(run: run.id, step: engine.stepIndex, of: c.steps)
    }

    let wall = earlierWall + monotonicSeconds() - start
    let finals = metrics.enumerated().map { i, m -> (Metric, [Double]) in
      (m, recorded[i].count >= widths[i] ? Array(recorded[i].suffix(widths[i])) : [])
    }
    var seen = Set<String>()
    let distinct = notes.filter { seen.insert($0).inserted }
    func outcome(_ status: RunStatus, _ message: String, storage: StoreError? = nil) -> RunOutcome {
      RunOutcome(
        status: status, stepsDone: engine.stepIndex, wallSeconds: wall, divergence: divergence, message: message,
        finalMetrics: finals, resumedFrom: resumedFrom, storageFailure: storage)
    }
    if storageStop {
      let error =
        failure ?? StoreError("write", path: context.layout.store, detail: "another rank of the group could not write")
      return outcome(.interrupted, "stopped at step \(engine.stepIndex): \(error)", storage: error)
    }
    if interrupted {
      return outcome(.interrupted, "interrupted at step \(engine.stepIndex); checkpointed")
    }

    // Commit: every rank's rows are written (and flushed at most a second late) before the
    // leader appends the result record, the run's single commit point.
    try guarded { try context.journal.sync(olderThan: 1) }
    if try anyRank(failure != nil) {
      let error =
        failure ?? StoreError("write", path: context.layout.store, detail: "another rank of the group could not write")
      return outcome(.interrupted, "not committed: \(error)", storage: error)
    }
    let status: RunStatus = divergence == nil ? .completed : .diverged
    var message = divergence?.description ?? ""
    if divergence != nil, let system = engine.model as? PotentialSystem, let fault = system.fault.description {
      message += ": " + fault
    }
    if let resumeNote { message += (message.isEmpty ? "" : "; ") + resumeNote }
    if !distinct.isEmpty {
      message += (message.isEmpty ? "" : "; ") + "metric notes: " + distinct.joined(separator: "; ")
    }
    if leader {
      var reference: ReferenceSeries? = nil
      if let spec = c.reference, diagnostics.pde != nil {
        reference = ReferenceSeries(axes: spec.snapshotAxes, density: density)
      }
      let result = RunResult(
        key: key, runID: run.id, index: run.index, jobName: context.jobName, status: status,
        stepsDone: engine.stepIndex,
        wallSeconds: wall, ranks: group.size, divergenceStep: divergence?.step ?? -1, message: message,
        sampleSteps: samples, sampleTimes: samples.map { Double($0) * timeStep },
        metrics: zip(infos, recorded).map { MetricSeries(info: $0, values: $1) }, particles: c.particles,
        dimension: d, hasVelocities: hasVelocities, snapshots: snapshots, reference: reference)
      try guarded {
        try context.journal.append(kind: .result, key: key, attempt: attempt, payload: result.encoded())
        try context.journal.sync(olderThan: 1)
      }
      if failure == nil { context.checkpoints.remove(key) }
    }
    if try anyRank(failure != nil) {
      let error =
        failure ?? StoreError("write", path: context.layout.store, detail: "the group's leader could not write")
      return outcome(.interrupted, "not committed: \(error)", storage: error)
    }
    return outcome(status, message)
  }
}
