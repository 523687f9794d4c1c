import Foundation

/// A confining potential V on R^d (docs/MATH.md §1b).
public enum ConfiningPotential: Sendable, Equatable, Hashable {
  /// V = 0.
  case none
  /// `V(x) = (κ/2)|x|²`.
  case quadratic(stiffness: Double)
  /// `V(x) = ½ Σ_c κ_c x_c²` with one stiffness per coordinate (an ill-conditioned quadratic:
  /// the PDE document's `x² + 4y²` is κ = (2, 8)).
  case anisotropicQuadratic(stiffness: [Double])
  /// `V(x) = (a − x₁)² + b (x₂ − x₁²)²` in d = 2 (Rosenbrock's valley), minimum 0 at (a, a²).
  case rosenbrock(a: Double, b: Double)
  /// `V(x) = (|x|² − 1)²` (minima on the unit sphere; ±1 in one dimension).
  case doubleWell
  /// Two minima of equal depth 0 at `x₁ = −1` (sharp, curvature κ_s) and `x₁ = +1` (flat,
  /// curvature κ_f) along the first coordinate, and `(κ_⊥/2)|x_⊥|²` across:
  ///
  ///     V(x) = g(x₁) (x₁² − 1)² + (κ_⊥/2) Σ_{c ≥ 2} x_c²,
  ///     g(s) = (sqrt(κ_s κ_f) / 8) · exp(β tanh(s) / tanh(1)),   β = ½ log(κ_f / κ_s)
  ///
  /// so that `V(±1) = 0`, `V'(±1) = 0`, `V''(−1) = κ_s`, `V''(+1) = κ_f` exactly; g is bounded
  /// above and below, so V is smooth and confining. The barrier lies at the saddle between the
  /// minima, not at 0: 0.2758, 0.4359 and 0.7102 for κ_s:κ_f = 4, 8 and 16 (κ_f = 1), at x₁ =
  /// −0.2085, −0.2883 and −0.3527.
  case flatSharp(sharp: Double, flat: Double, transverse: Double)
  /// Values tabulated on a regular 1-D or 2-D grid, interpolated by cubic Catmull–Rom
  /// (C¹) splines; outside the grid box, `V(x) = V(clamp(x)) + (wall/2)·dist(x, box)²`.
  case tabulated(TabulatedPotential)
  /// An expression in x1…xd with named parameters; exact derivatives (docs/EXPRESSIONS.md).
  case expression(ExpressionPotential)

  /// The minima and their Hessian determinants, when known in closed form (for basins).
  public func minima(dimension d: Int) -> [[Double]] {
    switch self {
    case .none: return []
    case .quadratic, .anisotropicQuadratic: return [[Double](repeating: 0, count: d)]
    case .rosenbrock(let a, _): return [[a, a * a]]
    case .doubleWell:
      return d == 1 ? [[-1], [1]] : []
    case .flatSharp:
      var sharp = [Double](repeating: 0, count: d), flat = sharp
      sharp[0] = -1
      flat[0] = 1
      return [sharp, flat]
    case .tabulated: return []
    case .expression(let e): return (try? e.refinedMinima.get()) ?? []
    }
  }

  /// Numbers of working memory the block kernels need (an expression's registers; 0 otherwise).
  public var workLength: Int {
    if case .expression(let e) = self { return e.programs.workLength }
    return 0
  }

  /// V(x) for one point.
  @inlinable
  public func value(_ x: UnsafePointer<Double>, dimension d: Int) -> Double {
    switch self {
    case .none: return 0
    case .quadratic(let k):
      var s = 0.0
      for c in 0..<d { s += x[c] * x[c] }
      return 0.5 * k * s
    case .anisotropicQuadratic(let k):
      var s = 0.0
      for c in 0..<d { s += k[c] * x[c] * x[c] }
      return 0.5 * s
    case .rosenbrock(let a, let b):
      let u = a - x[0], w = x[1] - x[0] * x[0]
      return u * u + b * w * w
    case .doubleWell:
      var s = 0.0
      for c in 0..<d { s += x[c] * x[c] }
      return (s - 1) * (s - 1)
    case .flatSharp(let ks, let kf, let kt):
      let s = x[0]
      let w = (s * s - 1) * (s * s - 1)
      let g = FlatSharpShape(sharp: ks, flat: kf)
      var t = 0.0
      for c in 1..<max(1, d) { t += x[c] * x[c] }
      return g.value(s) * w + 0.5 * kt * t
    case .tabulated(let table):
      return table.value(x, dimension: d)
    case .expression(let e):
      return e.value(x)
    }
  }

