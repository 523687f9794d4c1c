import Foundation

/// File operations of the store: atomic replacement, directory sync, listing. POSIX calls
/// with their errno kept (a full disk, a read-only mount and a missing permission are told
/// apart by the callers).
public enum FileOperations {
  /// Writes `bytes` to `path` atomically: a temporary file beside it, flushed to stable
  /// storage, renamed over `path`, then the folder flushed. A crash or a full disk leaves
  /// either the old file or the new one, never a mixture.
  public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    try writeAtomically(path: path) { fd, temporary in
      try bytes.withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
    }
  }

  /// Atomic replacement of `path` with what `body(fd, temporaryPath)` writes.
  public static func writeAtomically(path: String, _ body: (Int32, String) throws -> Void) throws {
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { throw StoreError.system("create", path: temporary) }
    do {
      try body(fd, temporary)
      if fsync(fd) != 0 { throw StoreError.system("flush", path: temporary) }
      if close(fd) != 0 { throw StoreError.system("close", path: temporary) }
    } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
    if rename(temporary, path) != 0 {
      let e = StoreError.system("rename \(temporary) to", path: path)
      unlink(temporary)
      throw e
    }
    syncDirectory(of: path)
  }

  /// Writes every byte of `buffer` to `fd`.
  public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
    var done = 0
    while done < buffer.count {
      let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
      if n < 0 {
        if errno == EINTR { continue }
        throw StoreError.system("write", path: path)
      }
      if n == 0 { throw StoreError("write", path: path, code: ENOSPC) }
      done += n
    }
  }

  /// Flushes a folder's entries (after a rename or a create), where the file system allows it.
  public static func syncDirectory(of path: String) {
    let folder = parentFolder(path)
    let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
      fsync(fd)
      close(fd)
    }
  }

  /// Reads a whole file (nil when it does not exist).
  public static func read(_ path: String) throws -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
      if errno == ENOENT { return nil }
      throw StoreError.system("open", path: path)
    }
    defer { close(fd) }
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw StoreError.system("read", path: path)
      }
      if n == 0 { break }
      out.append(contentsOf: chunk[0..<n])
    }
    return out
  }

  /// Creates a folder and its parents.
  public static func makeFolder(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      if isDirectory.boolValue { return }
      throw StoreError("create the folder", path: path, code: EEXIST, detail: "a file of that name is in the way")
    }
    let parent = parentFolder(path)
    if !parent.isEmpty && parent != path { try makeFolder(parent) }
    if mkdir(path, 0o755) != 0 && errno != EEXIST { throw StoreError.system("create the folder", path: path) }
  }

  /// Names in a folder (empty when it does not exist).
  public static func list(_ folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
  }

  /// Removes a file or a folder tree; missing is fine.
  public static func remove(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// The folder part of a path (`a/b/c` → `a/b`, `c` → ``, `/c` → `/`). Foundation's
/// `deletingLastPathComponent` traps on a one-character relative path in Swift 6.3 on Linux, so
/// the path is split here by hand.
public func parentFolder(_ path: String) -> String {
  var p = path
  while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
  guard let slash = p.lastIndex(of: "/") else { return "" }
  if slash == p.startIndex { return "/" }
  var parent = String(p[..<slash])
  while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
  return parent
}
