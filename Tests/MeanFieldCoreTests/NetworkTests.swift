import Foundation
import MeanFieldCore
import Testing

/// Helpers shared by the engine tests.
enum Fixtures {
  static func network(
    inputs: Int = 3, samples: Int = 11, activation: Activation = .tanh, loss: Loss = .squared,
    bias: Bool = false, seed: UInt64 = 5
  ) -> TwoLayerNetwork {
    let spec = TeacherSpecification(
      inputs: inputs, samples: samples, teacherWidth: 2, noise: 0.1, seed: seed,
      activation: activation, loss: loss)
    return TwoLayerNetwork(data: spec.makeDataSet(), activation: activation, loss: loss, bias: bias)
  }

  static func engine(
    _ model: TwoLayerNetwork, particles: Int, blockSize: Int = 4, step: Double = 0.1,
    temperature: Double = 0, l2: Double = 0, threads: Int = 1
  ) -> ParticleEngine<TwoLayerNetwork, LocalExchange> {
    ParticleEngine(
      model: model, exchange: LocalExchange(layout: BlockLayout(particleCount: particles, blockSize: blockSize)),
      dynamics: .overdamped(.init(step: step, temperature: temperature, l2: l2)),
      initial: .gaussian(mean: [0], std: [1]), noise: GaussianField(seed: 3, runIndex: 0),
      threads: threads)
  }
}

@Suite struct NetworkDriftTests {
  /// The drift equals the gradient of N·F0 by central finite differences, for every
  /// activation and loss: relative error ≤ 1e-7. With h = 1e-5 the truncation error is
  /// O(h²) ≈ 1e-10 and the rounding error about 1e-16/h ≈ 1e-11, so 1e-7 leaves a wide margin
  /// while a wrong factor (a 1/N, a missing a_i, a wrong σ') fails by orders of magnitude.
  @Test(arguments: [
    (Activation.tanh, Loss.squared, false), (.sigmoid, .squared, true), (.tanh, .logistic, true),
    (.sigmoid, .logistic, false),
  ])
  func driftMatchesFiniteDifferences(activation: Activation, loss: Loss, bias: Bool) throws {
    let model = Fixtures.network(inputs: 3, samples: 13, activation: activation, loss: loss, bias: bias)
    let n = 9
    let engine = Fixtures.engine(model, particles: n, blockSize: 4)
    let d = model.dimension
    let x0 = engine.positions
    try engine.prepareField()
    let g = engine.driftOfCurrentState()
    let h = 1e-5
    var worst = 0.0
    let scale = g.map(abs).max()!
    for k in 0..<(n * d) {
      var xp = x0, xm = x0
      xp[k] += h
      xm[k] -= h
      engine.restore(positions: xp, step: 0)
      let fp = try engine.modelEnergy()
      engine.restore(positions: xm, step: 0)
      let fm = try engine.modelEnergy()
      let fd = Double(n) * (fp - fm) / (2 * h)
      worst = max(worst, abs(fd - g[k]) / scale)
    }
    #expect(worst <= 1e-7, "worst relative error \(worst)")
  }

  /// Standard parametrisation f = Σ_i h(x_i): the drift is the plain gradient of F0 with
  /// respect to each particle's parameters (no factor N), by central differences as above; and
  /// its loss is the loss of the summed network, N times the mean-field prediction.
  @Test(arguments: [(Activation.tanh, Loss.squared, true), (.sigmoid, .logistic, false)])
  func standardParametrisationIsPlainGradientDescent(activation: Activation, loss: Loss, bias: Bool) throws {
    let base = Fixtures.network(inputs: 3, samples: 13, activation: activation, loss: loss, bias: bias)
    let model = TwoLayerNetwork(
      data: Fixtures.network(inputs: 3, samples: 13, activation: activation, loss: loss, bias: false).data,
      activation: activation, loss: loss, bias: bias, parametrisation: .standard)
    let n = 9
    let engine = Fixtures.engine(model, particles: n, blockSize: 4)
    let d = model.dimension
    let x0 = engine.positions
    try engine.prepareField()
    let g = engine.driftOfCurrentState()
    let h = 1e-5
    var worst = 0.0
    let scale = g.map(abs).max()!
    for k in 0..<(n * d) {
      var xp = x0, xm = x0
      xp[k] += h
      xm[k] -= h
      engine.restore(positions: xp, step: 0)
      let fp = try engine.modelEnergy()
      engine.restore(positions: xm, step: 0)
      let fm = try engine.modelEnergy()
      worst = max(worst, abs((fp - fm) / (2 * h) - g[k]) / scale)
    }
    #expect(worst <= 1e-7, "worst relative error \(worst)")
    // The loss of f = Σ h, computed here from the positions.
    engine.restore(positions: x0, step: 0)
    let data = base.data
    var expected = 0.0
    for j in 0..<data.count {
      var f = 0.0
      for i in 0..<n {
        var u = 0.0
        for c in 0..<(d - 1) { u += x0[i * d + c] * data.inputs[j * (d - 1) + c] }
        f += x0[i * d + d - 1] * activation.value(u)
      }
      expected += loss.value(prediction: f, label: data.labels[j])
    }
    expected /= Double(data.count)
    let got = try engine.modelEnergy()
    #expect(abs(got - expected) <= 1e-12 * max(1, abs(expected)), "\(got) vs \(expected)")
  }

  /// ReLU: away from the kink the drift also matches finite differences.
  @Test func reluDriftMatchesFiniteDifferences() throws {
    let model = Fixtures.network(inputs: 2, samples: 7, activation: .relu)
    let n = 5
    let engine = Fixtures.engine(model, particles: n)
    let d = model.dimension
    let x0 = engine.positions
    try engine.prepareField()
    let g = engine.driftOfCurrentState()
    let h = 1e-6
    var worst = 0.0
    let scale = g.map(abs).max()!
    for k in 0..<(n * d) {
      var xp = x0, xm = x0
      xp[k] += h
      xm[k] -= h
      engine.restore(positions: xp, step: 0)
      let fp = try engine.modelEnergy()
      engine.restore(positions: xm, step: 0)
      let fm = try engine.modelEnergy()
      worst = max(worst, abs(Double(n) * (fp - fm) / (2 * h) - g[k]) / scale)
    }
    #expect(worst <= 1e-7, "worst relative error \(worst)")
  }
}
