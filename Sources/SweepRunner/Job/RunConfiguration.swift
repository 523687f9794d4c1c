import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

/// The model of a run, as the job file states it.
public enum ModelSpec: Sendable, Equatable {
  case twoLayerNetwork(NetworkSpec)

  /// The job-file word for the kind.
  public var kind: String {
    switch self {
    case .twoLayerNetwork: return "two-layer-network"
    }
  }
}

/// `model: {kind: two-layer-network, ...}`.
public struct NetworkSpec: Sendable, Equatable {
  public var activation: Activation
  public var loss: Loss
  public var bias: Bool
  public var data: DataSpec
}

/// Where a network's data come from.
public enum DataSpec: Sendable, Equatable {
  case teacher(inputs: Int, samples: Int, teacherWidth: Int, noise: Double, seed: UInt64)

  /// Number of data points n.
  public var samples: Int {
    switch self {
    case .teacher(_, let n, _, _, _): return n
    }
  }

  /// Input dimension p (without bias).
  public var inputs: Int {
    switch self {
    case .teacher(let p, _, _, _, _): return p
    }
  }
}

/// `diagnostics: {every, metrics, snapshots-every}`.
public struct DiagnosticsSpec: Sendable, Equatable {
  /// Metrics are recorded at steps 0, every, 2·every, ... and at the last step.
  public var every: Int
  /// Metrics, in the order given.
  public var metrics: [Metric]
  /// Particle snapshots at steps 0, k, 2k, ... and the last step; nil: the last step only.
  public var snapshotsEvery: Int?

  /// The steps at which metrics are recorded for a run of `steps` steps.
  public func sampleSteps(totalSteps steps: Int) -> [Int] {
    var s = Array(stride(from: 0, through: steps, by: every))
    if s.last != steps { s.append(steps) }
    return s
  }

  /// The steps at which particles are saved.
  public func snapshotSteps(totalSteps steps: Int) -> [Int] {
    guard let k = snapshotsEvery else { return [steps] }
    var s = Array(stride(from: 0, through: steps, by: k))
    if s.last != steps { s.append(steps) }
    return s
  }
}

/// Everything one run needs, decoded from the job file with a grid point applied.
public struct RunConfiguration: Sendable, Equatable {
  /// Seed of the run's noise (the job's `seed`, or the grid's).
  public var seed: UInt64
  public var model: ModelSpec
  public var dynamics: Dynamics
  /// Number of steps.
  public var steps: Int
  /// Number of particles N.
  public var particles: Int
  public var initial: InitialLaw
  public var diagnostics: DiagnosticsSpec
  /// Particles beyond this sup-norm mark the run diverged.
  public var bound: Double

  /// Particle dimension d.
  public var dimension: Int {
    switch model {
    case .twoLayerNetwork(let net): return net.data.inputs + (net.bias ? 1 : 0) + 1
    }
  }

  /// Length of the per-step statistic (for the cost estimate).
  public var statisticLength: Int {
    switch model {
    case .twoLayerNetwork(let net): return net.data.samples
    }
  }

  /// Estimated cost: particles × steps × statistic length × dimension.
  public var cost: Double {
    Double(particles) * Double(steps) * Double(max(1, statisticLength)) * Double(dimension)
  }
}

extension RunConfiguration {
  static let topLevelKeys = [
    "name", "description", "seed", "model", "dynamics", "particles", "init", "diagnostics",
    "sweep", "parallel", "output",
  ]

  /// Decodes a run from the job's (grid-substituted) root mapping.
  static func decode(_ root: MappingReader) throws -> RunConfiguration {
    try root.rejectUnknownKeys(allowed: topLevelKeys)
    let seedValue = try root.optional("seed")?.int(where: { $0 >= 0 }, "a non-negative integer") ?? 0
    let particles = try root.required("particles", "the number of particles")
      .int(where: { $0 >= 1 }, "a positive integer")
    let model = try decodeModel(root.required("model", "a mapping with 'kind'"))
    let (dynamics, steps, bound) = try decodeDynamics(root.required("dynamics", "a mapping with 'kind'"))
    let d: Int
    switch model {
    case .twoLayerNetwork(let net): d = net.data.inputs + (net.bias ? 1 : 0) + 1
    }
    let initial = try decodeInitial(root.optional("init"), dimension: d)
    let diagnostics = try decodeDiagnostics(root.optional("diagnostics"), model: model)
    return RunConfiguration(
      seed: UInt64(seedValue), model: model, dynamics: dynamics, steps: steps, particles: particles,
      initial: initial, diagnostics: diagnostics, bound: bound)
  }

