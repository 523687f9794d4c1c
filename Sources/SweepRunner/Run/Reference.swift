import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

/// `reference: {...}`: a PDE solved alongside the particles (docs/MATH.md §3).
public struct ReferenceSpec: Sendable, Equatable {
  public enum Kind: String, Sendable, CaseIterable {
    /// `∂_t ρ = ∂_x(U' ρ) + λ ∂_xx ρ` in 1-D (overdamped particles).
    case fokkerPlanck = "fokker-planck"
    /// `∂_t f + v ∂_x f = ∂_v((γv + U') f) + γλ ∂_vv f` on x × v (underdamped particles).
    case kineticFokkerPlanck = "kinetic-fokker-planck"
    /// The entropic JKO scheme on a 1-D or 2-D grid.
    case entropicJKO = "entropic-jko"
  }

  public var kind: Kind
  public var lower: [Double]
  public var upper: [Double]
  public var cells: [Int]
  public var courantFactor: Double
  /// Velocity grid (kinetic).
  public var velocity: (lower: Double, upper: Double, cells: Int)?
  /// τ and ε of the entropic JKO.
  public var step: Double?
  public var epsilon: Double
  public var tolerance: Double

  public static func == (a: ReferenceSpec, b: ReferenceSpec) -> Bool {
    a.kind == b.kind && a.lower == b.lower && a.upper == b.upper && a.cells == b.cells
      && a.courantFactor == b.courantFactor && a.velocity?.lower == b.velocity?.lower
      && a.velocity?.upper == b.velocity?.upper && a.velocity?.cells == b.velocity?.cells && a.step == b.step
      && a.epsilon == b.epsilon && a.tolerance == b.tolerance
  }

  /// Shape of one density snapshot and the coordinates of each axis.
  public var snapshotAxes: [(name: String, centres: [Double])] {
    var axes = [(String, [Double])]()
    let names = ["x", "y"]
    for a in 0..<cells.count {
      let h = (upper[a] - lower[a]) / Double(cells[a])
      axes.append((names[a], (0..<cells[a]).map { lower[a] + (Double($0) + 0.5) * h }))
    }
    if let v = velocity {
      let h = (v.upper - v.lower) / Double(v.cells)
      axes.append(("v", (0..<v.cells).map { v.lower + (Double($0) + 0.5) * h }))
    }
    return axes
  }
}

