import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

/// Helpers shared by the transport tests: reproducible samples and independent reference
/// implementations (brute force, a textbook Hungarian algorithm, a dense log-domain Sinkhorn).
enum TransportFixtures {
  /// `n` points in R^d: `shift + scale · z`, z standard normal from Philox (stream .data).
  static func cloud(
    _ n: Int, _ d: Int, seed: UInt64, shift: Double = 0, scale: Double = 1,
    weights: [Double]? = nil
  ) -> PointCloud {
    var z = [Double](repeating: 0, count: n * d)
    let field = GaussianField(seed: seed, runIndex: 7)
    z.withUnsafeMutableBufferPointer { p in
      field.fillNormals(p, rows: n, dimension: d, firstParticle: 0, step: 0, stream: .data)
    }
    return PointCloud(values: z.map { shift + scale * $0 }, dimension: d, weights: weights)
  }

  /// The cloud translated by `v`.
  static func translated(_ c: PointCloud, by v: [Double]) -> PointCloud {
    var values = c.values
    for i in 0..<c.count {
      for k in 0..<c.dimension { values[i * c.dimension + k] += v[k] }
    }
    return PointCloud(values: values, dimension: c.dimension, weights: c.weights)
  }

  /// `|x_i − y_j|²` by differences.
  static func squaredDistance(_ x: PointCloud, _ i: Int, _ y: PointCloud, _ j: Int) -> Double {
    var s = 0.0
    for k in 0..<x.dimension {
      let diff = x[i, k] - y[j, k]
      s += diff * diff
    }
    return s
  }

  /// `min_σ (1/n) Σ_i C_iσ(i)` by enumerating all permutations (Heap's algorithm).
  static func bruteForceAssignment(_ x: PointCloud, _ y: PointCloud) -> Double {
    let n = x.count
    var c = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for i in 0..<n { for j in 0..<n { c[i][j] = squaredDistance(x, i, y, j) } }
    var perm = Array(0..<n)
    var best = Double.infinity
    func evaluate() {
      var s = 0.0
      for i in 0..<n { s += c[i][perm[i]] }
      best = min(best, s)
    }
    var stack = [Int](repeating: 0, count: n)
    evaluate()
    var i = 0
    while i < n {
      if stack[i] < i {
        if i % 2 == 0 { perm.swapAt(0, i) } else { perm.swapAt(stack[i], i) }
        evaluate()
        stack[i] += 1
        i = 0
      } else {
        stack[i] = 0
        i += 1
      }
    }
    return best / Double(n)
  }

  /// The textbook O(n³) Hungarian algorithm with potentials (Kuhn–Munkres in the
  /// shortest-path form), written independently of the library's solver.
  static func hungarian(_ cost: [[Double]]) -> (value: Double, assignment: [Int]) {
    let n = cost.count
    // 1-based arrays as in the classical presentation; p[j] = row matched to column j.
    var u = [Double](repeating: 0, count: n + 1)
    var v = [Double](repeating: 0, count: n + 1)
    var p = [Int](repeating: 0, count: n + 1)
    var way = [Int](repeating: 0, count: n + 1)
    for i in 1...n {
      p[0] = i
      var j0 = 0
      var minv = [Double](repeating: .infinity, count: n + 1)
      var used = [Bool](repeating: false, count: n + 1)
      repeat {
        used[j0] = true
        let i0 = p[j0]
        var delta = Double.infinity
        var j1 = 0
        for j in 1...n where !used[j] {
          let cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
          if cur < minv[j] {
            minv[j] = cur
            way[j] = j0
          }
          if minv[j] < delta {
            delta = minv[j]
            j1 = j
          }
        }
        for j in 0...n {
          if used[j] {
            u[p[j]] += delta
            v[j] -= delta
          } else {
            minv[j] -= delta
          }
        }
        j0 = j1
      } while p[j0] != 0
      repeat {
        let j1 = way[j0]
        p[j0] = p[j1]
        j0 = j1
      } while j0 != 0
    }
    var assignment = [Int](repeating: 0, count: n)
    for j in 1...n { assignment[p[j] - 1] = j - 1 }
    var total = 0.0
    for i in 0..<n { total += cost[i][assignment[i]] }
    return (total, assignment)
  }

  /// Dense log-domain Sinkhorn with libm's exp/log (no streaming, no ε-scaling), iterated
  /// `iterations` times: returns `(⟨P, C⟩, ⟨P, C⟩ + ε KL(P | a⊗b), column error)`.
  static func denseSinkhorn(_ x: PointCloud, _ y: PointCloud, epsilon: Double, iterations: Int)
    -> (cost: Double, regularized: Double, error: Double)
  {
    let n = x.count
    let m = y.count
    var c = [Double](repeating: 0, count: n * m)
    for i in 0..<n { for j in 0..<m { c[i * m + j] = squaredDistance(x, i, y, j) } }
    let a = (0..<n).map { x.weight($0) }
    let b = (0..<m).map { y.weight($0) }
    var f = [Double](repeating: 0, count: n)
    var g = [Double](repeating: 0, count: m)
    func lse(_ terms: [Double]) -> Double {
      let mx = terms.max()!
      return mx + log(terms.reduce(0) { $0 + exp($1 - mx) })
    }
    for _ in 0..<iterations {
      for j in 0..<m {
        g[j] = -epsilon * lse((0..<n).map { (f[$0] - c[$0 * m + j]) / epsilon + log(a[$0]) })
      }
      for i in 0..<n {
        f[i] = -epsilon * lse((0..<m).map { (g[$0] - c[i * m + $0]) / epsilon + log(b[$0]) })
      }
    }
    var cost = 0.0
    var kl = 0.0
    var mass = 0.0
    var col = [Double](repeating: 0, count: m)
    for i in 0..<n {
      for j in 0..<m {
        let z = (f[i] + g[j] - c[i * m + j]) / epsilon
        let pij = a[i] * b[j] * exp(z)
        cost += pij * c[i * m + j]
        kl += pij * z
        mass += pij
        col[j] += pij
      }
    }
    var err = 0.0
    for j in 0..<m { err += (col[j] - b[j]) * (col[j] - b[j]) }
    return (cost, cost + epsilon * (kl - mass + 1), err.squareRoot())
  }

  /// Least-squares slope of `log y` against `log x`.
  static func logLogSlope(_ x: [Double], _ y: [Double]) -> Double {
    let lx = x.map { log($0) }
    let ly = y.map { log($0) }
    let mx = lx.reduce(0, +) / Double(lx.count)
    let my = ly.reduce(0, +) / Double(ly.count)
    var sxy = 0.0
    var sxx = 0.0
    for k in 0..<lx.count {
      sxy += (lx[k] - mx) * (ly[k] - my)
      sxx += (lx[k] - mx) * (lx[k] - mx)
    }
    return sxy / sxx
  }
}