  /// ∇V(x) for one point into `g`.
  @inlinable
  public func gradient(_ x: UnsafePointer<Double>, dimension d: Int, into g: UnsafeMutablePointer<Double>) {
    switch self {
    case .none:
      for c in 0..<d { g[c] = 0 }
    case .quadratic(let k):
      for c in 0..<d { g[c] = k * x[c] }
    case .anisotropicQuadratic(let k):
      for c in 0..<d { g[c] = k[c] * x[c] }
    case .rosenbrock(let a, let b):
      let w = x[1] - x[0] * x[0]
      g[0] = -2 * (a - x[0]) - 4 * b * x[0] * w
      g[1] = 2 * b * w
    case .doubleWell:
      var s = 0.0
      for c in 0..<d { s += x[c] * x[c] }
      for c in 0..<d { g[c] = 4 * (s - 1) * x[c] }
    case .flatSharp(let ks, let kf, let kt):
      let s = x[0]
      let q = s * s - 1
      let (value, derivative) = FlatSharpShape(sharp: ks, flat: kf).valueAndDerivative(s)
      g[0] = derivative * q * q + value * 4 * s * q
      for c in 1..<max(1, d) { g[c] = kt * x[c] }
    case .tabulated(let table):
      table.gradient(x, dimension: d, into: g)
    case .expression(let e):
      e.gradient(x, into: g)
    }
  }
}

extension ConfiningPotential {
  /// ΔV(x) in closed form; nil for a tabulated potential (its interpolant is only C¹).
  public func laplacian(_ x: UnsafePointer<Double>, dimension d: Int) -> Double? {
    switch self {
    case .none: return 0
    case .quadratic(let k): return k * Double(d)
    case .anisotropicQuadratic(let k): return k.prefix(d).reduce(0, +)
    case .rosenbrock(_, let b): return 2 + 2 * b + 12 * b * x[0] * x[0] - 4 * b * x[1]
    case .doubleWell:
      var s = 0.0
      for c in 0..<d { s += x[c] * x[c] }
      return 4 * (s - 1) * Double(d) + 8 * s
    case .flatSharp(let ks, let kf, let kt):
      let shape = FlatSharpShape(sharp: ks, flat: kf)
      let s = x[0], q = s * s - 1
      let w = q * q, w1 = 4 * s * q, w2 = 12 * s * s - 4
      let t = FastMath.tanh(s)
      let sech2 = 1 - t * t
      let a = shape.beta * sech2 / FlatSharpShape.tanhOne
      let g = shape.value(s), g1 = g * a
      let g2 = g * (a * a - 2 * shape.beta * sech2 * t / FlatSharpShape.tanhOne)
      return g2 * w + 2 * g1 * w1 + g * w2 + kt * Double(max(0, d - 1))
    case .tabulated: return nil
    case .expression(let e): return e.laplacian(x)
    }
  }
}

/// The positive factor g of the flat-and-sharp landscape, evaluated with ``FastMath``'s exp and
/// tanh (vectorisable; within 1e-15 relative of libm's).
public struct FlatSharpShape: Sendable {
  public let amplitude: Double
  public let beta: Double
  @usableFromInline static let tanhOne = Foundation.tanh(1.0)

  @inlinable
  public init(sharp: Double, flat: Double) {
    amplitude = (sharp * flat).squareRoot() / 8
    beta = 0.5 * Foundation.log(flat / sharp)
  }

  /// g(s).
  @inlinable
  public func value(_ s: Double) -> Double {
    amplitude * FastMath.exp(beta * FastMath.tanh(s) / Self.tanhOne)
  }

  /// g'(s).
  @inlinable
  public func derivative(_ s: Double) -> Double { valueAndDerivative(s).derivative }

  /// (g(s), g'(s)) from one tanh and one exp.
  @inlinable @inline(__always)
  public func valueAndDerivative(_ s: Double) -> (value: Double, derivative: Double) {
    let t = FastMath.tanh(s)
    let g = amplitude * FastMath.exp(beta * t / Self.tanhOne)
    return (g, g * beta * (1 - t * t) / Self.tanhOne)
  }
}

