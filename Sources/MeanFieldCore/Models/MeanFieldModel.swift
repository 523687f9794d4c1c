/// A mean-field interaction: what the particles' drift depends on, split so that the ensemble
/// can live on several processes.
///
/// The model's part of the objective, `F0(μ)`, depends on μ only through a finite statistic
/// `S(μ) = Σ_i s(x^i)` (for the network: every data point's summed prediction; for a quadratic
/// interaction: the first moment), or, for genuinely pairwise kernels, through all positions.
/// The engine computes
///
///     partial_b = Σ_{i in block b} s(x^i)          (``accumulate(_:rows:into:scratch:)``)
///     S = Σ_b partial_b  (exact, rounded once)      (``BlockExchange/exactSum``)
///     field = makeField(S, N)                       (``makeField(sum:particleCount:into:)``)
///     G(x^i) = drift(x^i, field)                    (``drift(_:rows:context:into:scratch:)``)
///
/// so one integer reduction of the statistic's exact accumulators per step is all the
/// communication a run needs.
public protocol MeanFieldModel: Sendable {
  /// Per-thread working memory, allocated once by ``makeScratch(maxRows:)``.
  associatedtype Scratch: AnyObject

  /// Dimension d of a particle.
  var dimension: Int { get }
  /// Length of the statistic s(x) (0 for models without one).
  var statisticLength: Int { get }
  /// Length of the field the drift reads.
  var fieldLength: Int { get }
  /// True when the drift needs every particle's position (pairwise kernels).
  var needsAllPositions: Bool { get }

  /// Numbers per particle the model may keep between ``accumulate(_:rows:into:scratch:cache:)``
  /// and ``drift(_:rows:context:into:scratch:)`` of the same state (the network keeps σ(w·z_j)
  /// so the drift need not recompute it); 0 for none. The engine provides the memory when it
  /// fits its budget and passes nil otherwise; the results are identical either way.
  var cachePerParticle: Int { get }

  /// Working memory for blocks of at most `maxRows` particles.
  func makeScratch(maxRows: Int) -> Scratch

  /// Adds `Σ_{i < rows} s(x^i)` into `statistic` (length ``statisticLength``); may fill `cache`
  /// (`rows × cachePerParticle`) for the drift of the same rows.
  func accumulate(
    _ x: UnsafeBufferPointer<Double>, rows: Int,
    into statistic: UnsafeMutableBufferPointer<Double>, scratch: Scratch,
    cache: UnsafeMutablePointer<Double>?)

  /// Numbers per particle the model precomputes at the gathered state for the particles of a
  /// thread (pairwise models: the pair sums, computed once per pair for both particles); 0 for
  /// none (the default).
  var pairSumLength: Int { get }

  /// Writes ``pairSumLength`` numbers per particle for the particles `range` (global indices)
  /// into `out`, from every particle's position. The drift of those particles at exactly
  /// these positions then finds them in ``DriftContext/pairSums``, and must give the same bits
  /// as without them.
  func computePairSums(
    range: Range<Int>, allPositions: UnsafeBufferPointer<Double>, particleCount: Int,
    into out: UnsafeMutablePointer<Double>, scratch: Scratch)

  /// Turns the global statistic into the field the drift reads.
  func makeField(
    sum: UnsafeBufferPointer<Double>, particleCount: Int,
    into field: UnsafeMutableBufferPointer<Double>)

  /// Writes `G0(x^i; μ) = ∇_x δF0/δμ(x^i)` for `rows` particles (the L2 term is the engine's).
  func drift(
    _ x: UnsafeBufferPointer<Double>, rows: Int, context: DriftContext,
    into g: UnsafeMutableBufferPointer<Double>, scratch: Scratch)

  /// The per-particle part of `N · F0`, `Σ_{i < rows} e(x^i)` (0 for the network).
  func energySum(
    _ x: UnsafeBufferPointer<Double>, rows: Int, context: DriftContext, scratch: Scratch
  ) -> Double

  /// `F0(μ)` from the global statistic and the global ``energySum(_:rows:context:scratch:)``.
  func energy(sum: UnsafeBufferPointer<Double>, energySum: Double, particleCount: Int) -> Double
}

extension MeanFieldModel {
  public var pairSumLength: Int { 0 }

  public func computePairSums(
    range: Range<Int>, allPositions: UnsafeBufferPointer<Double>, particleCount: Int,
    into out: UnsafeMutablePointer<Double>, scratch: Scratch
  ) {}
}

/// What a drift evaluation may read besides the particles it moves.
public struct DriftContext: @unchecked Sendable {
  /// The field made from the global statistic.
  public var field: UnsafeBufferPointer<Double>
  /// Every particle's position (N × d), for pairwise models; empty otherwise.
  public var allPositions: UnsafeBufferPointer<Double>
  /// Number of particles N in the ensemble.
  public var particleCount: Int
  /// Global index of the first of the rows being evaluated.
  public var firstParticle: Int
  /// What ``MeanFieldModel/accumulate(_:rows:into:scratch:cache:)`` kept for these rows at this
  /// state, or nil (then the model recomputes it).
  public var cache: UnsafeMutablePointer<Double>?
  /// What ``MeanFieldModel/computePairSums(range:allPositions:particleCount:into:scratch:)``
  /// wrote for these rows, when they are at the gathered positions; nil otherwise.
  public var pairSums: UnsafePointer<Double>?

  /// A context.
  @inlinable
  public init(
    field: UnsafeBufferPointer<Double>, allPositions: UnsafeBufferPointer<Double>,
    particleCount: Int, firstParticle: Int, cache: UnsafeMutablePointer<Double>? = nil,
    pairSums: UnsafePointer<Double>? = nil
  ) {
    self.field = field
    self.allPositions = allPositions
    self.particleCount = particleCount
    self.firstParticle = firstParticle
    self.cache = cache
    self.pairSums = pairSums
  }
}
