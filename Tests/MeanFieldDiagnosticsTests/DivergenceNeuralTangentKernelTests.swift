import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import Testing

/// Per-neuron NTK contributions `relu(w·z_i) relu(w·z_j) + a² 1{w·z_i>0} 1{w·z_j>0} ⟨z_i,z_j⟩`,
/// summed directly (the test's independent reference): their means and variances.
func neuronKernelMoments(particles: [Double], inputs: [Double], p: Int)
  -> (mean: [Double], variance: [Double])
{
  let m = particles.count / (p + 1), n = inputs.count / p
  var sum = [Double](repeating: 0, count: n * n), sumSquares = sum
  var pre = [Double](repeating: 0, count: n)
  for k in 0..<m {
    let a = particles[k * (p + 1) + p]
    for i in 0..<n {
      var u = 0.0
      for c in 0..<p { u += particles[k * (p + 1) + c] * inputs[i * p + c] }
      pre[i] = u
    }
    for i in 0..<n {
      for j in 0..<n {
        var g = 0.0
        for c in 0..<p { g += inputs[i * p + c] * inputs[j * p + c] }
        let t = max(pre[i], 0) * max(pre[j], 0) + (pre[i] > 0 && pre[j] > 0 ? a * a * g : 0)
        sum[i * n + j] += t
        sumSquares[i * n + j] += t * t
      }
    }
  }
  let mean = sum.map { $0 / Double(m) }
  let variance = (0..<(n * n)).map { (sumSquares[$0] / Double(m) - mean[$0] * mean[$0]) * Double(m) / Double(m - 1) }
  return (mean, variance)
}

/// Neurons `(w, a) ~ N(0, I_{p+1})`, the initialisation of the limit.
func initialNeurons(width m: Int, inputDimension p: Int, seed: UInt64, run: UInt64) -> [Double] {
  GaussianLaw.standard(dimension: p + 1).sample(
    count: m, field: GaussianField(seed: seed, runIndex: run)
  ).values
}

@Suite struct DivergenceNeuralTangentKernelTests {
  /// The GEMM-based K_m equals the direct per-neuron sum (relative 1e−13: only the
  /// summation order differs, over m = 50 terms of size O(1)).
  @Test func empiricalKernelMatchesDirectSum() {
    let p = 3
    let w = initialNeurons(width: 50, inputDimension: p, seed: 40, run: 0)
    let z = GaussianLaw.standard(dimension: p).sample(count: 5, field: GaussianField(seed: 41, runIndex: 0)).values
    let k = NeuralTangentKernel.empirical(particles: w, inputs: z, inputDimension: p)
    let reference = neuronKernelMoments(particles: w, inputs: z, p: p).mean
    for s in k.indices {
      #expect(abs(k[s] - reference[s]) <= 1e-13 * max(1, abs(reference[s])), "entry \(s)")
    }
  }

  /// K∞ against a Monte-Carlo average over m = 2¹⁷ neurons, on inputs that include a
  /// parallel pair, an antiparallel pair and an orthogonal pair: every entry within 5
  /// standard errors (SE from the per-neuron sample variance; 36 entries, so a false alarm
  /// has probability below 1e−5).
  @Test func limitMatchesMonteCarlo() {
    let p = 3
    let z: [Double] = [
      1, 0.5, -0.3,
      2, 1, -0.6,  // parallel to the first
      -1, -0.5, 0.3,  // antiparallel to the first
      0, 0.6, 1,  // orthogonal to the first
      -0.2, 1.1, 0.7,
      0.4, -0.9, 0.25,
    ]
    let m = 1 << 17
    let w = initialNeurons(width: m, inputDimension: p, seed: 42, run: 0)
    let comparison = NeuralTangentKernel.compare(particles: w, inputs: z, inputDimension: p)
    let moments = neuronKernelMoments(particles: w, inputs: z, p: p)
    for s in comparison.limit.indices {
      let se = (moments.variance[s] / Double(m)).squareRoot()
      let error = abs(comparison.empirical[s] - comparison.limit[s])
      #expect(error <= 5 * se + 1e-12, "entry \(s): error \(error), SE \(se)")
    }
    #expect(comparison.width == m && comparison.inputCount == 6)
  }