  static func decodeModel(_ cursor: Cursor) throws -> ModelSpec {
    let m = try cursor.mapping(allowed: ["kind", "activation", "loss", "bias", "data"])
    let kind = try m.required("kind", "the model kind").choice(["two-layer-network"])
    switch kind {
    default:
      let activation = Activation(
        rawValue: try m.optional("activation")?.choice(Activation.allCases.map(\.rawValue)) ?? "tanh")!
      let loss = Loss(rawValue: try m.optional("loss")?.choice(Loss.allCases.map(\.rawValue)) ?? "squared")!
      let bias = try m.optional("bias")?.bool() ?? false
      let data = try decodeData(m.required("data", "a mapping with 'kind: teacher'"))
      return .twoLayerNetwork(NetworkSpec(activation: activation, loss: loss, bias: bias, data: data))
    }
  }

  static func decodeData(_ cursor: Cursor) throws -> DataSpec {
    let m = try cursor.mapping(allowed: ["kind", "inputs", "samples", "teacher-width", "noise", "seed"])
    _ = try m.required("kind", "the data kind").choice(["teacher"])
    let inputs = try m.required("inputs", "the input dimension p").int(where: { $0 >= 1 }, "a positive integer")
    let samples = try m.required("samples", "the number of data points").int(where: { $0 >= 1 }, "a positive integer")
    let width = try m.optional("teacher-width")?.int(where: { $0 >= 1 }, "a positive integer") ?? 1
    let noise = try m.optional("noise")?.double(where: { $0 >= 0 }, "a non-negative number") ?? 0
    let seed = try m.optional("seed")?.int(where: { $0 >= 0 }, "a non-negative integer") ?? 0
    return .teacher(inputs: inputs, samples: samples, teacherWidth: width, noise: noise, seed: UInt64(seed))
  }

  static func decodeDynamics(_ cursor: Cursor) throws -> (Dynamics, Int, Double) {
    let m = try cursor.mapping(allowed: ["kind", "step", "steps", "temperature", "l2", "bound"])
    _ = try m.required("kind", "the dynamics kind").choice(["overdamped"])
    let step = try m.required("step", "the step size η").double(where: { $0 > 0 }, "a positive number")
    let steps = try m.required("steps", "the number of steps").int(where: { $0 >= 1 }, "a positive integer")
    let temperature = try m.optional("temperature")?.double(where: { $0 >= 0 }, "a non-negative number") ?? 0
    let l2 = try m.optional("l2")?.double(where: { $0 >= 0 }, "a non-negative number") ?? 0
    let bound = try m.optional("bound")?.double(where: { $0 > 0 }, "a positive number") ?? 1e8
    return (.overdamped(.init(step: step, temperature: temperature, l2: l2)), steps, bound)
  }

  static func decodeInitial(_ cursor: Cursor?, dimension d: Int) throws -> InitialLaw {
    guard let cursor else { return .gaussian(mean: [0], std: [1]) }
    let m = try cursor.mapping(allowed: ["kind", "mean", "std"])
    _ = try m.required("kind", "the initial law").choice(["gaussian"])
    let mean = try m.optional("mean")?.doubles(where: { _ in true }, "a number") ?? [0]
    let std = try m.optional("std")?.doubles(where: { $0 > 0 }, "a positive number") ?? [1]
    for (key, values) in [("mean", mean), ("std", std)] where values.count != 1 && values.count != d {
      throw try m.required(key, "").error("has \(values.count) entries; expected one number or \(d) (the particle dimension)")
    }
    return .gaussian(mean: mean, std: std)
  }

  static func decodeDiagnostics(_ cursor: Cursor?, model: ModelSpec) throws -> DiagnosticsSpec {
    guard let cursor else { return DiagnosticsSpec(every: 10, metrics: [.loss, .secondMoment], snapshotsEvery: nil) }
    let m = try cursor.mapping(allowed: ["every", "metrics", "snapshots-every"])
    let every = try m.optional("every")?.int(where: { $0 >= 1 }, "a positive integer") ?? 10
    var metrics: [Metric] = [.loss, .secondMoment]
    if let list = m.optional("metrics") {
      metrics = []
      for item in try list.sequence() {
        let metric = Metric(rawValue: try item.choice(Metric.allCases.map(\.rawValue)))!
        if metrics.contains(metric) { throw item.error("metric '\(metric.rawValue)' is listed twice") }
        metrics.append(metric)
      }
    }
    let snapshots = try m.optional("snapshots-every")?.int(where: { $0 >= 1 }, "a positive integer")
    return DiagnosticsSpec(every: every, metrics: metrics, snapshotsEvery: snapshots)
  }
}
