// The value types of the HDF5 wrapper: no HDF5 call is made here (they are in HDF5.swift).

/// A failed HDF5 call, with the call, the object it concerned and HDF5's innermost message.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
  public let call: String
  public let detail: String

  public var description: String { detail.isEmpty ? "\(call) failed" : "\(call) failed: \(detail)" }
}

/// An attribute value.
public enum H5Value: Sendable, Equatable, CustomStringConvertible {
  case double(Double)
  case int(Int64)
  case string(String)
  case doubles([Double])
  case ints([Int64])

  public var description: String {
    switch self {
    case .double(let v): return "\(v)"
    case .int(let v): return "\(v)"
    case .string(let s): return s
    case .doubles(let v): return "\(v)"
    case .ints(let v): return "\(v)"
    }
  }

  /// The value as a double when it is a number.
  public var doubleValue: Double? {
    switch self {
    case .double(let v): return v
    case .int(let v): return Double(v)
    default: return nil
    }
  }
}

/// What a file is opened for.
public enum H5AccessMode: Sendable {
  case readOnly, readWrite
}
