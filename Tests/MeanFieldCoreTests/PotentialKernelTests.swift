import Foundation
import MeanFieldCore
import Testing

/// The block kernels of potential models: ∇V over a block equals the per-particle gradient bit
/// for bit; the Gaussian pair sums agree with an independent extended-precision double loop and
/// do not depend on how targets are blocked; the vectorised health scan classifies exactly as
/// the particle-by-particle check.
@Suite struct PotentialKernelTests {
  /// Deterministic points in [−2.5, 2.5]^d (beyond the tables' boxes on some axes).
  static func points(_ rows: Int, _ d: Int, seed: UInt64 = 3) -> [Double] {
    let field = GaussianField(seed: seed, runIndex: 1)
    return (0..<(rows * d)).map { k in
      let (u, _) = field.uniformPair(stream: .diagnostics, step: 0, particle: UInt64(k), pair: 0)
      return 5 * u - 2.5
    }
  }

  static let potentials: [(ConfiningPotential, [Int])] = [
    (.none, [1, 2, 3, 5]),
    (.quadratic(stiffness: 1.7), [1, 2, 3, 5]),
    (.anisotropicQuadratic(stiffness: [2, 8, 0.5, 3, 1.5]), [1, 2, 3, 5]),
    (.rosenbrock(a: 1, b: 100), [2]),
    (.doubleWell, [1, 2, 3, 5]),
    (.flatSharp(sharp: 8, flat: 1, transverse: 2), [1, 2, 3, 5]),
    (.tabulated(PotentialTests.table1D), [1, 2, 3]),
    (.tabulated(PotentialTests.table2D), [2, 3]),
    (.expression(try! ExpressionPotential("(x1^2 - 1)^2 + 0.3*x1 + log1p(x1^2)*tanh(x1)", dimension: 1)), [1]),
    (.expression(try! ExpressionPotential("(x1^2 + x2^2 - 1)^2 + exp(-x2) * sin(x1)", dimension: 2)), [2]),
    (.expression(try! ExpressionPotential("x1^4/4 + 2*x3^2 + max(x2, 0)^3", dimension: 3)), [3]),
  ]

  @Test func blockGradientsAreThePerParticleGradientsBitForBit() {
    for (potential, dimensions) in Self.potentials {
      for d in dimensions {
        let rows = 137
        let x = Self.points(rows, d)
        var block = [Double](repeating: .nan, count: rows * d)
        var single = block
        var sum = 0.0
        let w = UnsafeMutablePointer<Double>.allocate(capacity: max(1, potential.workLength))
        defer { w.deallocate() }
        x.withUnsafeBufferPointer { xp in
          block.withUnsafeMutableBufferPointer {
            potential.gradients(xp.baseAddress!, rows: rows, dimension: d, into: $0.baseAddress!, work: w)
          }
          single.withUnsafeMutableBufferPointer { g in
            for i in 0..<rows {
              potential.gradient(xp.baseAddress! + i * d, dimension: d, into: g.baseAddress! + i * d)
              sum += potential.value(xp.baseAddress! + i * d, dimension: d)
            }
          }
          let blockSum = potential.valueSum(xp.baseAddress!, rows: rows, dimension: d, work: w)
          #expect(blockSum.bitPattern == sum.bitPattern, "\(potential) d = \(d): V sums differ")
        }
        #expect(block.map(\.bitPattern) == single.map(\.bitPattern), "\(potential) d = \(d): gradients differ")
      }
    }
  }

  /// K_i and M_i by a plain double loop in 80-bit extended precision with libm's exp.
  static func reference(_ x: [Double], _ y: [Double], _ d: Int, _ a: Double) -> (k: [Double], m: [Double]) {
    let rows = x.count / d, n = y.count / d
    var k = [Double](repeating: 0, count: rows), m = [Double](repeating: 0, count: rows * d)
    for i in 0..<rows {
      var sk: Float80 = 0
      var sm = [Float80](repeating: 0, count: d)
      for j in 0..<n {
        var r2: Float80 = 0
        for c in 0..<d {
          let z = Float80(x[i * d + c]) - Float80(y[j * d + c])
          r2 += z * z
        }
        let e = Float80(Foundation.exp(-Double(r2) * a))
        sk += e
        for c in 0..<d { sm[c] += e * (Float80(x[i * d + c]) - Float80(y[j * d + c])) }
      }
      k[i] = Double(sk)
      for c in 0..<d { m[i * d + c] = Double(sm[c]) }
    }
    return (k, m)
  }

