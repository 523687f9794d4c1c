import Foundation
import MeanFieldCore
import SweepRunner
import SweepStore
import Testing

/// The statistics of the analyses against independent values (SciPy 1.17, printed to 17
/// digits) and closed forms.
@Suite struct StatisticsTests {
  @Test func studentQuantilesMatchSciPy() {
    let cases: [(Double, Double, Double)] = [
      (1, 0.975, 12.706204736174694), (2, 0.975, 4.302652729749462), (3, 0.95, 2.3533634348018233),
      (5, 0.995, 4.032142983555228), (10, 0.975, 2.228138851986274), (30, 0.975, 2.0422724563012378),
    ]
    for (df, p, expected) in cases {
      let q = Statistics.studentQuantile(p, df: df)
      #expect(abs(q - expected) < 1e-9 * expected, "t(\(p), \(df)) = \(q), SciPy \(expected)")
    }
  }

  /// On exact data a line fit returns the line; the slope's error from the residuals follows
  /// the textbook formula.
  /// The confidence a method string names: 99.9% is not printed as 99%.
  @Test func confidenceLabels() {
    #expect(Statistics.percentLabel(0.999) == "99.9")
    #expect(Statistics.percentLabel(0.95) == "95")
    #expect(Statistics.percentLabel(0.99) == "99")
    #expect(Statistics.percentLabel(0.9999) == "99.99")
  }

  @Test func lineFitIsExactOnALine() {
    let x = (0..<8).map(Double.init), y = x.map { 3 - 0.5 * $0 }
    let f = Statistics.fitLine(x: x, y: y)
    #expect(abs(f.slope + 0.5) < 1e-14 && abs(f.intercept - 3) < 1e-14 && f.chiSquare < 1e-25)
    // Residuals ±1 alternating: σ² = Σr²/(n − 2) = 8/6, Var(slope) = σ²/Σ(x − x̄)² = (8/6)/42.
    let noisy = zip(x, y).enumerated().map { $1.1 + ($0 % 2 == 0 ? 1.0 : -1.0) }
    let g = Statistics.fitLine(x: x, y: noisy)
    let sxx = 42.0
    var rss = 0.0
    for i in x.indices { rss += pow(noisy[i] - g.intercept - g.slope * x[i], 2) }
    #expect(abs(g.slopeError - (rss / 6 / sxx).squareRoot()) < 1e-14)
  }

