import Foundation
import MeanFieldCore

/// How W2 to a reference point set is computed.
public enum WassersteinMethod: String, Sendable, CaseIterable {
  /// 1-D exact when d = 1; exact assignment when the sizes match, the weights are equal and
  /// N ≤ 5000; exact network simplex for other sizes or weights while N × M ≤ 2.5e7; else sliced.
  case automatic = "auto"
  /// Exact: sorting in 1-D, an assignment solver for equal sizes and weights, the network
  /// simplex otherwise.
  case exact
  /// Debiased Sinkhorn divergence, reported as sqrt(S_ε) (ε = 5% of the maximal squared cost).
  case sinkhorn
  /// Sliced W2 over 200 seeded directions.
  case sliced
}

/// A reference PDE solved alongside the particles.
public protocol ReferenceSolution: AnyObject {
  /// Advances the solution to time `t` (≥ its current time).
  func advance(to t: Double) throws
  /// Takes the share `fraction` ∈ [0, 1] of the work from the current interval's start toward
  /// `t`; any split of an interval ends bit for bit where one `advance(to:)` would.
  func advance(toward t: Double, fraction: Double) throws
  /// The density on its grid (the position marginal for phase-space equations), and the grid.
  var positionDensity: GridDensity { get }
  /// The full density snapshot written to the output (row-major on the solver's grid).
  var snapshot: [Double] { get }
  /// The phase-space density f(x, v) on the x × v grid, for equations that have one.
  var phaseSpaceDensity: GridDensity? { get }
}

extension ReferenceSolution {
  public var phaseSpaceDensity: GridDensity? { nil }
}

/// Everything the metrics of one run may need besides the particles, prepared once per run.
public final class DiagnosticContext: @unchecked Sendable {
  /// λ and λ' of the run.
  public var temperature: Double = 0
  public var l2: Double = 0
  /// Neighbour rank of the kNN estimators.
  public var neighbours: Int = 5
  /// At most this many particles enter the sample-based estimators (every ⌈N/limit⌉-th
  /// particle by global index above it).
  public var sampleLimit: Int = 20_000
  /// Threads for the estimators.
  public var threads: Int = 1
  /// The reference point set.
  public var reference: PointCloud?
  public var wassersteinMethod: WassersteinMethod = .automatic
  /// `log π(x)` of the Gibbs target, for kl-to-gibbs.
  public var gibbs: (any LogDensity)?
  /// The reference Gaussian of w2-to-gaussian (mean, row-major covariance).
  public var gaussian: (mean: [Double], covariance: [Double])?
  /// Basins of the potential, and f(w_i) for the Duy integral.
  public var basins: BasinClassifier?
  public var duyWeights: [Double] = []
  /// Data inputs (n × p) of a ReLU network, for ntk-discrepancy.
  public var ntkInputs: (inputs: [Double], dimension: Int)?
  /// The reference PDE.
  public var pde: ReferenceSolution?
  /// The run's initial law and noise field (its initial positions are a function of the
  /// particle index: displacement draws them again instead of keeping them).
  public var start: (law: InitialLaw, field: GaussianField)?
  /// The terminal cost g of hopf-cole.
  public var terminal: ConfiningPotential?
  /// V and W of a potential model, for dissipation.
  public var landscape: (potential: ConfiningPotential, interaction: Interaction)?

  public init() {}
}