/// A potential tabulated on a regular grid in one or two dimensions.
public struct TabulatedPotential: Sendable, Equatable, Hashable {
  /// Lower corner and upper corner of the grid box (one or two entries).
  public var lower: [Double]
  public var upper: [Double]
  /// Points per axis (≥ 2 each).
  public var points: [Int]
  /// Values, row-major (the last axis fastest).
  public var values: [Double]
  /// Stiffness of the quadratic wall outside the box.
  public var wall: Double

  public init(lower: [Double], upper: [Double], points: [Int], values: [Double], wall: Double) {
    precondition((lower.count == 1 || lower.count == 2) && upper.count == lower.count && points.count == lower.count)
    precondition(points.allSatisfy { $0 >= 2 } && values.count == points.reduce(1, *))
    self.lower = lower
    self.upper = upper
    self.points = points
    self.values = values
    self.wall = wall
  }

  /// Catmull–Rom weights and derivative weights for position t ∈ [0, 1] between nodes 1 and 2
  /// of four nodes 0..3.
  @inlinable
  static func catmullRom(_ t: Double) -> (w: SIMD4<Double>, dw: SIMD4<Double>) {
    let t2 = t * t, t3 = t2 * t
    let w = SIMD4<Double>(
      0.5 * (-t3 + 2 * t2 - t), 0.5 * (3 * t3 - 5 * t2 + 2), 0.5 * (-3 * t3 + 4 * t2 + t), 0.5 * (t3 - t2))
    let dw = SIMD4<Double>(
      0.5 * (-3 * t2 + 4 * t - 1), 0.5 * (9 * t2 - 10 * t), 0.5 * (-9 * t2 + 8 * t + 1), 0.5 * (3 * t2 - 2 * t))
    return (w, dw)
  }

  /// Cell index, fraction and spacing along one axis for a clamped coordinate.
  @inlinable
  func locate(_ x: Double, axis: Int) -> (cell: Int, t: Double, h: Double) {
    let n = points[axis]
    let h = (upper[axis] - lower[axis]) / Double(n - 1)
    let u = (x - lower[axis]) / h
    let cell = min(max(Int(u.rounded(.down)), 0), n - 2)
    return (cell, u - Double(cell), h)
  }

  @inlinable
  func node(_ i: Int, axis: Int) -> Int { min(max(i, 0), points[axis] - 1) }

  /// Value and gradient at a point inside or outside the box.
  @inlinable
  func evaluate(_ x: UnsafePointer<Double>, dimension d: Int) -> (Double, Double, Double) {
    let k = lower.count
    var clamped = (x[0], k > 1 && d > 1 ? x[1] : 0.0)
    var outside = (0.0, 0.0)
    clamped.0 = min(max(x[0], lower[0]), upper[0])
    outside.0 = x[0] - clamped.0
    if k > 1 {
      clamped.1 = min(max(x[1], lower[1]), upper[1])
      outside.1 = x[1] - clamped.1
    }
    var v = 0.0, g0 = 0.0, g1 = 0.0
    let (c0, t0, h0) = locate(clamped.0, axis: 0)
    let (a0, da0) = Self.catmullRom(t0)
    if k == 1 {
      for i in 0..<4 {
        let f = values[node(c0 - 1 + i, axis: 0)]
        v += a0[i] * f
        g0 += da0[i] * f / h0
      }
    } else {
      let (c1, t1, h1) = locate(clamped.1, axis: 1)
      let (a1, da1) = Self.catmullRom(t1)
      let n1 = points[1]
      for i in 0..<4 {
        let r = node(c0 - 1 + i, axis: 0)
        for j in 0..<4 {
          let f = values[r * n1 + node(c1 - 1 + j, axis: 1)]
          v += a0[i] * a1[j] * f
          g0 += da0[i] * a1[j] * f / h0
          g1 += a0[i] * da1[j] * f / h1
        }
      }
    }
    // Inside the box the gradient is the spline's; outside, the wall's (the spline is flat
    // along the clamped direction there).
    if outside.0 != 0 { g0 = wall * outside.0 }
    if outside.1 != 0 { g1 = wall * outside.1 }
    v += 0.5 * wall * (outside.0 * outside.0 + outside.1 * outside.1)
    return (v, g0, g1)
  }

