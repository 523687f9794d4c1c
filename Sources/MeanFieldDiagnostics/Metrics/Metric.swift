import Foundation
import MeanFieldCore

/// A named diagnostic a job can request, recorded over time.
public enum Metric: String, Sendable, CaseIterable {
  /// `F0(μ)`: the model's objective without the L2 and entropy terms (for the network, the
  /// training loss `(1/n) Σ_j ℓ(f(z_j; μ), y_j)`).
  case loss
  /// `E_μ |x|²`.
  case secondMoment = "second-moment"
  /// `E_μ x` (d numbers).
  case mean
  /// Kozachenko–Leonenko entropy `Ĥ(μ)` of the particles (nats).
  case entropy
  /// `L(μ) = F0(μ) + λ' E|x|² − λ Ĥ(μ)` (the entropy-regularised objective, Ent = −H).
  case freeEnergy = "free-energy"
  /// Wasserstein-2 distance to the reference point set (`diagnostics.reference`).
  case w2ToReference = "w2-to-reference"
  /// kNN KL divergence `KL(μ ‖ reference)` (Wang–Kulkarni–Verdú).
  case klToReference = "kl-to-reference"
  /// `KL(μ ‖ exp(−(V + λ'|x|²)/λ)/Z)` for potential systems (Z in closed form or by quadrature).
  case klToGibbs = "kl-to-gibbs"
  /// Closed-form W2 between the Gaussian with the particles' mean and covariance and the
  /// reference Gaussian (`diagnostics.gaussian`, by default the Gibbs law of a quadratic V).
  case w2ToGaussian = "w2-to-gaussian"
  /// Mass in the basin of attraction of each minimum of V (one number per minimum).
  case basinMass = "basin-mass"
  /// `Σ_i f(w_i) μ(P_i)` over the basins (weights `diagnostics.duy-weights`, default V(w_i)).
  case duyIntegral = "duy-integral"
  /// RMS `‖K_m − K∞‖_F / n` of the ReLU network's tangent kernel (1/√m scaling) on the data.
  case ntkDiscrepancy = "ntk-discrepancy"
  /// L1 distance between the particles' histogram and the reference PDE density on its grid
  /// (the position marginal for the kinetic equation).
  case l1ToPDE = "l1-to-pde"
  /// 1-D W2 between the particles' first coordinate and the PDE's position marginal.
  case w2ToPDEMarginal = "w2-to-pde-marginal"
  /// L1 distance between the particles' (x, v) histogram and the kinetic PDE's density.
  case l1ToPDEPhaseSpace = "l1-to-pde-phase-space"
  /// Inner iterations of the last particle-JKO step (NaN for other schemes and at step 0).
  case jkoIterations = "jko-iterations"
  /// RMS gradient of the proximal objective at the last JKO step's solution.
  case jkoResidual = "jko-residual"
  /// Fraction of the particles whose MALA proposal was accepted in the last step.
  case acceptanceRate = "acceptance-rate"
  /// The energy dissipation ∫|∇ δF/δμ|² dμ of the free energy (the rate at which the
  /// gradient flow decreases it).
  case dissipation
  /// RMS distance of the particles from their own initial positions.
  case displacement
  /// E x₁ and E x₁² of the reference PDE's position marginal.
  case pdeMean = "pde-mean"
  case pdeSecondMoment = "pde-second-moment"
  /// The Hopf–Cole value −2λ log((1/N)Σ e^{−g(x_i)/2λ}) of the viscous Hamilton–Jacobi equation.
  case hopfCole = "hopf-cole"

  /// Numbers recorded per sample (1 for scalars).
  public func width(dimension: Int, basins: Int = 0) -> Int {
    switch self {
    case .mean: return dimension
    case .basinMass: return max(1, basins)
    default: return 1
    }
  }
}

/// The component axis of a vector-valued metric.
public enum MetricAxis: String, Sendable, CaseIterable {
  /// One number per sample.
  case scalar = ""
  /// One number per coordinate x1 … xd.
  case coordinate
  /// One number per minimum of V (labelled by the minimum).
  case basin
}

/// A statistic of a metric's time series, reported per run by `aggregate`.
public enum SummaryStatistic: Sendable, Hashable, CustomStringConvertible {
  /// The last recorded value.
  case final
  case min
  case max
  /// The mean of the last k recorded values.
  case meanOfLast(Int)

  public var description: String {
    switch self {
    case .final: return "final"
    case .min: return "min"
    case .max: return "max"
    case .meanOfLast(let k): return "mean-last-\(k)"
    }
  }

  /// Parses `final`, `min`, `max`, `mean-last-K`.
  public init?(_ text: String) {
    switch text {
    case "final": self = .final
    case "min": self = .min
    case "max": self = .max
    default:
      guard text.hasPrefix("mean-last-"), let k = Int(text.dropFirst("mean-last-".count)), k >= 1 else { return nil }
      self = .meanOfLast(k)
    }
  }

