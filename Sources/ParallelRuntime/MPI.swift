import CMPI
import Foundation

// Every raw MPI call of the project lives in this file.

/// An MPI call that failed, with the call named and MPI's own message.
public struct MPIError: Error, CustomStringConvertible, Sendable {
  /// The MPI function that failed.
  public let call: String
  /// Its return code.
  public let code: Int32
  /// MPI_Error_string for the code.
  public let message: String

  public var description: String { "\(call) failed (code \(code)): \(message)" }
}

@inline(__always)
func mpiCall(_ name: @autoclosure () -> String, _ body: () -> Int32) throws(MPIError) {
  let rc = body()
  if rc != MPI_SUCCESS {
    var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var length: Int32 = 0
    MPI_Error_string(rc, &buffer, &length)
    let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    throw MPIError(call: name(), code: rc, message: text)
  }
}

/// Process-wide MPI state: initialisation, finalisation, wall clock.
public enum MPIEnvironment {
  /// Initialises MPI (thread level FUNNELED) unless already initialised. A process started
  /// without mpirun becomes a singleton world of one rank.
  public static func initialize() throws {
    if isInitialized { return }
    var provided: Int32 = 0
    try mpiCall("MPI_Init_thread") { MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided) }
    MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return())
  }

  /// True between MPI_Init and MPI_Finalize.
  public static var isInitialized: Bool {
    var flag: Int32 = 0
    MPI_Initialized(&flag)
    var done: Int32 = 0
    MPI_Finalized(&done)
    return flag != 0 && done == 0
  }

  /// Finalises MPI if it is initialised.
  public static func finalize() {
    if isInitialized { MPI_Finalize() }
  }

  /// Terminates every rank of the world with `code` (used when one rank cannot go on and the
  /// others may be blocked in a collective).
  public static func abort(code: Int32) -> Never {
    MPI_Abort(cmpi_comm_world(), code)
    exit(code)
  }

  /// MPI_Wtime.
  public static var wallTime: Double { MPI_Wtime() }

  /// The world communicator (MPI must be initialised).
  public static var world: MPICommunicator { MPICommunicator(handle: cmpi_comm_world(), owned: false) }
}

/// A communicator over MPI.
public final class MPICommunicator: Communicator, @unchecked Sendable {
  /// The raw MPI_Comm, for the HDF5 MPI-IO driver.
  public let handle: MPI_Comm
  private let owned: Bool
  public let rank: Int
  public let size: Int

  init(handle: MPI_Comm, owned: Bool) {
    self.handle = handle
    self.owned = owned
    var r: Int32 = 0, s: Int32 = 0
    MPI_Comm_rank(handle, &r)
    MPI_Comm_size(handle, &s)
    rank = Int(r)
    size = Int(s)
  }

  deinit {
    abortBuffer.deallocate()
    if owned && MPIEnvironment.isInitialized {
      var h: MPI_Comm? = handle
      MPI_Comm_free(&h)
    }
  }

  public func barrier() throws {
    try mpiCall("MPI_Barrier") { MPI_Barrier(handle) }
  }

  public func allReduce(_ values: UnsafeMutableBufferPointer<Double>, op: ReduceOperation) throws {
    if values.isEmpty { return }
    try mpiCall("MPI_Allreduce") {
      MPI_Allreduce(
        cmpi_in_place(), values.baseAddress, Int32(values.count), cmpi_double(), Self.op(op), handle)
    }
  }

  public func allReduce(_ values: UnsafeMutableBufferPointer<Int64>, op: ReduceOperation) throws {
    if values.isEmpty { return }
    try mpiCall("MPI_Allreduce") {
      MPI_Allreduce(
        cmpi_in_place(), values.baseAddress, Int32(values.count), cmpi_int64(), Self.op(op), handle)
    }
  }

  public func reduceScatterSum(
    _ send: UnsafeBufferPointer<Int64>, into receive: UnsafeMutableBufferPointer<Int64>,
    counts: UnsafeBufferPointer<Int32>
  ) throws {
    try mpiCall("MPI_Reduce_scatter") {
      MPI_Reduce_scatter(
        send.baseAddress, receive.baseAddress, counts.baseAddress, cmpi_int64(), cmpi_op_sum(), handle)
    }
  }

