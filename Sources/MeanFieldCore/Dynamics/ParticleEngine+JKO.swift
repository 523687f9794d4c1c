import Foundation

// The particle JKO step of ``ParticleEngine`` and the blob entropy it minimises (docs/MATH.md §2).

extension ParticleEngine {
  func jkoStep(_ p: Dynamics.JKO) throws -> Divergence? {
    let count = localCount * d
    for i in 0..<count { anchor[i] = x[i] }
    let tau = p.step
    let scaleN = Double(layout.particleCount * d)
    var iterations = 0
    var residual = Double.infinity, previous = Double.infinity
    var damping = p.damping
    while true {
      if iterations > 0, let divergence = try prepareField() {
        for i in 0..<count { x[i] = anchor[i] }
        for b in owned { checkHealth(block: b) }
        return divergence
      }
      if p.temperature > 0 { try prepareBlobDensity(width: p.blob) }
      parameters.tau = tau
      parameters.contraction = 2 * p.l2
      parameters.temperature = p.temperature
      parameters.blob = p.blob
      runPhase(.jkoGradient)
      try exchange.orderedSum(
        localPartials: UnsafeBufferPointer(rebasing: scalarPartials.prefix(owned.count)), length: 1,
        into: scalarResult)
      residual = (scalarResult[0] / scaleN).squareRoot()
      if residual <= p.tolerance || iterations >= p.maxIterations || !residual.isFinite { break }
      // Gradient step x ← x − θτ r; θ is halved whenever the residual grows (the plain
      // fixed-point iteration θ = 1 diverges once τ·|∇²U| > 1).
      if residual > previous { damping *= 0.5 }
      previous = residual
      let move = damping * tau
      for i in 0..<count { x[i] -= move * force[i] }
      iterations += 1
    }
    lastProximal = ProximalReport(iterations: iterations, residual: residual, isConverged: residual <= p.tolerance)
    for b in owned { checkHealth(block: b) }
    return nil
  }

  /// The blob entropy `Ent_ε(ρ) = (1/N) Σ_i log((1/N) Σ_j K_ε(x_i − x_j))` of the current
  /// state (collective; O(N²)). Allocates when the engine was not built for blob entropy.
  public func blobEntropy(width eps: Double) throws -> Double {
    let n = layout.particleCount
    var gathered = [Double](repeating: 0, count: max(1, n * d))
    try gathered.withUnsafeMutableBufferPointer { all in
      try exchange.allGather(local: UnsafeBufferPointer(rebasing: x.prefix(localCount * d)), rowLength: d, into: all)
    }
    let norm = Foundation.pow(2 * Double.pi * eps * eps, -0.5 * Double(d)) / Double(n)
    let inv = 1 / (2 * eps * eps)
    let sums = try gathered.withUnsafeBufferPointer { all -> [Double] in
      try orderedReduce(length: 1) { _, _, rows, first, out in
        var total = 0.0
        for i in first..<(first + rows) {
          var s = 0.0
          for j in 0..<n {
            var r2 = 0.0
            for k in 0..<self.d {
              let z = all[i * self.d + k] - all[j * self.d + k]
              r2 += z * z
            }
            s += FastMath.exp(-r2 * inv)
          }
          total += Foundation.log(norm * s)
        }
        out[0] = total
      }
    }
    return sums[0] / Double(n)
  }

  /// ρ̃(x_i) = (1/N) Σ_j K_ε(x_i − x_j) for every particle (collective; positions gathered).
  func prepareBlobDensity(width eps: Double) throws {
    parameters.blob = eps
    runPhase(.blobDensity)
    try exchange.allGather(
      local: UnsafeBufferPointer(rebasing: localDensity.prefix(localCount)), rowLength: 1, into: allDensity)
  }

  /// Adds `λ ∇_{x_i} Σ_k log ρ̃(x_k) = λ (1/N) Σ_j ∇K_ε(x_i − x_j) (1/ρ̃_i + 1/ρ̃_j)` for `rows`.
  func addBlobEntropyGradient(rows: Range<Int>, scale: Double, width eps: Double, into g: UnsafeMutableBufferPointer<Double>) {
    let n = layout.particleCount
    let norm = Foundation.pow(2 * Double.pi * eps * eps, -0.5 * Double(d)) / Double(n)
    let inv = 1 / (2 * eps * eps), invEps2 = 1 / (eps * eps)
    let all = allPositions.baseAddress!, rho = allDensity.baseAddress!
    for (r, i) in rows.enumerated() {
      let xi = all + i * d
      let ri = 1 / rho[i]
      for j in 0..<n {
        var r2 = 0.0
        for k in 0..<d {
          let z = xi[k] - all[j * d + k]
          r2 += z * z
        }
        // ∇K(z) = −K(z) z / ε²
        let w = -scale * norm * FastMath.exp(-r2 * inv) * invEps2 * (ri + 1 / rho[j])
        for k in 0..<d { g[r * d + k] += w * (xi[k] - all[j * d + k]) }
      }
    }
  }
}
