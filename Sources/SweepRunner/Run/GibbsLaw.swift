import Foundation
import MeanFieldCore
import MeanFieldDiagnostics

extension PotentialSpec {
  /// The Gibbs law `exp(−(V + λ'|x|²)/λ)/Z`: closed form for a quadratic confinement, quadrature
  /// over a box that holds its mass otherwise (d ≤ 2, checked at decoding).
  public func gibbsDensity(temperature lambda: Double, l2: Double) throws -> any LogDensity {
    let p = self, d = p.dimension
    switch p.stationaryLaw(temperature: lambda, l2: l2) {
    case .failure(let problem): throw MetricError("kl-to-gibbs \(problem)")
    case .success(.gaussian(let stiffness)) where Set(stiffness).count == 1:
      let q = QuadraticPotential(stiffness: stiffness[0])
      return GibbsDensity(
        potential: q, temperature: lambda, dimension: d, logPartition: q.logPartition(temperature: lambda, dimension: d)
      )
    case .success(.gaussian(let stiffness)):
      // One stiffness per axis: log Z = Σ_c ½ log(2πλ/k_c).
      let u = FunctionPotential { x in
        var s = 0.0
        for c in x.indices { s += 0.5 * stiffness[c] * x[c] * x[c] }
        return s
      }
      let logZ = stiffness.reduce(0) { $0 + 0.5 * Foundation.log(2 * Double.pi * lambda / $1) }
      return GibbsDensity(potential: u, temperature: lambda, dimension: d, logPartition: logZ)
    case .success(.gibbsByQuadrature):
      break
    }
    let v = p.potential
    let u = FunctionPotential { x in
      var s = v.value(at: x)
      for c in x { s += l2 * c * c }
      return s
    }
    // Widen the box until U/λ on its boundary exceeds its minimum on the grid by 40 or more.
    var radius = 1.0
    while radius < 1e4 {
      var edge = Double.infinity, inside = Double.infinity
      let m = 64
      for i in 0...m {
        let t = -radius + 2 * radius * Double(i) / Double(m)
        let points: [[Double]] =
          d == 1 ? [[radius], [-radius]] : [[t, radius], [t, -radius], [radius, t], [-radius, t]]
        for point in points {
          let value = point.withUnsafeBufferPointer { u.value(at: $0) }
          edge = min(edge, value)
        }
        let centre: [Double] = d == 1 ? [t] : [t, 0]
        inside = min(inside, centre.withUnsafeBufferPointer { u.value(at: $0) })
      }
      if (edge - inside) / lambda > 40 { break }
      radius *= 2
    }
    let box = [ClosedRange<Double>](repeating: -radius...radius, count: d)
    let (density, quadrature) = try GibbsDensity.byQuadrature(
      potential: u, temperature: lambda, over: box, intervals: d == 1 ? 4096 : 512)
    if quadrature.errorEstimate > 1e-6 {
      throw MetricError(
        "log Z by quadrature is uncertain (estimated error \(quadrature.errorEstimate)); the potential is too rough for the grid"
      )
    }
    return density
  }
}