  public func allGatherV(
    _ send: UnsafeBufferPointer<Double>, into receive: UnsafeMutableBufferPointer<Double>,
    counts: UnsafeBufferPointer<Int32>, displacements: UnsafeBufferPointer<Int32>
  ) throws {
    try mpiCall("MPI_Allgatherv") {
      MPI_Allgatherv(
        send.baseAddress, Int32(send.count), cmpi_double(), receive.baseAddress,
        counts.baseAddress, displacements.baseAddress, cmpi_double(), handle)
    }
  }

  public func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws {
    if values.isEmpty { return }
    try mpiCall("MPI_Bcast") {
      MPI_Bcast(values.baseAddress, Int32(values.count), cmpi_double(), Int32(root), handle)
    }
  }

  public func broadcast(bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
    if bytes.isEmpty { return }
    try mpiCall("MPI_Bcast") {
      MPI_Bcast(bytes.baseAddress, Int32(bytes.count), cmpi_byte(), Int32(root), handle)
    }
  }

  public func split(color: Int, key: Int) throws -> MPICommunicator {
    var out: MPI_Comm? = nil
    try mpiCall("MPI_Comm_split") { MPI_Comm_split(handle, Int32(color), Int32(key), &out) }
    guard let comm = out else { throw MPIError(call: "MPI_Comm_split", code: -1, message: "null communicator") }
    MPI_Comm_set_errhandler(comm, cmpi_errors_return())
    return MPICommunicator(handle: comm, owned: true)
  }

  /// The ranks of this communicator that share this rank's node (MPI_Comm_split_type SHARED).
  public func splitByNode() throws -> MPICommunicator {
    var out: MPI_Comm? = nil
    try mpiCall("MPI_Comm_split_type") {
      MPI_Comm_split_type(handle, cmpi_comm_type_shared(), Int32(rank), cmpi_info_null(), &out)
    }
    guard let comm = out else { throw MPIError(call: "MPI_Comm_split_type", code: -1, message: "null communicator") }
    return MPICommunicator(handle: comm, owned: true)
  }

  /// The tag of abort notices.
  private static let abortTag: Int32 = 0x6D66
  private var abortRequest: MPI_Request? = nil
  private var abortBuffer = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
  /// Buffers of sent notices (kept: a sent message may be in flight until MPI_Finalize).
  private var abortSends = [UnsafeMutablePointer<Int64>]()
  private var abortCode: Int? = nil

  public func openAbortChannel() throws {
    guard abortRequest == nil else { return }
    var request: MPI_Request? = nil
    try mpiCall("MPI_Irecv") {
      MPI_Irecv(abortBuffer, 1, cmpi_int64(), cmpi_any_source(), Self.abortTag, handle, &request)
    }
    abortRequest = request
  }

  public func sendAbort(code: Int) {
    for r in 0..<size where r != rank {
      let value = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
      value.pointee = Int64(code)
      abortSends.append(value)
      var request: MPI_Request? = nil
      if MPI_Isend(value, 1, cmpi_int64(), Int32(r), Self.abortTag, handle, &request) == MPI_SUCCESS {
        MPI_Request_free(&request)
      }
    }
  }

  public func pollAbort() -> Int? {
    if let abortCode { return abortCode }
    guard abortRequest != nil else { return nil }
    var flag: Int32 = 0
    MPI_Test(&abortRequest, &flag, cmpi_status_ignore())
    if flag != 0 {
      abortCode = Int(abortBuffer.pointee)
      abortRequest = nil
    }
    return abortCode
  }

  public func closeAbortChannel() {
    if abortRequest != nil {
      MPI_Cancel(&abortRequest)
      MPI_Request_free(&abortRequest)
      abortRequest = nil
    }
  }

  private static func op(_ op: ReduceOperation) -> MPI_Op {
    switch op {
    case .sum: return cmpi_op_sum()
    case .max: return cmpi_op_max()
    case .min: return cmpi_op_min()
    }
  }
}
