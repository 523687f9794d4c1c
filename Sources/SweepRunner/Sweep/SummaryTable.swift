import Foundation
import MeanFieldDiagnostics

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

/// The metric table of the README, made from the metric definitions (a test checks that the
/// README holds exactly this table).
public enum MetricTable {
  public static func markdown() -> String {
    var out = "| metric | value per sample | units | components | needs | summary (default) |\n"
    out += "|---|---|---|---|---|---|\n"
    for metric in Metric.allCases {
      let d = metric.definition
      let units = d.units.isEmpty ? "model's" : d.units
      let axis: String
      switch d.axis {
      case .scalar: axis = "—"
      case .coordinate: axis = "one per coordinate (x1 … xd)"
      case .basin: axis = "one per minimum of V (labelled)"
      }
      let needs = d.needs.isEmpty ? "—" : d.needs.map(\.rawValue).joined(separator: "; ")
      let summaries = d.summaries.map(\.description).joined(separator: ", ")
      let text = d.description.replacingOccurrences(of: "|", with: "\\|")
      out += "| `\(metric.rawValue)` | \(text) | \(units) | \(axis) | \(needs) | \(summaries) |\n"
    }
    return out
  }
}