  /// The power-law fit recovers a known slope: over 300 synthetic sweeps (5 values of N, 10
  /// replicates each, log-normal noise of 30%), its 95% bootstrap interval covers the true
  /// slope in 90–99% of them (the percentile interval undercovers slightly at 10 replicates);
  /// the same seed gives the same interval, another seed another.
  @Test func powerLawCoverageAndReproducibility() throws {
    let spec = AnalysisSpec(
      name: "slope", kind: .powerLaw, metric: "loss", component: nil, against: "particles", over: ["seed"],
      at: .final, window: nil, baseline: nil, expect: .value(-1), tolerance: 0.1, confidence: 0.95,
      bootstrapSamples: 500, bootstrapSeed: 7)
    var rng = SplitMix(seed: 99)
    func normal() -> Double {
      let u1 = (Double(rng.next() >> 11) + 1) * 0x1.0p-53, u2 = Double(rng.next() >> 11) * 0x1.0p-53
      return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    func sweep() -> AnalysisData {
      var runs = [DatasetRun]()
      for n in [64.0, 256, 1024, 4096, 16384] {
        for seed in 0..<10 {
          let y = 5 / n * exp(0.3 * normal())
          runs.append(Self.run(settings: [("particles", .int(Int(n))), ("seed", .int(seed))], loss: [y]))
        }
      }
      return AnalysisData(runs: runs, sweptKeys: ["particles", "seed"])
    }
    var covered = 0
    let trials = 300
    for _ in 0..<trials {
      let g = Analyzer.run([spec], on: sweep())[0].groups[0]
      let i = try #require(g.interval)
      if i.lower <= -1 && -1 <= i.upper { covered += 1 }
    }
    let coverage = Double(covered) / Double(trials)
    #expect(coverage >= 0.90 && coverage <= 0.99, "coverage \(coverage)")
    let data = sweep()
    let a = Analyzer.run([spec], on: data)[0].groups[0].interval!
    let b = Analyzer.run([spec], on: data)[0].groups[0].interval!
    #expect(a.lower == b.lower && a.upper == b.upper)
    var other = spec
    other.bootstrapSeed = 8
    let c = Analyzer.run([other], on: data)[0].groups[0].interval!
    #expect(c.lower != a.lower || c.upper != a.upper)
  }

  /// An exponential rate fitted on exact data is the rate.
  @Test func exponentialRateOnExactData() {
    let spec = AnalysisSpec(
      name: "rate", kind: .exponentialRate, metric: "loss", component: nil, against: nil, over: ["seed"], at: .final,
      window: (0.5, 3), baseline: .value(2), expect: .value(1.3), tolerance: 1e-6, confidence: 0.95,
      bootstrapSamples: 200, bootstrapSeed: 1)
    let times = stride(from: 0.0, through: 4, by: 0.25).map { $0 }
    let runs = (0..<3).map { seed in
      Self.run(settings: [("seed", .int(seed))], loss: times.map { 2 + 0.7 * exp(-1.3 * $0) }, times: times)
    }
    let g = Analyzer.run([spec], on: AnalysisData(runs: runs, sweptKeys: ["seed"]))[0].groups[0]
    #expect(abs(g.estimate! - 1.3) < 1e-12)
    #expect(g.verdict == .consistent, "\(g.reason)")
  }

  /// The three verdicts, with the rule stated in the report.
  @Test func verdicts() {
    func verdict(_ estimate: Double, _ interval: (Double, Double), _ expected: Double, _ tolerance: Double) -> Verdict?
    {
      var g = GroupResult(labels: [], runs: [])
      g.estimate = estimate
      g.interval = (interval.0, interval.1)
      g.expected = expected
      g.tolerance = tolerance
      Analyzer.decide(&g)
      return g.verdict
    }
    #expect(verdict(-0.49, (-0.52, -0.46), -0.5, 0.05) == .consistent)
    #expect(verdict(-0.3, (-0.33, -0.27), -0.5, 0.05) == .inconsistent)
    #expect(verdict(-0.45, (-0.7, -0.2), -0.5, 0.05) == .inconclusive)
    #expect(verdict(1.0, (0.9, 1.1), 1.05, 0) == .consistent)
    #expect(verdict(1.0, (0.9, 1.1), 1.2, 0) == .inconsistent)
  }

  static func run(settings: [(String, SettingValue)], loss: [Double], times: [Double]? = nil) -> DatasetRun {
    let t = times ?? (0..<loss.count).map(Double.init)
    let result = RunResult(
      key: RunKey(high: UInt64.random(in: 0...UInt64.max), low: 0), runID: "r", index: 0, jobName: "j",
      status: .completed,
      stepsDone: loss.count, wallSeconds: 0, ranks: 1, divergenceStep: -1, message: "",
      sampleSteps: Array(0..<loss.count), sampleTimes: t,
      metrics: [
        MetricSeries(
          info: MetricInfo(name: "loss", width: 1, axis: "", labels: [], longName: "loss", units: "", description: ""),
          values: loss)
      ],
      particles: 1, dimension: 1, hasVelocities: false, snapshots: [], reference: nil)
    return DatasetRun(
      index: 0, runID: "r", key: result.key, task: nil, status: "completed", stepsDone: loss.count, wallSeconds: 0,
      ranks: 1,
      divergenceStep: -1, message: "", settings: settings.map { (key: $0.0, value: $0.1) }, result: result)
  }
}

/// The values the tool computes itself, against independent computations: the Gibbs basin
/// masses of the flat-sharp potential by an independent quadrature (mpmath, 30 digits), their
/// Laplace limit, and the exact stationary second moments of the linear particle system.
@Suite struct TheoryTests {
  func flatSharp(_ sharp: Double, _ lambda: Double) -> [String: SettingValue] {
    [
      "model.potential.kind": .string("flat-sharp"), "model.potential.sharp": .double(sharp),
      "model.potential.flat": .double(1), "dynamics.temperature": .double(lambda), "dynamics.l2": .double(0),
    ]
  }

  @Test func gibbsBasinMasses() throws {
    for (sharp, lambda, expected) in [
      (8.0, 0.2, 0.28926), (8.0, 0.3, 0.29763), (4.0, 0.2, 0.35830), (16.0, 0.5, 0.24692),
    ] {
      let p = try Theory.gibbsBasinMass.value(settings: flatSharp(sharp, lambda), component: "sharp")
      #expect(abs(p - expected) < 2e-5, "sharp \(sharp), λ \(lambda): \(p) against \(expected)")
      let q = try Theory.gibbsBasinMass.value(settings: flatSharp(sharp, lambda), component: "flat")
      #expect(abs(p + q - 1) < 1e-12)
    }
    let laplace = try Theory.laplaceBasinMass.value(settings: flatSharp(8, 0.2), component: "sharp")
    #expect(abs(laplace - 1 / (1 + 8.0.squareRoot())) < 1e-6, "\(laplace)")
  }

  /// The flat-sharp landscape written as a 1-D expression with its minima: the same Gibbs masses
  /// (the mpmath values above) and the Laplace limit from its exact second derivative.
  @Test func basinTheoriesOfAnExpressionPotential() throws {
    let text = "sqrt(ks*kf)/8*exp(0.5*log(kf/ks)*tanh(x1)/tanh(1))*(x1^2 - 1)^2"
    let settings: [String: SettingValue] = [
      "model.potential.kind": .string("expression"), "model.potential.V": .string(text),
      "model.potential.parameters.ks": .double(8), "model.potential.parameters.kf": .double(1),
      "model.potential.minima": .string("[[-1.1], [0.9]]"), "model.dimension": .int(1),
      "dynamics.temperature": .double(0.2), "dynamics.l2": .double(0),
    ]
    let v = try ExpressionPotential(text, dimension: 1, parameters: ["ks": 8, "kf": 1], minima: [[-1.1], [0.9]])
    let labels = try v.refinedMinima.get().map { "minimum at (" + formatValue($0[0]) + ")" }
    let p = try Theory.gibbsBasinMass.value(settings: settings, component: labels[0])
    #expect(abs(p - 0.28926) < 2e-5, "\(p)")
    let laplace = try Theory.laplaceBasinMass.value(settings: settings, component: labels[0])
    #expect(abs(laplace - 1 / (1 + 8.0.squareRoot())) < 1e-12, "\(laplace)")
    let q = try Theory.gibbsBasinMass.value(settings: settings, component: labels[1])
    #expect(abs(p + q - 1) < 1e-12)
  }

