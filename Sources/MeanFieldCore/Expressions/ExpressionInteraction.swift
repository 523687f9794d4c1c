import Foundation

/// A pair interaction W given as an expression in the difference z = x − y (`z1…zd`) and its
/// length `r = |z|` (`-0.5*exp(-r^2/2)`), with named parameters. Checked when compiled: W is
/// symmetric (W(−z) = W(z) at points over four scales), and W and ∇W are finite at z = 0 (the
/// empirical measure's diagonal pairs enter the energy and the drift). `r^n` with an even n is
/// written through `z·z`, so it is smooth at 0; an odd power of r is not (write `r^3` as
/// `(r^2)^1.5`).
public struct ExpressionInteraction: Sendable, Hashable {
  public let programs: ExpressionPrograms

  public var text: String { programs.text }
  public var parameters: [String: Double] { programs.parameters }
  public var dimension: Int { programs.dimension }

  public init(_ text: String, dimension: Int, parameters: [String: Double] = [:]) throws {
    programs = try ExpressionPrograms(text, prefix: "z", dimension: dimension, radius: true, parameters: parameters)
    try checkSymmetry()
    let zero = [Double](repeating: 0, count: dimension)
    var g = zero
    let w0 = zero.withUnsafeBufferPointer { p in
      g.withUnsafeMutableBufferPointer { programs.gradientAt(p.baseAddress!, into: $0.baseAddress!) }
      return programs.valueAt(p.baseAddress!)
    }
    guard w0.isFinite else {
      throw ExpressionError(
        "W(0) is \(w0): the energy counts every particle's pair with itself, W(0) must be finite", at: 0)
    }
    guard g.allSatisfy(\.isFinite) else {
      throw ExpressionError(
        "∇W is not defined at z = 0 (the pair of a particle with itself); write r^2 instead of r, and odd powers "
          + "of r as powers of r^2 (r^3 as (r^2)^1.5)", at: 0)
    }
  }

  /// W(z) against W(−z) at 64 points over the scales 0.05, 0.5, 1 and 3.
  func checkSymmetry() throws {
    let d = dimension
    var z = [Double](repeating: 0, count: d), minus = z
    for (s, scale) in [0.05, 0.5, 1, 3].enumerated() {
      for i in 0..<16 {
        for c in 0..<d {
          // A Weyl sequence: the fractional parts of multiples of √(prime) fill the cube.
          let primes = [2.0, 3, 5, 7, 11, 13, 17, 19, 23, 29]
          let f = (Double(s * 16 + i + 1) * primes[c % primes.count].squareRoot() + Double(c / primes.count) * 0.37)
          z[c] = scale * (2 * (f - f.rounded(.down)) - 1)
          minus[c] = -z[c]
        }
        let a = z.withUnsafeBufferPointer { programs.valueAt($0.baseAddress!) }
        let b = minus.withUnsafeBufferPointer { programs.valueAt($0.baseAddress!) }
        if a.isFinite || b.isFinite, !(abs(a - b) <= 1e-12 * max(1, abs(a), abs(b))) {
          let at = "(" + z.map { String(format: "%.4g", $0) }.joined(separator: ", ") + ")"
          throw ExpressionError(
            "the interaction is not symmetric: W(z) = \(a) but W(−z) = \(b) at z = \(at); a pair interaction "
              + "needs W(−z) = W(z) (write it in r, or in even functions of z1…zd)", at: 0)
        }
      }
    }
  }

  /// Adds `(1/N) Σ_j ∇W(x^i − x^j)` (every source j, in chunks of 64 in index order, each
  /// chunk by ``chunkSum(_:_:)``) to `g` for `rows` targets.
  /// `work` holds ``ExpressionPrograms/workLength`` numbers.
  public func addGradientMeans(
    targets x: UnsafePointer<Double>, rows: Int, sources: UnsafePointer<Double>, count n: Int,
    into g: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>
  ) {
    let program = programs.gradient
    let d = dimension
    withUnsafeTemporaryAllocation(of: Double.self, capacity: d) { acc in
      acc.update(repeating: 0)
      sums(program, targets: x, rows: rows, sources: sources, count: n, work: work) { _, k, r, lanes in
        acc[k] += Self.chunkSum(r, lanes)
      } finish: { i in
        for k in 0..<d { g[i &* d &+ k] += acc[k] / Double(n) }
        acc.update(repeating: 0)
      }
    }
  }

  /// `Σ_j W(x^i − x^j)` summed over the `rows` targets and every source j (chunks in index order).
  public func valueSum(
    targets x: UnsafePointer<Double>, rows: Int, sources: UnsafePointer<Double>, count n: Int,
    work: UnsafeMutablePointer<Double>
  ) -> Double {
    var total = 0.0, s = 0.0
    sums(programs.value, targets: x, rows: rows, sources: sources, count: n, work: work) { _, _, r, lanes in
      s += Self.chunkSum(r, lanes)
    } finish: { _ in
      total += s
      s = 0
    }
    return total
  }

  /// `Σ_j ΔW(x^i − x^j)` for one target (chunks in index order); `work` as for the drift.
  public func laplacianSum(
    target x: UnsafePointer<Double>, sources: UnsafePointer<Double>, count n: Int, work: UnsafeMutablePointer<Double>
  ) -> Double {
    var s = 0.0
    sums(programs.laplacian, targets: x, rows: 1, sources: sources, count: n, work: work) { _, _, r, lanes in
      s += Self.chunkSum(r, lanes)
    } finish: { _ in
    }
    return s
  }

  /// The sum of one chunk's lanes in a fixed order: four interleaved partial sums (lane l into
  /// l mod 4, the tail into the first), then `(p0 + p1) + (p2 + p3)`. Chunks always start at a
  /// multiple of ``ExpressionProgram/lanes`` sources, so the order depends on N alone, never on
  /// how targets are split among ranks and threads.
  @inline(__always)
  static func chunkSum(_ r: UnsafePointer<Double>, _ lanes: Int) -> Double {
    var (p0, p1, p2, p3) = (0.0, 0.0, 0.0, 0.0)
    var l = 0
    while l &+ 4 <= lanes {
      p0 += r[l]
      p1 += r[l &+ 1]
      p2 += r[l &+ 2]
      p3 += r[l &+ 3]
      l &+= 4
    }
    while l < lanes {
      p0 += r[l]
      l &+= 1
    }
    return (p0 + p1) + (p2 + p3)
  }

  /// Runs `program` on z = x^i − x^j for each target i and every source j in chunks of
  /// ``ExpressionProgram/lanes`` sources in index order; `add(i, output, register, lanes)` sees
  /// every output of every chunk in order, `finish(i)` ends a target.
  @inline(__always)
  func sums(
    _ program: ExpressionProgram, targets x: UnsafePointer<Double>, rows: Int, sources: UnsafePointer<Double>,
    count n: Int, work: UnsafeMutablePointer<Double>,
    add: (Int, Int, UnsafePointer<Double>, Int) -> Void, finish: (Int) -> Void
  ) {
    let d = dimension, width = ExpressionProgram.lanes
    for i in 0..<rows {
      let xi = x + i &* d
      program.evaluate(
        count: n, work: work,
        load: { registers, first, lanes in
          for k in 0..<d {
            let z = registers + k &* width, source = sources + (first &* d &+ k), c = xi[k]
            for l in 0..<lanes { z[l] = c - source[l &* d] }
          }
        },
        store: { _, lanes in
          for k in program.outputRegisters.indices { add(i, k, program.output(k, in: work), lanes) }
        })
      finish(i)
    }
  }
}
