/// A time-stepping scheme and its parameters (MATH.md §2–3).
public enum Dynamics: Sendable, Equatable, Hashable {
  /// Overdamped MFLD by Euler–Maruyama:
  ///
  ///     x_{k+1} = x_k − η (G(x_k; ρ_k) + 2λ' x_k) + sqrt(2λη) ξ_k
  ///
  /// λ = 0 is the noise-free mean-field gradient flow.
  case overdamped(Overdamped)

  /// Parameters of the overdamped scheme.
  public struct Overdamped: Sendable, Equatable, Hashable {
    /// Step size η > 0.
    public var step: Double
    /// Temperature (entropy weight) λ ≥ 0.
    public var temperature: Double
    /// L2 weight λ' ≥ 0 (adds `2λ'x` to the drift).
    public var l2: Double

    public init(step: Double, temperature: Double, l2: Double) {
      self.step = step
      self.temperature = temperature
      self.l2 = l2
    }
  }

  /// η, the time step of the scheme.
  public var timeStep: Double {
    switch self {
    case .overdamped(let p): return p.step
    }
  }

  /// λ, the temperature.
  public var temperature: Double {
    switch self {
    case .overdamped(let p): return p.temperature
    }
  }

  /// λ', the L2 weight.
  public var l2: Double {
    switch self {
    case .overdamped(let p): return p.l2
    }
  }
}

/// The law of the initial particles.
public enum InitialLaw: Sendable, Equatable, Hashable {
  /// Independent coordinates `x_c ~ N(mean_c, std_c²)`; a single value applies to every
  /// coordinate.
  case gaussian(mean: [Double], std: [Double])

  /// Draws the rows of particles `first ..< first + rows` (row-major) for a run's noise key.
  /// A particle's initial position depends only on its global index.
  public func fill(
    _ out: UnsafeMutableBufferPointer<Double>, rows: Int, dimension: Int, firstParticle: Int,
    field: GaussianField, stream: RandomStream = .initialPositions
  ) {
    switch self {
    case .gaussian(let mean, let std):
      field.fillNormals(
        out, rows: rows, dimension: dimension, firstParticle: firstParticle, step: 0,
        stream: stream)
      for r in 0..<rows {
        for c in 0..<dimension {
          let m = mean.count == 1 ? mean[0] : mean[c]
          let s = std.count == 1 ? std[0] : std[c]
          out[r * dimension + c] = m + s * out[r * dimension + c]
        }
      }
    }
  }
}
