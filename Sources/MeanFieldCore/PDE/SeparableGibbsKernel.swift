import Foundation

/// The Gibbs kernel `K_ij = exp(−|x_i − x_j|²/ε)` of a tensor grid, applied in the log domain
/// one axis at a time.
///
/// For log-values `ℓ` on the grid it computes
///
///     (K ⊙ ℓ)_i = log Σ_j exp(ℓ_j − |x_i − x_j|²/ε),
///
/// i.e. `log(K e^ℓ)` without ever forming `e^ℓ` (no overflow or underflow whatever the range
/// of ℓ). The squared distance is a sum over axes, so K is the tensor product of the 1-D
/// kernels `exp(−(m h_k)²/ε)` and the sum factors into 1-D log-sum-exps along each axis in turn
/// (a log-domain separable convolution).
///
/// **Exact truncation.** A fibre `ℓ_0…ℓ_{n−1}` is cut into blocks of 8 cells with known maxima.
/// For output k the largest exponent `m = max_j (ℓ_j − c_{jk})`, `c_{jk} = (j − k)² h²/ε`, is at
/// least the best term of k's own block, `m₀`. Every term of a block b is at most
/// `max_b ℓ − min_{j∈b} c_{jk}`; when that is below `m₀ − 50` the whole block adds less than
/// `8 e^{−50} ≈ 2e-21` relative to the sum (whose largest term is 1 after scaling by `e^{−m}`)
/// and is skipped. The contiguous run from the first to the last kept block is summed exactly.
/// The change is at most `n e^{−50}` relative, far below rounding, and when ε is of the order
/// of h² (kernel resolved but narrow) it cuts the work from n to a few dozen terms per output
/// wherever ℓ varies slowly on the kernel's scale.
///
/// - Complexity: O(N · Σ_k w_k) exponentials for a grid of N cells, `w_k ≤ n_k` the summed
///   window of axis k, plus O(N · Σ_k n_k / 8) block tests; at most O(N · Σ_k n_k) =
///   O(N^{1+1/d}) on a d-dimensional n^d grid, instead of O(N²) for a dense kernel. No
///   allocation (fibre, block and ping-pong buffers are allocated at construction).
public struct SeparableGibbsKernel: Sendable {
  /// Cells per axis (row-major, last axis fastest).
  public let shape: [Int]
  /// Total cells N.
  public let count: Int
  /// `(m h_k)²/ε` for m = −(n_k − 1)…(n_k − 1) (index `n_k − 1 + m`), per axis.
  private let costs: [[Double]]
  /// Terms more than this far below the window's guaranteed maximum are skipped.
  static let cutoff = 50.0
  /// Cells per block of a fibre for the truncation test.
  static let blockSize = 8

  private var fibreIn: [Double]
  private var fibreOut: [Double]
  private var terms: [Double]
  private var blockMaxima: [Double]
  private var pingA: [Double]
  private var pingB: [Double]

  /// The kernel of `axes` (one ``CellGrid`` per axis) with regularization ε > 0.
  public init(axes: [CellGrid], epsilon: Double) {
    precondition(epsilon > 0 && epsilon.isFinite)
    shape = axes.map(\.cellCount)
    count = shape.reduce(1, *)
    costs = axes.map { axis in
      let n = axis.cellCount
      let h = axis.spacing
      return (0..<(2 * n - 1)).map { index in
        let offset = Double(index - (n - 1)) * h
        return offset * offset / epsilon
      }
    }
    let longest = shape.max() ?? 1
    fibreIn = [Double](repeating: 0, count: longest)
    fibreOut = [Double](repeating: 0, count: longest)
    terms = [Double](repeating: 0, count: longest)
    blockMaxima = [Double](repeating: 0, count: (longest + Self.blockSize - 1) / Self.blockSize)
    pingA = [Double](repeating: 0, count: shape.count > 1 ? count : 1)
    pingB = [Double](repeating: 0, count: shape.count > 2 ? count : 1)
  }

  /// `output = log(K exp(input))`, both of length N (`input` and `output` must not overlap).
  public mutating func apply(
    _ input: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>
  ) {
    precondition(input.count == count && output.count == count)
    let d = shape.count
    let inputBase = input.baseAddress!
    let outputBase = output.baseAddress!
    let shape = self.shape
    let count = self.count
    let costs = self.costs
    pingA.withUnsafeMutableBufferPointer { a in
      pingB.withUnsafeMutableBufferPointer { b in
        fibreIn.withUnsafeMutableBufferPointer { fin in
          fibreOut.withUnsafeMutableBufferPointer { fout in
            terms.withUnsafeMutableBufferPointer { scratch in
              blockMaxima.withUnsafeMutableBufferPointer { blocks in
                var source = UnsafePointer(inputBase)
                // Axes from the last (contiguous) to the first; the first axis writes the output.
                for (pass, axis) in (0..<d).reversed().enumerated() {
                  let destination =
                    axis == 0 ? outputBase : (pass % 2 == 0 ? a.baseAddress! : b.baseAddress!)
                  var stride = 1
                  for k in (axis + 1)..<d { stride *= shape[k] }
                  costs[axis].withUnsafeBufferPointer { cost in
                    Self.convolve(
                      from: source, to: destination, n: shape[axis], stride: stride,
                      outer: count / (shape[axis] * stride), cost: cost.baseAddress!,
                      fibreIn: fin.baseAddress!, fibreOut: fout.baseAddress!,
                      scratch: scratch.baseAddress!, blockMax: blocks.baseAddress!)
                  }
                  source = UnsafePointer(destination)
                }
              }
            }
          }
        }
      }
    }
  }

