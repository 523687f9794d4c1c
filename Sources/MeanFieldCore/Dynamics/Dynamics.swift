/// A time-stepping scheme and its parameters (docs/MATH.md §2).
public enum Dynamics: Sendable, Equatable, Hashable {
  /// Overdamped MFLD by Euler–Maruyama:
  ///
  ///     x_{k+1} = x_k − η (G(x_k; ρ_k) + 2λ' x_k) + sqrt(2λη) ξ_k
  ///
  /// λ = 0 is the noise-free mean-field gradient flow.
  case overdamped(Overdamped)

  /// Underdamped (kinetic) MFLD in phase space (x, v), invariant density
  /// `∝ exp(−(|v|²/2 + U(x))/λ)`, with U's gradient `G + 2λ'x`.
  case underdamped(Underdamped)

  /// Particle JKO (minimising movement) steps of size τ, solved to a stated tolerance.
  case jko(JKO)

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

  /// The two underdamped integrators.
  public enum UnderdampedScheme: String, Sendable, CaseIterable, Hashable {
    /// The plain kinetic scheme (docs/MATH.md §2), both updates from time k:
    ///
    ///     x_{k+1} = x_k + η v_k
    ///     v_{k+1} = (1 − γη) v_k − η ∇U(x_k) + sqrt(2γλη) ξ_k
    case plain
    /// BAOAB splitting (Leimkuhler–Matthews) with the exact Ornstein–Uhlenbeck velocity step:
    ///
    ///     v ← v − (η/2)∇U(x);  x ← x + (η/2)v;
    ///     v ← e^{−γη} v + sqrt(λ(1 − e^{−2γη})) ξ;
    ///     x ← x + (η/2)v;  v ← v − (η/2)∇U(x)
    ///
    /// one force evaluation per step.
    case baoab
  }

  /// Parameters of the underdamped schemes.
  public struct Underdamped: Sendable, Equatable, Hashable {
    public var step: Double
    public var temperature: Double
    public var l2: Double
    /// Friction γ > 0.
    public var friction: Double
    public var scheme: UnderdampedScheme

    public init(step: Double, temperature: Double, l2: Double, friction: Double, scheme: UnderdampedScheme) {
      self.step = step
      self.temperature = temperature
      self.l2 = l2
      self.friction = friction
      self.scheme = scheme
    }
  }

  /// Parameters of the particle JKO scheme.
  ///
  ///     x^{k+1} = argmin_x  N·F(ρ_x) + λ N·Ent_ε(ρ_x) + λ' Σ|x_i|² + (1/2τ) Σ_i |x_i − x_i^k|²
  ///
  /// with the blob entropy `Ent_ε(ρ) = (1/N) Σ_i log((1/N) Σ_j K_ε(x_i − x_j))`, K_ε the
  /// Gaussian of standard deviation ε (Carrillo, Craig, Patacchini 2019). Solved by the damped
  /// fixed-point (gradient) iteration `x ← x − θτ ∇Φ(x)` from `x = x^k` until the RMS of
  /// `∇Φ` is at most `tolerance`, or `maxIterations`.
  public struct JKO: Sendable, Equatable, Hashable {
    /// τ > 0.
    public var step: Double
    public var temperature: Double
    public var l2: Double
    /// ε > 0, the blob width (used when λ > 0).
    public var blob: Double
    public var tolerance: Double
    public var maxIterations: Int
    /// θ ∈ (0, 1], the damping of the inner iteration.
    public var damping: Double

    public init(
      step: Double, temperature: Double, l2: Double, blob: Double, tolerance: Double,
      maxIterations: Int, damping: Double
    ) {
      self.step = step
      self.temperature = temperature
      self.l2 = l2
      self.blob = blob
      self.tolerance = tolerance
      self.maxIterations = maxIterations
      self.damping = damping
    }
  }

  /// The time step (η or τ).
  public var timeStep: Double {
    switch self {
    case .overdamped(let p): return p.step
    case .underdamped(let p): return p.step
    case .jko(let p): return p.step
    }
  }

  /// λ, the temperature.
  public var temperature: Double {
    switch self {
    case .overdamped(let p): return p.temperature
    case .underdamped(let p): return p.temperature
    case .jko(let p): return p.temperature
    }
  }

  /// λ', the L2 weight.
  public var l2: Double {
    switch self {
    case .overdamped(let p): return p.l2
    case .underdamped(let p): return p.l2
    case .jko(let p): return p.l2
    }
  }

  /// Whether the scheme carries velocities.
  public var hasVelocities: Bool {
    if case .underdamped = self { return true }
    return false
  }
}

/// The law of the initial particles (or velocities).
public enum InitialLaw: Sendable, Equatable, Hashable {
  /// Independent coordinates `x_c ~ N(mean_c, std_c²)`; a single value applies to every
  /// coordinate.
  case gaussian(mean: [Double], std: [Double])
  /// Independent coordinates uniform on `[lower_c, upper_c]` (single values broadcast).
  case uniform(lower: [Double], upper: [Double])
  /// Given points, `N × d` row-major (from a file).
  case points([Double])
  /// All zero.
  case zero

  /// Draws the rows of particles `first ..< first + rows` (row-major). A particle's initial
  /// position depends only on its global index.
  public func fill(
    _ out: UnsafeMutableBufferPointer<Double>, rows: Int, dimension: Int, firstParticle: Int,
    field: GaussianField, stream: RandomStream = .initialPositions
  ) {
    func pick(_ v: [Double], _ c: Int) -> Double { v.count == 1 ? v[0] : v[c] }
    switch self {
    case .gaussian(let mean, let std):
      field.fillNormals(
        out, rows: rows, dimension: dimension, firstParticle: firstParticle, step: 0, stream: stream)
      for r in 0..<rows {
        for c in 0..<dimension {
          out[r * dimension + c] = pick(mean, c) + pick(std, c) * out[r * dimension + c]
        }
      }
    case .uniform(let lower, let upper):
      for r in 0..<rows {
        for m in 0..<((dimension + 1) / 2) {
          let (u0, u1) = field.uniformPair(
            stream: stream, step: 0, particle: UInt64(firstParticle + r), pair: UInt32(m))
          for (k, u) in [(2 * m, u0), (2 * m + 1, u1)] where k < dimension {
            // u ∈ (0, 1]; map to [lower, upper].
            out[r * dimension + k] = pick(upper, k) - (pick(upper, k) - pick(lower, k)) * (1 - u)
          }
        }
      }
    case .points(let values):
      precondition(values.count >= (firstParticle + rows) * dimension, "not enough initial points")
      for i in 0..<(rows * dimension) { out[i] = values[firstParticle * dimension + i] }
    case .zero:
      for i in 0..<(rows * dimension) { out[i] = 0 }
    }
  }
}
