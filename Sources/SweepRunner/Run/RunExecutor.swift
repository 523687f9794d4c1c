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
  /// Last recorded value of every metric (nil when none was recorded).
  public var finalMetrics: [(Metric, [Double])]
}

/// Runs one grid point on a group of ranks: builds the model and engine, steps, records
/// metrics and snapshots into the task file. Collective over the group.
struct RunExecutor {
  let run: RunSpec
  let group: MPICommunicator
  let file: SweepFile
  let blockSize: Int
  let threads: Int
  let log: (String) -> Void

  func execute() throws -> RunOutcome {
    let c = run.configuration
    switch c.model {
    case .twoLayerNetwork(let net):
      return try simulate(model: Self.makeNetwork(net))
    case .potential(let p):
      return try simulate(model: PotentialSystem(potential: p.potential, interaction: p.interaction, dimension: p.dimension))
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

  func simulate<M: MeanFieldModel>(model: M) throws -> RunOutcome {
    let c = run.configuration
    let start = MPIEnvironment.wallTime
    let layout = BlockLayout(particleCount: c.particles, blockSize: blockSize)
    let exchange = CommunicatorExchange(layout: layout, communicator: group)
    let engine = ParticleEngine(
      model: model, exchange: exchange, dynamics: c.dynamics, initial: c.initial,
      initialVelocity: c.initialVelocity, noise: GaussianField(seed: c.seed, runIndex: UInt64(run.index)), bound: c.bound, threads: threads)
    let samples = c.diagnostics.sampleSteps(totalSteps: c.steps)
    let snapshots = c.diagnostics.snapshotSteps(totalSteps: c.steps)
    let metrics = c.diagnostics.metrics
    let d = model.dimension
    let widths = metrics.map { $0.width(dimension: d) }
    var recorded = metrics.map { _ in [Double]() }
    var nextSample = 0, nextSnapshot = 0
    var divergence: Divergence? = nil
    let leader = group.rank == 0

    while true {
      let k = engine.stepIndex
      if nextSample < samples.count && samples[nextSample] == k {
        let values = try MetricEvaluator.evaluate(metrics, on: engine)
        for i in metrics.indices { recorded[i] += values[i] }
        nextSample += 1
      }
      if nextSnapshot < snapshots.count && snapshots[nextSnapshot] == k {
        let owned = engine.ownedParticles
        try engine.withPositions { x in
          try file.writeParticles(
            run: run.id, snapshot: nextSnapshot, firstParticle: owned.lowerBound, rows: owned.count,
            dimension: d, values: x)
        }
        nextSnapshot += 1
      }
      if k >= c.steps { break }
      if let diverged = try engine.step() {
        divergence = diverged
        break
      }
    }
    if leader {
      for (i, metric) in metrics.enumerated() {
        try file.writeMetric(run: run.id, name: metric.rawValue, values: recorded[i], width: widths[i])
      }
    }
    let wall = MPIEnvironment.wallTime - start
    let finals = metrics.enumerated().map { i, m -> (Metric, [Double]) in
      (m, recorded[i].count >= widths[i] ? Array(recorded[i].suffix(widths[i])) : [])
    }
    return RunOutcome(
      status: divergence == nil ? .completed : .diverged, stepsDone: engine.stepIndex, wallSeconds: wall,
      divergence: divergence, message: divergence?.description ?? "", finalMetrics: finals)
  }
}