  /// E (1/N)Σ|x|² = d (v(κ + 2λ') + (N − 1) v(κ + 2λ' + c)) / N with the Euler–Maruyama variance
  /// v(a) = λ/(a(1 − ηa/2)): the table of the exact finite-N chain (κ = 1, λ = 0.5, d = 2,
  /// η = 0.01), computed independently from the full N×N covariance recursion.
  @Test func stationarySecondMoments() throws {
    for (c, n, expected) in [
      (-0.5, 2.0, 1.505019), (-0.5, 512.0, 2.003059), (0.5, 2.0, 0.838365), (0.5, 64.0, 0.676913),
    ] {
      let settings: [String: SettingValue] = [
        "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(1),
        "model.interaction.kind": .string("quadratic"), "model.interaction.strength": .double(c),
        "model.dimension": .int(2), "particles": .int(Int(n)), "dynamics.kind": .string("overdamped"),
        "dynamics.step": .double(0.01), "dynamics.temperature": .double(0.5), "dynamics.l2": .double(0),
      ]
      let m = try Theory.stationarySecondMoment.value(settings: settings, component: nil)
      #expect(abs(m - expected) < 1e-6, "c \(c), N \(n): \(m) against \(expected)")
    }
  }
}

extension TheoryTests {
  /// The spectral gap of the Fokker–Planck generator: κ + 2λ' for a quadratic V (exact), and
  /// for flat-sharp wells the gaps of an independent computation (finite differences on 6000
  /// points, dense eigensolver) to its 4 digits.
  @Test func relaxationRates() throws {
    let quadratic: [String: SettingValue] = [
      "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(1.5),
      "dynamics.temperature": .double(0.4), "dynamics.l2": .double(0.1),
    ]
    let q = try Theory.relaxationRate.value(settings: quadratic, component: nil)
    #expect(abs(q - 1.7) < 1e-4, "\(q)")
    for (sharp, lambda, expected) in [(8.0, 0.2, 0.09238), (4.0, 0.3, 0.2340), (16.0, 0.5, 0.3449), (8.0, 0.5, 0.3952)]
    {
      let g = try Theory.relaxationRate.value(settings: flatSharp(sharp, lambda), component: nil)
      #expect(abs(g - expected) < 6e-4 * expected, "sharp \(sharp), λ \(lambda): \(g) against \(expected)")
    }
    var interacting = quadratic
    interacting["model.interaction.kind"] = .string("gaussian")
    #expect(throws: AnalysisError.self) { try Theory.relaxationRate.value(settings: interacting, component: nil) }
  }

  /// E (1/N)Σ x² at time t against a fourth-order Runge–Kutta integration of the full N×N
  /// covariance equation Σ' = AΣ + ΣAᵀ + 2λI and the mean equation, A = −(κI + c(I − 11ᵀ/N)),
  /// for N = 3 particles started i.i.d. N(μ₀, σ₀²) in d = 1.
  @Test func secondMomentAtTimeAgainstTheCovarianceEquation() throws {
    let kappa = 1.0, c = -0.5, lambda = 0.5, mu0 = 2.0, s0 = 0.5, n = 3, t = 0.7
    var a = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for i in 0..<n { for j in 0..<n { a[i][j] = -(i == j ? kappa + c : 0) + c / Double(n) } }
    typealias State = (m: [Double], s: [[Double]])
    func rate(_ x: State) -> State {
      var dm = [Double](repeating: 0, count: n)
      var ds = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
      for i in 0..<n {
        for k in 0..<n { dm[i] += a[i][k] * x.m[k] }
        for j in 0..<n {
          for k in 0..<n { ds[i][j] += a[i][k] * x.s[k][j] + x.s[i][k] * a[j][k] }
          if i == j { ds[i][j] += 2 * lambda }
        }
      }
      return (dm, ds)
    }
    func add(_ x: State, _ y: State, _ h: Double) -> State {
      (zip(x.m, y.m).map { $0 + h * $1 }, zip(x.s, y.s).map { zip($0, $1).map { $0 + h * $1 } })
    }
    var x: State = ([Double](repeating: mu0, count: n), (0..<n).map { i in (0..<n).map { i == $0 ? s0 * s0 : 0 } })
    let steps = 7000, h = t / Double(steps)
    for _ in 0..<steps {
      let k1 = rate(x), k2 = rate(add(x, k1, h / 2)), k3 = rate(add(x, k2, h / 2)), k4 = rate(add(x, k3, h))
      x = add(add(add(add(x, k1, h / 6), k2, h / 3), k3, h / 3), k4, h / 6)
    }
    var expected = 0.0
    for i in 0..<n { expected += (x.m[i] * x.m[i] + x.s[i][i]) / Double(n) }
    let settings: [String: SettingValue] = [
      "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(kappa),
      "model.interaction.kind": .string("quadratic"), "model.interaction.strength": .double(c),
      "model.dimension": .int(1), "particles": .int(n), "dynamics.temperature": .double(lambda),
      "init.kind": .string("gaussian"), "init.mean": .double(mu0), "init.std": .double(s0),
    ]
    let m = try Theory.secondMomentAtTime.value(settings: settings, component: nil, time: t)
    #expect(abs(m - expected) < 1e-12, "\(m) against \(expected)")
    #expect(throws: AnalysisError.self) { try Theory.secondMomentAtTime.value(settings: settings, component: nil) }
  }

