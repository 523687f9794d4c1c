import Foundation
import SweepStore

/// Plain-text tables for the terminal.
public enum TextTable {
  /// Renders rows under a header, columns left-aligned and padded.
  public static func render(header: [String], rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
        .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    var out = line(header) + "\n"
    out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
    for row in rows { out += line(row) + "\n" }
    return out
  }
}

/// The table `mfsweep run` prints at the end: one row per run of a task file, read back from
/// the file itself.
public enum RunSummary {
  public static func table(path: String) throws -> String {
    let reader = try SweepFileReader(path: path)
    let ids = try reader.runIDs()
    let status = try reader.statusTable()
    let columns = try reader.gridColumns()
    let columnValues = try columns.map { try reader.gridColumnText($0) }
    var metricNames = [String]()
    if let first = ids.first { metricNames = try reader.metricNames(run: first) }
    var rows = [[String]]()
    for (i, id) in ids.enumerated() {
      var row = [id] + columnValues.map { $0[i] }
      row.append(status[i].status.description)
      row.append(String(status[i].stepsDone))
      for name in metricNames {
        let values = (try? reader.metric(run: id, name: name)) ?? []
        let last = values.last(where: { !$0.isNaN })
        row.append(last.map { String(format: "%.6g", $0) } ?? "-")
      }
      row.append(String(format: "%.2f", status[i].wallSeconds))
      rows.append(row)
    }
    return TextTable.render(header: ["run"] + columns + ["status", "steps"] + metricNames.map { "final " + $0 } + ["wall s"], rows: rows)
  }
}
