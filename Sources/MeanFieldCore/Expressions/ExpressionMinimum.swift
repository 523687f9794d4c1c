import Foundation

/// Minima of an expression potential by Newton's method with its exact Hessian.
enum ExpressionMinimum {
  /// Newton's method from `start`: the Newton step where the Hessian is positive definite, the
  /// steepest-descent step otherwise, halved until V decreases; stops when the gradient no
  /// longer shrinks. Returns the point when it is a strict local minimum (gradient zero to
  /// rounding, Hessian positive definite).
  static func newton(_ v: ExpressionPrograms, from start: [Double]) -> [Double]? {
    let d = v.dimension
    guard start.count == d, start.allSatisfy(\.isFinite) else { return nil }
    var x = start, g = [Double](repeating: 0, count: d)
    func value(_ p: [Double]) -> Double { p.withUnsafeBufferPointer { v.valueAt($0.baseAddress!) } }
    func gradient(_ p: [Double]) -> [Double] {
      var out = [Double](repeating: 0, count: d)
      p.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { v.gradientAt(src.baseAddress!, into: $0.baseAddress!) }
      }
      return out
    }
    var fx = value(x)
    for _ in 0..<200 {
      g = gradient(x)
      let norm = g.map { $0 * $0 }.reduce(0, +).squareRoot()
      if norm == 0 { break }
      let step: [Double]
      if let l = try? Cholesky.lower(v.hessianAt(x), dimension: d) {
        step = Cholesky.solve(l, dimension: d, g.map { -$0 })
      } else {
        step = g.map { -$0 }
      }
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
    let h = v.hessianAt(x)
    let curvature = (0..<d).map { abs(h[$0 * d + $0]) }.max() ?? 1
    guard g.allSatisfy({ abs($0) <= 1e-8 * max(1, curvature) * scale }), (try? Cholesky.lower(h, dimension: d)) != nil
    else { return nil }
    return x
  }

  /// The minima reached from the guesses (duplicates merged), or why a guess leads to none.
  static func refine(_ v: ExpressionPrograms, guesses: [[Double]]) -> Result<[[Double]], ExpressionError> {
    var found = [[Double]]()
    for guess in guesses {
      guard let m = newton(v, from: guess) else {
        let at = "(" + guess.map { String($0) }.joined(separator: ", ") + ")"
        return .failure(
          ExpressionError(
            "Newton's method from \(at) does not reach a point where ∇V = 0 with a positive-definite Hessian", at: 0))
      }
      if !found.contains(where: { zip($0, m).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < 1e-12 }) { found.append(m) }
    }
    return .success(found)
  }
}
