import Foundation

/// Overdamped MFLD by Euler–Maruyama (docs/MATH.md §2):
///
///     x_{k+1} = x_k − η (G(x_k; ρ_k) + 2λ' x_k) + sqrt(2λη) ξ_k
///
/// λ = 0 is the noise-free mean-field gradient flow (`kind: gradient-flow`).
public struct Overdamped: Scheme {
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

  public static let kinds = ["overdamped", "gradient-flow"]

  public static func fields(kind: String) -> [SchemeField] {
    kind == "gradient-flow" ? [.step, .l2] : [.step, .temperature, .l2]
  }

  public init(kind: String, values: [String: SchemeValue]) {
    self.init(
      step: values["step"]!.number, temperature: kind == "gradient-flow" ? 0 : values["temperature"]!.number,
      l2: values["l2"]!.number)
  }

  public var kind: String { temperature == 0 ? "gradient-flow" : "overdamped" }

  public var values: [(key: String, value: SchemeValue)] {
    [("step", .number(step)), ("temperature", .number(temperature)), ("l2", .number(l2))]
  }

  public var timeStep: Double { step }

  public func makeIntegrator<Model: MeanFieldModel, Exchange: BlockExchange>(
    for engine: ParticleEngine<Model, Exchange>
  ) -> any Integrator {
    EulerMaruyama(self, engine: engine)
  }
}

/// The Euler–Maruyama step of ``Overdamped``: the statistic, then per block the drift, the
/// noise and the update in one pass.
final class EulerMaruyama<Model: MeanFieldModel, Exchange: BlockExchange>: Integrator, BlockKernel {
  unowned let engine: ParticleEngine<Model, Exchange>
  let eta: Double, contraction: Double, noiseScale: Double, useNoise: Bool

  init(_ p: Overdamped, engine: ParticleEngine<Model, Exchange>) {
    self.engine = engine
    eta = p.step
    contraction = 2 * p.l2
    noiseScale = (2 * p.temperature * p.step).squareRoot()
    useNoise = p.temperature > 0
  }

  var report: SchemeReport { SchemeReport() }
  func stateChanged() {}

  func step() throws -> Divergence? {
    if let divergence = try engine.prepareField() { return divergence }
    engine.runBlocks(self)
    return nil
  }

  func perform(thread: Int, block b: Int) {
    let e = engine
    let rows = e.layout.particles(ofBlock: b)
    let xs = e.blockSlice(e.x, rows)
    let count = rows.count * e.d
    let g = e.blockDrift[thread]
    e.modelDrift(thread: thread, rows: rows, at: xs, into: g)
    // The update, the noise and the health scan in one pass over the block: the normals are
    // read from the generator's coordinate-major chunks (no row-major copy), and the scan is a
    // bitwise or of flags on the new values (the form the compiler vectorises).
    let eta = eta, contraction = contraction, noiseScale = noiseScale, limit = e.healthLimit
    let x = xs.baseAddress!, gp = g.baseAddress!
    typealias Engine = ParticleEngine<Model, Exchange>
    if useNoise {
      e.updateWithNormals(thread: thread, block: b) { i, z in
        let value = x[i] - eta * (gp[i] + contraction * x[i]) + noiseScale * z
        x[i] = value
        return Engine.healthFlag(position: value, limit: limit)
      }
    } else {
      var suspicious: Int64 = 0
      for i in 0..<count {
        let value = x[i] - eta * (gp[i] + contraction * x[i])
        x[i] = value
        suspicious |= Engine.healthFlag(position: value, limit: limit)
      }
      e.recordHealth(block: b, suspicious: suspicious != 0)
    }
  }
}
