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
  /// Inner iterations of the last particle-JKO step (NaN for other schemes and at step 0).
  case jkoIterations = "jko-iterations"
  /// RMS gradient of the proximal objective at the last JKO step's solution.
  case jkoResidual = "jko-residual"

  /// What it measures, for the README and messages.
  public var meaning: String {
    switch self {
    case .loss: return "F0(μ), the model objective without the L2 and entropy terms"
    case .secondMoment: return "E_μ|x|², the mean squared norm of the particles"
    case .mean: return "E_μ x, the mean particle (d numbers)"
    case .entropy: return "Kozachenko–Leonenko entropy estimate of the particles (nats)"
    case .freeEnergy: return "F0 + λ'E|x|² − λĤ, the entropy-regularised objective"
    case .w2ToReference: return "W2 distance to the reference point set"
    case .klToReference: return "kNN KL divergence to the reference point set (nats)"
    case .klToGibbs: return "KL divergence to exp(−(V + λ'|x|²)/λ)/Z (nats)"
    case .w2ToGaussian: return "W2 between the particles' Gaussian fit and the reference Gaussian"
    case .basinMass: return "mass in the basin of each minimum of V"
    case .duyIntegral: return "Σ_i f(w_i) μ(P_i) over the basins"
    case .ntkDiscrepancy: return "RMS ‖K_m − K∞‖_F / n of the ReLU tangent kernel"
    case .l1ToPDE: return "L1 distance of the particle histogram to the reference PDE density"
    case .w2ToPDEMarginal: return "1-D W2 of the first coordinate to the PDE position marginal"
    case .jkoIterations: return "inner iterations of the last JKO step"
    case .jkoResidual: return "RMS gradient of the proximal objective after the last JKO step"
    }
  }

  /// Numbers recorded per sample (1 for scalars).
  public func width(dimension: Int, basins: Int = 0) -> Int {
    switch self {
    case .mean: return dimension
    case .basinMass: return max(1, basins)
    default: return 1
    }
  }
}