  /// Runs the kernel on targets `x` split into blocks of the given sizes.
  static func kernel(_ x: [Double], _ y: [Double], _ d: Int, _ a: Double, blocks: [Int]) -> (k: [Double], m: [Double]) {
    let rows = x.count / d, n = y.count / d
    precondition(blocks.reduce(0, +) == rows)
    var k = [Double](repeating: 0, count: rows), m = [Double](repeating: 0, count: rows * d)
    var work = [Double](repeating: 0, count: GaussianPairKernel.workLength(rows: blocks.max()!, dimension: d))
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeBufferPointer { yp in
        work.withUnsafeMutableBufferPointer { w in
          k.withUnsafeMutableBufferPointer { kp in
            m.withUnsafeMutableBufferPointer { mp in
              var first = 0
              for size in blocks {
                GaussianPairKernel.addMoments(
                  targets: xp.baseAddress! + first * d, rows: size, sources: yp.baseAddress!, count: n, dimension: d,
                  a: a, scale: 1, into: mp.baseAddress! + first * d, work: w.baseAddress!)
                GaussianPairKernel.kernelSums(
                  targets: xp.baseAddress! + first * d, rows: size, sources: yp.baseAddress!, count: n, dimension: d,
                  a: a, into: kp.baseAddress! + first, work: w.baseAddress!)
                first += size
              }
            }
          }
        }
      }
    }
    return (k, m)
  }

  @Test(arguments: [1, 2, 3, 4])
  func pairSumsAgreeWithAnExtendedPrecisionLoop(dimension d: Int) {
    let x = Self.points(41, d, seed: 5), y = Self.points(53, d, seed: 6)
    let a = 1 / (2 * 0.7 * 0.7)
    let (k, m) = Self.kernel(x, y, d, a, blocks: [41])
    let (rk, rm) = Self.reference(x, y, d, a)
    for i in 0..<k.count { #expect(abs(k[i] - rk[i]) <= 1e-14 * rk[i], "K_\(i)") }
    // Moments cancel: compare against the scale of their terms, Σ_j e_ij |x_i − y_j|.
    let scale = rk.max()! * 5
    for i in 0..<m.count { #expect(abs(m[i] - rm[i]) <= 1e-14 * scale, "M_\(i)") }
    // A far source contributes exp(−708) (FastMath clamps the argument): no underflow to a
    // NaN, no overflow.
    let far = Self.kernel([0.0], [1e6], 1, a, blocks: [1])
    #expect(far.k[0] > 0 && far.k[0] < 1e-307 && far.m[0] < 0 && far.m[0] > -1e-300)
  }

  @Test(arguments: [1, 2, 3, 4])
  func pairSumsDoNotDependOnTheBlocking(dimension d: Int) {
    let x = Self.points(50, d, seed: 7), y = Self.points(67, d, seed: 8)
    let whole = Self.kernel(x, y, d, 2.0, blocks: [50])
    for blocks in [[1] + [Int](repeating: 1, count: 49), [13, 37], [7, 7, 7, 29]] {
      let split = Self.kernel(x, y, d, 2.0, blocks: blocks)
      #expect(split.k.map(\.bitPattern) == whole.k.map(\.bitPattern))
      #expect(split.m.map(\.bitPattern) == whole.m.map(\.bitPattern))
    }
  }

  /// The symmetric evaluation (each pair's exponential once) gives bitwise the direct sums, for
  /// ranges aligned with the tiles or cut anywhere, shorter than a tile, or the whole ensemble.
  @Test(arguments: [1, 2, 3])
  func symmetricPairSumsAreTheDirectOnes(dimension d: Int) {
    let size = GaussianPairKernel.tile
    for n in [5, size, 3 * size + 17, 5 * size] {
      let y = Self.points(n, d, seed: UInt64(9 + n))
      let direct = Self.kernel(y, y, d, 1.3, blocks: [n]).m
      let ranges = [0..<n, 0..<min(n, 3), (n / 3)..<n, (n / 5)..<(n - n / 7), min(size, n)..<n]
      for range in ranges where !range.isEmpty {
        var out = [Double](repeating: .nan, count: range.count * d)
        var work = [Double](repeating: .nan, count: GaussianPairKernel.symmetricWorkLength(dimension: d))
        y.withUnsafeBufferPointer { yp in
          out.withUnsafeMutableBufferPointer { o in
            work.withUnsafeMutableBufferPointer { w in
              GaussianPairKernel.symmetricMoments(
                all: yp.baseAddress!, count: n, range: range, dimension: d, a: 1.3, into: o.baseAddress!,
                work: w.baseAddress!)
            }
          }
        }
        let expected = Array(direct[(range.lowerBound * d)..<(range.upperBound * d)])
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "n = \(n), range \(range)")
      }
    }
  }

  /// In an engine, the drift at the gathered positions (through the pair sums) equals the model's
  /// drift evaluated without them, also after an energy evaluation gathered new positions
  /// without the pair phase (stale sums must not be used), and a step is the same on 1, 2 and 3
  /// threads.
  @Test func engineDriftThroughPairSumsIsTheDirectDrift() throws {
    let model = PotentialSystem(
      potential: .quadratic(stiffness: 1), interaction: .gaussianKernel(strength: 0.8, width: 0.6), dimension: 2)
    func direct(_ all: [Double]) -> [Double] {
      var g = [Double](repeating: 0, count: all.count)
      let scratch = model.makeScratch(maxRows: all.count / 2)
      all.withUnsafeBufferPointer { xp in
        g.withUnsafeMutableBufferPointer { gp in
          model.drift(
            xp, rows: all.count / 2,
            context: DriftContext(
              field: UnsafeBufferPointer(start: nil, count: 0), allPositions: xp, particleCount: all.count / 2,
              firstParticle: 0),
            into: gp, scratch: scratch)
        }
      }
      return g
    }
    var positions = [[Double]]()
    for threads in [1, 2, 3] {
      let engine = ParticleEngine(
        model: model, exchange: LocalExchange(layout: BlockLayout(particleCount: 333, blockSize: 40)),
        dynamics: .overdamped(.init(step: 0.01, temperature: 0.3, l2: 0)), initial: .gaussian(mean: [0], std: [1]),
        noise: GaussianField(seed: 4, runIndex: 0), threads: threads)
      try engine.prepareField()
      #expect(engine.driftOfCurrentState().map(\.bitPattern) == direct(engine.positions).map(\.bitPattern))
      for _ in 0..<3 { _ = try engine.step() }
      _ = try engine.modelEnergy()
      #expect(engine.driftOfCurrentState().map(\.bitPattern) == direct(engine.positions).map(\.bitPattern))
      positions.append(engine.positions)
    }
    #expect(positions[1] == positions[0] && positions[2] == positions[0])
  }

  /// The vectorised scan finds every kind of unhealthy value in any block, and classifies as
  /// the particle-by-particle check: a non-finite position or velocity is non-finite (reported
  /// first), a finite one beyond the bound is out of bounds, a value exactly at the bound is
  /// inside.
  @Test func healthScanFindsEveryUnhealthyValue() throws {
    let underdamped = Dynamics.underdamped(.init(step: 0.01, temperature: 0, l2: 0, friction: 1, scheme: .baoab))
    func engine(_ dynamics: Dynamics) -> ParticleEngine<PotentialSystem, LocalExchange> {
      ParticleEngine(
        model: PotentialSystem(potential: .doubleWell, interaction: .none, dimension: 2),
        exchange: LocalExchange(layout: BlockLayout(particleCount: 40, blockSize: 16)), dynamics: dynamics,
        initial: .uniform(lower: [-1], upper: [1]), noise: GaussianField(seed: 1, runIndex: 0), bound: 10)
    }
    let overdamped = Dynamics.overdamped(.init(step: 0.01, temperature: 0, l2: 0))
    let base = engine(overdamped).positions
    #expect(try engine(overdamped).prepareField() == nil)
    for (index, value, expected) in [
      (5, Double.nan, Divergence.nonFinite(step: 0)), (33, .infinity, .nonFinite(step: 0)),
      (20, -.infinity, .nonFinite(step: 0)), (39, 10.5, .outOfBounds(step: 0, bound: 10)),
      (0, -11, .outOfBounds(step: 0, bound: 10)), (17, 10, nil),
    ] {
      var x = base
      x[index] = value
      let e = engine(overdamped)
      e.restore(positions: x, step: 0)
      #expect(try e.prepareField() == expected, "x[\(index)] = \(value)")
    }
    // Both kinds at once: non-finite wins.
    var x = base
    x[3] = 50
    x[70] = .nan
    let both = engine(overdamped)
    both.restore(positions: x, step: 0)
    #expect(try both.prepareField() == .nonFinite(step: 0))
    // A non-finite velocity.
    let e = engine(underdamped)
    var v = [Double](repeating: 0, count: 80)
    v[61] = .nan
    e.restore(positions: base, velocities: v, step: 0)
    #expect(try e.prepareField() == .nonFinite(step: 0))
  }

  /// ∇V at each particle of `x` (the per-particle path) and the dynamics normal of each value at
  /// `step` (the scalar `normalPair`: coordinates 2m and 2m+1 share pair m), both row-major.
  static func gradientsAndNormals(
    _ potential: ConfiningPotential, _ x: [Double], _ d: Int, _ field: GaussianField, step: Int
  ) -> (gradients: [Double], normals: [Double]) {
    var g = [Double](repeating: 0, count: x.count), z = g
    for i in 0..<(x.count / d) {
      x.withUnsafeBufferPointer { xp in
        g.withUnsafeMutableBufferPointer {
          potential.gradient(xp.baseAddress! + i * d, dimension: d, into: $0.baseAddress! + i * d)
        }
      }
      for c in 0..<d {
        let pair = field.normalPair(stream: .dynamics, step: UInt64(step), particle: UInt64(i), pair: UInt32(c / 2))
        z[i * d + c] = c % 2 == 0 ? pair.0 : pair.1
      }
    }
    return (g, z)
  }

  /// The overdamped step, whose update, noise and health scan run fused in one pass, is the
  /// Euler–Maruyama update written out particle by particle with the field's scalar normals
  /// (`normalPair`), bit for bit, for the plane case and the general loop, with and without
  /// noise, over blocks that split the generator's chunks; and the fused scan reports a particle
  /// the step sent beyond the bound, or to infinity, at the next step.
  @Test func fusedOverdampedStepIsTheUpdateWrittenOut() throws {
    let potential = ConfiningPotential.doubleWell
    func engine(_ d: Int, _ rows: Int, temperature: Double, eta: Double, bound: Double)
      -> ParticleEngine<PotentialSystem, LocalExchange>
    {
      ParticleEngine(
        model: PotentialSystem(potential: potential, interaction: .none, dimension: d),
        exchange: LocalExchange(layout: BlockLayout(particleCount: rows, blockSize: 16)),
        dynamics: .overdamped(.init(step: eta, temperature: temperature, l2: 0.2)),
        initial: .uniform(lower: [-1], upper: [1]), noise: GaussianField(seed: 11, runIndex: 2), bound: bound)
    }
    for d in [1, 2, 3, 5] {
      for temperature in [0.0, 0.3] {
        let rows = 45, eta = 0.01, start = 7
        let x0 = Self.points(rows, d)
        let e = engine(d, rows, temperature: temperature, eta: eta, bound: 100)
        e.restore(positions: x0, step: start)
        #expect(try e.step() == nil)
        let field = GaussianField(seed: 11, runIndex: 2)
        let scale = (2 * temperature * eta).squareRoot(), contraction = 2 * 0.2
        let (g, z) = Self.gradientsAndNormals(potential, x0, d, field, step: start)
        let expected = x0.indices.map { k in
          temperature > 0
            ? x0[k] - eta * (g[k] + contraction * x0[k]) + scale * z[k] : x0[k] - eta * (g[k] + contraction * x0[k])
        }
        #expect(e.positions.map(\.bitPattern) == expected.map(\.bitPattern), "d = \(d), T = \(temperature)")

        // ∇V(0.5 e₁) = −1.5 e₁: a step of 10 sends that particle to 15.5, beyond the bound 10;
        // from 1e200 (inside an infinite bound) the gradient overflows and the particle is lost.
        for (value, bound, divergence) in [
          (0.5, 10.0, Divergence.outOfBounds(step: 1, bound: 10)), (1e200, .infinity, .nonFinite(step: 1)),
        ] {
          var x = [Double](repeating: 0, count: rows * d)
          x[20 * d] = value
          let far = engine(d, rows, temperature: temperature == 0 ? 0 : 1e-6, eta: 10, bound: bound)
          far.restore(positions: x, step: 0)
          #expect(try far.step() == nil)
          #expect(try far.step() == divergence, "d = \(d), T = \(temperature), from \(value)")
        }
      }
    }
  }

  /// The plain and symplectic underdamped steps, fused the same way, are their updates written
  /// out with the scalar normals, bit for bit (plane case and general loop, blocks that split
  /// the generator's chunks); a particle whose velocity the step sends to infinity is reported
  /// at the next step.
  @Test func fusedUnderdampedStepsAreTheUpdatesWrittenOut() throws {
    let potential = ConfiningPotential.doubleWell
    for scheme in [UnderdampedIntegrator.plain, .symplectic] {
      for d in [1, 2, 3, 5] {
        let rows = 45, eta = 0.01, friction = 1.5, temperature = 0.3, l2 = 0.2, start = 3
        let e = ParticleEngine(
          model: PotentialSystem(potential: potential, interaction: .none, dimension: d),
          exchange: LocalExchange(layout: BlockLayout(particleCount: rows, blockSize: 16)),
          dynamics: .underdamped(
            .init(step: eta, temperature: temperature, l2: l2, friction: friction, scheme: scheme)),
          initial: .uniform(lower: [-1], upper: [1]), noise: GaussianField(seed: 5, runIndex: 1), bound: .infinity)
        let x0 = Self.points(rows, d), v0 = Self.points(rows, d, seed: 8)
        e.restore(positions: x0, velocities: v0, step: start)
        #expect(try e.step() == nil)
        let field = GaussianField(seed: 5, runIndex: 1)
        let scale = (2 * friction * temperature * eta).squareRoot(), contraction = 2 * l2
        let (g, z) = Self.gradientsAndNormals(potential, x0, d, field, step: start)
        var x = x0, v = v0
        for k in x0.indices {
          let kick = -eta * (g[k] + contraction * x0[k])
          if scheme == .plain {
            x[k] = x0[k] + eta * v0[k]
            v[k] = (1 - friction * eta) * v0[k] + kick + scale * z[k]
          } else {
            v[k] = (1 - friction * eta) * v0[k] + kick + scale * z[k]
            x[k] = x0[k] + eta * v[k]
          }
        }
        #expect(e.positions.map(\.bitPattern) == x.map(\.bitPattern), "\(scheme) d = \(d): positions")
        #expect(e.velocities.map(\.bitPattern) == v.map(\.bitPattern), "\(scheme) d = \(d): velocities")

        // From 1e200 the gradient overflows: the velocity becomes infinite, the position too
        // (symplectic) or not (plain); either way the particle counts as non-finite.
        var far = x0
        far[20 * d] = 1e200
        e.restore(positions: far, velocities: v0, step: 0)
        #expect(try e.step() == nil)
        #expect(try e.step() == .nonFinite(step: 1), "\(scheme) d = \(d)")
      }
    }
  }
}
