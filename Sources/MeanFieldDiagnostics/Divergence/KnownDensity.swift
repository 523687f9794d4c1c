import Foundation

/// A probability density on R^d known pointwise through its logarithm.
public protocol LogDensity: Sendable {
  /// The dimension d.
  var dimension: Int { get }
  /// `log π(x)` for one point `x` (length ``dimension``).
  func logDensity(at x: UnsafeBufferPointer<Double>) -> Double
}

/// A potential `V : R^d → R`, evaluated at one point.
public protocol ScalarPotential: Sendable {
  /// `V(x)` for one point `x`.
  func value(at x: UnsafeBufferPointer<Double>) -> Double
}

/// The quadratic potential `V(x) = (κ/2)|x|²`; with temperature λ its Gibbs density is
/// `N(0, (λ/κ) I)` and `log Z = (d/2) log(2πλ/κ)`.
public struct QuadraticPotential: ScalarPotential, Hashable {
  /// The stiffness κ > 0.
  public var stiffness: Double

  /// `V(x) = (stiffness/2)|x|²`.
  public init(stiffness: Double = 1) {
    precondition(stiffness > 0, "stiffness must be positive")
    self.stiffness = stiffness
  }

  @inlinable
  public func value(at x: UnsafeBufferPointer<Double>) -> Double {
    var s = 0.0
    for v in x { s += v * v }
    return 0.5 * stiffness * s
  }

  /// The closed-form `log Z = log ∫ exp(−V/λ) = (d/2) log(2πλ/κ)`.
  public func logPartition(temperature: Double, dimension d: Int) -> Double {
    0.5 * Double(d) * Foundation.log(2 * Double.pi * temperature / stiffness)
  }
}

/// A potential given by a function (e.g. a double well or a tabulated landscape).
public struct FunctionPotential: ScalarPotential {
  /// `V(x)`.
  public let function: @Sendable (UnsafeBufferPointer<Double>) -> Double

  /// Wraps `function` as a potential.
  public init(_ function: @escaping @Sendable (UnsafeBufferPointer<Double>) -> Double) {
    self.function = function
  }

  @inlinable
  public func value(at x: UnsafeBufferPointer<Double>) -> Double { function(x) }
}

/// The Gibbs density `π(x) = exp(−V(x)/λ) / Z` on R^d, with `log Z` supplied (closed form,
/// or ``GibbsQuadrature/logPartition(of:temperature:over:intervals:)`` for d ≤ 2).
public struct GibbsDensity<Potential: ScalarPotential>: LogDensity {
  /// V.
  public let potential: Potential
  /// The temperature λ > 0.
  public let temperature: Double
  /// `log Z`.
  public let logPartition: Double
  /// The dimension d.
  public let dimension: Int

  /// `exp(−V/λ − logPartition)` on R^dimension.
  public init(potential: Potential, temperature: Double, dimension: Int, logPartition: Double) {
    precondition(temperature > 0 && temperature.isFinite, "temperature must be positive")
    precondition(dimension >= 1 && logPartition.isFinite)
    self.potential = potential
    self.temperature = temperature
    self.dimension = dimension
    self.logPartition = logPartition
  }

  /// `−V(x)/λ − log Z`.
  @inlinable
  public func logDensity(at x: UnsafeBufferPointer<Double>) -> Double {
    -potential.value(at: x) / temperature - logPartition
  }
}

extension GaussianLaw: LogDensity {}

/// A KL estimate of a sample against a known density.
public struct DensityDivergenceEstimate: Sendable, Hashable {
  /// `KL(μ‖π) = −Ĥ(μ) − (1/n) Σ_i log π(x_i)` in nats.
  public var value: Double
  /// The Kozachenko–Leonenko entropy used.
  public var entropy: EntropyEstimate
  /// `(1/n) Σ_i log π(x_i)`, the cross term.
  public var meanLogDensity: Double

  @usableFromInline
  init(value: Double, entropy: EntropyEstimate, meanLogDensity: Double) {
    self.value = value
    self.entropy = entropy
    self.meanLogDensity = meanLogDensity
  }
}

/// `KL(μ‖π)` from a sample of μ and a density π known pointwise:
///
///     KL(μ‖π) = −H(μ) − E_μ log π ≈ −Ĥ_KL(x) − (1/n) Σ_i log π(x_i)
///
/// with Ĥ the Kozachenko–Leonenko estimate (``differentialEntropy(of:k:options:)``). For a
/// Gibbs target `log π = −V/λ − log Z`. The cross term is an ordinary sample mean (error
/// O(n^{−1/2})); the entropy term carries the kNN bias.
///
/// - Parameters:
///   - sample: equally weighted points of μ.
///   - density: π (same dimension).
///   - k: neighbour rank of the entropy estimate.
///   - options: neighbour search settings.
/// - Throws: as ``differentialEntropy(of:k:options:)``; ``DivergenceError/nonFinite`` if
///   `log π` is not finite at a sample point.
/// - Complexity: one self k-NN search plus n density evaluations.
@inlinable
public func klDivergence<Density: LogDensity>(
  of sample: PointCloud, relativeTo density: Density, k: Int = 5,
  options: NeighbourSearchOptions = .init()
) throws(DivergenceError) -> DensityDivergenceEstimate {
  precondition(sample.dimension == density.dimension, "dimensions differ")
  let entropy = try differentialEntropy(of: sample, k: k, options: options)
  let n = sample.count, d = sample.dimension
  var sum = 0.0
  sample.values.withUnsafeBufferPointer { x in
    for i in 0..<n {
      sum += density.logDensity(at: UnsafeBufferPointer(rebasing: x[(i * d)..<(i * d + d)]))
    }
  }
  guard sum.isFinite else { throw .nonFinite }
  let mean = sum / Double(n)
  return DensityDivergenceEstimate(value: -entropy.value - mean, entropy: entropy, meanLogDensity: mean)
}
