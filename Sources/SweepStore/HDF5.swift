import CHDF5
import Foundation

// Every raw HDF5 call of the project lives in this file and HDF5Dataset.swift (its plain value
// types are in HDF5Types.swift); nothing else in the project calls HDF5.

/// The most specific message on HDF5's error stack (the stack is not printed automatically).
func innermostMessage() -> String {
  final class Sink { var messages: [String] = [] }
  let sink = Sink()
  let callback: H5E_walk2_t = { _, description, client in
    guard let description, let client else { return 0 }
    let sink = Unmanaged<Sink>.fromOpaque(client).takeUnretainedValue()
    if let text = description.pointee.desc { sink.messages.append(String(cString: text)) }
    return 0
  }
  _ = withExtendedLifetime(sink) {
    H5Ewalk2(chdf5_e_default(), H5E_WALK_DOWNWARD, callback, Unmanaged.passUnretained(sink).toOpaque())
  }
  H5Eclear2(chdf5_e_default())
  return sink.messages.last ?? ""
}

@discardableResult
func check(_ id: hid_t, _ call: @autoclosure () -> String) throws(HDF5Error) -> hid_t {
  if id < 0 { throw HDF5Error(call: call(), detail: innermostMessage()) }
  return id
}

func check(_ status: herr_t, _ call: @autoclosure () -> String) throws(HDF5Error) {
  if status < 0 { throw HDF5Error(call: call(), detail: innermostMessage()) }
}

func checkTri(_ value: htri_t, _ call: @autoclosure () -> String) throws(HDF5Error) -> Bool {
  if value < 0 { throw HDF5Error(call: call(), detail: innermostMessage()) }
  return value > 0
}

let silenceOnce: Void = { chdf5_silence_errors() }()

/// Debian's parallel HDF5 is built without thread safety: every call into the library from this
/// file holds this lock, so threads of one process (a test runner, a helper thread) never enter
/// HDF5 at once. Recursive: entry points call one another. Ranks are processes and never share it.
let hdf5Serial = NSRecursiveLock()

/// Element types of datasets.
public enum H5ElementType: Sendable, Equatable {
  case float64
  case int64
  case int8
  /// Fixed-length UTF-8 strings of at most this many bytes (null padded).
  case fixedString(Int)

  func makeFileType() throws -> (hid_t, owned: Bool) {
    switch self {
    case .float64: return (chdf5_t_ieee_f64le(), false)
    case .int64: return (chdf5_t_std_i64le(), false)
    case .int8: return (chdf5_t_std_i8le(), false)
    case .fixedString(let n):
      let t = try check(H5Tcopy(chdf5_t_c_s1()), "H5Tcopy")
      try check(H5Tset_size(t, max(1, n)), "H5Tset_size")
      try check(H5Tset_cset(t, H5T_CSET_UTF8), "H5Tset_cset")
      try check(H5Tset_strpad(t, H5T_STR_NULLPAD), "H5Tset_strpad")
      return (t, true)
    }
  }
}

/// Something that carries attributes: a file's root, a group or a dataset.
public class H5Object: @unchecked Sendable {
  public let id: hid_t
  init(id: hid_t) { self.id = id }