  /// The statistic of a series (NaN values skipped); NaN when nothing was recorded.
  public func apply(_ series: [Double]) -> Double {
    let values = series.filter { !$0.isNaN }
    guard !values.isEmpty else { return .nan }
    switch self {
    case .final: return values.last!
    case .min: return values.min()!
    case .max: return values.max()!
    case .meanOfLast(let k):
      let tail = values.suffix(k)
      return tail.reduce(0, +) / Double(tail.count)
    }
  }

  /// The variable-name suffix (`loss_final`, `loss_mean_last_5`).
  public var suffix: String { description.replacingOccurrences(of: "-", with: "_") }
}

/// What a metric needs from the job, checked when the job is read.
public enum MetricRequirement: String, Sendable, CaseIterable {
  /// `model.kind: potential`.
  case potentialModel = "a potential model"
  /// A two-layer network with ReLU activation.
  case reluNetwork = "a two-layer-network with activation relu"
  /// `diagnostics.reference-sample`.
  case referenceSample = "diagnostics.reference-sample"
  /// A `reference` PDE block.
  case referencePDE = "a reference PDE"
  /// More particles (up to the sample limit) than `diagnostics.neighbours`.
  case neighbours = "more particles than diagnostics.neighbours"
  /// A Gibbs law with a computable normaliser (quadratic V, or d ≤ 2 by quadrature).
  case gibbsLaw = "a Gibbs law: quadratic V, or d ≤ 2 (quadrature)"
  /// A reference Gaussian (`diagnostics.gaussian`, or the Gibbs law of a quadratic V at λ > 0).
  case gaussian = "diagnostics.gaussian or a quadratic V at λ > 0"
  /// Isolated minima of V.
  case minima = "isolated minima of V"
  /// `diagnostics.terminal` (hopf-cole's terminal cost) and λ > 0.
  case terminal = "diagnostics.terminal and λ > 0"
  /// A V whose Laplacian is known in closed form (not a table).
  case laplacian = "a V with a closed-form Laplacian (not tabulated)"
}

/// How a metric is computed on a split ensemble.
public enum MetricEvaluation: String, Sendable {
  /// An exact reduction over particle blocks (bitwise the same on any rank count).
  case reduction = "reduction over all particles"
  /// Exact order statistics of all particles across ranks.
  case orderStatistics = "order statistics of all particles"
  /// An estimator on the gathered sample (all particles up to the sample limit).
  case sample = "estimator on the gathered sample"
  /// A closed form of the particles' moments.
  case moments = "closed form of the moments"
  /// Read from the scheme's state.
  case scheme = "state of the scheme"
}

/// A metric's definition: one place that names it, describes it, gives its units, component
/// axis, requirements, evaluation and default summary statistics. The output files' labels,
/// units and descriptions, the README's metric table and the summaries all come from here.
public struct MetricDefinition: Sendable {
  public var metric: Metric
  public var longName: String
  /// Units of the value (`nats`, `1` for a pure number, empty where the model's units apply).
  public var units: String
  /// The value per sample, as the README states it.
  public var description: String
  public var axis: MetricAxis
  public var needs: [MetricRequirement]
  public var evaluation: MetricEvaluation
  /// The statistics `aggregate` reports when `diagnostics.summary` does not say.
  public var summaries: [SummaryStatistic]
}

