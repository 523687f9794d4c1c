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
}

/// Decides, between steps, whether to checkpoint and whether to stop. Every rank of a group
/// reaches the same decision: with more than one rank the local reasons (a signal, a stop file,
/// the wall clock) are combined by an all-reduce.
struct StepControl {
  let group: MPICommunicator
  let every: Int?
  let seconds: Double?
  let stopFiles: StopFiles
  var lastCheckpoint: Double
  var lastStopFileCheck = -Double.infinity
  var stopFileSeen = false

  init(group: MPICommunicator, spec: CheckpointSpec, stopFiles: StopFiles) {
    self.group = group
    every = spec.every
    seconds = spec.seconds
    self.stopFiles = stopFiles
    lastCheckpoint = MPIEnvironment.wallTime
  }

  mutating func decide(step k: Int, startedAt start: Int) throws -> (checkpoint: Bool, stop: Bool) {
    let now = MPIEnvironment.wallTime
    if !stopFileSeen && now - lastStopFileCheck > 1 {
      lastStopFileCheck = now
      stopFileSeen = stopFiles.requested()
    }
    var flags: [Double] = [
      Interruption.receivedSignal != nil || stopFileSeen ? 1 : 0,
      seconds.map { now - lastCheckpoint >= $0 } == true ? 1 : 0,
    ]
    if group.size > 1 {
      try flags.withUnsafeMutableBufferPointer { try group.allReduce($0, op: .max) }
    }
    let stop = flags[0] > 0
    let byStep = every.map { k > start && k % $0 == 0 } ?? false
    return (stop || byStep || flags[1] > 0, stop)
  }

  mutating func didCheckpoint() { lastCheckpoint = MPIEnvironment.wallTime }
}

/// Runs one grid point on a group of ranks: builds the model and engine (resuming from a
/// checkpoint when there is one), steps, records metrics, snapshots and checkpoints into the task
/// file. Collective over the group.
struct RunExecutor {
  let run: RunSpec
  let slot: Int
  let group: MPICommunicator
  let file: SweepFile
  let blockSize: Int
  let threads: Int
  let cacheBudget: Int
  let checkpoint: CheckpointSpec
  let stopFiles: StopFiles
  let progress: ProgressReporter?
  /// Wall seconds spent on this run by earlier launches.
  let earlierWall: Double