  /// Writes (or replaces) an attribute.
  public func setAttribute(_ name: String, _ value: H5Value) throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    if try checkTri(H5Aexists(id, name), "H5Aexists(\(name))") {
      try check(H5Adelete(id, name), "H5Adelete(\(name))")
    }
    switch value {
    case .double(let v):
      try writeScalarAttribute(name, type: chdf5_t_ieee_f64le(), mem: chdf5_t_native_double(), value: v)
    case .int(let v):
      try writeScalarAttribute(name, type: chdf5_t_std_i64le(), mem: chdf5_t_native_int64(), value: v)
    case .doubles(let v):
      try writeArrayAttribute(name, type: chdf5_t_ieee_f64le(), mem: chdf5_t_native_double(), values: v)
    case .ints(let v):
      try writeArrayAttribute(name, type: chdf5_t_std_i64le(), mem: chdf5_t_native_int64(), values: v)
    case .string(let s):
      let type = try check(H5Tcopy(chdf5_t_c_s1()), "H5Tcopy")
      defer { H5Tclose(type) }
      try check(H5Tset_size(type, chdf5_variable()), "H5Tset_size")
      try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset")
      let space = try check(H5Screate(H5S_SCALAR), "H5Screate")
      defer { H5Sclose(space) }
      let attr = try check(
        H5Acreate2(id, name, type, space, chdf5_p_default(), chdf5_p_default()), "H5Acreate2(\(name))")
      defer { H5Aclose(attr) }
      try s.withCString { cstr in
        var pointer: UnsafePointer<CChar>? = cstr
        try check(H5Awrite(attr, type, &pointer), "H5Awrite(\(name))")
      }
    }
  }

  private func writeScalarAttribute<T: BitwiseCopyable>(_ name: String, type: hid_t, mem: hid_t, value: T) throws {
    let space = try check(H5Screate(H5S_SCALAR), "H5Screate")
    defer { H5Sclose(space) }
    let attr = try check(
      H5Acreate2(id, name, type, space, chdf5_p_default(), chdf5_p_default()), "H5Acreate2(\(name))")
    defer { H5Aclose(attr) }
    var v = value
    try check(H5Awrite(attr, mem, &v), "H5Awrite(\(name))")
  }

  private func writeArrayAttribute<T: BitwiseCopyable>(_ name: String, type: hid_t, mem: hid_t, values: [T]) throws {
    var dims: [hsize_t] = [hsize_t(values.count)]
    let space = try check(H5Screate_simple(1, &dims, nil), "H5Screate_simple")
    defer { H5Sclose(space) }
    let attr = try check(
      H5Acreate2(id, name, type, space, chdf5_p_default(), chdf5_p_default()), "H5Acreate2(\(name))")
    defer { H5Aclose(attr) }
    try values.withUnsafeBufferPointer { p in
      try check(H5Awrite(attr, mem, p.baseAddress), "H5Awrite(\(name))")
    }
  }

  /// Names of the attributes.
  public func attributeNames() throws -> [String] {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    var info = H5O_info_t()
    try check(H5Oget_info2(id, &info, UInt32(H5O_INFO_NUM_ATTRS)), "H5Oget_info2")
    var names = [String]()
    for i in 0..<info.num_attrs {
      let length = H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
      if length < 0 { continue }
      var buffer = [CChar](repeating: 0, count: Int(length) + 1)
      H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, chdf5_p_default())
      names.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return names
  }

  /// Reads an attribute; nil if it does not exist.
  public func attribute(_ name: String) throws -> H5Value? {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    if try !checkTri(H5Aexists(id, name), "H5Aexists(\(name))") { return nil }
    let attr = try check(H5Aopen(id, name, chdf5_p_default()), "H5Aopen(\(name))")
    defer { H5Aclose(attr) }
    let type = try check(H5Aget_type(attr), "H5Aget_type")
    defer { H5Tclose(type) }
    let space = try check(H5Aget_space(attr), "H5Aget_space")
    defer { H5Sclose(space) }
    let count = Int(H5Sget_simple_extent_npoints(space))
    let scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
    switch H5Tget_class(type) {
    case H5T_FLOAT:
      var values = [Double](repeating: 0, count: max(1, count))
      try check(H5Aread(attr, chdf5_t_native_double(), &values), "H5Aread(\(name))")
      return scalar ? .double(values[0]) : .doubles(values)
    case H5T_INTEGER:
      var values = [Int64](repeating: 0, count: max(1, count))
      try check(H5Aread(attr, chdf5_t_native_int64(), &values), "H5Aread(\(name))")
      return scalar ? .int(values[0]) : .ints(values)
    case H5T_STRING:
      if H5Tis_variable_str(type) > 0 {
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: max(1, count))
        try check(H5Aread(attr, type, &pointers), "H5Aread(\(name))")
        let text = pointers[0].map { String(cString: $0) } ?? ""
        H5Dvlen_reclaim(type, space, chdf5_p_default(), &pointers)
        return .string(text)
      }
      let size = H5Tget_size(type)
      var bytes = [UInt8](repeating: 0, count: size * max(1, count) + 1)
      try check(H5Aread(attr, type, &bytes), "H5Aread(\(name))")
      return .string(String(decoding: bytes.prefix(size).prefix { $0 != 0 }, as: UTF8.self))
    default:
      return nil
    }
  }
}

