import Foundation

/// Minima of an expression potential by Newton's method with its exact Hessian.
enum ExpressionMinimum {
  /// Cholesky factor of a symmetric d × d matrix (lower, row-major), nil unless positive definite.
  static func cholesky(_ a: [Double], _ d: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for j in 0...i {
        var s = a[i * d + j]
        for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
        if i == j {
          guard s > 0 else { return nil }
          l[i * d + i] = s.squareRoot()
        } else {
          l[i * d + j] = s / l[j * d + j]
        }
      }
    }
    return l
  }

  /// Solves `L Lᵀ p = b`.
  static func solve(_ l: [Double], _ b: [Double], _ d: Int) -> [Double] {
    var y = b
    for i in 0..<d {
      for k in 0..<i { y[i] -= l[i * d + k] * y[k] }
      y[i] /= l[i * d + i]
    }
    for i in stride(from: d - 1, through: 0, by: -1) {
      for k in (i + 1)..<d { y[i] -= l[k * d + i] * y[k] }
      y[i] /= l[i * d + i]
    }
    return y
  }

  /// Newton's method from `start`: the Newton step where the Hessian is positive definite, the
  /// steepest-descent step otherwise, halved until V decreases; stops when the gradient no
  /// longer shrinks. Returns the point when it is a strict local minimum (gradient zero to
  /// rounding, Hessian positive definite).
  static func newton(_ v: ExpressionPotential, from start: [Double]) -> [Double]? {
    let d = v.dimension
    guard start.count == d, start.allSatisfy(\.isFinite) else { return nil }
    var x = start, g = [Double](repeating: 0, count: d)
    func value(_ p: [Double]) -> Double { p.withUnsafeBufferPointer { v.value($0.baseAddress!) } }
    func gradient(_ p: [Double]) -> [Double] {
      var out = [Double](repeating: 0, count: d)
      p.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { v.gradient(src.baseAddress!, into: $0.baseAddress!) }
      }
      return out
    }
    var fx = value(x)
    for _ in 0..<200 {
      g = gradient(x)
      let norm = g.map { $0 * $0 }.reduce(0, +).squareRoot()
      if norm == 0 { break }
      let step: [Double]
      if let l = cholesky(v.hessian(x), d) { step = solve(l, g.map { -$0 }, d) } else { step = g.map { -$0 } }
      var t = 1.0, moved = false
      while t > 1e-20 {
        let y = zip(x, step).map { $0 + t * $1 }
        let fy = value(y)
        if fy < fx || (fy == fx && gradient(y).map { $0 * $0 }.reduce(0, +).squareRoot() < norm) {
          x = y
          fx = fy
          moved = true
          break
        }
        t *= 0.5
      }
      if !moved { break }
    }
    g = gradient(x)
    let scale = 1 + x.map { abs($0) }.reduce(0, +)
    let h = v.hessian(x)
    let curvature = (0..<d).map { abs(h[$0 * d + $0]) }.max() ?? 1
    guard g.allSatisfy({ abs($0) <= 1e-8 * max(1, curvature) * scale }), cholesky(h, d) != nil else { return nil }
    return x
  }
}