  /// V(x); coordinates beyond the table's dimension feel a quadratic wall about 0.
  @inlinable
  public func value(_ x: UnsafePointer<Double>, dimension d: Int) -> Double {
    var (v, _, _) = evaluate(x, dimension: d)
    for c in lower.count..<max(lower.count, d) { v += 0.5 * wall * x[c] * x[c] }
    return v
  }

  /// ∇V(x).
  @inlinable
  public func gradient(_ x: UnsafePointer<Double>, dimension d: Int, into g: UnsafeMutablePointer<Double>) {
    let (_, g0, g1) = evaluate(x, dimension: d)
    g[0] = g0
    if d > 1 { g[1] = lower.count > 1 ? g1 : wall * x[1] }
    for c in 2..<max(2, d) { g[c] = wall * x[c] }
  }
}

/// A symmetric pair interaction W (docs/MATH.md §1b).
public enum Interaction: Sendable, Equatable, Hashable {
  case none
  /// `W(z) = (c/2)|z|²`: its mean field depends on μ only through the mean, so the statistic is
  /// `(Σ x, Σ |x|²)`.
  case quadraticAttraction(strength: Double)
  /// `W(z) = −c exp(−|z|² / (2 s²))`: genuinely pairwise, O(N²), needs every position.
  case gaussianKernel(strength: Double, width: Double)
  /// W given as an expression in z = x − y and r = |z|: genuinely pairwise, O(N²).
  case expression(ExpressionInteraction)

  /// Whether the interaction needs every pair of particles (not a statistic).
  public var isPairwise: Bool {
    switch self {
    case .gaussianKernel, .expression: return true
    case .none, .quadraticAttraction: return false
    }
  }
}

/// Particles in a confining potential with a pair interaction (McKean–Vlasov):
///
///     F0(μ) = E_μ V + ½ E_{μ⊗μ} W(x − y),    G(x; μ) = ∇V(x) + E_{y~μ} ∇W(x − y)
public struct PotentialSystem: MeanFieldModel {
  public let potential: ConfiningPotential
  public let interaction: Interaction
  public let dimension: Int
  /// Where an expression's gradient first failed to be finite (for the divergence message).
  public let fault = ExpressionFault()

  public init(potential: ConfiningPotential, interaction: Interaction, dimension: Int) {
    precondition(dimension >= 1)
    self.potential = potential
    self.interaction = interaction
    self.dimension = dimension
  }

  public var statisticLength: Int {
    if case .quadraticAttraction = interaction { return dimension + 1 }
    return 0
  }
  public var fieldLength: Int { if case .quadraticAttraction = interaction { return dimension } else { return 0 } }
  public var needsAllPositions: Bool { interaction.isPairwise }

  /// Working memory of the pair kernel (none without a Gaussian interaction).
  public final class Scratch: @unchecked Sendable {
    public let work: UnsafeMutablePointer<Double>
    /// The registers of expression potentials and interactions.
    public let expressionWork: UnsafeMutablePointer<Double>
    init(length: Int, expressionLength: Int) {
      work = .allocate(capacity: max(1, length))
      work.initialize(repeating: 0, count: max(1, length))
      expressionWork = .allocate(capacity: max(1, expressionLength))
      expressionWork.initialize(repeating: 0, count: max(1, expressionLength))
    }
    deinit {
      work.deallocate()
      expressionWork.deallocate()
    }
  }

  public var cachePerParticle: Int { 0 }

  public func makeScratch(maxRows: Int) -> Scratch {
    var expression = potential.workLength
    if case .expression(let w) = interaction { expression = max(expression, w.programs.workLength) }
    guard case .gaussianKernel = interaction else { return Scratch(length: 0, expressionLength: expression) }
    return Scratch(
      length: max(
        GaussianPairKernel.workLength(rows: maxRows, dimension: dimension) + maxRows,
        GaussianPairKernel.symmetricWorkLength(dimension: dimension)), expressionLength: expression)
  }

  /// M_i of the Gaussian interaction (d numbers per particle), each pair's exponential once.
  public var pairSumLength: Int { if case .gaussianKernel = interaction { return dimension } else { return 0 } }

  public func computePairSums(
    range: Range<Int>, allPositions: UnsafeBufferPointer<Double>, particleCount: Int,
    into out: UnsafeMutablePointer<Double>, scratch: Scratch
  ) {
    guard case .gaussianKernel(_, let s) = interaction else { return }
    GaussianPairKernel.symmetricMoments(
      all: allPositions.baseAddress!, count: particleCount, range: range, dimension: dimension, a: 1 / (2 * s * s),
      into: out, work: scratch.work)
  }