/// A problem computing a metric (reported in the run's message; the metric becomes NaN).
public struct MetricError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// Evaluates metrics on a (possibly distributed) ensemble. Collective: every process that
/// holds part of the run calls it in the same order, and all receive the same values (the
/// sample-based ones are computed on the gathered sample by every rank alike).
public enum MetricEvaluator {
  /// The values of `metrics` at the engine's current state, one array per metric. A metric
  /// that cannot be computed at this state (an estimator's precondition) is NaN; `notes`
  /// collects why.
  public static func evaluate<M: MeanFieldModel, E: BlockExchange>(
    _ metrics: [Metric], on engine: ParticleEngine<M, E>, context: DiagnosticContext = DiagnosticContext(),
    time: Double = 0, notes: inout [String]
  ) throws -> [[Double]] {
    let d = engine.model.dimension
    let n = Double(engine.exchange.layout.particleCount)
    var sample: PointCloud? = nil
    func gathered() throws -> PointCloud {
      if let sample { return sample }
      let all = try engine.gatherPositions()
      let count = all.count / d
      let stride = max(1, (count + context.sampleLimit - 1) / context.sampleLimit)
      var values = [Double]()
      if stride == 1 {
        values = all
      } else {
        values.reserveCapacity((count / stride + 1) * d)
        for i in Swift.stride(from: 0, to: count, by: stride) { values += all[(i * d)..<(i * d + d)] }
      }
      let cloud = PointCloud(values: values, dimension: d)
      sample = cloud
      return cloud
    }
    var lossValue: Double? = nil, secondMoment: Double? = nil, entropyValue: Double? = nil
    func loss() throws -> Double {
      if let lossValue { return lossValue }
      let v = try engine.modelEnergy()
      lossValue = v
      return v
    }
    func moment() throws -> Double {
      if let secondMoment { return secondMoment }
      let s = try engine.exactReduce(length: 1) { _, x, rows, _, partial in
        var sum = 0.0
        for i in 0..<(rows * d) { sum += x[i] * x[i] }
        partial[0] = sum
      }
      secondMoment = s[0] / n
      return s[0] / n
    }
    let options = NeighbourSearchOptions(threads: context.threads)
    func entropy() throws -> Double {
      if let entropyValue { return entropyValue }
      let v = try differentialEntropy(of: try gathered(), k: context.neighbours, options: options).value
      entropyValue = v
      return v
    }
    var basinMasses: [Double]? = nil
    func masses() throws -> [Double] {
      if let basinMasses { return basinMasses }
      guard let classifier = context.basins, !classifier.minima.isEmpty else {
        throw MetricError("basin-mass needs a potential with known minima")
      }
      let k = classifier.minima.count
      let counts = try engine.exactReduce(length: k) { _, x, rows, _, partial in
        for i in 0..<rows {
          if let b = classifier.basin(of: UnsafeBufferPointer(rebasing: x[(i * d)..<(i * d + d)])) { partial[b] += 1 }
        }
      }
      let m = counts.map { $0 / n }
      basinMasses = m
      return m
    }

    var out = [[Double]]()
    out.reserveCapacity(metrics.count)
    for metric in metrics {
      do {
        switch metric {
        case .loss:
          out.append([try loss()])
        case .secondMoment:
          out.append([try moment()])
        case .mean:
          let s = try engine.exactReduce(length: d) { _, x, rows, _, partial in
            for i in 0..<rows { for c in 0..<d { partial[c] += x[i * d + c] } }
          }
          out.append(s.map { $0 / n })
        case .entropy:
          out.append([try entropy()])
        case .freeEnergy:
          let h = context.temperature > 0 ? try entropy() : 0
          out.append([try loss() + context.l2 * (try moment()) - context.temperature * h])
        case .klToReference:
          guard let reference = context.reference else {
            throw MetricError("kl-to-reference needs diagnostics.reference")
          }
          out.append([
            try klDivergence(of: try gathered(), relativeTo: reference, k: context.neighbours, options: options).value
          ])
        case .w2ToReference:
          guard let reference = context.reference else {
            throw MetricError("w2-to-reference needs diagnostics.reference-sample")
          }
          let total = engine.exchange.layout.particleCount
          if total > context.sampleLimit
            && (d == 1 || context.wassersteinMethod == .automatic || context.wassersteinMethod == .sliced)
          {
            // Above the sample limit: every particle, by distributed quantiles (1-D) or
            // per-process projections (sliced), on sampleLimit quantile levels.
            if d == 1 {
              let local = engine.withPositions { Array($0) }
              let target = try referenceQuantile(reference.values, weights: reference.weights)
              out.append([
                try DistributedQuantiles.squaredWasserstein(
                  local: local, total: total, levels: context.sampleLimit, targetQuantile: target,
                  exchange: engine.exchange
                ).squareRoot()
              ])
            } else {
              let directions = OptimalTransport.slicingDirections(count: 200, dimension: d, seed: 0)
              out.append([
                try engine.withPositions { x in
                  try DistributedQuantiles.slicedWasserstein(
                    local: x, dimension: d, total: total, reference: reference, directions: directions,
                    levels: max(64, context.sampleLimit / 200), exchange: engine.exchange)
                }
              ])
            }
          } else {
            out.append([
              try wasserstein(try gathered(), reference, method: context.wassersteinMethod, threads: context.threads)
            ])
          }
        case .klToGibbs:
          guard let gibbs = context.gibbs else { throw MetricError("kl-to-gibbs is undefined at λ = 0") }
          out.append([
            try klDivergence(
              of: try gathered(), relativeTo: AnyLogDensity(gibbs), k: context.neighbours, options: options
            ).value
          ])
        case .w2ToGaussian:
          guard let target = context.gaussian else { throw MetricError("w2-to-gaussian needs diagnostics.gaussian") }
          let (mean, covariance) = try moments(engine, dimension: d)
          out.append([
            try OptimalTransport.gaussianWasserstein(
              mean1: mean, covariance1: covariance, mean2: target.mean, covariance2: target.covariance)
          ])
        case .basinMass:
          out.append(try masses())
        case .duyIntegral:
          let m = try masses()
          guard context.duyWeights.count == m.count else {
            throw MetricError("duy-integral needs one weight per basin")
          }
          out.append([zip(m, context.duyWeights).map { $0 * $1 }.reduce(0, +)])
        case .ntkDiscrepancy:
          guard let data = context.ntkInputs else { throw MetricError("ntk-discrepancy needs a ReLU network") }
          let all = try gathered()
          out.append([
            NeuralTangentKernel.compare(particles: all.values, inputs: data.inputs, inputDimension: data.dimension)
              .discrepancy
          ])
        case .l1ToPDE:
          guard let pde = context.pde else { throw MetricError("l1-to-pde needs a reference PDE") }
          try pde.advance(to: time)
          let density = pde.positionDensity
          // The histogram by reduction: each block counts its particles per cell (exact
          // integers, so the sum is the same in any order); points outside the grid are not
          // binned, and their mass (where the PDE has none) is added to the L1 distance.
          let grid = density.grid, gd = grid.dimension
          let counts = try engine.exactReduce(length: grid.cellCount) { _, x, rows, _, partial in
            for i in 0..<rows {
              if let c = grid.cellIndex(of: UnsafeBufferPointer(rebasing: x[(i * d)..<(i * d + gd)])) {
                partial[c] += 1
              }
            }
          }
          let histogram = GridDensity(grid: grid, masses: counts.map { $0 / n })
          let outside = max(0, 1 - counts.reduce(0, +) / n)
          out.append([l1Distance(between: histogram, and: density) + outside])
        case .l1ToPDEPhaseSpace:
          guard let pde = context.pde else { throw MetricError("l1-to-pde-phase-space needs a reference PDE") }
          try pde.advance(to: time)
          guard let density = pde.phaseSpaceDensity, d == 1 else {
            throw MetricError("l1-to-pde-phase-space needs a kinetic reference PDE in 1-D")
          }
          // The comparison grid: the PDE's cells merged in pairs along each axis while 32 or
          // more remain and their count is even, so grids refined by powers of two are
          // compared on the same bins (the histogram's sampling noise ~ sqrt(bins/N)).
          let fine = density.grid
          var merge = [1, 1]
          for a in 0..<2 {
            while fine.cells[a] / merge[a] >= 32 && (fine.cells[a] / merge[a]) % 2 == 0 { merge[a] *= 2 }
          }
          let grid = UniformGrid(
            lower: fine.lower, upper: fine.upper, cells: [fine.cells[0] / merge[0], fine.cells[1] / merge[1]])
          var reference = [Double](repeating: 0, count: grid.cellCount)
          for (flat, mass) in density.masses.enumerated() {
            let i = flat / fine.cells[1], j = flat % fine.cells[1]
            reference[(i / merge[0]) * grid.cells[1] + j / merge[1]] += mass
          }
          // (x, v) counts per bin by reduction (exact integers: the same in any order); the
          // mass of points outside the grid is added to the L1 distance.
          let owned = engine.ownedParticles
          let counts = try engine.withVelocities { v in
            guard v.count == owned.count else { throw MetricError("l1-to-pde-phase-space needs underdamped dynamics") }
            return try engine.exactReduce(length: grid.cellCount) { _, x, rows, first, partial in
              var point = [0.0, 0.0]
              for i in 0..<rows {
                point[0] = x[i]
                point[1] = v[first - owned.lowerBound + i]
                if let c = point.withUnsafeBufferPointer({ grid.cellIndex(of: $0) }) { partial[c] += 1 }
              }
            }
          }
          let histogram = GridDensity(grid: grid, masses: counts.map { $0 / n })
          let outside = max(0, 1 - counts.reduce(0, +) / n)
          out.append([l1Distance(between: histogram, and: GridDensity(grid: grid, masses: reference)) + outside])
        case .w2ToPDEMarginal:
          guard let pde = context.pde else { throw MetricError("w2-to-pde-marginal needs a reference PDE") }
          try pde.advance(to: time)
          let density = pde.positionDensity
          guard density.grid.dimension == 1 else { throw MetricError("w2-to-pde-marginal needs a 1-D PDE grid") }
          // Distributed quantiles of the first coordinate against the PDE's quantile function
          // (piecewise-constant density, linear within cells), on min(N, sampleLimit) levels.
          let total = engine.exchange.layout.particleCount
          let local = engine.withPositions { x in (0..<(x.count / d)).map { x[$0 * d] } }
          let target = cellQuantile(masses: density.masses, lower: density.grid.lower[0], width: density.grid.widths[0])
          out.append([
            try DistributedQuantiles.squaredWasserstein(
              local: local, total: total, levels: min(total, context.sampleLimit), targetQuantile: target,
              exchange: engine.exchange
            ).squareRoot()
          ])
        case .jkoIterations:
          out.append([engine.lastProximal.map { Double($0.iterations) } ?? .nan])
        case .jkoResidual:
          out.append([engine.lastProximal?.residual ?? .nan])
        case .acceptanceRate:
          out.append([engine.schemeReport.acceptance ?? .nan])
        case .dissipation:
          out.append([try dissipation(engine, context: context)])
        case .pdeMean, .pdeSecondMoment:
          guard let pde = context.pde else { throw MetricError("\(metric.rawValue) needs a reference PDE") }
          try pde.advance(to: time)
          let density = pde.positionDensity
          let grid = density.grid
          let masses = density.masses
          let centres = grid.centres(axis: 0), h = grid.widths[0]
          let inner = grid.dimension == 2 ? grid.cells[1] : 1
          var value = 0.0
          for (flat, mass) in masses.enumerated() {
            let c = centres[flat / inner]
            value += mass * (metric == .pdeMean ? c : c * c + h * h / 12)
          }
          out.append([value])
        case .displacement:
          guard let start = context.start else { throw MetricError("displacement needs the run's initial law") }
          let s = try engine.exactReduce(length: 1) { _, x, rows, first, partial in
            var x0 = [Double](repeating: 0, count: rows * d)
            x0.withUnsafeMutableBufferPointer {
              start.law.fill($0, rows: rows, dimension: d, firstParticle: first, field: start.field)
            }
            var sum = 0.0
            for i in 0..<(rows * d) { sum += (x[i] - x0[i]) * (x[i] - x0[i]) }
            partial[0] = sum
          }
          out.append([(s[0] / n).squareRoot()])
        case .hopfCole:
          guard let g = context.terminal, context.temperature > 0 else {
            throw MetricError("hopf-cole needs diagnostics.terminal and λ > 0")
          }
          // Every particle, in global order, by a log-sum-exp shifted by the smallest g.
          let all = try engine.gatherPositions()
          let values = all.withUnsafeBufferPointer { x in
            (0..<(all.count / d)).map { g.value(x.baseAddress! + $0 * d, dimension: d) }
          }
          let lowest = values.min() ?? 0
          var sum = 0.0
          for v in values { sum += Foundation.exp(-(v - lowest) / (2 * context.temperature)) }
          out.append([lowest - 2 * context.temperature * Foundation.log(sum / Double(values.count))])
        }
      } catch let error as MetricError {
        notes.append("\(metric.rawValue): \(error)")
        out.append(
          [Double](repeating: .nan, count: metric.width(dimension: d, basins: context.basins?.minima.count ?? 0)))
      } catch let error as DivergenceError {
        notes.append("\(metric.rawValue): \(error)")
        out.append(
          [Double](repeating: .nan, count: metric.width(dimension: d, basins: context.basins?.minima.count ?? 0)))
      } catch let error as TransportError {
        notes.append("\(metric.rawValue): \(error)")
        out.append(
          [Double](repeating: .nan, count: metric.width(dimension: d, basins: context.basins?.minima.count ?? 0)))
      }
    }
    return out
  }