  /// Closed-form special cases of K∞: φ = 0 gives |z|², φ = π gives 0, φ = π/2 gives
  /// |z||z'|/(2π); nearly parallel inputs (φ = 1e−7) match the series
  /// |z||z'|(π − πφ²/2 + φ³/3)/(2π) + ⟨z,z'⟩(π − φ)/(2π) to 1e−14 (with acos of the cosine
  /// the angle would carry a ~1e−9 error).
  @Test func limitSpecialCases() {
    let phi = 1e-7
    let z: [Double] = [3, 4, 0, 6, 8, 0, -3, -4, 0, 0, 0, 2, 5 * cos(phi), 5 * sin(phi), 0]
    let k = NeuralTangentKernel.infiniteWidth(inputs: z, inputDimension: 3)
    let n = 5
    #expect(closeInUlps(k[0 * n + 0], 25, ulps: 4))
    #expect(closeInUlps(k[0 * n + 1], 50, ulps: 4))
    #expect(abs(k[0 * n + 2]) < 1e-14)
    #expect(closeInUlps(k[0 * n + 3], 10 / (2 * Double.pi), ulps: 4))
    // z₀ = (3, 4, 0) and z₄ = 5(cos φ, sin φ, 0) have angle φ₀ − φ with tan φ₀ = 4/3.
    let angle = atan2(4.0, 3.0) - phi
    let dot = 25 * cos(angle)
    let exactFar =
      25 * (sin(angle) + (Double.pi - angle) * cos(angle)) / (2 * Double.pi) + dot * (Double.pi - angle)
      / (2 * Double.pi)
    #expect(abs(k[0 * n + 4] - exactFar) < 1e-13)
    // Nearly parallel: (5, 0, 0) against 5(cos φ, sin φ, 0).
    let y: [Double] = [5, 0, 0, 5 * cos(phi), 5 * sin(phi), 0]
    let ky = NeuralTangentKernel.infiniteWidth(inputs: y, inputDimension: 3)
    let series =
      25 * (Double.pi - Double.pi * phi * phi / 2 + phi * phi * phi / 3) / (2 * Double.pi)
      + 25 * cos(phi) * (Double.pi - phi) / (2 * Double.pi)
    #expect(abs(ky[1] - series) < 1e-14 * 25)
    #expect(k == (0..<(n * n)).map { k[($0 % n) * n + $0 / n] }, "K∞ is symmetric")
  }

  /// ‖K_m − K∞‖_F / n falls like m^{−1/2}: E‖K_m − K∞‖²_F = C/m exactly (an average of m
  /// i.i.d. centred terms), so the root of the mean square over 16 seeds, at 10 widths
  /// m = 2⁶ … 2¹⁵ on 16 Gaussian inputs in R⁴, is fitted in log–log. Tolerance ±0.06 on the
  /// slope: the same fit repeated over 20 independent seed sets (inputs and weights redrawn)
  /// gave slopes with mean −0.500 and sd 0.015, so 0.06 is 4 sd.
  @Test func discrepancyFallsLikeInverseSquareRootOfWidth() {
    let p = 4
    let z = GaussianLaw.standard(dimension: p).sample(count: 16, field: GaussianField(seed: 43, runIndex: 0)).values
    var logWidth = [Double](), logDiscrepancy = [Double]()
    for e in 6...15 {
      let m = 1 << e
      var meanSquare = 0.0
      for r in 0..<16 {
        let w = initialNeurons(width: m, inputDimension: p, seed: 44, run: UInt64(e * 100 + r))
        let d = NeuralTangentKernel.compare(particles: w, inputs: z, inputDimension: p).discrepancy
        meanSquare += d * d / 16
      }
      logWidth.append(Foundation.log(Double(m)))
      logDiscrepancy.append(0.5 * Foundation.log(meanSquare))
    }
    let count = Double(logWidth.count)
    let mx = logWidth.reduce(0, +) / count, my = logDiscrepancy.reduce(0, +) / count
    var sxy = 0.0, sxx = 0.0
    for i in logWidth.indices {
      sxy += (logWidth[i] - mx) * (logDiscrepancy[i] - my)
      sxx += (logWidth[i] - mx) * (logWidth[i] - mx)
    }
    let slope = sxy / sxx
    #expect(abs(slope + 0.5) <= 0.06, "slope \(slope)")
  }
}