  /// One log-domain 1-D convolution along an axis of length `n` and memory stride `stride`,
  /// for each of the `outer × stride` fibres.
  private static func convolve(
    from source: UnsafePointer<Double>, to destination: UnsafeMutablePointer<Double>, n: Int,
    stride: Int, outer: Int, cost: UnsafePointer<Double>,
    fibreIn: UnsafeMutablePointer<Double>, fibreOut: UnsafeMutablePointer<Double>,
    scratch: UnsafeMutablePointer<Double>, blockMax: UnsafeMutablePointer<Double>
  ) {
    for o in 0..<outer {
      for r in 0..<stride {
        let base = o * n * stride + r
        if stride == 1 {
          logConvolve(
            source + base, destination + base, n: n, cost: cost, scratch: scratch,
            blockMax: blockMax)
        } else {
          for j in 0..<n { fibreIn[j] = source[base + j * stride] }
          logConvolve(
            fibreIn, fibreOut, n: n, cost: cost, scratch: scratch, blockMax: blockMax)
          for j in 0..<n { destination[base + j * stride] = fibreOut[j] }
        }
      }
    }
  }

  /// `out[k] = log Σ_j exp(l[j] − cost[n − 1 + j − k])` over the exact window described in the
  /// type's documentation; `−∞` inputs are allowed (zero weights). `blockMax` holds at least
  /// `⌈n / blockSize⌉` values.
  @inline(__always)
  private static func logConvolve(
    _ l: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, n: Int,
    cost: UnsafePointer<Double>, scratch: UnsafeMutablePointer<Double>,
    blockMax: UnsafeMutablePointer<Double>
  ) {
    let blocks = (n + blockSize - 1) / blockSize
    var top = -Double.infinity
    for b in 0..<blocks {
      var m = -Double.infinity
      for j in (b * blockSize)..<min(n, (b + 1) * blockSize) { m = max(m, l[j]) }
      blockMax[b] = m
      top = max(top, m)
    }
    if top == -.infinity {
      for k in 0..<n { out[k] = -.infinity }
      return
    }
    for k in 0..<n {
      // c[j] is the cost of moving from j to k.
      let c = cost + (n - 1 - k)
      let own = k / blockSize
      // A lower bound of the largest exponent: the own block's best term.
      var floor = -Double.infinity
      for j in (own * blockSize)..<min(n, (own + 1) * blockSize) { floor = max(floor, l[j] - c[j]) }
      let threshold = floor - cutoff
      // Every term of block b is at most blockMax[b] − (cost of its nearest cell to k).
      var first = own
      while first > 0 && blockMax[first - 1] - c[first * blockSize - 1] >= threshold {
        first -= 1
      }
      var firstKept = first
      var b = first - 1
      while b >= 0 {
        if blockMax[b] - c[b * blockSize + blockSize - 1] >= threshold { firstKept = b }
        b -= 1
      }
      var last = own
      while last < blocks - 1 && blockMax[last + 1] - c[(last + 1) * blockSize] >= threshold {
        last += 1
      }
      var lastKept = last
      b = last + 1
      while b < blocks {
        if blockMax[b] - c[b * blockSize] >= threshold { lastKept = b }
        b += 1
      }
      let lo = firstKept * blockSize
      let hi = min(n, (lastKept + 1) * blockSize)
      let width = hi - lo
      let e = scratch
      for q in 0..<width { e[q] = l[lo + q] - c[lo + q] }
      let m = Self.maximum(e, count: width)
      // In place, so the loop has no aliasing question and vectorises.
      for q in 0..<width { e[q] = FastMath.exp(e[q] - m) }
      out[k] = m + Foundation.log(Self.sum(e, count: width))
    }
  }

  /// `max x[0..<n]` with four interleaved partial maxima (vectorisable).
  @inline(__always)
  private static func maximum(_ x: UnsafePointer<Double>, count n: Int) -> Double {
    var m0 = -Double.infinity
    var m1 = -Double.infinity
    var m2 = -Double.infinity
    var m3 = -Double.infinity
    var j = 0
    while j + 4 <= n {
      m0 = max(m0, x[j])
      m1 = max(m1, x[j + 1])
      m2 = max(m2, x[j + 2])
      m3 = max(m3, x[j + 3])
      j += 4
    }
    while j < n {
      m0 = max(m0, x[j])
      j += 1
    }
    return max(max(m0, m1), max(m2, m3))
  }

  /// `Σ x[0..<n]` with four interleaved partial sums (vectorisable, fixed order).
  @inline(__always)
  private static func sum(_ x: UnsafePointer<Double>, count n: Int) -> Double {
    var s0 = 0.0
    var s1 = 0.0
    var s2 = 0.0
    var s3 = 0.0
    var j = 0
    while j + 4 <= n {
      s0 += x[j]
      s1 += x[j + 1]
      s2 += x[j + 2]
      s3 += x[j + 3]
      j += 4
    }
    while j < n {
      s0 += x[j]
      j += 1
    }
    return (s0 + s1) + (s2 + s3)
  }
}
