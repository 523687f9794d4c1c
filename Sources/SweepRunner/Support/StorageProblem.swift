import Foundation
import SweepStore

/// Why a folder cannot take writes, found by asking the file system (not by parsing a
/// library's error): a read-only mount, no write permission, or no space left.
public enum StorageProblem: Sendable, Equatable, CustomStringConvertible {
  case readOnly(folder: String)
  case notWritable(folder: String)
  case full(folder: String, freeBytes: Double)

  public var description: String {
    switch self {
    case .readOnly(let f):
      return
        "\(f) is on a read-only file system: nothing there was changed or damaged; write elsewhere or remount it read-write"
    case .notWritable(let f):
      return
        "\(f) is not writable by this user: nothing there was changed or damaged; fix the permissions or write elsewhere"
    case .full(let f, let free):
      return
        "the file system of \(f) is full (\(formatBytes(free)) free): free space there, then run the same command again"
    }
  }

  /// The nearest existing folder at or above `path` (made absolute first; the path is split by
  /// hand: Foundation's path functions trap on some short relative paths).
  static func existingAncestor(_ path: String) -> String {
    var p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
    var isDirectory: ObjCBool = false
    while !(FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory) && isDirectory.boolValue) {
      guard let slash = p.lastIndex(of: "/"), p != "/" else { return "/" }
      p = slash == p.startIndex ? "/" : String(p[..<slash])
    }
    return p
  }

  /// Free bytes available to this user on the file system of `folder`, or nil.
  public static func freeBytes(_ folder: String) -> Double? {
    var s = statvfs()
    guard statvfs(existingAncestor(folder), &s) == 0 else { return nil }
    return Double(s.f_bavail) * Double(s.f_frsize)
  }

  /// The problem with writing `bytes` (roughly) into `folder`, or nil when none is seen.
  public static func check(_ folder: String, needing bytes: Double = 64 * 1024) -> StorageProblem? {
    let existing = existingAncestor(folder)
    var s = statvfs()
    if statvfs(existing, &s) == 0 {
      if s.f_flag & UInt(ST_RDONLY) != 0 { return .readOnly(folder: folder) }
      if access(existing, W_OK) != 0 && errno == EROFS { return .readOnly(folder: folder) }
      if access(existing, W_OK) != 0 { return .notWritable(folder: folder) }
      let free = Double(s.f_bavail) * Double(s.f_frsize)
      if free < bytes { return .full(folder: folder, freeBytes: free) }
    } else if access(existing, W_OK) != 0 {
      return .notWritable(folder: folder)
    }
    return nil
  }

  /// The problem behind a failed write into `folder`: the error's own POSIX or Foundation
  /// code when it carries one, else what the file system says now.
  public static func explain(_ error: Error, folder: String) -> StorageProblem? {
    var codes = [Int]()
    var current: NSError? = error as NSError
    while let e = current {
      if e.domain == NSPOSIXErrorDomain { codes.append(e.code) }
      if e.domain == NSCocoaErrorDomain {
        switch e.code {
        case NSFileWriteOutOfSpaceError: codes.append(Int(ENOSPC))
        case NSFileWriteVolumeReadOnlyError: codes.append(Int(EROFS))
        case NSFileWriteNoPermissionError: codes.append(Int(EACCES))
        default: break
        }
      }
      current = e.userInfo[NSUnderlyingErrorKey] as? NSError
    }
    if codes.contains(Int(EROFS)) { return .readOnly(folder: folder) }
    if codes.contains(Int(ENOSPC)) || codes.contains(Int(EDQUOT)) {
      return .full(folder: folder, freeBytes: freeBytes(folder) ?? 0)
    }
    if codes.contains(Int(EACCES)) || codes.contains(Int(EPERM)) { return .notWritable(folder: folder) }
    return check(folder)
  }

  /// A one-line message for a failed store operation: the cause and the remedy.
  public static func describe(_ error: StoreError, folder: String) -> String {
    if error.isNoSpace {
      return
        "the file system of \(folder) is full (\(formatBytes(freeBytes(folder) ?? 0)) free) while writing \((error.path as NSString).lastPathComponent): every run completed before is kept; free space, then run the same command again"
    }
    if error.isReadOnly { return StorageProblem.readOnly(folder: folder).description }
    if error.code == EACCES || error.code == EPERM { return StorageProblem.notWritable(folder: folder).description }
    return "\(error)"
  }
}