  /// `E|G|² − 2λ E div G + λ² tr Σ̂⁻¹` with G = ∇V + ∇W∗μ + 2λ'x (docs/MATH.md §3b): the
  /// dissipation ∫|∇(V + W∗μ + λ'|x|² + λ log μ)|² dμ after integrating the cross term by parts,
  /// E[G·∇log μ] = −E div G, with the Fisher information of the particles' Gaussian fit. Ordered
  /// reductions over blocks (the Gaussian interaction over all gathered positions): bitwise the
  /// same on any rank count.
  static func dissipation<M: MeanFieldModel, E: BlockExchange>(
    _ engine: ParticleEngine<M, E>, context: DiagnosticContext
  ) throws -> Double {
    guard let (v, w) = context.landscape else { throw MetricError("dissipation needs a potential model") }
    let d = engine.model.dimension
    let n = engine.exchange.layout.particleCount
    let lambda = context.temperature, l2 = context.l2
    let (mean, covariance) = try moments(engine, dimension: d)
    var all = [Double]()
    if w.isPairwise { all = try engine.gatherPositions() }
    let registers: Int = { if case .expression(let e) = w { return e.programs.workLength } else { return 0 } }()
    let sums = try engine.exactReduce(length: 2) { _, x, rows, _, partial in
      var g = [Double](repeating: 0, count: d)
      // An expression interaction's registers, one set per block (blocks run on several threads).
      var work = [Double](repeating: 0, count: registers)
      for i in 0..<rows {
        let xi = x.baseAddress! + i * d
        g.withUnsafeMutableBufferPointer { v.gradient(xi, dimension: d, into: $0.baseAddress!) }
        var divergence = (v.laplacian(xi, dimension: d) ?? .nan) + 2 * l2 * Double(d)
        for c in 0..<d { g[c] += 2 * l2 * xi[c] }
        switch w {
        case .none: break
        case .quadraticAttraction(let strength):
          for c in 0..<d { g[c] += strength * (xi[c] - mean[c]) }
          divergence += strength * Double(d)
        case .gaussianKernel(let strength, let width):
          let s2 = width * width
          for j in 0..<n {
            var r2 = 0.0
            for c in 0..<d {
              let z = xi[c] - all[j * d + c]
              r2 += z * z
            }
            let e = Foundation.exp(-r2 / (2 * s2)) * strength / s2 / Double(n)
            for c in 0..<d { g[c] += e * (xi[c] - all[j * d + c]) }
            divergence += e * (Double(d) - r2 / s2)
          }
        case .expression(let e):
          all.withUnsafeBufferPointer { a in
            work.withUnsafeMutableBufferPointer { w in
              g.withUnsafeMutableBufferPointer { gp in
                e.addGradientMeans(
                  targets: xi, rows: 1, sources: a.baseAddress!, count: n, into: gp.baseAddress!, work: w.baseAddress!)
              }
              divergence +=
                e.laplacianSum(target: xi, sources: a.baseAddress!, count: n, work: w.baseAddress!) / Double(n)
            }
          }
        }
        var g2 = 0.0
        for c in 0..<d { g2 += g[c] * g[c] }
        partial[0] += g2
        partial[1] += divergence
      }
    }
    var value = sums[0] / Double(n) - 2 * lambda * sums[1] / Double(n)
    if lambda > 0 {
      guard let inverse = inverseTrace(covariance, dimension: d) else {
        throw MetricError("dissipation: the particles' covariance is singular (no Fisher information)")
      }
      value += lambda * lambda * inverse
    }
    return value
  }

