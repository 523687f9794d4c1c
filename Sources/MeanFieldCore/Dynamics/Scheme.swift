import Foundation

/// A value of a scheme parameter, as the job file gives it.
public enum SchemeValue: Sendable, Hashable, CustomStringConvertible {
  case number(Double)
  case integer(Int)
  case choice(String)

  public var number: Double {
    switch self {
    case .number(let v): return v
    case .integer(let i): return Double(i)
    case .choice: return .nan
    }
  }

  public var integer: Int {
    switch self {
    case .integer(let i): return i
    case .number(let v): return Int(v)
    case .choice: return 0
    }
  }

  public var choice: String {
    if case .choice(let s) = self { return s }
    return description
  }

  public var description: String {
    switch self {
    case .number(let v): return "\(v)"
    case .integer(let i): return String(i)
    case .choice(let s): return s
    }
  }
}

/// A parameter a scheme takes from the job file: its key, what it means, what it accepts and its
/// default. The job decoder reads every scheme through these declarations, so a scheme's file
/// is the only place that states its parameters.
public struct SchemeField: Sendable {
  /// What a field accepts.
  public enum Accepts: Sendable {
    /// A number `v` with `isValid(v)`; `requirement` says which ("a positive number").
    case number(requirement: String, isValid: @Sendable (Double) -> Bool)
    /// An integer.
    case integer(requirement: String, isValid: @Sendable (Int) -> Bool)
    /// One of the words.
    case choice([String])
  }

  public var key: String
  public var meaning: String
  public var accepts: Accepts
  /// The value when the job file does not give one; nil: required.
  public var defaultValue: SchemeValue?

  public init(_ key: String, _ meaning: String, accepts: Accepts, default defaultValue: SchemeValue?) {
    self.key = key
    self.meaning = meaning
    self.accepts = accepts
    self.defaultValue = defaultValue
  }

  /// A positive number.
  public static func positive(_ key: String, _ meaning: String, default value: Double? = nil) -> SchemeField {
    SchemeField(
      key, meaning, accepts: .number(requirement: "a positive number", isValid: { $0 > 0 && $0.isFinite }),
      default: value.map(SchemeValue.number))
  }

  /// A non-negative number.
  public static func nonNegative(_ key: String, _ meaning: String, default value: Double? = 0) -> SchemeField {
    SchemeField(
      key, meaning, accepts: .number(requirement: "a non-negative number", isValid: { $0 >= 0 && $0.isFinite }),
      default: value.map(SchemeValue.number))
  }

  /// The step size every scheme takes.
  public static let step = positive("step", "the step size η (τ for JKO)")
  /// The temperature λ.
  public static let temperature = nonNegative("temperature", "the temperature λ")
  /// The L2 weight λ'.
  public static let l2 = nonNegative("l2", "the L2 weight λ' (adds 2λ'x to the drift)")
}

/// A time-stepping scheme: its parameters, as the job file states them, and how it moves the
/// particles of an engine.
///
/// A new scheme is one file holding a type that conforms to this protocol (its parameters,
/// their declaration in ``fields``, and its ``Integrator``), plus its line in ``Dynamics/schemes``.
public protocol Scheme: Sendable, Hashable {
  /// The `dynamics.kind` words of the job file that select this scheme.
  static var kinds: [String] { get }
  /// The parameters the job file may give (besides `kind`, `steps` and `bound`).
  static func fields(kind: String) -> [SchemeField]
  /// The scheme from validated values, one per field of ``fields(kind:)``.
  init(kind: String, values: [String: SchemeValue])
  /// The kind word and the value of every field (the run's settings, in field order).
  var kind: String { get }
  var values: [(key: String, value: SchemeValue)] { get }

  /// η (τ for JKO): physical time per step.
  var timeStep: Double { get }
  /// λ.
  var temperature: Double { get }
  /// λ'.
  var l2: Double { get }
  /// Whether the state has velocities.
  var hasVelocities: Bool { get }
  /// Whether a step needs every particle's position (beyond what the model needs).
  var needsAllPositions: Bool { get }

  /// The integrator that moves `engine`'s particles by this scheme.
  func makeIntegrator<Model: MeanFieldModel, Exchange: BlockExchange>(
    for engine: ParticleEngine<Model, Exchange>
  ) -> any Integrator
}

extension Scheme {
  public var needsAllPositions: Bool { false }
  public var hasVelocities: Bool { false }
}

/// What a scheme reports about its last step, for the metrics.
public struct SchemeReport: Sendable, Equatable {
  /// The inner solve of the last JKO step.
  public var proximal: ProximalReport?
  /// Accepted proposals / proposals, over the particles of the last step (MALA).
  public var acceptance: Double?

  public init(proximal: ProximalReport? = nil, acceptance: Double? = nil) {
    self.proximal = proximal
    self.acceptance = acceptance
  }
}

/// Moves an engine's particles one step at a time. Made once per run by its ``Scheme``;
/// holds the scheme's buffers and per-block kernels (no allocation in a step).
public protocol Integrator: AnyObject {
  /// Advances the state from step k to k + 1 (the engine counts the step when this returns
  /// nil). Returns a divergence detected on the state, which is then left unchanged.
  func step() throws -> Divergence?
  /// The state was replaced (a resume): drop anything cached from the old state.
  func stateChanged()
  /// What the last step reports.
  var report: SchemeReport { get }
}

/// The scheme of a run.
public struct Dynamics: Sendable, Hashable, CustomStringConvertible {
  /// The scheme's parameters.
  public let scheme: any Scheme
  private nonisolated(unsafe) let identity: AnyHashable

  public init(_ scheme: some Scheme) {
    self.scheme = scheme
    identity = AnyHashable(scheme)
  }

  /// Every scheme, each known by its `dynamics.kind` words. A new scheme is added here.
  public static let schemes: [any Scheme.Type] = [
    Overdamped.self, Underdamped.self, JKO.self, MALA.self,
  ]

  /// The scheme type of a kind word, or nil.
  public static func scheme(ofKind kind: String) -> (any Scheme.Type)? {
    schemes.first { $0.kinds.contains(kind) }
  }

  /// Every kind word, in order.
  public static var kinds: [String] { schemes.flatMap { $0.kinds } }

  public static func == (a: Dynamics, b: Dynamics) -> Bool { a.identity == b.identity }
  public func hash(into hasher: inout Hasher) { hasher.combine(identity) }

  public var description: String {
    scheme.kind + "(" + scheme.values.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
  }

  public var timeStep: Double { scheme.timeStep }
  public var temperature: Double { scheme.temperature }
  public var l2: Double { scheme.l2 }
  public var hasVelocities: Bool { scheme.hasVelocities }
  public var needsAllPositions: Bool { scheme.needsAllPositions }

  // The schemes by name, for code and tests.
  public static func overdamped(_ p: Overdamped) -> Dynamics { Dynamics(p) }
  public static func underdamped(_ p: Underdamped) -> Dynamics { Dynamics(p) }
  public static func jko(_ p: JKO) -> Dynamics { Dynamics(p) }
  public static func mala(_ p: MALA) -> Dynamics { Dynamics(p) }
}
