import Foundation
import SweepRunner
import SweepStore
import Testing

/// Every diagnostic reached from a job file, checked against something independent.
@Suite(.serialized) struct MetricJobTests {
  func run(_ text: String, files: [String: String] = [:]) throws -> (TaskFile, URL) {
    let folder = try temporaryFolder("metrics")
    for (name, contents) in files {
      try contents.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    let path = try writeJob(text, in: folder)
    let r = try mfsweep(["run", path], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    return (try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path), folder)
  }

  /// Ornstein–Uhlenbeck (V = κx²/2): the particle law is Gaussian at all times with known
  /// mean and variance, so W2 to the Gibbs Gaussian and KL to the Gibbs density have closed
  /// forms to compare with; the entropy at t = 0 is that of N(m0, s0²).
  @Test func ornsteinUhlenbeckClosedForms() throws {
    let (reader, folder) = try run(
      """
      model: { kind: potential, dimension: 1, potential: { kind: quadratic, stiffness: 2 } }
      dynamics: { kind: overdamped, step: 0.001, steps: 3000, temperature: 0.5 }
      particles: 20000
      init: { kind: gaussian, mean: 1.5, std: 0.3 }
      diagnostics: { every: 500, metrics: [mean, second-moment, entropy, kl-to-gibbs, w2-to-gaussian, free-energy] }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let id = "r00000"
    let times = try reader.times(run: id)
    let mean = try reader.metric(run: id, name: "mean")
    let w2 = try reader.metric(run: id, name: "w2-to-gaussian")
    let kl = try reader.metric(run: id, name: "kl-to-gibbs")
    let entropy = try reader.metric(run: id, name: "entropy")
    // Exact law of Euler–Maruyama OU: m_k = (1 − κη)^k m0, v_{k+1} = (1 − κη)² v_k + 2λη.
    let kappa = 2.0, eta = 0.001, lambda = 0.5
    var m = 1.5, v = 0.09
    let target = lambda / kappa
    for (i, t) in times.enumerated() {
      let steps = Int((t / eta).rounded())
      if i > 0 {
        let previous = Int((times[i - 1] / eta).rounded())
        for _ in previous..<steps {
          m *= 1 - kappa * eta
          v = (1 - kappa * eta) * (1 - kappa * eta) * v + 2 * lambda * eta
        }
      }
      // Sample mean within 5 SE; W2 between Gaussians sqrt((m − 0)² + (s − s*)²) within the
      // sampling error of the fit (5 SE of mean and std); KL(N(m,v)‖N(0,λ/κ)) within the kNN
      // bias at n = 2·10⁴ in 1-D (0.02, measured in the divergence suite) plus 5 SE.
      let se = (v / 20000).squareRoot()
      #expect(abs(mean[i] - m) < 5 * se, "t = \(t): mean \(mean[i]) vs \(m)")
      let exactW2 = (m * m + pow(v.squareRoot() - target.squareRoot(), 2)).squareRoot()
      #expect(abs(w2[i] - exactW2) < 5 * se * 1.5 + 1e-3, "t = \(t): W2 \(w2[i]) vs \(exactW2)")
      let exactKL = 0.5 * (v / target + m * m / target - 1 - Foundation.log(v / target))
      #expect(abs(kl[i] - exactKL) < 0.03 + 5 * se, "t = \(t): KL \(kl[i]) vs \(exactKL)")
    }
    let exactEntropy = 0.5 * Foundation.log(2 * Double.pi * M_E * 0.09)
    #expect(abs(entropy[0] - exactEntropy) < 0.03, "entropy \(entropy[0]) vs \(exactEntropy)")
    #expect(try reader.metric(run: id, name: "free-energy").allSatisfy(\.isFinite))
  }

  /// Dissipation along the Ornstein–Uhlenbeck flow (V = κ|x|²/2, d = 2, λ = 0.5, N = 10⁵): the
  /// law stays Gaussian, N(m_k, v_k I) with the Euler–Maruyama recursion, and the dissipation of
  /// a Gaussian is κ²|m|² + d(κv − λ)²/v (the note's D(0.1) = 5.46513, D(1) = 0.690529 for the
  /// flow). Within 5 standard errors of the sample estimate. At λ = 0 it is E|∇V|² = 2κ·loss
  /// exactly.
  @Test func dissipationAlongTheOrnsteinUhlenbeckFlow() throws {
    let (reader, folder) = try run(
      """
      model: { kind: potential, dimension: 2, potential: { kind: quadratic, stiffness: 1 } }
      dynamics: { kind: overdamped, step: 0.001, steps: 1000, temperature: 0.5 }
      particles: 100000
      init: { kind: gaussian, mean: [2, -1], std: 0.3 }
      diagnostics: { every: 100, metrics: [dissipation, loss], snapshots-every: none }
      sweep: { grid: { dynamics.temperature: [0.5, 0] } }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let times = try reader.times(run: "r00000")
    let dissipation = try reader.metric(run: "r00000", name: "dissipation")
    let kappa = 1.0, eta = 0.001, lambda = 0.5, d = 2.0
    var m2 = 5.0, v = 0.09, step = 0
    for (i, t) in times.enumerated() {
      let target = Int((t / eta).rounded())
      while step < target {
        m2 *= (1 - kappa * eta) * (1 - kappa * eta)
        v = (1 - kappa * eta) * (1 - kappa * eta) * v + 2 * lambda * eta
        step += 1
      }
      let exact = kappa * kappa * m2 + d * pow(kappa * v - lambda, 2) / v
      // |G|² = κ²|x|² has variance κ⁴ Σ_c (2v² + 4m_c²v); the Fisher term's error is O(1/N).
      let se = (kappa * kappa * (d * 2 * v * v + 4 * m2 * v) / 100000).squareRoot()
      #expect(abs(dissipation[i] - exact) < 5 * se + 1e-3, "t = \(t): \(dissipation[i]) vs \(exact)")
    }
    let cold = try reader.metric(run: "r00001", name: "dissipation")
    let loss = try reader.metric(run: "r00001", name: "loss")
    for (a, b) in zip(cold, loss) { #expect(abs(a - 2 * kappa * b) <= 1e-12 * a, "\(a) vs 2κ·\(b)") }
  }

  /// With a Gaussian interaction the divergence of the field is the closed form
  /// (c/s²)e^{−r²/2s²}(d − r²/s²): the metric against E|G|² − 2λ E div G + λ² tr Σ̂⁻¹ computed
  /// here from the final snapshot, the divergence by central differences of the field at fixed
  /// μ.
  @Test func dissipationWithAGaussianInteraction() throws {
    let (reader, folder) = try run(
      """
      model:
        kind: potential
        dimension: 2
        potential: { kind: double-well }
        interaction: { kind: gaussian, strength: 0.8, width: 0.6 }
      dynamics: { kind: overdamped, step: 0.01, steps: 20, temperature: 0.3, l2: 0.05 }
      particles: 300
      diagnostics: { every: 20, metrics: [dissipation] }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let metric = try reader.metric(run: "r00000", name: "dissipation").last!
    let (x, n, d) = try reader.particles(run: "r00000", snapshot: 0)
    let c = 0.8, s = 0.6, lambda = 0.3, l2 = 0.05
    func field(_ p: [Double]) -> [Double] {
      var g = (0..<d).map { 4 * (p[0] * p[0] + p[1] * p[1] - 1) * p[$0] + 2 * l2 * p[$0] }
      for j in 0..<n {
        let z = (0..<d).map { p[$0] - x[j * d + $0] }
        let e = c / (s * s) * exp(-(z[0] * z[0] + z[1] * z[1]) / (2 * s * s)) / Double(n)
        for k in 0..<d { g[k] += e * z[k] }
      }
      return g
    }
    var g2 = 0.0, divergence = 0.0
    var mean = [0.0, 0.0], cov = [0.0, 0.0, 0.0]
    for i in 0..<n {
      let p = [x[i * d], x[i * d + 1]]
      let g = field(p)
      g2 += g[0] * g[0] + g[1] * g[1]
      let h = 1e-5
      for k in 0..<d {
        var a = p, b = p
        a[k] += h
        b[k] -= h
        divergence += (field(a)[k] - field(b)[k]) / (2 * h)
      }
      mean[0] += p[0] / Double(n)
      mean[1] += p[1] / Double(n)
    }
    for i in 0..<n {
      let a = x[i * d] - mean[0], b = x[i * d + 1] - mean[1]
      cov[0] += a * a / Double(n)
      cov[1] += a * b / Double(n)
      cov[2] += b * b / Double(n)
    }
    let traceInverse = (cov[0] + cov[2]) / (cov[0] * cov[2] - cov[1] * cov[1])
    let expected = g2 / Double(n) - 2 * lambda * divergence / Double(n) + lambda * lambda * traceInverse
    #expect(abs(metric - expected) < 1e-6 * abs(expected), "\(metric) vs \(expected)")
  }

  /// Displacement from the start: 0 at t = 0; under the gradient flow of V = κ|x|²/2 every
  /// particle moves to (1 − ηκ)^k x₀, so the RMS displacement is (1 − (1 − ηκ)^k)·sqrt(E|x₀|²)
  /// exactly; the same bits on 2 ranks (the initial positions are drawn again per block).
  @Test func displacementFromTheStart() throws {
    let job = """
      model: { kind: potential, dimension: 3, potential: { kind: quadratic, stiffness: 2 } }
      dynamics: { kind: gradient-flow, step: 0.01, steps: 50 }
      particles: 1000
      init: { kind: gaussian, mean: [1, 0, -1], std: 0.7 }
      diagnostics: { every: 10, metrics: [displacement, second-moment] }
      parallel: { block-size: 64 }
      output: out
      """
    let (reader, folder) = try run(job)
    defer { try? FileManager.default.removeItem(at: folder) }
    let times = try reader.times(run: "r00000")
    let displacement = try reader.metric(run: "r00000", name: "displacement")
    let m2 = try reader.metric(run: "r00000", name: "second-moment")[0]
    #expect(displacement[0] == 0)
    for (i, t) in times.enumerated() {
      let k = (t / 0.01).rounded()
      let exact = (1 - pow(1 - 0.02, k)) * m2.squareRoot()
      #expect(abs(displacement[i] - exact) <= 1e-12 * max(exact, 1e-300), "t = \(t): \(displacement[i]) vs \(exact)")
    }
    let other = try temporaryFolder("displacement")
    defer { try? FileManager.default.removeItem(at: other) }
    let path = try writeJob(job, in: other)
    let r = try mpirunMfsweep(np: 2, ["run", path], in: other)
    #expect(r.status == 0, "\(r.stderr)")
    let two = try TaskFile(path: other.appendingPathComponent("out/task-0000-of-0001.h5").path)
    #expect(try two.metric(run: "r00000", name: "displacement") == displacement)
  }

  /// At λ = 0 the mass of each basin is exactly the initial mass of its basin of attraction:
  /// the noise-free flow never crosses a separatrix. The Duy integral with weights (1, 0) is the
  /// sharp basin's mass.
  @Test func basinMassIsConservedWithoutNoise() throws {
    let (reader, folder) = try run(
      """
      model: { kind: potential, dimension: 2, potential: { kind: flat-sharp, sharp: 6, flat: 1, transverse: 2 } }
      dynamics: { kind: gradient-flow, step: 0.01, steps: 400 }
      particles: 3000
      init: { kind: uniform, lower: -2, upper: 2 }
      diagnostics: { every: 100, metrics: [basin-mass, duy-integral], duy-weights: [1, 0] }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let masses = try reader.metric(run: "r00000", name: "basin-mass")
    let duy = try reader.metric(run: "r00000", name: "duy-integral")
    #expect(masses.count == 10)
    for s in 1..<5 {
      #expect(masses[2 * s] == masses[0] && masses[2 * s + 1] == masses[1], "sample \(s): \(masses)")
      #expect(duy[s] == masses[0])
    }
    #expect(abs(masses[0] + masses[1] - 1) < 1e-12)
  }

  /// The particles follow the Fokker–Planck reference solved alongside: the 1-D W2 between the
  /// particles and the PDE marginal stays at the sampling level (N = 2·10⁴: about 0.02), and the
  /// reference density is written at every sample time with unit mass.
  @Test func particlesFollowTheFokkerPlanckReference() throws {
    let (reader, folder) = try run(
      """
      model: { kind: potential, dimension: 1, potential: { kind: double-well } }
      dynamics: { kind: overdamped, step: 0.002, steps: 1000, temperature: 0.3 }
      particles: 20000
      init: { kind: gaussian, mean: 0.3, std: 0.4 }
      diagnostics: { every: 250, metrics: [w2-to-pde-marginal, l1-to-pde] }
      reference: { kind: fokker-planck, lower: -3, upper: 3, cells: 240 }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let w2 = try reader.metric(run: "r00000", name: "w2-to-pde-marginal")
    let l1 = try reader.metric(run: "r00000", name: "l1-to-pde")
    #expect(w2.allSatisfy { $0 < 0.03 }, "\(w2)")
    // Histogram noise of 2·10⁴ points in 240 cells: L1 ≈ sqrt(2 cells / (π N)) ≈ 0.09.
    #expect(l1.allSatisfy { $0 < 0.15 }, "\(l1)")
    let density = try reader.reader.file.root.openDataset("reference_density")
    #expect(density.shape == [1, 5, 240])
    let last = try density.readDoubles(start: [0, 4, 0], count: [1, 1, 240])
    let mass: Double = last.reduce(0, +) * 6.0 / 240
    #expect(abs(mass - 1) < 1e-9)
  }

  /// The kinetic reference's metrics recomputed from what the file holds: the PDE's moments
  /// from its stored density f(x, v) (marginal masses times cell centres, plus h²/12), and the
  /// phase-space L1 from the snapshot's positions and velocities binned on the merged grid
  /// (80 × 48 cells → 20 × 24 bins), with the particles' mass outside the box added.
  @Test func kineticMetricsFromTheStoredDensityAndSnapshot() throws {
    let (reader, folder) = try run(
      """
      model: { kind: potential, dimension: 1, potential: { kind: quadratic } }
      dynamics: { kind: underdamped, scheme: baoab, step: 0.01, steps: 100, temperature: 0.3, friction: 1 }
      particles: 3000
      init: { kind: gaussian, mean: 0.5, std: 0.3 }
      velocity-init: { kind: gaussian, std: 0.5 }
      diagnostics: { every: 50, metrics: [pde-mean, pde-second-moment, l1-to-pde-phase-space], snapshots-every: 50 }
      reference: { kind: kinetic-fokker-planck, lower: -1.5, upper: 2, cells: 80, velocity: { lower: -1.2, upper: 1.2, cells: 48 } }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let density = try reader.reader.file.root.openDataset("reference_density")
    #expect(density.shape == [1, 3, 80, 48])
    let f = try density.readDoubles(start: [0, 2, 0, 0], count: [1, 1, 80, 48])
    let hx = 3.5 / 80, hv = 2.4 / 48
    var mean = 0.0, second = 0.0
    var merged = [Double](repeating: 0, count: 20 * 24)
    for i in 0..<80 {
      let c = -1.5 + (Double(i) + 0.5) * hx
      for j in 0..<48 {
        let m = max(0, f[i * 48 + j]) * hx * hv
        mean += m * c
        second += m * (c * c + hx * hx / 12)
        merged[(i / 4) * 24 + j / 2] += m
      }
    }
    let pdeMean = try reader.metric(run: "r00000", name: "pde-mean")
    let pdeSecond = try reader.metric(run: "r00000", name: "pde-second-moment")
    #expect(abs(pdeMean[2] - mean) < 1e-12 && abs(pdeSecond[2] - second) < 1e-12, "\(pdeMean) \(pdeSecond)")
    // The particles of the last snapshot, binned independently.
    let (x, n, _) = try reader.reader.particles(run: 0, snapshot: -1)
    let starts = try reader.reader.file.root.openDataset("snapshot_start").readInts(start: [0, 0], count: [1, 3])
    let v = try reader.reader.file.root.openDataset("velocities").readDoubles(
      start: [Int(starts[2]), 0], count: [n, 1])
    var counts = [Double](repeating: 0, count: 20 * 24)
    var inside = 0.0
    for k in 0..<n where x[k] >= -1.5 && x[k] <= 2 && v[k] >= -1.2 && v[k] <= 1.2 {
      let i = min(19, Int((x[k] + 1.5) / 3.5 * 20)), j = min(23, Int((v[k] + 1.2) / 2.4 * 24))
      counts[i * 24 + j] += 1
      inside += 1
    }
    #expect(inside < Double(n), "some velocities lie outside ±1.2 (σ ≈ 0.55), so the outside term is exercised")
    var l1 = 1 - inside / Double(n)
    for b in counts.indices { l1 += abs(counts[b] / Double(n) - merged[b]) }
    let metric = try reader.metric(run: "r00000", name: "l1-to-pde-phase-space")
    #expect(abs(metric[2] - l1) < 1e-12, "\(metric[2]) against \(l1)")
    // The law starts as the PDE's, so the distance is the histogram's sampling level
    // (≈ sqrt(2/π) Σ sqrt(p_b/N) ≈ 0.2 at N = 3000 on 480 bins), not a mismatch.
    #expect(metric.allSatisfy { $0 > 0 && $0 < 0.35 }, "\(metric)")
  }

  /// The McKean–Vlasov reference: a double well with a quadratic attraction (c = 1) has no
  /// closed form; the particles (an independent discretisation of the same law, N = 2·10⁴)
  /// follow the interacting PDE to their sampling level (W2 < 0.03), while the attraction moves
  /// the law by far more than that (its second moment by over 0.1 against the same job without
  /// it), so a PDE that ignored the interaction could not pass.
  @Test func particlesFollowTheInteractingFokkerPlanckReference() throws {
    func run(_ interaction: String) throws -> (w2: [Double], second: [Double]) {
      let (reader, folder) = try self.run(
        """
        model: { kind: potential, dimension: 1, potential: { kind: double-well }\(interaction) }
        dynamics: { kind: overdamped, step: 0.002, steps: 1500, temperature: 0.3 }
        particles: 20000
        init: { kind: gaussian, mean: 0.1, std: 0.6 }
        diagnostics: { every: 500, metrics: [w2-to-pde-marginal, pde-second-moment] }
        reference: { kind: fokker-planck, lower: -3.5, upper: 3.5, cells: 280 }
        output: out
        """)
      defer { try? FileManager.default.removeItem(at: folder) }
      return (
        try reader.metric(run: "r00000", name: "w2-to-pde-marginal"),
        try reader.metric(run: "r00000", name: "pde-second-moment")
      )
    }
    let interacting = try run(", interaction: { kind: quadratic, strength: 1 }")
    let free = try run("")
    #expect(interacting.w2.allSatisfy { $0 < 0.03 }, "\(interacting.w2)")
    #expect(free.w2.allSatisfy { $0 < 0.03 }, "\(free.w2)")
    #expect(abs(interacting.second.last! - free.second.last!) > 0.1, "\(interacting.second) \(free.second)")
  }

  /// W2 and KL to a reference sample from a file: the particles start at the reference points
  /// shifted by 0.25, so the exact W2 at step 0 is 0.25 (to rounding).
  @Test func referenceSampleFromAFile() throws {
    var reference = "", shifted = ""
    for i in 0..<500 {
      let x = Foundation.sin(Double(i) * 1.7) * 2
      reference += "\(x)\n"
      shifted += "\(x + 0.25)\n"
    }
    let (reader, folder) = try run(
      """
      model: { kind: potential, dimension: 1, potential: { kind: quadratic } }
      dynamics: { kind: overdamped, step: 0.01, steps: 10, temperature: 0.1 }
      particles: 500
      init: { kind: file, path: start.csv }
      diagnostics: { every: 10, metrics: [w2-to-reference, kl-to-reference], reference-sample: reference.csv, w2-method: exact }
      output: out
      """, files: ["reference.csv": reference, "start.csv": shifted])
    defer { try? FileManager.default.removeItem(at: folder) }
    let w2 = try reader.metric(run: "r00000", name: "w2-to-reference")
    #expect(abs(w2[0] - 0.25) < 1e-12, "\(w2)")
    #expect(try reader.metric(run: "r00000", name: "kl-to-reference").allSatisfy(\.isFinite))
  }

  /// A weighted reference sample (`{path, weights: column:w}`) equals the same points repeated
  /// by their integer weights, for the exact W2 (network simplex, 2-D), the sliced W2 and, in
  /// 1-D above the sample limit, the distributed quantiles; KL to a weighted reference is
  /// refused at validation.
  @Test func weightedReferenceEqualsRepeatedPoints() throws {
    let folder = try temporaryFolder("weighted-reference")
    defer { try? FileManager.default.removeItem(at: folder) }
    var files = ["w2.csv": "x,y,w\n", "r2.csv": "", "w1.csv": "x,w\n", "r1.csv": "", "s1.csv": "", "s2.csv": ""]
    for i in 0..<30 {
      let x = Foundation.sin(Double(i) * 1.9) * 1.5, y = Foundation.cos(Double(i) * 0.8), k = 1 + i % 4
      files["w2.csv"]! += "\(x),\(y),\(k)\n"
      files["w1.csv"]! += "\(x),\(k)\n"
      for _ in 0..<k {
        files["r2.csv"]! += "\(x),\(y)\n"
        files["r1.csv"]! += "\(x)\n"
      }
    }
    for i in 0..<1500 {
      files["s1.csv"]! += "\(Foundation.sin(Double(i) * 0.37) * 2)\n"
      if i < 50 { files["s2.csv"]! += "\(Foundation.sin(Double(i) * 0.37)),\(Foundation.cos(Double(i)))\n" }
    }
    for (name, text) in files {
      try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    func metric(_ d: Int, _ reference: String, _ method: String) throws -> [Double] {
      let particles = d == 1 ? 1500 : 50
      let path = try writeJob(
        """
        model: { kind: potential, dimension: \(d), potential: { kind: quadratic } }
        dynamics: { kind: overdamped, step: 0.01, steps: 4, temperature: 0.1 }
        particles: \(particles)
        init: { kind: file, path: s\(d).csv }
        diagnostics: { every: 2, metrics: [w2-to-reference], reference-sample: \(reference), w2-method: \(method), sample-limit: 1000 }
        output: out
        """, named: "job.yaml", in: folder)
      try? FileManager.default.removeItem(at: folder.appendingPathComponent("out"))
      let r = try mfsweep(["run", path], in: folder)
      #expect(r.status == 0, "\(r.stderr)")
      return try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
        .metric(run: "r00000", name: "w2-to-reference")
    }
    for (d, method) in [(2, "exact"), (2, "sliced"), (1, "auto")] {
      let weighted = try metric(d, "{ path: w\(d).csv, weights: column:w }", method)
      let repeated = try metric(d, "r\(d).csv", method)
      #expect(weighted.count == 3 && weighted.allSatisfy { $0 > 0.05 }, "\(weighted)")
      for (a, b) in zip(weighted, repeated) {
        #expect(abs(a - b) <= 1e-12 * b, "d \(d) \(method): \(weighted) \(repeated)")
      }
    }
    let refused = try writeJob(
      """
      model: { kind: potential, dimension: 2, potential: { kind: quadratic } }
      dynamics: { kind: overdamped, step: 0.01, steps: 4 }
      particles: 50
      diagnostics: { metrics: [kl-to-reference], reference-sample: { path: w2.csv, weights: column:w } }
      """, named: "bad.yaml", in: folder)
    let r = try mfsweep(["validate", refused], in: folder)
    #expect(r.status != 0 && r.stderr.contains("needs an unweighted reference sample"), "\(r.stderr)")
    // A weights file has its own header rule: a first weight 0 is ambiguous until it says.
    try "1,2\n3,4\n5,6\n".write(to: folder.appendingPathComponent("p.csv"), atomically: true, encoding: .utf8)
    try "0\n1\n2\n".write(to: folder.appendingPathComponent("zw.csv"), atomically: true, encoding: .utf8)
    for (weights, ok) in [("zw.csv", false), ("{ path: zw.csv, header: no }", true)] {
      let job = try writeJob(
        """
        model: { kind: potential, dimension: 2, potential: { kind: quadratic } }
        dynamics: { kind: overdamped, step: 0.01, steps: 4 }
        particles: 50
        diagnostics: { metrics: [w2-to-reference], reference-sample: { path: p.csv, weights: \(weights) } }
        """, named: "zw.yaml", in: folder)
      let v = try mfsweep(["validate", job], in: folder)
      #expect((v.status == 0) == ok, "\(weights): \(v.stderr)")
      if !ok { #expect(v.stderr.contains("zw.csv:1: the first row '0' could be the names"), "\(v.stderr)") }
    }
  }

  /// Above the sample limit, W2 to a reference uses every particle through distributed order
  /// statistics (1-D) and per-rank projections (sliced): the same bits on 1 and 2 ranks, and the
  /// 1-D value close to the exact shift of a shifted copy.
  @Test func wassersteinAboveTheSampleLimitOnSplitEnsembles() throws {
    let folder = try temporaryFolder("limit")
    defer { try? FileManager.default.removeItem(at: folder) }
    var one = "", two = ""
    for i in 0..<3000 {
      let x = Foundation.sin(Double(i) * 1.7) * 2, y = Foundation.cos(Double(i) * 2.3)
      one += "\(x + 0.25)\n"
      two += "\(x),\(y)\n"
    }
    try one.write(to: folder.appendingPathComponent("one.csv"), atomically: true, encoding: .utf8)
    try two.write(to: folder.appendingPathComponent("two.csv"), atomically: true, encoding: .utf8)
    var values = [[Double]]()
    for (d, file) in [(1, "one.csv"), (2, "two.csv")] {
      for ranks in [1, 2] {
        let text = """
          model: { kind: potential, dimension: \(d), potential: { kind: quadratic } }
          dynamics: { kind: overdamped, step: 0.01, steps: 4, temperature: 0.1 }
          particles: 3000
          init: { kind: file, path: \(file) }
          diagnostics: { every: 4, metrics: [w2-to-reference], reference-sample: \(file), sample-limit: 1000 }
          parallel: { ranks-per-run: \(ranks), block-size: 100 }
          output: out-\(d)-\(ranks)
          """
        let path = try writeJob(text, named: "j\(d)\(ranks).yaml", in: folder)
        let r =
          ranks == 1 ? try mfsweep(["run", path], in: folder) : try mpirunMfsweep(np: 2, ["run", path], in: folder)
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try TaskFile(path: folder.appendingPathComponent("out-\(d)-\(ranks)/task-0000-of-0001.h5").path)
        values.append(try reader.metric(run: "r00000", name: "w2-to-reference"))
      }
    }
    #expect(values[0].map(\.bitPattern) == values[1].map(\.bitPattern))
    #expect(values[2].map(\.bitPattern) == values[3].map(\.bitPattern))
    // The start is the reference itself: 0 in both cases (a 1-D shifted file is its own reference).
    #expect(values[0][0] == 0 && values[2][0] == 0)
    #expect(values[0].allSatisfy(\.isFinite) && values[2].allSatisfy(\.isFinite))
  }

  /// The NTK discrepancy of a ReLU network at initialisation falls with the width like m^{-1/2}:
  /// 16× the particles give about a quarter (between 1/8 and 1/2 for one seed).
  @Test func ntkDiscrepancyFallsWithWidth() throws {
    let (reader, folder) = try run(
      """
      model: { kind: two-layer-network, activation: relu, data: { kind: teacher, inputs: 3, samples: 20, seed: 1 } }
      dynamics: { kind: overdamped, step: 0.01, steps: 1 }
      particles: 64
      diagnostics: { every: 1, metrics: [ntk-discrepancy] }
      sweep: { grid: { particles: [64, 1024] } }
      output: out
      """)
    defer { try? FileManager.default.removeItem(at: folder) }
    let small = try reader.metric(run: "r00000", name: "ntk-discrepancy")[0]
    let large = try reader.metric(run: "r00001", name: "ntk-discrepancy")[0]
    #expect(large < small / 2 && large > small / 8, "\(small) → \(large)")
  }

  @Test func metricRequirementsAreChecked() throws {
    for (snippet, fragment) in [
      ("metrics: [kl-to-gibbs]", "kl-to-gibbs needs model.kind potential"),
      ("metrics: [basin-mass]", "basin-mass needs model.kind potential"),
      ("metrics: [w2-to-reference]", "needs diagnostics.reference-sample"),
      ("metrics: [l1-to-pde]", "needs a reference PDE"),
      ("metrics: [ntk-discrepancy]", "needs a two-layer-network with activation relu"),
      ("metrics: [pde-second-moment]", "needs a reference PDE"),
      ("metrics: [l1-to-pde-phase-space]", "needs a reference PDE"),
    ] {
      let text = smallJob.replacingOccurrences(of: "metrics: [loss, second-moment]", with: snippet)
      #expect(throws: JobError.self) { _ = try Job.parse(text: text, file: "j.yaml") }
      do { _ = try Job.parse(text: text, file: "j.yaml") } catch {
        #expect("\(error)".contains(fragment), "\(error)")
      }
    }
  }
}