  @inlinable
  public func accumulate(
    _ x: UnsafeBufferPointer<Double>, rows: Int, into statistic: UnsafeMutableBufferPointer<Double>,
    scratch: Scratch, cache: UnsafeMutablePointer<Double>?
  ) {
    guard case .quadraticAttraction = interaction else { return }
    let d = dimension
    for i in 0..<rows {
      var sq = 0.0
      for c in 0..<d {
        let v = x[i * d + c]
        statistic[c] += v
        sq += v * v
      }
      statistic[d] += sq
    }
  }

  @inlinable
  public func makeField(
    sum: UnsafeBufferPointer<Double>, particleCount: Int, into field: UnsafeMutableBufferPointer<Double>
  ) {
    guard case .quadraticAttraction = interaction else { return }
    for c in 0..<dimension { field[c] = sum[c] / Double(particleCount) }
  }

  @inlinable
  public func drift(
    _ x: UnsafeBufferPointer<Double>, rows: Int, context: DriftContext,
    into g: UnsafeMutableBufferPointer<Double>, scratch: Scratch
  ) {
    let d = dimension
    let xp = x.baseAddress!, gp = g.baseAddress!
    potential.gradients(xp, rows: rows, dimension: d, into: gp, work: scratch.expressionWork)
    if case .expression(let v) = potential {
      fault.check(gp, rows: rows, dimension: d, points: xp, what: "∇V for V = \(v.text)")
    }
    switch interaction {
    case .none: break
    case .expression(let w):
      w.addGradientMeans(
        targets: xp, rows: rows, sources: context.allPositions.baseAddress!, count: context.particleCount, into: gp,
        work: scratch.expressionWork)
      fault.check(gp, rows: rows, dimension: d, points: xp, what: "the drift with W = \(w.text)")
    case .quadraticAttraction(let c):
      let mean = context.field.baseAddress!
      specialisingDimension(d) { d in
        for i in 0..<rows {
          for k in 0..<d { gp[i &* d &+ k] += c * (xp[i &* d &+ k] - mean[k]) }
        }
      }
    case .gaussianKernel(let c, let s):
      let n = context.particleCount
      let scale = c / (s * s) / Double(n)
      if let m = context.pairSums {
        for i in 0..<(rows * d) { gp[i] = gp[i].addingProduct(scale, m[i]) }
        return
      }
      GaussianPairKernel.addMoments(
        targets: xp, rows: rows, sources: context.allPositions.baseAddress!, count: n, dimension: d,
        a: 1 / (2 * s * s), scale: scale, into: gp, work: scratch.work)
    }
  }

  @inlinable
  public func energySum(
    _ x: UnsafeBufferPointer<Double>, rows: Int, context: DriftContext, scratch: Scratch
  ) -> Double {
    let d = dimension
    let xp = x.baseAddress!
    var e = potential.valueSum(xp, rows: rows, dimension: d, work: scratch.expressionWork)
    if case .expression(let w) = interaction {
      let n = context.particleCount
      e +=
        0.5
        * w.valueSum(
          targets: xp, rows: rows, sources: context.allPositions.baseAddress!, count: n, work: scratch.expressionWork)
        / Double(n)
    }
    if case .gaussianKernel(let c, let s) = interaction {
      let n = context.particleCount
      let sums = scratch.work + GaussianPairKernel.workLength(rows: rows, dimension: d)
      GaussianPairKernel.kernelSums(
        targets: xp, rows: rows, sources: context.allPositions.baseAddress!, count: n, dimension: d,
        a: 1 / (2 * s * s), into: sums, work: scratch.work)
      for i in 0..<rows { e += -0.5 * c * sums[i] / Double(n) }
    }
    return e
  }

  @inlinable
  public func energy(sum: UnsafeBufferPointer<Double>, energySum: Double, particleCount: Int) -> Double {
    let n = Double(particleCount)
    var f = energySum / n
    if case .quadraticAttraction(let c) = interaction {
      var m2 = 0.0
      for k in 0..<dimension { m2 += (sum[k] / n) * (sum[k] / n) }
      f += 0.5 * c * (sum[dimension] / n - m2)
    }
    return f
  }
}