  func execute() throws -> RunOutcome {
    // Fault injection for the tests: MFSWEEP_FAIL_RUNS names runs that must fail.
    if let names = ProcessInfo.processInfo.environment["MFSWEEP_FAIL_RUNS"],
      names.split(separator: ",").contains(Substring(run.id)) {
      throw LaunchError("injected failure (MFSWEEP_FAIL_RUNS)")
    }
    let c = run.configuration
    switch c.model {
    case .twoLayerNetwork(let net):
      let network = Self.makeNetwork(net)
      let context = try makeContext()
      if c.diagnostics.metrics.contains(.ntkDiscrepancy) {
        context.ntkInputs = (network.data.inputs, network.data.inputDimension)
      }
      return try simulate(model: network, context: context)
    case .potential(let p):
      return try simulate(
        model: PotentialSystem(potential: p.potential, interaction: p.interaction, dimension: p.dimension),
        context: try makeContext())
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
    return TwoLayerNetwork(data: data, activation: net.activation, loss: net.loss, bias: net.bias)
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
    context.threads = threads
    context.wassersteinMethod = spec.wassersteinMethod
    if let m = spec.referenceSample { context.reference = PointCloud(values: m.values, dimension: m.columns) }
    if let g = spec.gaussian { context.gaussian = (g.mean, g.covariance) }
    if case .potential(let p) = c.model {
      // At λ = 0 there is no Gibbs law: the metric is NaN with a note.
      if spec.metrics.contains(.klToGibbs) && c.dynamics.temperature > 0 {
        context.gibbs = try Self.gibbsDensity(p, dynamics: c.dynamics)
      }
      if spec.metrics.contains(.basinMass) || spec.metrics.contains(.duyIntegral) {
        let classifier = BasinClassifier(potential: p.potential, dimension: p.dimension)
        context.basins = classifier
        context.duyWeights = spec.duyWeights ?? classifier.minima.map { m in
          m.withUnsafeBufferPointer { p.potential.value(at: $0) }
        }
      }
    }
    if let r = c.reference { context.pde = try PDEReference(spec: r, configuration: c) }
    return context
  }

  /// The Gibbs law `exp(−(V + λ'|x|²)/λ)/Z`: closed form for a quadratic confinement, quadrature
  /// over a box that holds its mass otherwise (d ≤ 2, checked at decoding).
  static func gibbsDensity(_ p: PotentialSpec, dynamics: Dynamics) throws -> any LogDensity {
    let lambda = dynamics.temperature, l2 = dynamics.l2, d = p.dimension
    var stiffness: Double? = nil
    if case .quadratic(let k) = p.potential { stiffness = k + 2 * l2 }
    if case .none = p.potential, l2 > 0 { stiffness = 2 * l2 }
    if let k = stiffness {
      let q = QuadraticPotential(stiffness: k)
      return GibbsDensity(potential: q, temperature: lambda, dimension: d, logPartition: q.logPartition(temperature: lambda, dimension: d))
    }
    let v = p.potential
    let u = FunctionPotential { x in
      var s = v.value(at: x)
      for c in x { s += l2 * c * c }
      return s
    }
    // Widen the box until U/λ on its boundary exceeds its minimum on the grid by 40 or more.
    var radius = 1.0
    while radius < 1e4 {
      var edge = Double.infinity, inside = Double.infinity
      let m = 64
      for i in 0...m {
        let t = -radius + 2 * radius * Double(i) / Double(m)
        let points: [[Double]] = d == 1 ? [[radius], [-radius]] : [[t, radius], [t, -radius], [radius, t], [-radius, t]]
        for point in points {
          let value = point.withUnsafeBufferPointer { u.value(at: $0) }
          edge = min(edge, value)
        }
        let centre: [Double] = d == 1 ? [t] : [t, 0]
        inside = min(inside, centre.withUnsafeBufferPointer { u.value(at: $0) })
      }
      if (edge - inside) / lambda > 40 { break }
      radius *= 2
    }
    let box = [ClosedRange<Double>](repeating: -radius...radius, count: d)
    let (density, quadrature) = try GibbsDensity.byQuadrature(
      potential: u, temperature: lambda, over: box, intervals: d == 1 ? 4096 : 512)
    if quadrature.errorEstimate > 1e-6 {
      throw MetricError("log Z by quadrature is uncertain (estimated error \(quadrature.errorEstimate)); the potential is too rough for the grid")
    }
    return density
  }

  func simulate<M: MeanFieldModel>(model: M, context: DiagnosticContext) throws -> RunOutcome {
    let c = run.configuration
    let start = MPIEnvironment.wallTime
    let layout = BlockLayout(particleCount: c.particles, blockSize: blockSize)
    let exchange = CommunicatorExchange(layout: layout, communicator: group)
    let engine = ParticleEngine(
      model: model, exchange: exchange, dynamics: c.dynamics, initial: c.initial,
      initialVelocity: c.initialVelocity, noise: GaussianField(seed: c.seed, runIndex: UInt64(run.index)),
      bound: c.bound, threads: threads, cacheBudget: cacheBudget)
    let samples = c.diagnostics.sampleSteps(totalSteps: c.steps)
    let snapshots = c.diagnostics.snapshotSteps(totalSteps: c.steps)
    let metrics = c.diagnostics.metrics
    let d = model.dimension
    let widths = metrics.map { $0.width(dimension: d, basins: c.diagnostics.basinCount) }
    var notes = [String]()
    let owned = engine.ownedParticles
    let leader = group.rank == 0
    let hasVelocities = c.dynamics.hasVelocities

    // Resume from the newest valid checkpoint slot, if any.
    var recorded = metrics.map { _ in [Double]() }
    var nextSample = 0, nextSnapshot = 0
    var latestSlot = -1
    var resumedFrom: Int? = nil
    let stamps = try file.checkpointStamps(run: run.id)
    if let best = stamps.indices.filter({ stamps[$0] >= 0 }).max(by: { stamps[$0] < stamps[$1] }) {
      let k = stamps[best]
      let state = try file.readCheckpoint(
        run: run.id, slot: best, firstParticle: owned.lowerBound, rows: owned.count, dimension: d, velocities: hasVelocities)
      engine.restore(positions: state.positions, velocities: state.velocities, step: k)
      nextSample = samples.filter { $0 <= k }.count
      nextSnapshot = snapshots.filter { $0 <= k }.count
      if leader {
        for (i, metric) in metrics.enumerated() {
          recorded[i] = try file.readMetricPrefix(run: run.id, name: metric.rawValue, samples: nextSample, width: widths[i])
        }
      }
      latestSlot = best
      resumedFrom = k
    }
    let firstStep = engine.stepIndex
    // A resumed run's reference PDE starts afresh: replay its sample intervals in order, the
    // same arithmetic as an uninterrupted run's.
    if let pde = context.pde {
      for j in 0..<nextSample {
        do { try pde.advance(to: Double(samples[j]) * c.dynamics.timeStep) } catch let error as MetricError {
          notes.append("reference: \(error)")
          break
        }
      }
    }
    var control = StepControl(group: group, spec: checkpoint, stopFiles: stopFiles)
    var divergence: Divergence? = nil
    var interrupted = false

    func writeCheckpoint(at k: Int) throws {
      let slot = latestSlot == 0 ? 1 : 0
      if leader { try file.writeCheckpointStamp(run: run.id, slot: slot, step: -1) }
      if group.size > 1 { try group.barrier() }
      try engine.withPositions { x in
        try engine.withVelocities { v in
          try file.writeCheckpoint(
            run: run.id, slot: slot, firstParticle: owned.lowerBound, rows: owned.count, dimension: d,
            positions: x, velocities: hasVelocities ? v : nil)
        }
      }
      if group.size > 1 { try group.barrier() }
      if leader {
        for (i, metric) in metrics.enumerated() {
          try file.writeMetric(run: run.id, name: metric.rawValue, values: recorded[i], width: widths[i])
        }
        try file.writeCheckpointStamp(run: run.id, slot: slot, step: k)
        try file.writeStatus(
          slot: self.slot,
          StatusRow(status: .running, stepsDone: k, wallSeconds: earlierWall + MPIEnvironment.wallTime - start,
                    ranks: group.size, divergenceStep: -1, message: ""))
      }
      latestSlot = slot
      control.didCheckpoint()
    }

    while true {
      let k = engine.stepIndex
      if nextSample < samples.count && samples[nextSample] == k {
        let time = Double(k) * c.dynamics.timeStep
        let values = try MetricEvaluator.evaluate(metrics, on: engine, context: context, time: time, notes: &notes)
        for i in metrics.indices { recorded[i] += values[i] }
        if let pde = context.pde {
          do {
            try pde.advance(to: time)
            if leader { try file.writeReference(run: run.id, sample: nextSample, values: pde.snapshot) }
          } catch let error as MetricError {
            notes.append("reference: \(error)")
          }
        }
        nextSample += 1
      }
      if nextSnapshot < snapshots.count && snapshots[nextSnapshot] == k {
        try engine.withPositions { x in
          try file.writeParticles(
            run: run.id, snapshot: nextSnapshot, firstParticle: owned.lowerBound, rows: owned.count,
            dimension: d, values: x)
        }
        nextSnapshot += 1
      }
      if k >= c.steps { break }
      // Spread the reference PDE's interval to the next sample over the steps before it.
      if let pde = context.pde, nextSample > 0, nextSample < samples.count {
        let from = samples[nextSample - 1], to = samples[nextSample]
        do {
          try pde.advance(toward: Double(to) * c.dynamics.timeStep, fraction: Double(k - from) / Double(to - from))
        } catch let error as MetricError {
          notes.append("reference: \(error)")
        }
      }
      let (save, stop) = try control.decide(step: k, startedAt: firstStep)
      if save { try writeCheckpoint(at: k) }
      if stop {
        interrupted = true
        break
      }
      if let diverged = try engine.step() {
        divergence = diverged
        break
      }
      progress?.update(run: run.id, step: engine.stepIndex, of: c.steps)
    }
    if leader {
      for (i, metric) in metrics.enumerated() {
        try file.writeMetric(run: run.id, name: metric.rawValue, values: recorded[i], width: widths[i])
      }
    }
    let wall = earlierWall + MPIEnvironment.wallTime - start
    let finals = metrics.enumerated().map { i, m -> (Metric, [Double]) in
      (m, recorded[i].count >= widths[i] ? Array(recorded[i].suffix(widths[i])) : [])
    }
    let status: RunStatus = interrupted ? .interrupted : divergence == nil ? .completed : .diverged
    var message = divergence?.description ?? ""
    if interrupted { message = "interrupted at step \(engine.stepIndex); checkpointed" }
    var seen = Set<String>()
    let distinct = notes.filter { seen.insert($0).inserted }
    if !distinct.isEmpty { message += (message.isEmpty ? "" : "; ") + "metric notes: " + distinct.joined(separator: "; ") }
    return RunOutcome(
      status: status, stepsDone: engine.stepIndex, wallSeconds: wall, divergence: divergence, message: message,
      finalMetrics: finals, resumedFrom: resumedFrom)
  }
}
