import Foundation
import MeanFieldCore

/// An empirical neural tangent kernel against its infinite-width limit on n inputs.
public struct NeuralTangentKernelComparison: Sendable, Hashable {
  /// `K_m(z_i, z_j)`, row-major n × n.
  public var empirical: [Double]
  /// `K∞(z_i, z_j)`, row-major n × n.
  public var limit: [Double]
  /// `‖K_m − K∞‖_F / n`, the RMS entry error.
  public var discrepancy: Double
  /// Width m (number of neurons).
  public var width: Int
  /// Number of inputs n.
  public var inputCount: Int
}

/// The neural tangent kernel of the two-layer ReLU network at initialisation (Jacot, Gabriel
/// and Hongler, "Neural tangent kernel", NeurIPS 2018) and its infinite-width limit.
///
/// The network has width m and the NTK scaling `1/√m`:
///
///     f(z) = (1/√m) Σ_k a_k relu(w_k · z),     θ = (w_1, a_1, …, w_m, a_m),
///
/// so `∂f/∂a_k = relu(w_k·z)/√m` and `∂f/∂w_k = a_k 1{w_k·z > 0} z/√m`, and
///
///     K_m(z, z') = ∇_θ f(z) · ∇_θ f(z')
///                = (1/m) Σ_k [ relu(w_k·z) relu(w_k·z') + a_k² 1{w_k·z>0} 1{w_k·z'>0} ⟨z, z'⟩ ].
///
/// For i.i.d. `w_k ~ N(0, I_p)`, `a_k ~ N(0, 1)` the law of large numbers gives the limit
/// (each term's expectation), with φ the angle between z and z':
///
///     E[relu(w·z) relu(w·z')]        = |z||z'| (sin φ + (π − φ) cos φ) / (2π)
///     E[a²] E[1{w·z>0} 1{w·z'>0}]    = (π − φ) / (2π)
///     K∞(z, z') = |z||z'| (sin φ + (π − φ) cos φ)/(2π) + ⟨z, z'⟩ (π − φ)/(2π).
///
/// The first is the degree-1 arc-cosine kernel of Cho and Saul (NeurIPS 2009), whose
/// `k₁ = 2 E[...]` carries a factor 2 that is absent here; the second is the probability that
/// a Gaussian vector has positive inner product with both z and z' (the planes orthogonal to
/// z and z' cut the circle of directions in the span at angles π − φ out of 2π). At z = z':
/// `K∞ = |z|²/2 + |z|²/2 = |z|²`. The error `K_m − K∞` is an average of m i.i.d. centred
/// terms, so `E‖K_m − K∞‖_F² = C/m` exactly and the RMS discrepancy falls like `m^{−1/2}`.
///
/// Particles use the engine's layout: m rows `(w_1 … w_p, a)` of length p + 1 (a bias, if
/// any, is an input coordinate fixed to 1, as in the engine).
public enum NeuralTangentKernel {
  /// `K_m(z_i, z_j)` for all pairs of inputs, row-major n × n.
  ///
  /// Two GEMMs: `U = W Zᵀ` (m × n), then `(1/m) Rᵀ R` with `R = relu(U)` and `(1/m) Sᵀ S` with
  /// `S_ki = a_k 1{U_ki > 0}`, the latter multiplied entrywise by the Gram matrix `Z Zᵀ`.
  ///
  /// - Parameters:
  ///   - particles: m × (p + 1) row-major neurons `(w, a)`.
  ///   - inputs: n × p row-major inputs.
  ///   - inputDimension: p.
  /// - Complexity: O(m n p + m n²) time, O(m n) memory.
  public static func empirical(particles: [Double], inputs: [Double], inputDimension p: Int)
    -> [Double]
  {
    precondition(p >= 1 && inputs.count % p == 0 && particles.count % (p + 1) == 0)
    let m = particles.count / (p + 1), n = inputs.count / p
    precondition(m >= 1, "at least one neuron")
    var pre = [Double](repeating: 0, count: m * n)
    var gates = [Double](repeating: 0, count: m * n)
    var kernel = [Double](repeating: 0, count: n * n)
    var tangent = [Double](repeating: 0, count: n * n)
    particles.withUnsafeBufferPointer { w in
      inputs.withUnsafeBufferPointer { z in
        pre.withUnsafeMutableBufferPointer { u in
          gates.withUnsafeMutableBufferPointer { s in
            BLAS.gemm(
              transposeB: true, m: m, n: n, k: p, a: w.baseAddress!, lda: p + 1,
              b: z.baseAddress!, ldb: p, c: u.baseAddress!, ldc: n)
            for k in 0..<m {
              let a = w[k * (p + 1) + p]
              for i in 0..<n {
                let v = u[k * n + i]
                s[k * n + i] = v > 0 ? a : 0
                u[k * n + i] = v > 0 ? v : 0
              }
            }
            kernel.withUnsafeMutableBufferPointer { kw in
              BLAS.gemm(
                transposeA: true, m: n, n: n, k: m, alpha: 1 / Double(m), a: u.baseAddress!,
                lda: n, b: u.baseAddress!, ldb: n, c: kw.baseAddress!, ldc: n)
            }
            tangent.withUnsafeMutableBufferPointer { tw in
              BLAS.gemm(
                transposeA: true, m: n, n: n, k: m, alpha: 1 / Double(m), a: s.baseAddress!,
                lda: n, b: s.baseAddress!, ldb: n, c: tw.baseAddress!, ldc: n)
            }
          }
        }
        for i in 0..<n {
          for j in 0..<n {
            let g = FastMath.dot(z.baseAddress! + i * p, z.baseAddress! + j * p, count: p)
            kernel[i * n + j] += tangent[i * n + j] * g
          }
        }
      }
    }
    return kernel
  }

