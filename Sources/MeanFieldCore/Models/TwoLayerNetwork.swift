/// The mean-field two-layer network (docs/MATH.md §1a).
///
/// A particle is one neuron `x = (w, a)`, `w ∈ R^q`, `a ∈ R`, `d = q + 1`, with
/// `h(x; z) = a σ(w · z)` and network `f(z; μ) = E_μ h(X; z)`. For the loss
/// `F0(μ) = (1/n) Σ_j ℓ(f(z_j; μ), y_j)`:
///
///     s(x)_j = h(x; z_j)                                  (statistic, length n)
///     field_j = ℓ'(f_j, y_j) / n,   f_j = S_j / N
///     G0(x) = Σ_j field_j ∇_x h(x; z_j)
///           = ( a Σ_j field_j σ'(w·z_j) z_j ,  Σ_j field_j σ(w·z_j) )
///
/// No 1/N factor in the drift: the mean-field scaling. The pre-activations of a tile of
/// particles are one GEMM (tile × q)·(q × n); the w-gradient is a second GEMM (tile × n)·(n × q).
public struct TwoLayerNetwork: MeanFieldModel {
  /// How the network's output scales with its width.
  public enum Parametrisation: String, Sendable, CaseIterable {
    /// `f = (1/N) Σ_i h(x_i)`: the mean-field scaling, whose particles move O(1) at any width.
    case meanField = "mean-field"
    /// `f = Σ_i h(x_i)`: the standard (NTK) scaling; the drift is then exactly the gradient of
    /// the loss with respect to each neuron's parameters (plain gradient descent), and with
    /// output weights of size 1/√N the parameters barely move at large N (lazy training).
    case standard
  }
  /// The data (bias coordinate already appended when the network has a bias).
  public let data: DataSet
  /// σ.
  public let activation: Activation
  /// ℓ.
  public let loss: Loss
  /// Whether the last input coordinate is the constant 1.
  public let hasBias: Bool
  public let parametrisation: Parametrisation

  /// q, the number of input weights of a neuron.
  @inlinable public var inputWeights: Int { data.inputDimension }
  @inlinable public var dimension: Int { data.inputDimension + 1 }
  @inlinable public var statisticLength: Int { data.count }
  @inlinable public var fieldLength: Int { data.count }
  @inlinable public var needsAllPositions: Bool { false }

  /// A network on `data` (inputs without bias; `bias: true` appends the constant coordinate).
  public init(
    data: DataSet, activation: Activation, loss: Loss = .squared, bias: Bool = false,
    parametrisation: Parametrisation = .meanField
  ) {
    self.data = bias ? data.withBiasColumn() : data
    self.activation = activation
    self.loss = loss
    self.hasBias = bias
    self.parametrisation = parametrisation
  }

  /// The factor from the particles' summed outputs to the network's prediction.
  @inlinable
  func predictionScale(particleCount: Int) -> Double {
    parametrisation == .meanField ? 1.0 / Double(particleCount) : 1.0
  }

  /// Working memory: two tiles of pre-activations.
  public final class Scratch: @unchecked Sendable {
    /// Rows per tile, chosen so that a tile of n pre-activations stays in cache (~256 KiB).
    public let tileRows: Int
    @usableFromInline let u: UnsafeMutableBufferPointer<Double>
    @usableFromInline let m: UnsafeMutableBufferPointer<Double>

    init(tileRows: Int, samples: Int) {
      self.tileRows = tileRows
      u = .allocate(capacity: tileRows * samples)
      m = .allocate(capacity: tileRows * samples)
      u.initialize(repeating: 0)
      m.initialize(repeating: 0)
    }

    deinit {
      u.deallocate()
      m.deallocate()
    }
  }

  public func makeScratch(maxRows: Int) -> Scratch {
    let n = max(1, data.count)
    let tile = max(4, min(maxRows, 32_768 / n))
    return Scratch(tileRows: tile, samples: n)
  }