extension Metric {
  /// The metric's definition.
  public var definition: MetricDefinition {
    func d(
      _ longName: String, _ units: String, _ description: String, axis: MetricAxis = .scalar,
      needs: [MetricRequirement] = [], _ evaluation: MetricEvaluation, _ summaries: [SummaryStatistic]
    ) -> MetricDefinition {
      MetricDefinition(
        metric: self, longName: longName, units: units, description: description, axis: axis, needs: needs,
        evaluation: evaluation, summaries: summaries)
    }
    switch self {
    case .loss:
      return d(
        "loss F0(μ)", "", "F0(μ): the data loss (1/n)Σ ℓ(f(z_j; μ), y_j) for the network, E V + ½ E W for potentials",
        .reduction, [.final, .min])
    case .secondMoment:
      return d("second moment", "", "E|x|², the mean squared norm of the particles", .reduction, [.final])
    case .mean:
      return d(
        "mean", "", "E x, the mean particle (one number per coordinate)", axis: .coordinate, .reduction, [.final])
    case .entropy:
      return d(
        "entropy", "nats", "Kozachenko–Leonenko entropy estimate Ĥ(μ) of the particles", needs: [.neighbours], .sample,
        [.final])
    case .freeEnergy:
      return d(
        "free energy", "", "F0 + λ'E|x|² − λĤ, the entropy-regularised objective", needs: [.neighbours], .sample,
        [.final, .min])
    case .w2ToReference:
      return d(
        "W2 to the reference sample", "", "W2 distance to diagnostics.reference-sample", needs: [.referenceSample],
        .sample, [.final, .min])
    case .klToReference:
      return d(
        "KL to the reference sample", "nats", "kNN KL divergence KL(μ ‖ reference) (Wang–Kulkarni–Verdú)",
        needs: [.referenceSample, .neighbours], .sample, [.final, .min])
    case .klToGibbs:
      return d(
        "KL to the Gibbs law", "nats",
        "KL(μ ‖ exp(−(V + λ'|x|²)/λ)/Z); Z in closed form (quadratic V) or by quadrature (d ≤ 2)",
        needs: [.potentialModel, .gibbsLaw, .neighbours], .sample, [.final, .min])
    case .w2ToGaussian:
      return d(
        "W2 to the reference Gaussian", "",
        "closed-form W2 between N(mean, covariance of the particles) and the reference Gaussian", needs: [.gaussian],
        .moments, [.final, .min])
    case .basinMass:
      return d(
        "basin mass", "1", "mass in the basin of attraction of each minimum of V (noise-free flow from each particle)",
        axis: .basin, needs: [.potentialModel, .minima], .reduction, [.final])
    case .duyIntegral:
      return d(
        "Duy integral", "",
        "Σ_i f(w_i) μ(P_i) over the basins (weights diagnostics.duy-weights, default V at each minimum)",
        needs: [.potentialModel, .minima], .reduction, [.final])
    case .ntkDiscrepancy:
      return d(
        "NTK discrepancy", "", "RMS ‖K_m − K∞‖_F / n of the ReLU network's tangent kernel (1/√m scaling) on the data",
        needs: [.reluNetwork], .sample, [.final])
    case .l1ToPDE:
      return d(
        "L1 to the reference PDE", "1",
        "L1 distance between the particles' histogram and the reference PDE density on its grid (position marginal for the kinetic equation), plus the mass of particles outside the grid",
        needs: [.referencePDE], .reduction, [.final, .max])
    case .l1ToPDEPhaseSpace:
      return d(
        "L1 to the PDE in phase space", "1",
        "L1 distance between the particles' (x, v) histogram and the kinetic Fokker–Planck density on its x × v grid, cells merged in pairs per axis while 32 or more (an even count) remain, plus the mass of particles outside the grid",
        needs: [.referencePDE], .reduction, [.final, .max])
    case .w2ToPDEMarginal:
      return d(
        "W2 to the PDE marginal", "",
        "1-D W2 between the first coordinate and the PDE's position marginal (density constant per cell)",
        needs: [.referencePDE], .orderStatistics, [.final, .max])
    case .jkoIterations:
      return d("JKO iterations", "1", "inner iterations of the last particle-JKO step", .scheme, [.max])
    case .jkoResidual:
      return d("JKO residual", "", "RMS gradient of the proximal objective after the last JKO step", .scheme, [.max])
    case .acceptanceRate:
      return d(
        "acceptance rate", "1", "fraction of the MALA proposals accepted in the last step", .scheme,
        [.meanOfLast(10), .final])
    case .dissipation:
      return d(
        "energy dissipation", "",
        "∫|∇δF/δμ|² dμ = E|G|² − 2λ E div G + λ² I, G = ∇V + ∇W∗μ + 2λ'x; the Fisher information I = tr Σ̂⁻¹ of the particles' Gaussian fit (exact for Gaussian laws)",
        needs: [.potentialModel, .laplacian], .reduction, [.final])
    case .pdeMean:
      return d(
        "mean of the PDE marginal", "", "E x₁ of the reference PDE's position marginal (density constant per cell)",
        needs: [.referencePDE], .scheme, [.final])
    case .pdeSecondMoment:
      return d(
        "second moment of the PDE marginal", "",
        "E x₁² of the reference PDE's position marginal (density constant per cell: Σ m_i (c_i² + h²/12))",
        needs: [.referencePDE], .scheme, [.final])
    case .displacement:
      return d(
        "displacement from the start", "",
        "sqrt((1/N)Σ|x_i(t) − x_i(0)|²): how far the particles moved (an upper bound of W2(μ_t, μ_0)); lazy training keeps it near 0",
        .reduction, [.final])
    case .hopfCole:
      return d(
        "Hopf–Cole value", "",
        "−2λ log((1/N)Σ exp(−g(x_i)/2λ)), g = diagnostics.terminal: for particles diffusing from x₀ (no potential) the Monte Carlo value u(x₀, t) of u_t + ½|∇u|² = λΔu, u(·, 0) = g",
        needs: [.terminal], .reduction, [.final])
    }
  }
}
