import CHDF5
import Foundation

// The dataset half of the HDF5 wrapper (files, groups, attributes, errors and the lock are in
// HDF5.swift).

/// A dataset.
public final class H5Dataset: H5Object, @unchecked Sendable {
  /// Extent of every dimension.
  public let shape: [Int]
  /// Element type.
  public let type: H5ElementType

  init(id: hid_t, shape: [Int], type: H5ElementType) {
    self.shape = shape
    self.type = type
    super.init(id: id)
  }

  deinit {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    H5Dclose(id)
  }

  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }

  private func selection(start: [Int]?, count: [Int]?) throws -> (file: hid_t, memory: hid_t, elements: Int) {
    let fileSpace = try check(H5Dget_space(id), "H5Dget_space")
    guard let start, let count else {
      let n = shape.reduce(1, *)
      var dims = [hsize_t(n)]
      let memory = try check(H5Screate_simple(1, &dims, nil), "H5Screate_simple")
      return (fileSpace, memory, n)
    }
    precondition(start.count == shape.count && count.count == shape.count, "selection rank")
    let n = count.reduce(1, *)
    var dims = [hsize_t(max(n, 1))]
    let memory = try check(H5Screate_simple(1, &dims, nil), "H5Screate_simple")
    if n == 0 {
      try check(H5Sselect_none(fileSpace), "H5Sselect_none")
      try check(H5Sselect_none(memory), "H5Sselect_none")
    } else {
      var s = start.map { hsize_t($0) }, c = count.map { hsize_t($0) }
      try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &s, nil, &c, nil), "H5Sselect_hyperslab")
    }
    return (fileSpace, memory, n)
  }

  private func write(
    _ pointer: UnsafeRawPointer?, memoryType: hid_t, start: [Int]?, count: [Int]?
  ) throws {
    let (fileSpace, memory, _) = try selection(start: start, count: count)
    defer {
      H5Sclose(fileSpace)
      H5Sclose(memory)
    }
    try check(H5Dwrite(id, memoryType, memory, fileSpace, chdf5_p_default(), pointer), "H5Dwrite")
  }

  /// Writes doubles into the hyperslab `start`/`count` (the whole dataset when nil).
  public func write(
    _ values: UnsafeBufferPointer<Double>, start: [Int]? = nil, count: [Int]? = nil
  ) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    try write(
      UnsafeRawPointer(values.baseAddress), memoryType: chdf5_t_native_double(), start: start,
      count: count)
  }

  /// Writes doubles into the hyperslab `start`/`count`.
  public func write(_ values: [Double], start: [Int]? = nil, count: [Int]? = nil) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    try values.withUnsafeBufferPointer { try write($0, start: start, count: count) }
  }

  /// Writes integers into the hyperslab `start`/`count`.
  public func write(_ values: [Int64], start: [Int]? = nil, count: [Int]? = nil) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let memoryType = type == .int8 ? chdf5_t_native_int8() : chdf5_t_native_int64()
    if type == .int8 {
      let bytes = values.map { Int8(truncatingIfNeeded: $0) }
      try bytes.withUnsafeBytes {
        try write($0.baseAddress, memoryType: memoryType, start: start, count: count)
      }
    } else {
      try values.withUnsafeBytes {
        try write($0.baseAddress, memoryType: memoryType, start: start, count: count)
      }
    }
  }

  /// Writes fixed-length strings (truncated at a character boundary to the element size).
  public func write(_ values: [String], start: [Int]? = nil, count: [Int]? = nil) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    guard case .fixedString(let size) = type else {
      throw HDF5Error(call: "write(strings)", detail: "not a string dataset")
    }
    var bytes = [UInt8](repeating: 0, count: max(1, values.count * size))
    for (i, s) in values.enumerated() {
      var utf8 = Array(s.utf8)
      while utf8.count > size {
        utf8.removeLast()
        while let last = utf8.last, last & 0xC0 == 0x80 { utf8.removeLast() }
        if let last = utf8.last, last >= 0xC0 { utf8.removeLast() }
      }
      for (k, b) in utf8.enumerated() { bytes[i * size + k] = b }
    }
    let (memoryType, _) = try type.makeFileType()
    defer { H5Tclose(memoryType) }
    try bytes.withUnsafeBytes {
      try write($0.baseAddress, memoryType: memoryType, start: start, count: count)
    }
  }

  /// Reads doubles from the hyperslab `start`/`count` (the whole dataset when nil).
  public func readDoubles(start: [Int]? = nil, count: [Int]? = nil) throws -> [Double] {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let (fileSpace, memory, n) = try selection(start: start, count: count)
    defer {
      H5Sclose(fileSpace)
      H5Sclose(memory)
    }
    var out = [Double](repeating: 0, count: max(1, n))
    try check(H5Dread(id, chdf5_t_native_double(), memory, fileSpace, chdf5_p_default(), &out), "H5Dread")
    return Array(out.prefix(n))
  }

  /// Reads integers from the hyperslab `start`/`count` (the whole dataset when nil).
  public func readInts(start: [Int]? = nil, count: [Int]? = nil) throws -> [Int64] {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let (fileSpace, memory, n) = try selection(start: start, count: count)
    defer {
      H5Sclose(fileSpace)
      H5Sclose(memory)
    }
    var out = [Int64](repeating: 0, count: max(1, n))
    try check(H5Dread(id, chdf5_t_native_int64(), memory, fileSpace, chdf5_p_default(), &out), "H5Dread")
    return Array(out.prefix(n))
  }

  /// Reads fixed-length strings.
  public func readStrings() throws -> [String] {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let ftype = try check(H5Dget_type(id), "H5Dget_type")
    defer { H5Tclose(ftype) }
    if H5Tis_variable_str(ftype) > 0 {
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: max(1, count))
      try check(H5Dread(id, ftype, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &pointers), "H5Dread")
      let strings = pointers.prefix(count).map { $0.map { String(cString: $0) } ?? "" }
      let space = try check(H5Dget_space(id), "H5Dget_space")
      defer { H5Sclose(space) }
      H5Dvlen_reclaim(ftype, space, chdf5_p_default(), &pointers)
      return strings
    }
    let size = H5Tget_size(ftype)
    var bytes = [UInt8](repeating: 0, count: max(1, size * count))
    try check(H5Dread(id, ftype, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &bytes), "H5Dread")
    return (0..<count).map { i in
      String(decoding: bytes[(i * size)..<((i + 1) * size)].prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  /// Reads a `count × width` character array as `count` strings (trailing NULs dropped).
  public func readCharRows() throws -> [String] {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    guard shape.count == 2 else { return try readStrings() }
    let ftype = try check(H5Dget_type(id), "H5Dget_type")
    defer { H5Tclose(ftype) }
    let rows = shape[0], width = shape[1]
    var bytes = [UInt8](repeating: 0, count: max(1, rows * width))
    try check(H5Dread(id, ftype, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &bytes), "H5Dread")
    return (0..<rows).map { i in
      String(decoding: bytes[(i * width)..<((i + 1) * width)].prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  /// Makes this dataset a dimension scale named `name` (netCDF-4 style).
  public func makeDimensionScale(name: String) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    try check(H5DSset_scale(id, name), "H5DSset_scale(\(name))")
  }

  /// Attaches `scale` to dimension `dimension` of this dataset.
  public func attach(scale: H5Dataset, to dimension: Int) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    try check(H5DSattach_scale(id, scale.id, UInt32(dimension)), "H5DSattach_scale")
  }
}