  /// `K∞(z_i, z_j)` for all pairs of inputs, row-major n × n.
  ///
  /// The angle is `φ = 2 atan2(‖|z'| z − |z| z'‖, ‖|z'| z + |z| z'‖)` (Kahan's form, accurate
  /// also for nearly parallel inputs, where `acos` of the cosine loses half the digits);
  /// a zero input gives a zero row.
  ///
  /// - Complexity: O(n² p).
  public static func infiniteWidth(inputs: [Double], inputDimension p: Int) -> [Double] {
    precondition(p >= 1 && inputs.count % p == 0)
    let n = inputs.count / p
    var norms = [Double](repeating: 0, count: n)
    for i in 0..<n {
      var s = 0.0
      for c in 0..<p { s += inputs[i * p + c] * inputs[i * p + c] }
      norms[i] = s.squareRoot()
    }
    var kernel = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n {
        let a = norms[i], b = norms[j]
        if a == 0 || b == 0 { continue }
        var dot = 0.0, diff = 0.0, sum = 0.0
        for c in 0..<p {
          let x = inputs[i * p + c], y = inputs[j * p + c]
          dot += x * y
          let u = b * x, v = a * y
          diff += (u - v) * (u - v)
          sum += (u + v) * (u + v)
        }
        let phi = 2 * Foundation.atan2(diff.squareRoot(), sum.squareRoot())
        let arc = a * b * (Foundation.sin(phi) + (Double.pi - phi) * Foundation.cos(phi))
        kernel[i * n + j] = (arc + dot * (Double.pi - phi)) / (2 * Double.pi)
      }
    }
    return kernel
  }

  /// Both kernels and the RMS discrepancy `‖K_m − K∞‖_F / n`.
  ///
  /// - Parameters:
  ///   - particles: m × (p + 1) row-major neurons `(w, a)`.
  ///   - inputs: n × p row-major inputs.
  ///   - inputDimension: p.
  /// - Complexity: as ``empirical(particles:inputs:inputDimension:)``.
  public static func compare(particles: [Double], inputs: [Double], inputDimension p: Int)
    -> NeuralTangentKernelComparison
  {
    let km = empirical(particles: particles, inputs: inputs, inputDimension: p)
    let kinf = infiniteWidth(inputs: inputs, inputDimension: p)
    let n = inputs.count / p
    var s = 0.0
    for i in km.indices { s += (km[i] - kinf[i]) * (km[i] - kinf[i]) }
    return NeuralTangentKernelComparison(
      empirical: km, limit: kinf, discrepancy: s.squareRoot() / Double(max(n, 1)),
      width: particles.count / (p + 1), inputCount: n)
  }
}
