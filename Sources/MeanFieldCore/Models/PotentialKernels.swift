/// ∇V over a block of particles: the potential's case is chosen once per block, not per
/// particle, and the loop over particles is specialised for d = 1, 2, 3 (the coordinates of a
/// particle unrolled, so the compiler vectorises across particles). Every case computes the
/// same operations in the same order as ``ConfiningPotential/gradient(_:dimension:into:)``, so
/// the results are bitwise those of the per-particle form. Indices use wrapping arithmetic: an
/// overflow check inside a loop would stop vectorisation.
extension ConfiningPotential {
  /// Writes ∇V(x^i) for `rows` particles (`x` and `g` row-major, `rows × d`);
  /// `work` holds ``workLength`` numbers (an expression's registers; unused otherwise).
  @inlinable
  public func gradients(
    _ x: UnsafePointer<Double>, rows: Int, dimension d: Int, into g: UnsafeMutablePointer<Double>,
    work: UnsafeMutablePointer<Double>
  ) {
    switch self {
    case .expression(let e):
      e.gradients(x, rows: rows, into: g, work: work)
    case .none:
      g.update(repeating: 0, count: rows * d)
    case .quadratic(let k):
      for i in 0..<(rows * d) { g[i] = k * x[i] }
    case .anisotropicQuadratic(let k):
      k.withUnsafeBufferPointer { kp in
        let stiffness = kp.baseAddress!
        specialisingDimension(d) { d in
          for i in 0..<rows {
            for c in 0..<d { g[i &* d &+ c] = stiffness[c] * x[i &* d &+ c] }
          }
        }
      }
    case .doubleWell:
      specialisingDimension(d) { d in
        for i in 0..<rows {
          var s = 0.0
          for c in 0..<d { s += x[i &* d &+ c] * x[i &* d &+ c] }
          for c in 0..<d { g[i &* d &+ c] = 4 * (s - 1) * x[i &* d &+ c] }
        }
      }
    case .flatSharp(let ks, let kf, let kt):
      let shape = FlatSharpShape(sharp: ks, flat: kf)
      specialisingDimension(d) { d in
        for i in 0..<rows {
          let s = x[i &* d]
          let q = s * s - 1
          let (value, derivative) = shape.valueAndDerivative(s)
          g[i &* d] = derivative * q * q + value * 4 * s * q
          for c in 1..<max(1, d) { g[i &* d &+ c] = kt * x[i &* d &+ c] }
        }
      }
    case .rosenbrock, .tabulated:
      for i in 0..<rows { gradient(x + i * d, dimension: d, into: g + i * d) }
    }
  }

  /// Σ_i V(x^i) over `rows` particles, in particle order (the same sum as adding
  /// ``value(_:dimension:)`` particle by particle).
  @inlinable
  public func valueSum(
    _ x: UnsafePointer<Double>, rows: Int, dimension d: Int, work: UnsafeMutablePointer<Double>
  ) -> Double {
    var e = 0.0
    switch self {
    case .expression(let ex):
      return ex.valueSum(x, rows: rows, work: work)
    case .none:
      return 0
    case .doubleWell:
      specialisingDimension(d) { d in
        for i in 0..<rows {
          var s = 0.0
          for c in 0..<d { s += x[i &* d &+ c] * x[i &* d &+ c] }
          e += (s - 1) * (s - 1)
        }
      }
    default:
      for i in 0..<rows { e += value(x + i * d, dimension: d) }
    }
    return e
  }
}
