import Foundation

/// Where the weights of a point set come from: `column:NAME` (a column of the points' own
/// file, by its header name, or by its position counted from 1 as `column:3` when no column is
/// named 3; `column:#3` is always the position; the column is then not a coordinate), or a
/// one-column file or dataset with one row per point (`w.csv`, `file.h5:/weights`), whose CSV
/// header is read by its own rule (`header`), not the points' file's.
public enum WeightSource: Sendable, Equatable, CustomStringConvertible {
  case column(String)
  case file(MatrixSource)

  public init(parsing text: String, relativeTo base: String? = nil, header: CSVHeader = .automatic) throws {
    let t = text.trimmingCharacters(in: .whitespaces)
    if t.hasPrefix("column:") {
      let name = String(t.dropFirst("column:".count)).trimmingCharacters(in: .whitespaces)
      guard !name.isEmpty else { throw MatrixError("'\(text)': name the weight column after column:") }
      self = .column(name)
    } else {
      var source = try MatrixSource(parsing: t, relativeTo: base)
      source.header = header
      self = .file(source)
    }
  }

  public var description: String {
    switch self {
    case .column(let name): return "column:\(name)"
    case .file(let source): return source.description
    }
  }
}

/// Points with optional weights, as read: the coordinates, the weights as given (not yet
/// normalised) and their total.
public struct WeightedPoints: Sendable {
  public var matrix: Matrix
  public var weights: [Double]?
  /// The weights' total before normalisation (1 when there are none).
  public var total: Double

  /// Reads the points and, when `weights` is given, their weights; the weights must be
  /// finite and non-negative with a positive total. Errors name the file and the row.
  public static func load(_ points: MatrixSource, weights: WeightSource?) throws -> WeightedPoints {
    let matrix = try points.load()
    guard let weights else { return WeightedPoints(matrix: matrix, weights: nil, total: 1) }
    var w: [Double]
    var coordinates = matrix
    switch weights {
    case .column(let name):
      let index: Int
      let offset = matrix.skippedIndexColumn ? 1 : 0
      let named = matrix.header.flatMap { h in h.dropFirst(offset).firstIndex(of: name).map { $0 - offset } }
      let explicit = name.hasPrefix("#")
      let position = Int(explicit ? String(name.dropFirst()) : name).flatMap {
        $0 >= 1 && $0 <= matrix.columns ? $0 - 1 : nil
      }
      if explicit, let position {
        index = position
      } else if let named, let position, named != position {
        throw MatrixError(
          "\(points): column:\(name) is ambiguous: the header names column \(named + 1) '\(name)', and position \(name) is another column; write column:#\(named + 1) or column:#\(position + 1)"
        )
      } else if !explicit, let chosen = named ?? position {
        index = chosen
      } else {
        let names = matrix.header.map { " (its columns: \($0.joined(separator: ", ")))" } ?? ""
        throw MatrixError(
          "\(points): no weight column \(name); give a header name or a position from 1 to \(matrix.columns)\(names)")
      }
      guard matrix.columns >= 2 else {
        throw MatrixError("\(points): the weight column \(name) would leave no coordinates")
      }
      let c = matrix.columns
      w = (0..<matrix.rows).map { matrix.values[$0 * c + index] }
      var values = [Double]()
      values.reserveCapacity(matrix.rows * (c - 1))
      for r in 0..<matrix.rows {
        for k in 0..<c where k != index { values.append(matrix.values[r * c + k]) }
      }
      coordinates = Matrix(
        values: values, rows: matrix.rows, columns: c - 1,
        header: matrix.header.map { h in
          h.enumerated().filter { $0.offset != index + offset }.map(\.element)
        }, skippedIndexColumn: matrix.skippedIndexColumn)
    case .file(let source):
      let m = try source.load()
      guard m.columns == 1 || m.rows == 1 else {
        throw MatrixError("\(source): weights must be one column (or one row); it is \(m.rows) × \(m.columns)")
      }
      w = m.values
      guard w.count == matrix.rows else {
        throw MatrixError(
          "\(source) holds \(w.count) weights (\(m.headerNote)) but \(points) has \(matrix.rows) points (\(matrix.headerNote))"
        )
      }
    }
    if let i = w.firstIndex(where: { !($0 >= 0) || !$0.isFinite }) {
      throw MatrixError(
        "\(weights): the weight of point \(i) (row \(i + 1) of the data) is \(w[i]); weights must be finite and non-negative"
      )
    }
    let total = w.reduce(0, +)
    guard total > 0, total.isFinite else {
      throw MatrixError("\(weights): the weights of \(points) total \(total); they need a positive, finite total")
    }
    return WeightedPoints(matrix: coordinates, weights: w, total: total)
  }
}