/// A group (or a file's root group).
public final class H5Group: H5Object, @unchecked Sendable {
  private let owned: Bool

  fileprivate init(id: hid_t, owned: Bool) {
    self.owned = owned
    super.init(id: id)
  }

  deinit {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    if owned { H5Gclose(id) }
  }

  /// Whether a link `path` (relative, may contain slashes) exists, checking each component.
  public func exists(_ path: String) throws -> Bool {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    var prefix = ""
    for part in path.split(separator: "/") {
      prefix += prefix.isEmpty ? String(part) : "/" + part
      if try !checkTri(H5Lexists(id, prefix, chdf5_p_default()), "H5Lexists(\(prefix))") {
        return false
      }
    }
    return true
  }

  /// Creates a group. Intermediate groups are created too.
  @discardableResult
  public func createGroup(_ path: String) throws -> H5Group {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let lcpl = try check(H5Pcreate(chdf5_p_link_create()), "H5Pcreate(lcpl)")
    defer { H5Pclose(lcpl) }
    try check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group")
    let gcpl = try check(H5Pcreate(chdf5_p_group_create()), "H5Pcreate(gcpl)")
    defer { H5Pclose(gcpl) }
    try check(
      H5Pset_link_creation_order(gcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)),
      "H5Pset_link_creation_order")
    let g = try check(H5Gcreate2(id, path, lcpl, gcpl, chdf5_p_default()), "H5Gcreate2(\(path))")
    return H5Group(id: g, owned: true)
  }

  /// Opens an existing group.
  public func openGroup(_ path: String) throws -> H5Group {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    return H5Group(id: try check(H5Gopen2(id, path, chdf5_p_default()), "H5Gopen2(\(path))"), owned: true)
  }

  /// Names of the links in this group, in creation order when tracked, else by name.
  public func memberNames() throws -> [String] {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    var info = H5G_info_t()
    try check(H5Gget_info(id, &info), "H5Gget_info")
    var names = [String]()
    let tracked = H5Lget_name_by_idx(id, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, 0, nil, 0, chdf5_p_default()) >= 0
    H5Eclear2(chdf5_e_default())
    let index = tracked ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
    for i in 0..<info.nlinks {
      let length = H5Lget_name_by_idx(id, ".", index, H5_ITER_INC, i, nil, 0, chdf5_p_default())
      if length < 0 { continue }
      var buffer = [CChar](repeating: 0, count: Int(length) + 1)
      H5Lget_name_by_idx(id, ".", index, H5_ITER_INC, i, &buffer, buffer.count, chdf5_p_default())
      names.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return names
  }

  /// Creates a dataset with storage allocated at creation and unwritten elements set to `fill`
  /// (or, with `allocateEarly` false, storage allocated when first written and no fill). `chunk`
  /// selects chunked storage.
  @discardableResult
  public func createDataset(
    _ path: String, type: H5ElementType, shape: [Int], chunk: [Int]? = nil, fill: H5Value? = nil,
    allocateEarly: Bool = true
  ) throws -> H5Dataset {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    var dims = shape.map { hsize_t($0) }
    let space = try check(H5Screate_simple(Int32(dims.count), &dims, nil), "H5Screate_simple")
    defer { H5Sclose(space) }
    let (fileType, ownedType) = try type.makeFileType()
    defer { if ownedType { H5Tclose(fileType) } }
    let dcpl = try check(H5Pcreate(chdf5_p_dataset_create()), "H5Pcreate(dcpl)")
    defer { H5Pclose(dcpl) }
    try check(H5Pset_obj_track_times(dcpl, false), "H5Pset_obj_track_times")
    if allocateEarly {
      try check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time")
      try check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC), "H5Pset_fill_time")
    } else {
      try check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE), "H5Pset_alloc_time")
      try check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time")
    }
    if let chunk, shape.allSatisfy({ $0 > 0 }) {
      var c = zip(chunk, shape).map { hsize_t(max(1, min($0, $1))) }
      try check(H5Pset_chunk(dcpl, Int32(c.count), &c), "H5Pset_chunk")
    }
    switch fill {
    case .double(let v)?:
      var f = v
      try check(H5Pset_fill_value(dcpl, chdf5_t_native_double(), &f), "H5Pset_fill_value")
    case .int(let v)?:
      var f = v
      try check(H5Pset_fill_value(dcpl, chdf5_t_native_int64(), &f), "H5Pset_fill_value")
    default: break
    }
    let lcpl = try check(H5Pcreate(chdf5_p_link_create()), "H5Pcreate(lcpl)")
    defer { H5Pclose(lcpl) }
    try check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group")
    let d = try check(H5Dcreate2(id, path, fileType, space, lcpl, dcpl, chdf5_p_default()), "H5Dcreate2(\(path))")
    return H5Dataset(id: d, shape: shape, type: type)
  }

  /// Creates and writes a 1-D dataset of variable-length UTF-8 strings (files opened by one
  /// process only: parallel HDF5 cannot write variable-length data).
  @discardableResult
  public func createStringDataset(_ path: String, values: [String]) throws -> H5Dataset {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    var dims = [hsize_t(values.count)]
    let space = try check(H5Screate_simple(1, &dims, nil), "H5Screate_simple")
    defer { H5Sclose(space) }
    let type = try check(H5Tcopy(chdf5_t_c_s1()), "H5Tcopy")
    defer { H5Tclose(type) }
    try check(H5Tset_size(type, chdf5_variable()), "H5Tset_size")
    try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset")
    let dcpl = try check(H5Pcreate(chdf5_p_dataset_create()), "H5Pcreate(dcpl)")
    defer { H5Pclose(dcpl) }
    try check(H5Pset_obj_track_times(dcpl, false), "H5Pset_obj_track_times")
    let d = try check(
      H5Dcreate2(id, path, type, space, chdf5_p_default(), dcpl, chdf5_p_default()), "H5Dcreate2(\(path))")
    let dataset = H5Dataset(id: d, shape: [values.count], type: .fixedString(0))
    // Keep the C strings alive for the write.
    let cStrings = values.map { strdup($0) }
    defer { for c in cStrings { free(c) } }
    var pointers = cStrings.map { UnsafePointer($0) }
    if !values.isEmpty {
      try check(H5Dwrite(d, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &pointers), "H5Dwrite(\(path))")
    }
    return dataset
  }

  /// Creates and writes a `count × width` array of single characters holding UTF-8 strings
  /// (netCDF's NC_CHAR with a string-length dimension; readers decode the rows to strings,
  /// and such arrays index like numbers, unlike variable-length strings).
  @discardableResult
  public func createCharArray(_ path: String, values: [String], width: Int) throws -> H5Dataset {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    var dims = [hsize_t(values.count), hsize_t(max(1, width))]
    let space = try check(H5Screate_simple(2, &dims, nil), "H5Screate_simple")
    defer { H5Sclose(space) }
    let type = try check(H5Tcopy(chdf5_t_c_s1()), "H5Tcopy")
    defer { H5Tclose(type) }
    try check(H5Tset_size(type, 1), "H5Tset_size")
    let dcpl = try check(H5Pcreate(chdf5_p_dataset_create()), "H5Pcreate(dcpl)")
    defer { H5Pclose(dcpl) }
    try check(H5Pset_obj_track_times(dcpl, false), "H5Pset_obj_track_times")
    let d = try check(
      H5Dcreate2(id, path, type, space, chdf5_p_default(), dcpl, chdf5_p_default()), "H5Dcreate2(\(path))")
    let w = max(1, width)
    var bytes = [UInt8](repeating: 0, count: max(1, values.count * w))
    for (i, v) in values.enumerated() {
      for (j, b) in v.utf8.prefix(w).enumerated() { bytes[i * w + j] = b }
    }
    if !values.isEmpty {
      try check(H5Dwrite(d, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), bytes), "H5Dwrite(\(path))")
    }
    return H5Dataset(id: d, shape: [values.count, w], type: .fixedString(1))
  }

  /// Opens an existing dataset.
  public func openDataset(_ path: String) throws -> H5Dataset {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let d = try check(H5Dopen2(id, path, chdf5_p_default()), "H5Dopen2(\(path))")
    let space = try check(H5Dget_space(d), "H5Dget_space")
    defer { H5Sclose(space) }
    let rank = Int(H5Sget_simple_extent_ndims(space))
    var dims = [hsize_t](repeating: 0, count: max(1, rank))
    H5Sget_simple_extent_dims(space, &dims, nil)
    let ftype = try check(H5Dget_type(d), "H5Dget_type")
    defer { H5Tclose(ftype) }
    let type: H5ElementType
    switch H5Tget_class(ftype) {
    case H5T_FLOAT: type = .float64
    case H5T_INTEGER: type = H5Tget_size(ftype) == 1 ? .int8 : .int64
    case H5T_STRING: type = .fixedString(H5Tget_size(ftype))
    default: type = .float64
    }
    return H5Dataset(id: d, shape: dims.prefix(rank).map { Int($0) }, type: type)
  }
}