  /// The Euler–Maruyama chain's E M2 after k steps from N((2, 2), 0.25 I), against the note's
  /// independent values (full N×N covariance recursion): c = −0.5, η = 0.01, N = 64: t = 0.5, 1,
  /// 2, 4, 8 → 4.017311, 2.516521, 1.933355, 1.965099, 1.988901; N = 4096 at t = 1: 2.524448.
  @Test func schemeSecondMomentAtTime() throws {
    func settings(_ n: Int) -> [String: SettingValue] {
      [
        "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(1),
        "model.interaction.kind": .string("quadratic"), "model.interaction.strength": .double(-0.5),
        "model.dimension": .int(2), "particles": .int(n), "dynamics.kind": .string("overdamped"),
        "dynamics.step": .double(0.01), "dynamics.temperature": .double(0.5), "init.kind": .string("gaussian"),
        "init.mean": .double(2), "init.std": .double(0.5),
      ]
    }
    for (n, t, expected) in [
      (64, 0.5, 4.017311), (64, 1.0, 2.516521), (64, 2.0, 1.933355), (64, 4.0, 1.965099), (64, 8.0, 1.988901),
      (4096, 1.0, 2.524448),
    ] {
      let m = try Theory.schemeSecondMomentAtTime.value(settings: settings(n), component: nil, time: t)
      #expect(abs(m - expected) < 1e-6, "N \(n), t \(t): \(m) against \(expected)")
    }
  }

  /// Times until W2 to the Gibbs law stays ≤ 0.1 (d = 2, λ = 0.5, η = 0.01, x ~ N(3, 0.5²),
  /// v ~ N(0, λ)), against an independent table (exact Gaussian recursions in numpy, to ±0.01):
  /// overdamped κ = 1: 3.73, κ = 4: 0.92; BAOAB κ = 1: γ = 1 7.78, γ = 2 5.65; κ = 0.25, γ = 1:
  /// 11.29; κ = 4, γ = 4: 2.82.
  @Test func w2HittingTimes() throws {
    func settings(_ kind: String, _ kappa: Double, _ gamma: Double) -> [String: SettingValue] {
      [
        "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(kappa),
        "model.dimension": .int(2), "dynamics.kind": .string(kind), "dynamics.scheme": .string("baoab"),
        "dynamics.friction": .double(gamma), "dynamics.step": .double(0.01), "dynamics.steps": .int(5000),
        "dynamics.temperature": .double(0.5), "diagnostics.every": .int(1), "init.kind": .string("gaussian"),
        "init.mean": .double(3), "init.std": .double(0.5), "velocity-init.kind": .string("gaussian"),
        "velocity-init.mean": .double(0), "velocity-init.std": .double(0.5.squareRoot()),
        // The table is of the law itself: a sampling floor of 10¹² particles is below its digits.
        "particles": .int(1_000_000_000_000),
      ]
    }
    for (kind, kappa, gamma, expected) in [
      ("overdamped", 1.0, 0.0, 3.73), ("overdamped", 4.0, 0.0, 0.92), ("underdamped", 1.0, 1.0, 7.78),
      ("underdamped", 1.0, 2.0, 5.65), ("underdamped", 0.25, 1.0, 11.29), ("underdamped", 4.0, 4.0, 2.82),
    ] {
      let t = try Theory.w2HittingTime.value(
        settings: settings(kind, kappa, gamma), component: nil, threshold: 0.1)
      #expect(abs(t - expected) <= 0.015, "\(kind) κ \(kappa) γ \(gamma): \(t) against \(expected)")
    }
  }

  /// The gradient flow of Rosenbrock's valley from (1.5, 2.5), against an independent stiff
  /// solver (Radau, rtol 1e-12): x(0.5) = (1.52138384, 2.31615539), x(5) = (1.16761176,
  /// 1.36392388); and the quadratic's closed form.
  @Test func gradientFlowPositions() throws {
    let settings: [String: SettingValue] = [
      "model.potential.kind": .string("rosenbrock"), "model.potential.a": .double(1), "model.potential.b": .double(100),
      "model.dimension": .int(2), "init.kind": .string("gaussian"), "init.mean": .string("[1.5, 2.5]"),
      "init.std": .double(0),
    ]
    for (t, x, y) in [(0.5, 1.52138384, 2.31615539), (5.0, 1.16761176, 1.36392388)] {
      let a = try Theory.gradientFlowPosition.value(settings: settings, component: "x1", time: t)
      let b = try Theory.gradientFlowPosition.value(settings: settings, component: "x2", time: t)
      #expect(abs(a - x) < 2e-8 && abs(b - y) < 2e-8, "t \(t): (\(a), \(b))")
    }
    var quadratic = settings
    quadratic["model.potential.kind"] = .string("quadratic")
    quadratic["model.potential.stiffness"] = .string("[2, 8]")
    quadratic["init.mean"] = .string("[1.5, 1]")
    let y = try Theory.gradientFlowPosition.value(settings: quadratic, component: "x2", time: 0.3)
    #expect(y == exp(-8 * 0.3))
  }

