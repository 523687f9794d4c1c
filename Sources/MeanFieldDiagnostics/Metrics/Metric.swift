import MeanFieldCore

/// A named diagnostic a job can request, recorded over time.
public enum Metric: String, Sendable, CaseIterable {
  /// `F0(μ)`: the model's objective without the L2 and entropy terms (for the network, the
  /// training loss `(1/n) Σ_j ℓ(f(z_j; μ), y_j)`).
  case loss
  /// `E_μ |x|²`.
  case secondMoment = "second-moment"
  /// Inner iterations of the last particle-JKO step (NaN for other schemes and at step 0).
  case jkoIterations = "jko-iterations"
  /// RMS gradient of the proximal objective at the last JKO step's solution.
  case jkoResidual = "jko-residual"

  /// What it measures, for the README and `mfsweep validate`.
  public var meaning: String {
    switch self {
    case .loss: return "F0(μ), the model objective without the L2 and entropy terms"
    case .secondMoment: return "E_μ|x|², the mean squared norm of the particles"
    case .jkoIterations: return "inner iterations of the last JKO step"
    case .jkoResidual: return "RMS gradient of the proximal objective after the last JKO step"
    }
  }

  /// Numbers recorded per sample (1 for scalars).
  public func width(dimension: Int) -> Int {
    switch self {
    case .loss, .secondMoment, .jkoIterations, .jkoResidual: return 1
    }
  }
}

/// Evaluates metrics on a (possibly distributed) ensemble. Collective: every process that
/// holds part of the run calls it in the same order, and all receive the same values.
public enum MetricEvaluator {
  /// The values of `metrics` at the engine's current state, one array per metric.
  public static func evaluate<M: MeanFieldModel, E: BlockExchange>(
    _ metrics: [Metric], on engine: ParticleEngine<M, E>
  ) throws -> [[Double]] {
    var out = [[Double]]()
    out.reserveCapacity(metrics.count)
    for metric in metrics {
      switch metric {
      case .loss:
        out.append([try engine.modelEnergy()])
      case .secondMoment:
        let d = engine.model.dimension
        let n = Double(engine.exchange.layout.particleCount)
        let s = try engine.orderedReduce(length: 1) { _, x, rows, _, partial in
          var sum = 0.0
          for i in 0..<(rows * d) { sum += x[i] * x[i] }
          partial[0] = sum
        }
        out.append([s[0] / n])
      case .jkoIterations:
        out.append([engine.lastProximal.map { Double($0.iterations) } ?? .nan])
      case .jkoResidual:
        out.append([engine.lastProximal?.residual ?? .nan])
      }
    }
    return out
  }
}
