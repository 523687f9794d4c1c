import Foundation

/// Who holds a lock: written into the lock file and refreshed as a heartbeat.
public struct LockHolder: Sendable, Equatable, Codable {
  public var host: String
  public var pid: Int32
  /// When the launch started (ISO 8601, UTC).
  public var started: String
  /// Seconds since 1970 of the last heartbeat.
  public var heartbeat: Double
  public var launch: String
  public var arrayTask: Int
  public var arrayCount: Int

  public init(
    host: String, pid: Int32, started: String, heartbeat: Double, launch: String, arrayTask: Int, arrayCount: Int
  ) {
    self.host = host
    self.pid = pid
    self.started = started
    self.heartbeat = heartbeat
    self.launch = launch
    self.arrayTask = arrayTask
    self.arrayCount = arrayCount
  }

  /// "host H, pid P since T".
  public var summary: String { "host \(host), pid \(pid), since \(started)" }
}

/// What a lock file says about its holder.
public enum LockState: Sendable, Equatable {
  /// No lock file, or one left by a launch that is gone.
  case free(previous: LockHolder?)
  /// Held by a live launch (seen through the file lock, or by a fresh heartbeat where the file
  /// system has no locks).
  case held(LockHolder)
}

/// The name of this machine.
public func hostName() -> String {
  var buffer = [CChar](repeating: 0, count: 256)
  gethostname(&buffer, buffer.count - 1)
  return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// One launch per array task of an output folder at a time: `store/locks/task-0003-of-0016.lock`.
///
/// The lock is an exclusive `flock` on the file, which the kernel releases when the holder dies
/// (so a killed launch never leaves a lock behind on a local disk). The file also holds the
/// holder (host, pid, start, heartbeat) as JSON, refreshed every ``heartbeatSeconds``: a second
/// launch names the holder, and on file systems without `flock` (some NFS and Lustre mounts)
/// the lock falls back to the heartbeat: a lock is held while its holder's process is alive
/// (same host) or its heartbeat is younger than ``staleSeconds`` (another host).
public final class FolderLock: @unchecked Sendable {
  public static let heartbeatSeconds = 10.0
  public static let staleSeconds = 600.0

  public let path: String
  private let fd: Int32
  public private(set) var holder: LockHolder
  /// Whether the file system supports flock (else the heartbeat alone guards).
  public let usesFileLock: Bool
  private var lastBeat = 0.0

  private init(path: String, fd: Int32, holder: LockHolder, usesFileLock: Bool) {
    self.path = path
    self.fd = fd
    self.holder = holder
    self.usesFileLock = usesFileLock
  }

  deinit { close(fd) }

  /// Takes the lock, or throws ``LockError/held(_:)`` naming the holder.
  public static func acquire(path: String, holder: LockHolder) throws -> FolderLock {
    try FileOperations.makeFolder(parentFolder(path))
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    if fd < 0 { throw StoreError.system("create the lock", path: path) }
    var usesFileLock = true
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      if code == EWOULDBLOCK {
        let current = readHolder(fd: fd)
        close(fd)
        throw LockError.held(
          current
            ?? LockHolder(host: "?", pid: 0, started: "?", heartbeat: 0, launch: "?", arrayTask: -1, arrayCount: -1),
          path: path)
      }
      if code == ENOLCK || code == EOPNOTSUPP || code == EINVAL {
        // No flock here: decide by the holder written in the file.
        usesFileLock = false
        if let current = readHolder(fd: fd), isAlive(current) {
          close(fd)
          throw LockError.held(current, path: path)
        }
      } else {
        close(fd)
        throw StoreError("lock", path: path, code: code)
      }
    }
    let lock = FolderLock(path: path, fd: fd, holder: holder, usesFileLock: usesFileLock)
    try lock.beat(force: true)
    return lock
  }

  /// Refreshes the heartbeat when the last one is older than ``heartbeatSeconds`` (cheap to
  /// call often).
  public func beat(force: Bool = false) throws {
    let now = Date().timeIntervalSince1970
    if !force && now - lastBeat < Self.heartbeatSeconds { return }
    lastBeat = now
    holder.heartbeat = now
    // One write of a fixed-size record (JSON padded with spaces), never a truncation: a reader
    // never sees the file empty or half-written.
    var data = Array(try JSONEncoder().encode(holder))
    if data.count < Self.recordSize { data += [UInt8](repeating: 0x20, count: Self.recordSize - data.count) }
    try data.withUnsafeBytes { b in
      var done = 0
      while done < b.count {
        let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(done))
        if n < 0 {
          if errno == EINTR { continue }
          throw StoreError.system("write the lock", path: path)
        }
        done += n
      }
    }
  }

  /// Bytes of the holder record.
  static let recordSize = 1024

  /// Releases the lock: the file stays (with the last holder in it, for `status`), unlocked.
  public func release() {
    flock(fd, LOCK_UN)
  }

  static func readHolder(fd: Int32) -> LockHolder? {
    var bytes = [UInt8](repeating: 0, count: 4096)
    let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard n > 0 else { return nil }
    var end = n
    while end > 0 && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0) { end -= 1 }
    return try? JSONDecoder().decode(LockHolder.self, from: Data(bytes[0..<end]))
  }

  /// Whether a holder that cannot be seen through flock is alive: on this host, its process
  /// exists; elsewhere, its heartbeat is recent.
  static func isAlive(_ holder: LockHolder) -> Bool {
    if holder.host == hostName() { return kill(holder.pid, 0) == 0 || errno == EPERM }
    return Date().timeIntervalSince1970 - holder.heartbeat < staleSeconds
  }

  /// The state of a lock file, seen from another process (without taking it).
  public static func inspect(path: String) -> LockState {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return .free(previous: nil) }
    defer { close(fd) }
    let holder = readHolder(fd: fd)
    if flock(fd, LOCK_SH | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return .free(previous: holder)
    }
    if errno == EWOULDBLOCK {
      return .held(
        holder ?? LockHolder(host: "?", pid: 0, started: "?", heartbeat: 0, launch: "?", arrayTask: -1, arrayCount: -1))
    }
    if let holder, isAlive(holder) { return .held(holder) }
    return .free(previous: holder)
  }
}

/// A lock that another launch holds.
public enum LockError: Error, CustomStringConvertible, Sendable {
  case held(LockHolder, path: String)

  public var description: String {
    switch self {
    case .held(let h, _):
      let age = Date().timeIntervalSince1970 - h.heartbeat
      return
        "in use by a launch on \(h.summary) (task \(h.arrayTask) of \(h.arrayCount), heartbeat \(Int(max(0, age))) s ago)"
    }
  }
}
