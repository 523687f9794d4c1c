import Foundation
import SweepStore

/// A matrix of numbers read from a CSV file or an HDF5 dataset, shared by every run that
/// names the same source.
public final class Matrix: @unchecked Sendable, Equatable {
  /// Row-major values.
  public let values: [Double]
  public let rows: Int
  public let columns: Int
  /// Column names from a CSV header, if any.
  public let header: [String]?
  /// Whether an unnamed first column (the row index pandas writes) was left out.
  public let skippedIndexColumn: Bool

  public init(values: [Double], rows: Int, columns: Int, header: [String]? = nil, skippedIndexColumn: Bool = false) {
    self.values = values
    self.rows = rows
    self.columns = columns
    self.header = header
    self.skippedIndexColumn = skippedIndexColumn
  }

  /// What was read besides numbers, for messages about sizes: "a header row was read (x, y)"
  /// or "no header row was read".
  public var headerNote: String {
    guard let header else { return "no header row was read" }
    let names = header.map { $0.isEmpty ? "(unnamed)" : $0 }.joined(separator: ", ")
    return "a header row was read (\(names))" + (skippedIndexColumn ? " and its unnamed index column left out" : "")
  }

  public static func == (a: Matrix, b: Matrix) -> Bool {
    a === b || (a.rows == b.rows && a.columns == b.columns && a.values == b.values)
  }
}

/// How the first row of a CSV file is read.
///
/// `automatic`: a first row with a field that is not a number is the header; a first row of
/// numbers is data, except when it reads `0,1,…,k−1` (what pandas writes as the names of
/// unnamed columns), which is refused as ambiguous until `present` or `absent` says which it
/// is. `present`: the first row is the header whatever
/// it holds. `absent`: every row is data.
public enum CSVHeader: String, Sendable, Equatable, CaseIterable {
  case automatic = "auto"
  case present = "yes"
  case absent = "no"
}

/// Where a matrix comes from: `file.csv`, `file.h5:/dataset` (2-D, N × d) or
/// `file.h5:/dataset[i]` (slice i of a 3-D array such as a snapshot series; negative i counts
/// from the end).
public struct MatrixSource: Sendable, Equatable, CustomStringConvertible {
  public var path: String
  public var dataset: String?
  public var slice: Int?
  /// How a CSV file's first row is read (not used for HDF5).
  public var header: CSVHeader = .automatic

  public var description: String {
    var s = path
    if let dataset { s += ":" + dataset }
    if let slice { s += "[\(slice)]" }
    return s
  }

  /// Parses the text form; relative paths are taken relative to `base` when given.
  public init(parsing text: String, relativeTo base: String? = nil) throws {
    var spec = text.trimmingCharacters(in: .whitespaces)
    var slice: Int? = nil
    if spec.hasSuffix("]"), let open = spec.lastIndex(of: "[") {
      let inner = spec[spec.index(after: open)..<spec.index(before: spec.endIndex)]
      guard let i = Int(inner) else { throw MatrixError("'\(text)': the slice in [...] must be an integer") }
      slice = i
      spec = String(spec[..<open])
    }
    var path = spec, dataset: String? = nil
    if let range = spec.range(of: ".h5:") ?? spec.range(of: ".hdf5:") {
      path = String(spec[..<spec.index(before: range.upperBound)])
      dataset = String(spec[range.upperBound...])
      if dataset!.isEmpty { throw MatrixError("'\(text)': no dataset after ':'") }
    } else if slice != nil {
      throw MatrixError("'\(text)': a slice [i] needs an HDF5 dataset (file.h5:/dataset[i])")
    }
    if let base, !path.hasPrefix("/") {
      path = (base as NSString).appendingPathComponent(path)
    }
    self.path = path
    self.dataset = dataset
    self.slice = slice
  }

  /// Reads the matrix. Errors name the file and say what is wrong.
  public func load() throws -> Matrix {
    guard FileManager.default.fileExists(atPath: path) else { throw MatrixError("\(path): no such file") }
    if let dataset {
      return try loadHDF5(dataset: dataset)
    }
    if path.hasSuffix(".h5") || path.hasSuffix(".hdf5") {
      throw MatrixError("\(path): name the dataset, as \(path):/dataset")
    }
    return try loadCSV()
  }

