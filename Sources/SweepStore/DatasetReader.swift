import Foundation

/// Reads an `mfsweep/2` view (a task file or summary.h5) from one process: the runs, their
/// metrics and their particle snapshots. For the command line (`compare`, job data from a
/// snapshot) and the tests; people read the files with xarray.
public final class DatasetReader: @unchecked Sendable {
  public let path: String
  public let file: H5File
  /// Run ids in file order.
  public let runIDs: [String]

  /// Opens a view and checks its schema; a file of another schema is refused naming both.
  public init(path: String) throws {
    self.path = path
    guard FileManager.default.fileExists(atPath: path) else {
      throw HDF5Error(call: "open", detail: "\(path): no such file")
    }
    guard H5File.isHDF5(path: path) else {
      throw HDF5Error(call: "open", detail: "\(path) is not an HDF5 file (truncated or damaged?)")
    }
    file = try H5File.open(path: path, mode: .readOnly)
    guard case .string(let schema)? = try file.root.attribute("schema") else {
      throw HDF5Error(call: "open", detail: "\(path) is not an mfsweep output file (no schema attribute)")
    }
    guard schema == sweepSchema else {
      throw HDF5Error(
        call: "open",
        detail:
          "\(path) has schema \(schema); this version of mfsweep reads \(sweepSchema) (files of mfsweep/1 stay readable with h5py)"
      )
    }
    runIDs = try file.root.openDataset("run_id").readCharRows()
  }

  /// Root attributes.
  public func attribute(_ name: String) throws -> H5Value? { try file.root.attribute(name) }

  /// Whether a variable exists.
  public func has(_ name: String) -> Bool { (try? file.root.exists(name)) == true }

  /// A variable's values (flattened) and shape.
  public func doubles(_ name: String) throws -> (values: [Double], shape: [Int]) {
    let ds = try file.root.openDataset(name)
    return (try ds.readDoubles(), ds.shape)
  }

  /// An integer variable.
  public func ints(_ name: String) throws -> [Int] {
    try file.root.openDataset(name).readInts().map(Int.init)
  }

  /// A string variable (character array or variable-length strings).
  public func strings(_ name: String) throws -> [String] {
    try file.root.openDataset(name).readCharRows()
  }

  /// The position of a run id in the file.
  public func position(of id: String) throws -> Int {
    guard let i = runIDs.firstIndex(of: id) else {
      throw HDF5Error(
        call: "read", detail: "\(path) has no run \(id) (it has \(runIDs.first ?? "none") … \(runIDs.last ?? ""))")
    }
    return i
  }

  /// The recorded samples of a metric of a run (`samples × width`, padding removed).
  public func metric(_ name: String, run position: Int) throws -> [Double] {
    let ds = try file.root.openDataset(name)
    let s = ds.shape[1], w = ds.shape.count > 2 ? ds.shape[2] : 1
    let samples = try ints("samples")[position]
    let values = try ds.readDoubles(
      start: ds.shape.count > 2 ? [position, 0, 0] : [position, 0], count: ds.shape.count > 2 ? [1, s, w] : [1, s])
    return Array(values.prefix(min(samples, s) * w))
  }

  /// Snapshot `index` of a run (negative counts from the end): positions, `particles × d`.
  public func particles(run position: Int, snapshot index: Int) throws -> (values: [Double], rows: Int, dimension: Int)
  {
    guard has("snapshot_start") else {
      throw HDF5Error(
        call: "read", detail: "\(path) holds no particle snapshots (summary.h5 does not; read a task file)")
    }
    let starts = try file.root.openDataset("snapshot_start")
    let k = starts.shape[1]
    let row = try starts.readInts(start: [position, 0], count: [1, k]).map(Int.init)
    let taken = row.filter { $0 >= 0 }.count
    let i = index < 0 ? taken + index : index
    guard i >= 0 && i < taken else {
      throw HDF5Error(
        call: "read", detail: "snapshot \(index) of run \(runIDs[position]) is out of range (it has \(taken))")
    }
    let n = Int(try file.root.openDataset("particles").readInts(start: [position], count: [1])[0])
    let positions = try file.root.openDataset("positions")
    let d = try ints("dimension")[position]
    let values = try positions.readDoubles(start: [row[i], 0], count: [n, d])
    return (values, n, d)
  }
}
