import Foundation

/// The neuron nonlinearity σ of the two-layer network.
public enum Activation: String, Sendable, CaseIterable, Codable {
  case tanh
  case relu
  case sigmoid

  /// σ(u), scalar reference (libm).
  @inlinable
  public func value(_ u: Double) -> Double {
    switch self {
    case .tanh: return Foundation.tanh(u)
    case .relu: return max(u, 0)
    case .sigmoid: return 1 / (1 + Foundation.exp(-u))
    }
  }

  /// σ'(u), scalar reference (libm).
  @inlinable
  public func derivative(_ u: Double) -> Double {
    switch self {
    case .tanh:
      let t = Foundation.tanh(u)
      return 1 - t * t
    case .relu: return u > 0 ? 1 : 0
    case .sigmoid:
      let s = 1 / (1 + Foundation.exp(-u))
      return s * (1 - s)
    }
  }

  /// Replaces `u[i]` by σ(u[i]) for `count` values (the engine's vectorised path).
  @inlinable
  public func apply(_ u: UnsafeMutablePointer<Double>, count: Int) {
    switch self {
    case .tanh: for i in 0..<count { u[i] = FastMath.tanh(u[i]) }
    case .relu: for i in 0..<count { u[i] = max(u[i], 0) }
    case .sigmoid: for i in 0..<count { u[i] = FastMath.sigmoid(u[i]) }
    }
  }

  /// Replaces `u[i]` by σ(u[i]) and writes `scale[j] · σ'(u[i])` into `derivative[i]`, where
  /// `j = i mod period` (the derivative weighted by the field of data point j).
  @inlinable
  public func applyWithWeightedDerivative(
    _ u: UnsafeMutablePointer<Double>, derivative: UnsafeMutablePointer<Double>,
    rows: Int, period n: Int, weights w: UnsafePointer<Double>
  ) {
    for i in 0..<rows {
      let ur = u + i * n, dr = derivative + i * n
      switch self {
      case .tanh:
        for j in 0..<n {
          let t = FastMath.tanh(ur[j])
          ur[j] = t
          dr[j] = w[j] * (1 - t * t)
        }
      case .relu:
        for j in 0..<n {
          let v = ur[j]
          ur[j] = max(v, 0)
          dr[j] = v > 0 ? w[j] : 0
        }
      case .sigmoid:
        for j in 0..<n {
          let s = FastMath.sigmoid(ur[j])
          ur[j] = s
          dr[j] = w[j] * (s * (1 - s))
        }
      }
    }
  }
}

/// The data-fitting loss ℓ(f, y) of the network, `F0(μ) = (1/n) Σ_j ℓ(f(z_j; μ), y_j)`.
public enum Loss: String, Sendable, CaseIterable, Codable {
  /// `ℓ(f, y) = (f - y)² / 2`.
  case squared
  /// `ℓ(f, y) = log(1 + e^{-y f})` for labels `y ∈ {-1, +1}`.
  case logistic

  /// ℓ(f, y).
  @inlinable
  public func value(prediction f: Double, label y: Double) -> Double {
    switch self {
    case .squared:
      let r = f - y
      return 0.5 * r * r
    case .logistic:
      let m = -y * f
      // log(1 + e^m) without overflow.
      return m > 0 ? m + Foundation.log1p(Foundation.exp(-m)) : Foundation.log1p(Foundation.exp(m))
    }
  }

  /// ∂ℓ/∂f (f, y).
  @inlinable
  public func derivative(prediction f: Double, label y: Double) -> Double {
    switch self {
    case .squared: return f - y
    case .logistic:
      let m = y * f
      // -y σ(-y f) computed stably.
      if m >= 0 {
        let e = Foundation.exp(-m)
        return -y * e / (1 + e)
      } else {
        return -y / (1 + Foundation.exp(m))
      }
    }
  }
}