  /// tr A⁻¹ of a symmetric positive definite matrix (Cholesky); nil when it is not.
  static func inverseTrace(_ a: [Double], dimension d: Int) -> Double? {
    guard let l = try? Cholesky.lower(a, dimension: d) else { return nil }
    // tr A⁻¹ = ‖L⁻¹‖_F²: solve L y = e_k column by column.
    var total = 0.0
    for k in 0..<d {
      var y = [Double](repeating: 0, count: d)
      for i in k..<d {
        var s = i == k ? 1.0 : 0.0
        for m in k..<i { s -= l[i * d + m] * y[m] }
        y[i] = s / l[i * d + i]
      }
      for i in k..<d { total += y[i] * y[i] }
    }
    return total
  }

  /// Mean and covariance (row-major) of the ensemble by exact reduction.
  static func moments<M: MeanFieldModel, E: BlockExchange>(
    _ engine: ParticleEngine<M, E>, dimension d: Int
  ) throws -> ([Double], [Double]) {
    let n = Double(engine.exchange.layout.particleCount)
    let first = try engine.exactReduce(length: d) { _, x, rows, _, partial in
      for i in 0..<rows { for c in 0..<d { partial[c] += x[i * d + c] } }
    }
    let mean = first.map { $0 / n }
    let second = try engine.exactReduce(length: d * d) { _, x, rows, _, partial in
      for i in 0..<rows {
        for a in 0..<d {
          let xa = x[i * d + a] - mean[a]
          for b in 0..<d { partial[a * d + b] += xa * (x[i * d + b] - mean[b]) }
        }
      }
    }
    return (mean, second.map { $0 / n })
  }