extension RunConfiguration {
  /// Decodes `reference:` and checks it fits the run.
  static func decodeReference(
    _ cursor: Cursor?, model: ModelSpec, dynamics: Dynamics, initial: InitialLaw, initialVelocity: InitialLaw,
    diagnostics: DiagnosticsSpec
  ) throws -> ReferenceSpec? {
    guard let cursor else { return nil }
    let m = try cursor.mapping(allowed: [
      "kind", "lower", "upper", "cells", "cfl", "velocity", "step", "epsilon", "tolerance",
    ])
    let kind = ReferenceSpec.Kind(
      rawValue: try m.required("kind", "one of \(ReferenceSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        .choice(ReferenceSpec.Kind.allCases.map(\.rawValue)))!
    guard case .potential(let p) = model else {
      throw cursor.error("a reference PDE needs model.kind potential (the network has no Fokker–Planck reference here)")
    }
    switch p.interaction {
    case .none: break
    case .quadraticAttraction where kind == .fokkerPlanck: break
    default:
      throw cursor.error(
        "only fokker-planck has an interacting reference (a quadratic interaction: the drift c(x − m) needs only the mean); \(kind.rawValue) needs model.interaction none"
      )
    }
    let lower = try m.required("lower", "the lower end of the grid").doubles(where: { _ in true }, "a number")
    let upper = try m.required("upper", "the upper end of the grid").doubles(where: { _ in true }, "a number")
    let cellsCursor = try m.required("cells", "cells per axis")
    let cells =
      cellsCursor.isSequence
      ? try cellsCursor.sequence().map { try $0.int(where: { $0 >= 2 }, "at least 2 cells") }
      : [try cellsCursor.int(where: { $0 >= 2 }, "at least 2 cells")]
    let axes = kind == .entropicJKO ? p.dimension : 1
    if kind != .entropicJKO && p.dimension != 1 {
      throw cursor.error("\(kind.rawValue) is 1-D: model.dimension must be 1")
    }
    if axes > 2 { throw cursor.error("entropic-jko is 1-D or 2-D: model.dimension must be 1 or 2") }
    func broadcast<T>(_ v: [T], _ key: String) throws -> [T] {
      if v.count == axes { return v }
      if v.count == 1 { return [T](repeating: v[0], count: axes) }
      throw try m.required(key, "").error("has \(v.count) entries; expected 1 or \(axes)")
    }
    let lo = try broadcast(lower, "lower"), hi = try broadcast(upper, "upper"), n = try broadcast(cells, "cells")
    for a in 0..<axes where !(hi[a] > lo[a]) { throw try m.required("upper", "").error("must exceed lower") }
    let cfl = try m.optional("cfl")?.double(where: { $0 > 0 && $0 <= 1 }, "a number in (0, 1]") ?? 0.9
    var velocity: (Double, Double, Int)? = nil
    switch kind {
    case .fokkerPlanck:
      guard dynamics.scheme is Overdamped else { throw cursor.error("fokker-planck is the law of overdamped dynamics") }
    case .kineticFokkerPlanck:
      guard dynamics.scheme is Underdamped else {
        throw cursor.error("kinetic-fokker-planck is the law of underdamped dynamics")
      }
      guard case .gaussian = initialVelocity else {
        throw cursor.error(
          "the kinetic reference needs a Gaussian initial velocity law (the default Maxwellian at λ > 0)")
      }
      let spread = 6 * max(0.5, dynamics.temperature.squareRoot())
      if let v = m.optional("velocity") {
        let vm = try v.mapping(allowed: ["lower", "upper", "cells"])
        let vl = try vm.optional("lower")?.double() ?? -spread, vu = try vm.optional("upper")?.double() ?? spread
        guard vu > vl else { throw v.error("upper must exceed lower") }
        velocity = (vl, vu, try vm.optional("cells")?.int(where: { $0 >= 2 }, "at least 2 cells") ?? 100)
      } else {
        velocity = (-spread, spread, 100)
      }
    case .entropicJKO:
      break
    }
    switch initial {
    case .gaussian, .uniform: break
    case .points, .zero:
      throw cursor.error("the reference PDE starts from the particles' law: init must be gaussian or uniform")
    }
    let every = Double(diagnostics.every) * dynamics.timeStep
    let step = try m.optional("step")?.double(where: { $0 > 0 }, "a positive number")
    if kind == .entropicJKO {
      let tau = step ?? every
      let ratio = every / tau
      if abs(ratio - ratio.rounded()) > 1e-9 || ratio < 1 {
        throw m.optional("step").map { $0.error("must divide the sampling interval every·η = \(every)") }
          ?? cursor.error("step must divide the sampling interval every·η = \(every)")
      }
    } else if step != nil {
      throw try m.required("step", "").error(
        "only entropic-jko takes a step (the explicit solvers choose theirs by the CFL condition)")
    }
    let h = zip(lo, hi).enumerated().map { ($1.1 - $1.0) / Double(n[$0]) }.min()!
    let epsilon = try m.optional("epsilon")?.double(where: { $0 > 0 }, "a positive number") ?? max(2 * h * h, 1e-4)
    let tolerance = try m.optional("tolerance")?.double(where: { $0 > 0 }, "a positive number") ?? 1e-9
    return ReferenceSpec(
      kind: kind, lower: lo, upper: hi, cells: n, courantFactor: cfl, velocity: velocity,
      step: kind == .entropicJKO ? (step ?? every) : nil, epsilon: epsilon, tolerance: tolerance)
  }
}

/// The density of an initial law at a point (Gaussian or uniform box), for PDE initial data.
func initialDensity(_ law: InitialLaw, at x: [Double]) -> Double {
  func pick(_ v: [Double], _ c: Int) -> Double { v.count == 1 ? v[0] : v[c] }
  switch law {
  case .gaussian(let mean, let std):
    var p = 1.0
    for c in x.indices {
      let s = pick(std, c), z = (x[c] - pick(mean, c)) / s
      p *= Foundation.exp(-0.5 * z * z) / (s * (2 * Double.pi).squareRoot())
    }
    return p
  case .uniform(let lower, let upper):
    var p = 1.0
    for c in x.indices {
      let l = pick(lower, c), u = pick(upper, c)
      p *= (x[c] >= l && x[c] <= u) ? 1 / (u - l) : 0
    }
    return p
  case .points, .zero:
    return 0  // refused when the reference is decoded
  }
}

/// The reference solutions, behind the ``ReferenceSolution`` interface the metrics use.
final class PDEReference: ReferenceSolution {
  enum Solver {
    case overdamped(OverdampedFokkerPlanck)
    case kinetic(KineticFokkerPlanck)
    case jko(EntropicJKO)
  }
  var solver: Solver
  let spec: ReferenceSpec
  let grid: UniformGrid

  init(spec: ReferenceSpec, configuration c: RunConfiguration) throws {
    guard case .potential(let p) = c.model else { throw MetricError("a reference PDE needs a potential model") }
    self.spec = spec
    let l2 = c.dynamics.l2, lambda = c.dynamics.temperature
    let potential = p.potential
    var interactionStrength = 0.0
    if case .quadraticAttraction(let strength) = p.interaction { interactionStrength = strength }
    func gradient(_ s: Double) -> Double {
      var x = [s], g = [0.0]
      potential.gradient(&x, dimension: 1, into: &g)
      return g[0] + 2 * l2 * s
    }
    let axes = (0..<spec.cells.count).map {
      CellGrid(lower: spec.lower[$0], upper: spec.upper[$0], cells: spec.cells[$0])
    }
    grid = UniformGrid(lower: spec.lower, upper: spec.upper, cells: spec.cells)
    switch spec.kind {
    case .fokkerPlanck:
      let rho = axes[0].centres.map { initialDensity(c.initial, at: [$0]) }
      solver = .overdamped(
        OverdampedFokkerPlanck(
          grid: axes[0], potentialGradient: gradient, temperature: lambda, courantFactor: spec.courantFactor,
          initialDensity: rho, interaction: interactionStrength))
    case .kineticFokkerPlanck:
      guard let u = c.dynamics.scheme as? Underdamped, let v = spec.velocity else {
        throw MetricError("kinetic reference needs underdamped dynamics")
      }
      let vGrid = CellGrid(lower: v.lower, upper: v.upper, cells: v.cells)
      var f = [Double]()
      for x in axes[0].centres {
        for w in vGrid.centres {
          f.append(initialDensity(c.initial, at: [x]) * initialDensity(c.initialVelocity, at: [w]))
        }
      }
      solver = .kinetic(
        KineticFokkerPlanck(
          positionGrid: axes[0], velocityGrid: vGrid, potentialGradient: gradient, friction: u.friction,
          temperature: lambda, courantFactor: spec.courantFactor, initialDensity: f))
    case .entropicJKO:
      let rho = EntropicJKO.sample({ initialDensity(c.initial, at: $0) }, on: axes)
      let values = EntropicJKO.sample(
        { x in
          var point = x
          var v = potential.value(&point, dimension: x.count)
          for s in x { v += l2 * s * s }
          return v
        }, on: axes)
      solver = .jko(
        EntropicJKO(
          axes: axes, potential: values, temperature: lambda, timeStep: spec.step ?? c.dynamics.timeStep,
          entropicRegularization: spec.epsilon, tolerance: spec.tolerance, initialDensity: rho))
    }
  }

  /// Takes the share `fraction` ∈ [0, 1] of the work from the current interval's start toward
  /// `t` (the next sample time), so that a long PDE interval is spread over the particle steps
  /// before that sample and an interruption is seen within one step. Any split gives the state
  /// of one ``advance(to:)`` bit for bit.
  func advance(toward t: Double, fraction: Double) throws {
    switch solver {
    case .overdamped(var s):
      _ = s.advance(to: t, substeps: Int(Double(s.substeps(to: t)) * fraction))
      solver = .overdamped(s)
    case .kinetic(var s):
      _ = s.advance(to: t, substeps: Int(Double(s.substeps(to: t)) * fraction))
      solver = .kinetic(s)
    case .jko(var s):
      // A prefix of the steps advance(to:) takes: each step is one the full loop would take.
      if jkoIntervalStart == nil || jkoIntervalTarget != t {
        jkoIntervalStart = s.time
        jkoIntervalTarget = t
      }
      let start = jkoIntervalStart!
      let partial = start + (t - start) * fraction
      let end = t - 1e-9 * max(1, t)
      while s.time < min(partial, end) {
        let report = s.step()
        if !report.isConverged {
          solver = .jko(s)
          throw MetricError("entropic JKO step did not converge (residual \(report.residual))")
        }
      }
      solver = .jko(s)
    }
  }

  /// Where the JKO interval being spread started, and its end.
  private var jkoIntervalStart: Double? = nil
  private var jkoIntervalTarget: Double? = nil

  func advance(to t: Double) throws {
    switch solver {
    case .overdamped(var s):
      if t > s.time { s.advance(to: t) }
      solver = .overdamped(s)
    case .kinetic(var s):
      if t > s.time { s.advance(to: t) }
      solver = .kinetic(s)
    case .jko(var s):
      while s.time < t - 1e-9 * max(1, t) {
        let report = s.step()
        if !report.isConverged {
          solver = .jko(s)
          throw MetricError("entropic JKO step did not converge (residual \(report.residual))")
        }
      }
      solver = .jko(s)
    }
  }

  var positionDensity: GridDensity {
    switch solver {
    case .overdamped(let s): return GridDensity(grid: grid, values: s.density.map { max(0, $0) })
    case .kinetic(let s): return GridDensity(grid: grid, values: s.positionMarginal().map { max(0, $0) })
    case .jko(let s): return GridDensity(grid: grid, values: s.density.map { max(0, $0) })
    }
  }

  var phaseSpaceDensity: GridDensity? {
    guard case .kinetic(let s) = solver else { return nil }
    let x = s.positionGrid, v = s.velocityGrid
    return GridDensity(
      grid: UniformGrid(lower: [x.lower, v.lower], upper: [x.upper, v.upper], cells: [x.cellCount, v.cellCount]),
      values: s.density.map { max(0, $0) })
  }

  var snapshot: [Double] {
    switch solver {
    case .overdamped(let s): return s.density
    case .kinetic(let s): return s.density
    case .jko(let s): return s.density
    }
  }
}