  /// The N → ∞ limit of the Euler–Maruyama chain's stationary second moment, d λ/(a(1 − ηa/2)),
  /// a = κ + c: 2.005013 and 0.671704 for c = ∓0.5 (κ = 1, λ = 0.5, d = 2, η = 0.01).
  @Test func stationarySecondMomentLimits() throws {
    for (c, expected) in [(-0.5, 2.0050125313283207), (0.5, 0.6717044500419815)] {
      let settings: [String: SettingValue] = [
        "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(1),
        "model.interaction.kind": .string("quadratic"), "model.interaction.strength": .double(c),
        "model.dimension": .int(2), "particles": .int(7), "dynamics.kind": .string("overdamped"),
        "dynamics.step": .double(0.01), "dynamics.temperature": .double(0.5),
      ]
      let m = try Theory.stationarySecondMomentLimit.value(settings: settings, component: nil)
      #expect(abs(m - expected) < 1e-12, "c \(c): \(m)")
    }
  }
}

extension StatisticsTests {
  /// `where:` keeps the named runs; a key with one value labels no group.
  @Test func whereSelectsRuns() {
    var runs = [DatasetRun]()
    for lambda in [0.0, 0.2, 0.3] {
      for seed in 0..<3 {
        runs.append(
          Self.run(settings: [("dynamics.temperature", .double(lambda)), ("seed", .int(seed))], loss: [lambda + 1]))
      }
    }
    let data = AnalysisData(runs: runs, sweptKeys: ["dynamics.temperature", "seed"])
    let two = AnalysisSpec(
      name: "r", kind: .reduction, metric: "loss", over: ["seed"], filter: [("dynamics.temperature", ["0.2", "0.3"])])
    let groups = Analyzer.run([two], on: data)[0].groups
    #expect(groups.map { $0.estimate! } == [1.2, 1.3])
    #expect(groups.map(\.runs.count) == [3, 3])
    let one = AnalysisSpec(
      name: "r", kind: .reduction, metric: "loss", over: ["seed"], filter: [("dynamics.temperature", ["0"])])
    let g = Analyzer.run([one], on: data)[0].groups
    #expect(g.count == 1 && g[0].labels.isEmpty && g[0].estimate == 1)
    let none = AnalysisSpec(
      name: "r", kind: .reduction, metric: "loss", over: ["seed"], filter: [("dynamics.temperature", ["7"])])
    let r = Analyzer.run([none], on: data)[0]
    #expect(r.groups.isEmpty && r.notes.contains { $0.contains("no run has") })
  }

  /// A conserved series is consistent with 0 change; a series that moves by one part in 10¹⁵
  /// is not (tolerance 0).
  @Test func conservation() {
    let spec = AnalysisSpec(name: "c", kind: .conservation, metric: "loss", over: ["seed"], expect: .value(0))
    let flat = (0..<3).map { Self.run(settings: [("seed", .int($0))], loss: [0.4, 0.4, 0.4, 0.4]) }
    let g = Analyzer.run([spec], on: AnalysisData(runs: flat, sweptKeys: ["seed"]))[0].groups[0]
    #expect(g.estimate == 0 && g.verdict == .consistent, "\(g.reason)")
    let moved = flat + [Self.run(settings: [("seed", .int(3))], loss: [0.4, 0.4, 0.4 + 4e-16, 0.4])]
    let h = Analyzer.run([spec], on: AnalysisData(runs: moved, sweptKeys: ["seed"]))[0].groups[0]
    #expect(h.estimate! > 0 && h.verdict == .inconsistent, "\(h.reason)")
  }

  /// The hitting time of e^{−t} at 0.1 is the first sample at or after ln 10; a curve that
  /// comes back above the threshold has not hit it yet.
  @Test func hittingTime() throws {
    let times = stride(from: 0.0, through: 5, by: 0.05).map { $0 }
    let runs = (0..<4).map { seed in
      Self.run(
        settings: [("seed", .int(seed))], loss: times.map { exp(-$0) * (1 + 0.01 * Double(seed - 2)) }, times: times)
    }
    let spec = AnalysisSpec(
      name: "h", kind: .hittingTime, metric: "loss", over: ["seed"], threshold: 0.1, expect: .value(log(10)),
      tolerance: 0.05)
    let g = Analyzer.run([spec], on: AnalysisData(runs: runs, sweptKeys: ["seed"]))[0].groups[0]
    let first = try #require(times.first { exp(-$0) * 0.995 <= 0.1 })
    #expect(g.estimate == first, "\(String(describing: g.estimate)) against \(first)")
    #expect(g.verdict == .consistent, "\(g.reason)")
    let bump = Self.run(
      settings: [("seed", .int(9))], loss: times.map { $0 > 4.5 && $0 < 4.7 ? 5 : exp(-$0) }, times: times)
    let h = Analyzer.run([spec], on: AnalysisData(runs: [bump], sweptKeys: ["seed"]))[0].groups[0]
    #expect(h.estimate == 4.7)
  }