  func loadHDF5(dataset: String) throws -> Matrix {
    guard H5File.isHDF5(path: path) else { throw MatrixError("\(path) is not an HDF5 file (truncated or damaged?)") }
    // `task.h5:r00003[-1]`: a particle snapshot of a run in an mfsweep view.
    if dataset.first == "r", dataset.dropFirst().allSatisfy(\.isNumber), dataset.count > 1 {
      do {
        let view = try DatasetReader(path: path)
        let (values, rows, columns) = try view.particles(run: try view.position(of: dataset), snapshot: slice ?? -1)
        try checkFinite(values, columns: columns)
        return Matrix(values: values, rows: rows, columns: columns)
      } catch let error as HDF5Error {
        throw MatrixError(error.detail.isEmpty ? "\(error)" : error.detail)
      }
    }
    let file: H5File
    do { file = try H5File.open(path: path, mode: .readOnly) } catch { throw MatrixError("\(path): \(error)") }
    defer { try? file.close() }
    guard (try? file.root.exists(dataset)) == true else { throw MatrixError("\(path) has no dataset \(dataset)") }
    let ds: H5Dataset
    do { ds = try file.root.openDataset(dataset) } catch { throw MatrixError("\(path):\(dataset) is not a dataset") }
    guard ds.type == .float64 || ds.type == .int64 || ds.type == .int8 else {
      throw MatrixError("\(path):\(dataset) does not hold numbers")
    }
    let shape = ds.shape
    var values: [Double], rows: Int, columns: Int
    if let slice {
      guard shape.count == 3 else {
        throw MatrixError("\(path):\(dataset) has shape \(shape); a slice [i] needs a 3-D dataset (snapshots × N × d)")
      }
      let i = slice < 0 ? shape[0] + slice : slice
      guard i >= 0 && i < shape[0] else {
        throw MatrixError("\(path):\(dataset)[\(slice)] is out of range; the first axis has \(shape[0]) entries")
      }
      values = try ds.readDoubles(start: [i, 0, 0], count: [1, shape[1], shape[2]])
      rows = shape[1]
      columns = shape[2]
    } else {
      switch shape.count {
      case 1: rows = shape[0]; columns = 1
      case 2: rows = shape[0]; columns = shape[1]
      default:
        throw MatrixError(
          "\(path):\(dataset) has shape \(shape); expected a 2-D dataset (N × d), or add [i] to take one slice of a 3-D one"
        )
      }
      values = try ds.readDoubles()
    }
    try checkFinite(values, columns: columns)
    return Matrix(values: values, rows: rows, columns: columns)
  }

  func loadCSV() throws -> Matrix {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw MatrixError("\(path): cannot read the file as UTF-8 text")
    }
    var values = [Double](), header: [String]? = nil
    var columns = -1, rows = 0, skipIndex = false
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty || line.hasPrefix("#") { continue }
      var fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      let numbers = fields.map { Double($0) }
      if rows == 0 && header == nil && columns < 0 {
        switch self.header {
        case .present:
          header = fields
        case .absent:
          break
        case .automatic:
          if numbers.contains(where: { $0 == nil }) {
            header = fields
          } else if Self.looksLikeColumnIndices(fields) {
            throw MatrixError(
              "\(path):\(number + 1): the first row '\(line)' could be the names of unnamed columns (pandas writes 0,1,… as the header of a DataFrame without column names) or a data point; say which: --header yes or --header no (--weights-header for a weights file; in a job file, header: yes or header: no beside the path)"
            )
          }
        }
        if let names = header {
          // An unnamed first column is the row index pandas writes (`to_csv()` with its
          // default index=True); it is left out.
          skipIndex = names.count > 1 && names[0].isEmpty
          columns = names.count - (skipIndex ? 1 : 0)
          continue
        }
      }
      if skipIndex && !fields.isEmpty { fields.removeFirst() }
      let values1 = skipIndex ? Array(numbers.dropFirst()) : numbers
      if let bad = values1.firstIndex(where: { $0 == nil }) {
        let why = self.header == .absent && rows == 0 ? " (header: no was given, so the first row is data)" : ""
        throw MatrixError("\(path):\(number + 1): '\(fields[bad])' is not a number\(why)")
      }
      if columns < 0 { columns = fields.count }
      guard fields.count == columns else {
        throw MatrixError(
          "\(path):\(number + 1): \(fields.count) columns, but the file started with \(columns) (\(header == nil ? "no header row was read" : "after its header row"))"
        )
      }
      values.append(contentsOf: values1.map { $0! })
      rows += 1
    }
    guard rows > 0 else {
      throw MatrixError("\(path): no rows of numbers" + (header != nil ? " (only a header row)" : ""))
    }
    try checkFinite(values, columns: columns)
    return Matrix(values: values, rows: rows, columns: columns, header: header, skippedIndexColumn: skipIndex)
  }

  /// `0,1,…,k−1` written as integers: column names or data, one cannot tell.
  static func looksLikeColumnIndices(_ fields: [String]) -> Bool {
    fields.enumerated().allSatisfy { Int($0.element) == $0.offset }
  }

  func checkFinite(_ values: [Double], columns: Int) throws {
    if let i = values.firstIndex(where: { !$0.isFinite }) {
      throw MatrixError(
        "\(description): row \(i / max(1, columns)) holds \(values[i]) (NaN or infinite values are not accepted)")
    }
  }
}

/// A problem with a matrix source.
public struct MatrixError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
