import Foundation

/// Underdamped (kinetic) MFLD in phase space (x, v), invariant density
/// `∝ exp(−(|v|²/2 + U(x))/λ)`, with U's gradient `G + 2λ'x` (docs/MATH.md §2), by one of the
/// integrators of ``UnderdampedIntegrator``.
public struct Underdamped: Scheme {
  public var step: Double
  public var temperature: Double
  public var l2: Double
  /// Friction γ > 0.
  public var friction: Double
  public var scheme: UnderdampedIntegrator

  public init(step: Double, temperature: Double, l2: Double, friction: Double, scheme: UnderdampedIntegrator) {
    self.step = step
    self.temperature = temperature
    self.l2 = l2
    self.friction = friction
    self.scheme = scheme
  }

  public static let kinds = ["underdamped"]

  public static func fields(kind: String) -> [SchemeField] {
    [
      .step, .temperature, .l2, .positive("friction", "the friction γ", default: 1),
      SchemeField(
        "scheme", "the integrator", accepts: .choice(UnderdampedIntegrator.allCases.map(\.rawValue)),
        default: .choice(UnderdampedIntegrator.baoab.rawValue)),
    ]
  }

  public init(kind: String, values: [String: SchemeValue]) {
    self.init(
      step: values["step"]!.number, temperature: values["temperature"]!.number, l2: values["l2"]!.number,
      friction: values["friction"]!.number, scheme: UnderdampedIntegrator(rawValue: values["scheme"]!.choice)!)
  }

  public var kind: String { "underdamped" }

  public var values: [(key: String, value: SchemeValue)] {
    [
      ("step", .number(step)), ("temperature", .number(temperature)), ("l2", .number(l2)),
      ("friction", .number(friction)), ("scheme", .choice(scheme.rawValue)),
    ]
  }

  public var timeStep: Double { step }
  public var hasVelocities: Bool { true }

  public func makeIntegrator<Model: MeanFieldModel, Exchange: BlockExchange>(
    for engine: ParticleEngine<Model, Exchange>
  ) -> any Integrator {
    switch scheme {
    case .baoab: return BAOAB(self, engine: engine)
    case .plain: return PlainUnderdamped(self, engine: engine)
    case .symplectic: return SymplecticUnderdamped(self, engine: engine)
    }
  }
}

/// The underdamped integrators (`dynamics.scheme`).
public enum UnderdampedIntegrator: String, Sendable, CaseIterable, Hashable {
  /// BAOAB splitting with the exact Ornstein–Uhlenbeck velocity step (``BAOAB``).
  case baoab
  /// The report's scheme, both updates from time k (``PlainUnderdamped``).
  case plain
  /// Semi-implicit (symplectic) Euler: the velocity first, then the position with the new
  /// velocity (``SymplecticUnderdamped``).
  case symplectic
}
