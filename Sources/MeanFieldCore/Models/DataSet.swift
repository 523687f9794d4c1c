import Foundation

/// A regression or classification data set `{(z_j, y_j)}_{j=1..n}`, inputs row-major n × p.
public struct DataSet: Sendable, Equatable {
  /// Inputs, row-major `count × inputDimension`.
  public var inputs: [Double]
  /// Labels (targets), `count` values.
  public var labels: [Double]
  /// p, the number of input coordinates.
  public var inputDimension: Int

  /// Number of data points n.
  public var count: Int { labels.count }

  /// A data set from explicit arrays.
  public init(inputs: [Double], labels: [Double], inputDimension: Int) {
    precondition(inputDimension > 0 && inputs.count == labels.count * inputDimension)
    self.inputs = inputs
    self.labels = labels
    self.inputDimension = inputDimension
  }

  /// The same points with a constant 1 appended to every input (a bias coordinate).
  public func withBiasColumn() -> DataSet {
    var z = [Double]()
    z.reserveCapacity(count * (inputDimension + 1))
    for j in 0..<count {
      z.append(contentsOf: inputs[(j * inputDimension)..<((j + 1) * inputDimension)])
      z.append(1)
    }
    return DataSet(inputs: z, labels: labels, inputDimension: inputDimension + 1)
  }
}

/// A synthetic data set labelled by a random teacher network.
///
///     z_j ~ N(0, I_p),   f*(z) = (1/m) Σ_k a*_k σ(w*_k · z),
///     y_j = f*(z_j) + noise · ξ_j              (squared loss)
///     y_j = sign(f*(z_j) + noise · ξ_j)        (logistic loss, y ∈ {-1, +1})
///
/// with teacher directions `w*_k` uniform on the unit sphere (so `w*·z ~ N(0, 1)`) and output
/// weights `a*_k = ±1` with equal probability. Everything is drawn from Philox keyed by the
/// data seed, so the same seed gives the same data on every rank and machine.
public struct TeacherSpecification: Sendable, Equatable, Hashable {
  public var inputs: Int
  public var samples: Int
  public var teacherWidth: Int
  public var noise: Double
  public var seed: UInt64
  public var activation: Activation
  public var loss: Loss

  public init(
    inputs: Int, samples: Int, teacherWidth: Int, noise: Double, seed: UInt64,
    activation: Activation, loss: Loss = .squared
  ) {
    self.inputs = inputs
    self.samples = samples
    self.teacherWidth = teacherWidth
    self.noise = noise
    self.seed = seed
    self.activation = activation
    self.loss = loss
  }

  /// Draws the data set.
  public func makeDataSet() -> DataSet {
    let p = inputs, n = samples, m = teacherWidth
    let field = GaussianField(
      philox: Philox4x32(
        key0: UInt32(truncatingIfNeeded: seed),
        key1: UInt32(truncatingIfNeeded: seed >> 32) ^ 0x7EAC_4E12))
    // Teacher: "particles" 0..<m of the data stream at step 0; inputs at step 1; noise step 2;
    // output signs at step 3.
    var w = [Double](repeating: 0, count: m * p)
    w.withUnsafeMutableBufferPointer {
      field.fillNormals($0, rows: m, dimension: p, firstParticle: 0, step: 0, stream: .data)
    }
    for k in 0..<m {
      var norm = 0.0
      for c in 0..<p { norm += w[k * p + c] * w[k * p + c] }
      norm = norm.squareRoot()
      for c in 0..<p { w[k * p + c] /= norm }
    }
    var a = [Double](repeating: 0, count: m)
    for k in 0..<m {
      let (u, _) = field.uniformPair(stream: .data, step: 3, particle: UInt64(k), pair: 0)
      a[k] = u <= 0.5 ? 1 : -1
    }
    var z = [Double](repeating: 0, count: n * p)
    z.withUnsafeMutableBufferPointer {
      field.fillNormals($0, rows: n, dimension: p, firstParticle: 0, step: 1, stream: .data)
    }
    var y = [Double](repeating: 0, count: n)
    for j in 0..<n {
      var f = 0.0
      for k in 0..<m {
        var u = 0.0
        for c in 0..<p { u += w[k * p + c] * z[j * p + c] }
        f += a[k] * activation.value(u)
      }
      f /= Double(m)
      let (xi, _) = field.normalPair(stream: .data, step: 2, particle: UInt64(j), pair: 0)
      let noisy = f + noise * xi
      switch loss {
      case .squared: y[j] = noisy
      case .logistic: y[j] = noisy >= 0 ? 1 : -1
      }
    }
    return DataSet(inputs: z, labels: y, inputDimension: p)
  }
}