  /// A power law of the deviation from a baseline: y = 2 − 3/N gives slope −1 of |y − 2|.
  @Test func powerLawOfADeviation() {
    var runs = [DatasetRun]()
    for n in [2, 4, 8, 16, 32] {
      for seed in 0..<3 {
        runs.append(
          Self.run(
            settings: [("particles", .int(n)), ("seed", .int(seed))],
            loss: [2 - 3 / Double(n) * (1 + 0.01 * Double(seed - 1))]))
      }
    }
    let spec = AnalysisSpec(
      name: "p", kind: .powerLaw, metric: "loss", against: "particles", over: ["seed"], baseline: .value(2),
      expect: .value(-1), tolerance: 0.01)
    let g = Analyzer.run([spec], on: AnalysisData(runs: runs, sweptKeys: ["particles", "seed"]))[0].groups[0]
    #expect(abs(g.estimate! + 1) < 1e-12 && g.verdict == .consistent, "\(g.reason)")
    #expect(abs(exp(g.intercept!) - 3) < 1e-12)
  }
}

extension StatisticsTests {
  /// Richardson extrapolation recovers Q* and p of Q = Q* + C h^p exactly from any three grids
  /// refined by a constant ratio (finest at either end, the cell count stored as text as a 1-D
  /// `reference.cells` is); replicates that differ give a bootstrap interval that holds Q*;
  /// non-monotone convergence and a varying ratio are refused with the reason.
  @Test func richardsonRecoversAPlantedLimit() throws {
    func data(_ values: [(x: SettingValue, y: Double)], key: String, noise: [Double] = [0]) -> AnalysisData {
      var runs = [DatasetRun]()
      for (x, y) in values {
        for (seed, e) in noise.enumerated() {
          runs.append(Self.run(settings: [(key, x), ("seed", .int(seed))], loss: [y + e]))
        }
      }
      return AnalysisData(runs: runs, sweptKeys: [key, "seed"])
    }
    // Cells (more is finer), text-valued: Q = 0.3 + 2/n^1.5 on 50 (coarse, ignored), 100, 200, 400.
    let cells = [50, 100, 200, 400].map { (x: SettingValue.string(String($0)), y: 0.3 + 2 / pow(Double($0), 1.5)) }
    let spec = AnalysisSpec(
      name: "r", kind: .richardson, metric: "loss", against: "reference.cells", over: ["seed"], expect: .value(0.3),
      tolerance: 1e-3)
    let g = Analyzer.run([spec], on: data(cells, key: "reference.cells"))[0].groups[0]
    #expect(abs(g.estimate! - 0.3) < 1e-13 && abs(g.observedOrder! - 1.5) < 1e-12, "\(g.method)")
    #expect(g.baseline == 0.3 + 2 / pow(400, 1.5) && g.verdict == .consistent, "\(g.reason)")
    // The interval is ±0.25 × the correction.
    let half = 0.25 * 2 / pow(400, 1.5)
    #expect(abs(g.interval!.upper - g.interval!.lower - 2 * half) < 1e-15)
    // Steps (less is finer): Q = 1 − 0.5 η, three values only.
    let steps = [0.04, 0.02, 0.01].map { (x: SettingValue.double($0), y: 1 - 0.5 * $0) }
    let s = AnalysisSpec(
      name: "r", kind: .richardson, metric: "loss", against: "dynamics.step", over: ["seed"], finest: .smallest)
    let h = Analyzer.run([s], on: data(steps, key: "dynamics.step"))[0].groups[0]
    #expect(abs(h.estimate! - 1) < 1e-13 && abs(h.observedOrder! - 1) < 1e-9, "\(h.method)")
    // Replicates with noise far below the discretisation error: a bootstrap interval holds Q*.
    let noisy = data(cells, key: "reference.cells", noise: [-1e-6, 0, 1e-6, 2e-6])
    let n = Analyzer.run([spec], on: noisy)[0].groups[0]
    #expect(n.interval!.lower < 0.3 + 5e-7 && n.interval!.upper > 0.3 + 5e-7 && n.method.contains("bootstrap"))
    // Oscillating values: no estimate, and the reason says why.
    let wiggle = [100, 200, 400].map {
      (x: SettingValue.int($0), y: [0.31, 0.29, 0.305][[100, 200, 400].firstIndex(of: $0)!])
    }
    let w = Analyzer.run([spec], on: data(wiggle, key: "reference.cells"))[0].groups[0]
    #expect(w.estimate == nil && w.reason.contains("monotone"), "\(w.reason)")
    // Ratios 2 and 3: refused.
    let uneven = [100, 200, 600].map { (x: SettingValue.int($0), y: 0.3 + 1 / Double($0)) }
    let u = Analyzer.run([spec], on: data(uneven, key: "reference.cells"))[0].groups[0]
    #expect(u.estimate == nil && u.reason.contains("constant refinement ratio"), "\(u.reason)")
    // The finest grid alone, held to the same tolerance, would fail: the test can tell.
    let coarse = [25, 50, 100].map { (x: SettingValue.int($0), y: 0.3 + 2 / pow(Double($0), 1.5)) }
    let c = Analyzer.run([spec], on: data(coarse, key: "reference.cells"))[0].groups[0]
    #expect(abs(c.baseline! - 0.3) > 1e-3 && abs(c.estimate! - 0.3) < 1e-13)
  }
}

extension TheoryTests {
  func kinetic(
    _ kappa: Double, _ gamma: Double, _ lambda: Double, _ mx: Double, _ sx: Double, _ vStd: Double?,
    vMean: Double = 0
  ) -> [String: SettingValue] {
    var s: [String: SettingValue] = [
      "model.potential.kind": .string("quadratic"), "model.potential.stiffness": .double(kappa),
      "model.dimension": .int(1), "dynamics.kind": .string("underdamped"), "dynamics.friction": .double(gamma),
      "dynamics.temperature": .double(lambda), "dynamics.l2": .double(0), "init.kind": .string("gaussian"),
      "init.mean": .double(mx), "init.std": .double(sx),
    ]
    if let vStd {
      s["velocity-init.kind"] = .string("gaussian")
      s["velocity-init.mean"] = .double(vMean)
      s["velocity-init.std"] = .double(vStd)
    }
    return s
  }

