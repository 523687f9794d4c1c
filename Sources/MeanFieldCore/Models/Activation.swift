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

  /// Writes `w[j] · σ'(u)` into `derivative[i]` given the values `t[i] = σ(u)`, with
  /// `j = i mod period`: `1 − t²` (tanh), `t(1 − t)` (sigmoid), `[t > 0]` (ReLU). Computing σ'
  /// from σ lets the drift reuse the activations of the statistic.
  @inlinable
  public func weightedDerivative(
    fromValues t: UnsafePointer<Double>, into derivative: UnsafeMutablePointer<Double>,
    rows: Int, period n: Int, weights w: UnsafePointer<Double>
  ) {
    for i in 0..<rows {
      let tr = t + i &* n, dr = derivative + i &* n
      switch self {
      case .tanh:
        for j in 0..<n {
          let v = tr[j]
          dr[j] = w[j] * (1.0).addingProduct(-v, v)
        }
      case .relu:
        for j in 0..<n { dr[j] = tr[j] > 0 ? w[j] : 0 }
      case .sigmoid:
        for j in 0..<n {
          let v = tr[j]
          dr[j] = w[j] * (v * (1 - v))
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
