/// An element-wise reduction.
public enum ReduceOperation: Sendable {
  case sum, max, min
}

/// The collective operations the runtime needs, over MPI or within one process.
///
/// Every method is collective: all ranks of the communicator call it, in the same order.
public protocol Communicator: AnyObject, Sendable {
  /// This process's rank.
  var rank: Int { get }
  /// Number of ranks.
  var size: Int { get }

  /// Waits for every rank.
  func barrier() throws
  /// Element-wise reduction in place.
  func allReduce(_ values: UnsafeMutableBufferPointer<Double>, op: ReduceOperation) throws
  /// Element-wise reduction in place.
  func allReduce(_ values: UnsafeMutableBufferPointer<Int64>, op: ReduceOperation) throws
  /// Element-wise sum of `send` over the ranks, scattered: rank r receives the `counts[r]`
  /// values that follow those of ranks 0..<r.
  func reduceScatterSum(
    _ send: UnsafeBufferPointer<Int64>, into receive: UnsafeMutableBufferPointer<Int64>,
    counts: UnsafeBufferPointer<Int32>) throws
  /// Gathers `send` of every rank into `receive`, rank r's values at `displacements[r]`.
  func allGatherV(
    _ send: UnsafeBufferPointer<Double>, into receive: UnsafeMutableBufferPointer<Double>,
    counts: UnsafeBufferPointer<Int32>, displacements: UnsafeBufferPointer<Int32>) throws
  /// Broadcasts from `root`.
  func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws
  /// Broadcasts raw bytes from `root`.
  func broadcast(bytes: UnsafeMutableRawBufferPointer, root: Int) throws
  /// Splits into sub-communicators by color, ordered by key.
  func split(color: Int, key: Int) throws -> Self
  /// The ranks of this communicator that share this rank's node.
  func splitByNode() throws -> Self

  /// Starts listening for an abort notice from any rank (once per launch, on the world): a
  /// rank that cannot go on (a full disk) tells every other rank without a collective, so
  /// groups that never wait for each other still stop within a step.
  func openAbortChannel() throws
  /// Sends an abort notice with `code` to every other rank (non-blocking, best effort).
  func sendAbort(code: Int)
  /// The code of an abort notice received so far, or nil (cheap: call between steps).
  func pollAbort() -> Int?
  /// Stops listening.
  func closeAbortChannel()
}

extension Communicator {
  /// True on rank 0.
  public var isRoot: Bool { rank == 0 }

  /// Sum of one value over all ranks.
  public func sum(_ value: Double) throws -> Double {
    var v = value
    try withUnsafeMutablePointer(to: &v) { try allReduce(UnsafeMutableBufferPointer(start: $0, count: 1), op: .sum) }
    return v
  }

  /// Sum of one integer over all ranks.
  public func sum(_ value: Int) throws -> Int {
    var v = Int64(value)
    try withUnsafeMutablePointer(to: &v) { try allReduce(UnsafeMutableBufferPointer(start: $0, count: 1), op: .sum) }
    return Int(v)
  }

  /// Maximum of one value over all ranks.
  public func max(_ value: Double) throws -> Double {
    var v = value
    try withUnsafeMutablePointer(to: &v) { try allReduce(UnsafeMutableBufferPointer(start: $0, count: 1), op: .max) }
    return v
  }

  /// True if any rank passes true.
  public func any(_ flag: Bool) throws -> Bool {
    var v: Int64 = flag ? 1 : 0
    try withUnsafeMutablePointer(to: &v) { try allReduce(UnsafeMutableBufferPointer(start: $0, count: 1), op: .max) }
    return v != 0
  }

  /// Element-wise sum of an array over all ranks.
  public func sum(_ values: [Double]) throws -> [Double] {
    var v = values
    try v.withUnsafeMutableBufferPointer { try allReduce($0, op: .sum) }
    return v
  }

  /// Element-wise sum of an integer array over all ranks.
  public func sum(_ values: [Int64]) throws -> [Int64] {
    var v = values
    try v.withUnsafeMutableBufferPointer { try allReduce($0, op: .sum) }
    return v
  }

  /// Broadcasts a string from `root`.
  public func broadcast(_ text: String, root: Int) throws -> String {
    var count = Double(text.utf8.count)
    try withUnsafeMutablePointer(to: &count) {
      try broadcast(UnsafeMutableBufferPointer(start: $0, count: 1), root: root)
    }
    var bytes = rank == root ? Array(text.utf8) : [UInt8](repeating: 0, count: Int(count))
    try bytes.withUnsafeMutableBytes { try broadcast(bytes: $0, root: root) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Broadcasts bytes of any length from `root`.
  public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
    var count = Double(bytes.count)
    try withUnsafeMutablePointer(to: &count) {
      try broadcast(UnsafeMutableBufferPointer(start: $0, count: 1), root: root)
    }
    var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
    try out.withUnsafeMutableBytes { try broadcast(bytes: $0, root: root) }
    return out
  }

  /// Gathers variable-length arrays from every rank, in rank order (allocates).
  public func allGather(_ values: [Double]) throws -> [[Double]] {
    var counts = [Int64](repeating: 0, count: size)
    counts[rank] = Int64(values.count)
    counts = try sum(counts)
    let counts32 = counts.map { Int32($0) }
    var displacements = [Int32](repeating: 0, count: size)
    for r in 1..<Swift.max(1, size) { displacements[r] = displacements[r - 1] + counts32[r - 1] }
    let total = Int(counts.reduce(0, +))
    var all = [Double](repeating: 0, count: Swift.max(1, total))
    try values.withUnsafeBufferPointer { s in
      try all.withUnsafeMutableBufferPointer { a in
        try counts32.withUnsafeBufferPointer { c in
          try displacements.withUnsafeBufferPointer { d in
            try allGatherV(s, into: a, counts: c, displacements: d)
          }
        }
      }
    }
    return (0..<size).map { r in
      Array(all[Int(displacements[r])..<(Int(displacements[r]) + Int(counts32[r]))])
    }
  }
}

/// The communicator of a process that works alone: every collective is a copy or a no-op.
public final class SerialCommunicator: Communicator, @unchecked Sendable {
  public let rank = 0
  public let size = 1

  public init() {}

  public func barrier() throws {}
  public func allReduce(_ values: UnsafeMutableBufferPointer<Double>, op: ReduceOperation) throws {}
  public func allReduce(_ values: UnsafeMutableBufferPointer<Int64>, op: ReduceOperation) throws {}
  public func reduceScatterSum(
    _ send: UnsafeBufferPointer<Int64>, into receive: UnsafeMutableBufferPointer<Int64>,
    counts: UnsafeBufferPointer<Int32>
  ) throws {
    for i in 0..<Int(counts[0]) { receive[i] = send[i] }
  }
  public func allGatherV(
    _ send: UnsafeBufferPointer<Double>, into receive: UnsafeMutableBufferPointer<Double>,
    counts: UnsafeBufferPointer<Int32>, displacements: UnsafeBufferPointer<Int32>
  ) throws {
    let offset = Int(displacements[0])
    for i in 0..<send.count { receive[offset + i] = send[i] }
  }
  public func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws {}
  public func broadcast(bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
  public func split(color: Int, key: Int) throws -> SerialCommunicator { SerialCommunicator() }
  public func splitByNode() throws -> SerialCommunicator { SerialCommunicator() }
  public func openAbortChannel() throws {}
  public func sendAbort(code: Int) {}
  public func pollAbort() -> Int? { nil }
  public func closeAbortChannel() {}
}