/// An HDF5 file, opened by one process (HDF5's default POSIX driver).
public final class H5File: @unchecked Sendable {
  public let path: String
  private var id: hid_t
  /// The root group.
  public let root: H5Group

  private init(path: String, id: hid_t) {
    self.path = path
    self.id = id
    root = H5Group(id: id, owned: false)
  }

  deinit { try? close() }

  private static func accessList() throws -> hid_t {
    _ = silenceOnce
    let fapl = try check(H5Pcreate(chdf5_p_file_access()), "H5Pcreate(fapl)")
    // File locking: honour HDF5_USE_FILE_LOCKING; otherwise lock, but carry on where the
    // file system does not support locks (NFS, Lustre without flock).
    if ProcessInfo.processInfo.environment["HDF5_USE_FILE_LOCKING"] == nil {
      try check(H5Pset_file_locking(fapl, true, true), "H5Pset_file_locking")
    }
    return fapl
  }

  /// Creates a file, replacing one of that name.
  public static func createReplacing(path: String) throws -> H5File {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let fapl = try accessList()
    defer { H5Pclose(fapl) }
    let fcpl = try check(H5Pcreate(chdf5_p_file_create()), "H5Pcreate(fcpl)")
    defer { H5Pclose(fcpl) }
    try check(
      H5Pset_link_creation_order(fcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)),
      "H5Pset_link_creation_order")
    try check(
      H5Pset_attr_creation_order(fcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)),
      "H5Pset_attr_creation_order")
    let id = try check(H5Fcreate(path, chdf5_f_acc_trunc(), fcpl, fapl), "H5Fcreate(\(path))")
    return H5File(path: path, id: id)
  }

  /// Opens an existing file.
  public static func open(path: String, mode: H5AccessMode) throws -> H5File {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    let fapl = try accessList()
    defer { H5Pclose(fapl) }
    let flags = mode == .readOnly ? chdf5_f_acc_rdonly() : chdf5_f_acc_rdwr()
    let id = try check(H5Fopen(path, flags, fapl), "H5Fopen(\(path))")
    return H5File(path: path, id: id)
  }

  /// Whether `path` is an HDF5 file (false for a missing, truncated or foreign file).
  public static func isHDF5(path: String) -> Bool {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    _ = silenceOnce
    let r = H5Fis_hdf5(path)
    H5Eclear2(chdf5_e_default())
    return r > 0
  }

  /// Flushes buffers to the file.
  public func flush() throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    if id >= 0 { try check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush") }
  }

  /// Closes the file; further calls do nothing.
  public func close() throws {
    hdf5Serial.lock()
    defer { hdf5Serial.unlock() }
    if id < 0 { return }
    let status = H5Fclose(id)
    id = -1
    try check(status, "H5Fclose(\(path))")
  }
}