  /// Free diffusion (no potential): E|x|² = |m|² + d(σ₀² + 2λt) at the flow; the stationary
  /// values and the scheme's chain are refused without confinement.
  @Test func secondMomentOfFreeDiffusion() throws {
    let settings: [String: SettingValue] = [
      "model.potential.kind": .string("none"), "model.dimension": .int(2), "particles": .int(50),
      "dynamics.kind": .string("overdamped"), "dynamics.step": .double(0.1), "dynamics.temperature": .double(0.5),
      "dynamics.l2": .double(0), "init.kind": .string("gaussian"), "init.mean": .string("[1, -2]"),
      "init.std": .double(0.3),
    ]
    let m = try Theory.secondMomentAtTime.value(settings: settings, component: nil, time: 1.5)
    #expect(abs(m - (5 + 2 * (0.09 + 1.5))) < 1e-12, "\(m)")
    #expect(throws: AnalysisError.self) {
      try Theory.schemeSecondMomentAtTime.value(settings: settings, component: nil, time: 1.5)
    }
    #expect(throws: AnalysisError.self) { try Theory.meanFieldSecondMoment.value(settings: settings, component: nil) }
  }

  /// The kinetic moments against the damped oscillator's closed form (κ > γ²/4):
  /// E x = a m_x + b m_v, Var x = a²σ_x² + b²σ_v² + 2γλ∫₀ᵗ b², a = e^{−γt/2}(cos ωt + γ/(2ω) sin ωt),
  /// b = e^{−γt/2} sin(ωt)/ω (the integral by Simpson's rule on 20000 intervals), and against
  /// an independent matrix-exponential computation (10 digits) for the shipped job's setting.
  @Test func kineticMomentsAgainstTheClosedForm() throws {
    for (kappa, gamma, lambda, mx, sx, mv, sv, t) in [
      (1.0, 1.0, 0.3, 0.5, 0.3, 0.0, 0.5, 3.0), (4.0, 0.5, 1.0, -1.0, 0.2, 0.7, 1.5, 2.2),
      (2.0, 2.0, 0.1, 2.0, 0.0, -1.5, 0.0, 7.0),
    ] {
      let w = (kappa - gamma * gamma / 4).squareRoot()
      func a(_ s: Double) -> Double { exp(-gamma * s / 2) * (cos(w * s) + gamma / (2 * w) * sin(w * s)) }
      func b(_ s: Double) -> Double { exp(-gamma * s / 2) * sin(w * s) / w }
      let m = 20000
      var integral = 0.0
      for i in 0...m {
        let s = t * Double(i) / Double(m)
        integral += (i == 0 || i == m ? 1 : i % 2 == 1 ? 4 : 2) * b(s) * b(s)
      }
      integral *= t / Double(m) / 3
      let mean = a(t) * mx + b(t) * mv
      let variance = a(t) * a(t) * sx * sx + b(t) * b(t) * sv * sv + 2 * gamma * lambda * integral
      let settings = kinetic(kappa, gamma, lambda, mx, sx, sv, vMean: mv)
      let e = try Theory.kineticMeanAtTime.value(settings: settings, component: "x1", time: t)
      let q = try Theory.kineticSecondMomentAtTime.value(settings: settings, component: nil, time: t)
      #expect(abs(e - mean) < 1e-11, "κ \(kappa) γ \(gamma): E x \(e) against \(mean)")
      #expect(
        abs(q - (variance + mean * mean)) < 1e-11, "κ \(kappa) γ \(gamma): E x² \(q) against \(variance + mean * mean)")
    }
    let job = kinetic(1, 1, 0.3, 0.5, 0.3, 0.5)
    for (t, mean, second) in [(3.0, -0.0621773837, 0.2997308842), (10.0, -0.00108505837, 0.2999987382)] {
      #expect(abs(try Theory.kineticMeanAtTime.value(settings: job, component: nil, time: t) - mean) < 1e-10)
      #expect(abs(try Theory.kineticSecondMomentAtTime.value(settings: job, component: nil, time: t) - second) < 1e-10)
    }
    // Without velocity-init the velocities start Maxwellian N(0, λ): at m_x = 0 and σ_x² = λ/κ
    // the law is stationary.
    let gibbs = kinetic(2, 1, 0.4, 0, (0.4 / 2.0).squareRoot(), nil)
    let stationary = try Theory.kineticSecondMomentAtTime.value(settings: gibbs, component: nil, time: 5)
    #expect(abs(stationary - 0.2) < 1e-12, "\(stationary)")
    var overdamped = job
    overdamped["dynamics.kind"] = .string("overdamped")
    #expect(throws: AnalysisError.self) {
      try Theory.kineticMeanAtTime.value(settings: overdamped, component: nil, time: 1)
    }
    #expect(throws: AnalysisError.self) { try Theory.kineticMeanAtTime.value(settings: job, component: "x2", time: 1) }
  }
}