  /// W2 between two point sets by the chosen method.
  public static func wasserstein(_ a: PointCloud, _ b: PointCloud, method: WassersteinMethod, threads: Int) throws
    -> Double
  {
    let d = a.dimension
    var resolved = method
    let uniformPair = OptimalTransport.isAssignment(a, b)
    if method == .automatic {
      resolved = d == 1 || (uniformPair && a.count <= 5000) || a.count * b.count <= 25_000_000 ? .exact : .sliced
    }
    switch resolved {
    case .exact:
      if d == 1 { return try OptimalTransport.wasserstein1D(between: a, and: b) }
      if !uniformPair { return try OptimalTransport.exactTransport(between: a, and: b, threads: threads).distance }
      return try OptimalTransport.exactWasserstein(between: a, and: b, threads: threads).distance
    case .sinkhorn:
      let epsilon = 0.05 * (try OptimalTransport.maximumSquaredDistance(between: a, and: b, threads: threads))
      let result = try OptimalTransport.sinkhornDivergence(
        between: a, and: b, regularization: epsilon, options: SinkhornOptions(maxIterations: 10_000, threads: threads))
      return max(0, result.divergence).squareRoot()
    default:
      return try OptimalTransport.slicedWasserstein(between: a, and: b, projections: 200, seed: 0, threads: threads)
        .distance
    }
  }
}

/// Type erasure for a log density held by the context.
struct AnyLogDensity: LogDensity {
  let base: any LogDensity
  init(_ base: any LogDensity) { self.base = base }
  var dimension: Int { base.dimension }
  func logDensity(at x: UnsafeBufferPointer<Double>) -> Double { base.logDensity(at: x) }
}