  /// Pre-activations `U = W Zᵀ` for `rows` particles starting at `x` into `u` (rows × n).
  @inlinable @inline(__always)
  func preactivations(_ x: UnsafePointer<Double>, rows: Int, into u: UnsafeMutablePointer<Double>) {
    data.inputs.withUnsafeBufferPointer { z in
      BLAS.gemm(
        transposeB: true, m: rows, n: data.count, k: inputWeights,
        a: x, lda: dimension, b: z.baseAddress!, ldb: inputWeights,
        c: u, ldc: data.count)
    }
  }

  /// σ(w·z_j) for every data point, kept from the statistic to the drift.
  public var cachePerParticle: Int { data.count }

  @inlinable
  public func accumulate(
    _ x: UnsafeBufferPointer<Double>, rows: Int,
    into statistic: UnsafeMutableBufferPointer<Double>, scratch: Scratch,
    cache: UnsafeMutablePointer<Double>?
  ) {
    let n = data.count, d = dimension, q = inputWeights
    let stat = statistic.baseAddress!
    var start = 0
    while start < rows {
      let tile = min(scratch.tileRows, rows - start)
      // With a cache the activations of the tile are written straight into it.
      let u = cache.map { $0 + start * n } ?? scratch.u.baseAddress!
      preactivations(x.baseAddress! + start * d, rows: tile, into: u)
      activation.apply(u, count: tile * n)
      for i in 0..<tile {
        let a = x[(start + i) * d + q]
        let t = u + i * n
        for j in 0..<n { stat[j] = stat[j].addingProduct(a, t[j]) }
      }
      start += tile
    }
  }

  @inlinable
  public func makeField(
    sum: UnsafeBufferPointer<Double>, particleCount: Int,
    into field: UnsafeMutableBufferPointer<Double>
  ) {
    let n = data.count
    let invN = predictionScale(particleCount: particleCount), invn = 1.0 / Double(n)
    data.labels.withUnsafeBufferPointer { y in
      for j in 0..<n {
        field[j] = loss.derivative(prediction: sum[j] * invN, label: y[j]) * invn
      }
    }
  }

  @inlinable
  public func drift(
    _ x: UnsafeBufferPointer<Double>, rows: Int, context: DriftContext,
    into g: UnsafeMutableBufferPointer<Double>, scratch: Scratch
  ) {
    let n = data.count, d = dimension, q = inputWeights
    let field = context.field.baseAddress!
    let m = scratch.m.baseAddress!
    var start = 0
    while start < rows {
      let tile = min(scratch.tileRows, rows - start)
      let t: UnsafeMutablePointer<Double>
      if let cache = context.cache {
        // σ(u) of this state, kept by accumulate: m ← field ∘ σ'(u) from σ(u).
        t = cache + start * n
        activation.weightedDerivative(fromValues: t, into: m, rows: tile, period: n, weights: field)
      } else {
        t = scratch.u.baseAddress!
        preactivations(x.baseAddress! + start * d, rows: tile, into: t)
        activation.apply(t, count: tile * n)
        activation.weightedDerivative(fromValues: t, into: m, rows: tile, period: n, weights: field)
      }
      for i in 0..<tile {
        g[(start + i) * d + q] = FastMath.dot(field, t + i * n, count: n)
      }
      // w-gradient before the a_i factor: (tile × n) · (n × q) into the first q columns of g.
      data.inputs.withUnsafeBufferPointer { z in
        BLAS.gemm(
          m: tile, n: q, k: n, a: m, lda: n, b: z.baseAddress!, ldb: q,
          c: g.baseAddress! + start * d, ldc: d)
      }
      for i in 0..<tile {
        let row = (start + i) * d
        let a = x[row + q]
        for c in 0..<q { g[row + c] *= a }
      }
      start += tile
    }
  }

  @inlinable
  public func energySum(
    _ x: UnsafeBufferPointer<Double>, rows: Int, context: DriftContext, scratch: Scratch
  ) -> Double { 0 }

  @inlinable
  public func energy(sum: UnsafeBufferPointer<Double>, energySum: Double, particleCount: Int)
    -> Double
  {
    let n = data.count
    let invN = predictionScale(particleCount: particleCount)
    var total = 0.0
    data.labels.withUnsafeBufferPointer { y in
      for j in 0..<n { total += loss.value(prediction: sum[j] * invN, label: y[j]) }
    }
    return total / Double(n)
  }
}