/// The figure script built into the binary is scripts/report_figures.py.
@Test func builtInFigureScriptMatchesTheFile() throws {
  let file = repositoryRoot().appendingPathComponent("scripts/report_figures.py")
  #expect(try String(contentsOf: file, encoding: .utf8) == ReportFigures.script)
}

/// `mfsweep report` end to end, and the page as a person sees it: a real headless browser
/// (Debian's chromium) loads it offline without errors, every figure is there, a screenshot is
/// not blank, and every number on the page is the number in report.json.
@Suite(.serialized) struct ReportPageTests {
  static let job = """
    name: ntk-small
    model:
      kind: two-layer-network
      activation: relu
      data: { kind: teacher, inputs: 3, samples: 20, teacher-width: 2, seed: 1 }
    dynamics: { kind: overdamped, step: 0.01, steps: 2 }
    particles: 64
    diagnostics: { every: 1, metrics: [ntk-discrepancy, loss] }
    sweep:
      grid:
        particles: [64, 256, 1024, 4096]
        seed: { range: [0, 4] }
    analysis:
      - name: ntk-rate
        kind: power-law
        metric: ntk-discrepancy
        against: particles
        expect: { value: -0.5, tolerance: 0.1 }
      - name: loss-mean
        kind: reduction
        metric: loss
    output: out

    """

  @Test func reportPageInAHeadlessBrowser() throws {
    guard let chromium = findInPath("chromium") ?? findInPath("chromium-browser") else {
      Issue.record("chromium is not installed (the test command installs it)")
      return
    }
    guard let python = pythonWithH5py() else {
      Issue.record("python3 is not installed")
      return
    }
    let folder = try temporaryFolder("report")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(Self.job, in: folder)
    #expect(try mfsweep(["run", job], in: folder).status == 0)
    let r = try mfsweep(["report", "out"], in: folder)
    #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
    #expect(r.stdout.contains("ntk-rate (all runs): "), "\(r.stdout)")
    #expect(!r.stderr.contains("warning"), "\(r.stderr)")
    let report = folder.appendingPathComponent("out/report")
    // Every figure the report lists exists, as SVG and PDF, and is not empty.
    let json =
      try JSONSerialization.jsonObject(with: Data(contentsOf: report.appendingPathComponent("report.json")))
      as! [String: Any]
    let figures = (json["figures"] as! [[String: Any]]).map { $0["name"] as! String }
    #expect(figures.count >= 3)
    for name in figures {
      for ext in ["svg", "pdf"] {
        let size =
          (try? FileManager.default.attributesOfItem(atPath: report.appendingPathComponent("\(name).\(ext)").path)[
            .size] as? Int) ?? 0
        #expect(size > 1000, "\(name).\(ext) is missing or empty")
      }
    }
    // The browser: the rendered DOM (after the page's script ran), console errors, a screenshot.
    let page = "file://" + report.appendingPathComponent("index.html").path
    let common = [
      "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
    ]
    let dom = try runProcess(
      chromium, common + ["--dump-dom", page], environment: ProcessInfo.processInfo.environment, timeout: 120)
    #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
    #expect(!dom.stderr.contains("Uncaught"), "\(dom.stderr.suffix(1000))")
    for name in figures { #expect(dom.stdout.contains("data-figure=\"\(name)\""), "figure \(name) is not on the page") }
    let shot = folder.appendingPathComponent("shot.png").path
    let s = try runProcess(
      chromium, common + ["--window-size=1200,1600", "--screenshot=\(shot)", page],
      environment: ProcessInfo.processInfo.environment, timeout: 120)
    #expect(s.status == 0, "\(s.stderr.suffix(500))")
    // Numbers: every data-value on the page equals the value at its key in report.json; the
    // screenshot has content (pixel standard deviation well above a blank page's 0).
    let check = """
      import json, re, sys
      from PIL import Image, ImageStat
      dom, report, shot = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), sys.argv[3]
      analyses = {a["name"]: a for a in report["analyses"]}
      n = 0
      for key, value in re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', dom):
          name, group, *field = key.split(".")
          g = analyses[name]["groups"][int(group)]
          expected = g[field[0]] if len(field) == 1 else g[field[0]][int(field[1])]
          if value == "null":
              assert expected is None, (key, expected)
          else:
              assert float(value) == expected, (key, value, expected)
          n += 1
      assert n >= 8, n
      std = ImageStat.Stat(Image.open(shot).convert("L")).stddev[0]
      assert std > 20, std
      print("ok", n, round(std, 1))
      """
    let domFile = folder.appendingPathComponent("dom.html")
    try dom.stdout.write(to: domFile, atomically: true, encoding: .utf8)
    let c = try runProcess(
      python, ["-c", check, domFile.path, report.appendingPathComponent("report.json").path, shot],
      environment: ProcessInfo.processInfo.environment)
    #expect(c.status == 0 && c.stdout.hasPrefix("ok"), "\(c.stdout) \(c.stderr)")
  }
}
