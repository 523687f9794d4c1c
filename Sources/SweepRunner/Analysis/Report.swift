import Foundation
import MeanFieldDiagnostics
import SweepStore

/// A JSON value written with numbers in their shortest exact form (NaN and infinities as null),
/// so that the page and report.json show the same digits.
indirect enum JSON {
  case number(Double)
  case integer(Int)
  case string(String)
  case bool(Bool)
  case null
  case array([JSON])
  case object([(String, JSON)])

  static func number(_ v: Double?) -> JSON { v.map { .number($0) } ?? .null }

  /// The text of a number as report.json and the page's `data-value` hold it.
  static func numberText(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }

  func write(into out: inout String) {
    switch self {
    case .number(let v): out += Self.numberText(v)
    case .integer(let i): out += String(i)
    case .string(let s): Self.quote(s, into: &out)
    case .bool(let b): out += b ? "true" : "false"
    case .null: out += "null"
    case .array(let a):
      out += "["
      for (i, v) in a.enumerated() {
        if i > 0 { out += ", " }
        v.write(into: &out)
      }
      out += "]"
    case .object(let o):
      out += "{"
      for (i, (k, v)) in o.enumerated() {
        if i > 0 { out += ", " }
        Self.quote(k, into: &out)
        out += ": "
        v.write(into: &out)
      }
      out += "}"
    }
  }

  static func quote(_ s: String, into out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
      }
    }
    out += "\""
  }

  var text: String {
    var s = ""
    write(into: &s)
    return s
  }
}

/// `mfsweep report`: the answers of a sweep as a page a person reads. The analyses of the job
/// (or of `--job FILE`) are computed by ``Analyzer``; every number goes into `report.json`;
/// matplotlib draws the figures from that file (SVG and PDF); the page shows the same numbers.
public enum ReportWriter {
  /// What was written.
  public struct Written: Sendable {
    public var folder: String
    public var figures: Int
    public var figureProblem: String?
    public var verdicts: [(analysis: String, group: String, verdict: Verdict)]
  }

  /// Writes `OUT/report/` (or `into`): index.html, report.json, figures.py and the figures.
  public static func write(output: String, job jobFile: String?, into destination: String?, python: String?) throws
    -> Written
  {
    let state = try SweepState(output: output)
    let runs = try state.datasetRuns(Array(state.index.keys.indices), tasks: nil, verify: false)
    let context = analysisContext(state: state, runs: runs)
    var specs: [AnalysisSpec]
    if let jobFile {
      guard let text = try? String(contentsOfFile: jobFile, encoding: .utf8) else {
        throw LaunchError("\(jobFile): cannot read the job file")
      }
      specs = try AnalysisSpec.decode(jobText: text, file: jobFile, context: context)
    } else {
      specs = try AnalysisSpec.decode(jobText: state.index.jobText, file: state.index.jobFile, context: context)
    }
    // Every metric recorded at 3 times or more is drawn against time, whatever the job asks besides.
    for (metric, labels) in context.metrics.sorted(by: { $0.key < $1.key })
    where runs.contains(where: { (Analyzer.series($0, metric: metric, component: nil)?.times.count ?? 0) >= 3 }) {
      let components: [String?] = labels.isEmpty ? [nil] : Array(labels.prefix(4)).map { Optional($0) }
      for component in components
      where !specs.contains(where: {
        ($0.kind == .curves || $0.kind == .plateau) && $0.metric == metric && $0.component == component
      }) {
        specs.append(
          AnalysisSpec(
            name: "curves-\(metric)" + (component.map { "-\($0.filter { $0.isLetter || $0.isNumber })" } ?? ""),
            kind: .curves, metric: metric, component: component, against: nil,
            over: state.index.sweptKeys.contains("seed") ? ["seed"] : [], at: .final, window: nil, baseline: nil,
            expect: nil,
            tolerance: 0, confidence: 0.95, bootstrapSamples: 2000, bootstrapSeed: 1))
      }
    }
    let data = AnalysisData(runs: runs, sweptKeys: state.index.sweptKeys)
    let results = Analyzer.run(specs, on: data)
    let folder = destination ?? (output as NSString).appendingPathComponent("report")
    try FileOperations.makeFolder(folder)

    // The figures and their data.
    var figures = [JSON]()
    for r in results {
      let s = r.spec
      let ylabel = s.metric + (s.component.map { " [\($0)]" } ?? "")
      let title: String
      switch s.kind {
      case .curves: title = "\(ylabel) against time"
      case .reduction: title = "\(ylabel): mean over \(s.over.joined(separator: ", ")) (\(s.name))"
      case .powerLaw: title = "\(ylabel) against \(s.against ?? "") (\(s.name))"
      case .order: title = "error of \(ylabel) against \(s.against ?? "") (\(s.name))"
      case .exponentialRate: title = "relaxation of \(ylabel) (\(s.name))"
      case .plateau: title = "\(ylabel): stationary value (\(s.name))"
      case .conservation: title = "\(ylabel): conserved? (\(s.name))"
      case .hittingTime: title = "\(ylabel): time to reach \(formatValue(s.threshold ?? 0)) (\(s.name))"
      case .richardson: title = "\(ylabel) against \(s.against ?? ""): grid-converged value (\(s.name))"
      }
      figures.append(
        .object([
          ("name", .string(figureName(s.name))), ("title", .string(title)), ("kind", .string(s.kind.rawValue)),
          ("analysis", .string(s.name)), ("ylabel", .string(ylabel)),
        ]))
    }
    if let density = try densityFigure(state: state, runs: runs) { figures.append(density) }

    var verdicts = [(analysis: String, group: String, verdict: Verdict)]()
    for r in results {
      for g in r.groups { if let v = g.verdict { verdicts.append((r.spec.name, Analyzer.describe(g.labels), v)) } }
    }
    let report = JSON.object([
      ("schema", .string("mfsweep-report/1")),
      ("tool_version", .string(ToolVersion.current)),
      ("created", .string(ISO8601DateFormatter().string(from: Date()))),
      (
        "job",
        .object([
          ("name", .string(state.index.jobName)), ("file", .string(state.index.jobFile)),
          ("swept", .array(state.index.sweptKeys.map { .string($0) })), ("output", .string(output)),
        ])
      ),
      ("runs", runSummary(runs)),
      ("analyses", .array(results.map(encode))),
      ("figures", .array(figures)),
      ("table", runTable(runs, swept: state.index.sweptKeys)),
    ])
    let reportPath = (folder as NSString).appendingPathComponent("report.json")
    try FileOperations.writeAtomically(Array(report.text.utf8), to: reportPath)
    let script = (folder as NSString).appendingPathComponent("figures.py")
    try FileOperations.writeAtomically(Array(ReportFigures.script.utf8), to: script)

    // matplotlib draws the figures from report.json.
    var figureProblem: String? = nil
    if let interpreter = findPython(python) {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: interpreter)
      p.arguments = [script, reportPath, folder]
      let err = Pipe()
      p.standardOutput = FileHandle.nullDevice
      p.standardError = err
      var env = ProcessInfo.processInfo.environment
      env["MPLCONFIGDIR"] = NSTemporaryDirectory()
      p.environment = env
      try p.run()
      let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      p.waitUntilExit()
      if p.terminationStatus != 0 {
        figureProblem =
          "matplotlib could not draw the figures: "
          + (message.split(separator: "\n").last.map(String.init) ?? "status \(p.terminationStatus)")
      }
    } else {
      figureProblem =
        "no python3 with matplotlib was found (Debian: apt install python3-matplotlib); the figures are missing, report.json holds their data"
    }
    let html = page(report: report, results: results, runs: runs, state: state, figureProblem: figureProblem)
    try FileOperations.writeAtomically(Array(html.utf8), to: (folder as NSString).appendingPathComponent("index.html"))
    return Written(folder: folder, figures: figures.count, figureProblem: figureProblem, verdicts: verdicts)
  }

  static func figureName(_ analysis: String) -> String { "figure-\(analysis)" }

  /// The context of the analyses: the swept keys and the recorded metrics with their labels.
  static func analysisContext(state: SweepState, runs: [DatasetRun]) -> AnalysisContext {
    var metrics = [String: [String]]()
    for r in runs {
      for m in r.result?.metrics ?? [] where metrics[m.info.name] == nil { metrics[m.info.name] = m.info.labels }
    }
    // Metrics the job asks for that no run has recorded yet.
    if let text = state.index.settings.keys.firstIndex(of: "diagnostics.metrics"),
      case .string(let names) = state.index.settings.columns[text].value(0)
    {
      for name in names.split(separator: " ") where metrics[String(name)] == nil { metrics[String(name)] = [] }
    }
    return AnalysisContext(sweptKeys: state.index.sweptKeys, metrics: metrics)
  }

  /// A python interpreter with matplotlib: `--python`, `MFSWEEP_PYTHON`, Debian's, or the PATH's.
  static func findPython(_ given: String?) -> String? {
    var candidates = [String]()
    if let given { candidates.append(given) }
    if let env = ProcessInfo.processInfo.environment["MFSWEEP_PYTHON"] { candidates.append(env) }
    candidates.append("/usr/bin/python3")
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
      candidates.append("\(dir)/python3")
    }
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: c)
      p.arguments = ["-c", "import matplotlib"]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      do { try p.run() } catch { continue }
      p.waitUntilExit()
      if p.terminationStatus == 0 { return c }
    }
    return nil
  }

  static func runSummary(_ runs: [DatasetRun]) -> JSON {
    var counts = [String: Int]()
    for r in runs { counts[r.status, default: 0] += 1 }
    return .object([
      ("total", .integer(runs.count)),
      ("by_status", .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) })),
    ])
  }

  static func encode(_ r: AnalysisResult) -> JSON {
    let s = r.spec
    var fields: [(String, JSON)] = [
      ("name", .string(s.name)), ("kind", .string(s.kind.rawValue)), ("metric", .string(s.metric)),
      ("component", s.component.map { .string($0) } ?? .null), ("against", s.against.map { .string($0) } ?? .null),
      ("over", .array(s.over.map { .string($0) })), ("confidence", .number(s.confidence)),
      ("figure", .string(figureName(s.name))),
      ("notes", .array(r.notes.map { .string($0) })),
    ]
    if let w = s.window { fields.append(("window", .array([.number(w.lower), .number(w.upper)]))) }
    if case .value(let v)? = s.baseline { fields.append(("baseline_value", .number(v))) }
    if case .theory(let t)? = s.baseline { fields.append(("baseline_theory", .string(t.rawValue))) }
    if let t = s.threshold { fields.append(("threshold", .number(t))) }
    if s.relative { fields.append(("relative", .bool(true))) }
    if s.kind == .richardson { fields.append(("finest", .string(s.finest.rawValue))) }
    if !s.filter.isEmpty {
      fields.append(("where", .object(s.filter.map { ($0.key, .array($0.values.map { .string($0) })) })))
    }
    switch s.expect {
    case .value(let v)?:
      fields.append(("expect", .object([("value", .number(v)), ("tolerance", .number(s.tolerance))])))
    case .theory(let t)?:
      fields.append(("expect", .object([("theory", .string(t.rawValue)), ("tolerance", .number(s.tolerance))])))
    case nil: break
    }
    fields.append(("groups", .array(r.groups.map(encode))))
    return .object(fields)
  }

  static func encode(_ g: GroupResult) -> JSON {
    var fields: [(String, JSON)] = [
      ("labels", .object(g.labels.map { ($0.key, .string($0.value)) })),
      ("runs", .integer(g.runs.count)),
      ("estimate", .number(g.estimate)),
      ("interval", g.interval.map { .array([.number($0.lower), .number($0.upper)]) } ?? .null),
      ("method", .string(g.method)),
      ("intercept", .number(g.intercept)),
      ("chi2_per_dof", .number(g.chiSquarePerDegree)),
      ("r2", .number(g.rSquared)),
      ("sd", .number(g.standardDeviation)),
      ("se", .number(g.standardError)),
      ("baseline", .number(g.baseline)),
      ("order", .number(g.observedOrder)),
      ("expected", .number(g.expected)),
      ("tolerance", .number(g.tolerance)),
      ("verdict", g.verdict.map { .string($0.rawValue) } ?? .null),
      ("reason", .string(g.reason)),
      ("points", .array(g.points.map { .array([.number($0.x), .number($0.y), .number($0.se), .integer($0.n)]) })),
    ]
    if !g.times.isEmpty {
      // Curves are drawn from at most about 1000 samples per line (every k-th and the last);
      // fits and reductions used every sample.
      let stride = max(1, (g.times.count + 999) / 1000)
      var keep = Array(Swift.stride(from: 0, to: g.times.count, by: stride))
      if keep.last != g.times.count - 1 { keep.append(g.times.count - 1) }
      if stride > 1 { fields.append(("curve_stride", .integer(stride))) }
      fields.append(("times", .array(keep.map { .number(g.times[$0]) })))
      fields.append(("mean", .array(keep.map { .number(g.mean[$0]) })))
      fields.append(("lower", .array(keep.map { .number(g.lower[$0]) })))
      fields.append(("upper", .array(keep.map { .number(g.upper[$0]) })))
    }
    return .object(fields)
  }

  /// The runs table: id, status, the swept settings, the final value of each metric, wall time
  /// (at most 5000 rows; summary.csv holds them all).
  static func runTable(_ runs: [DatasetRun], swept: [String]) -> JSON {
    var metricNames = [String]()
    for r in runs {
      for m in r.result?.metrics ?? [] where !metricNames.contains(m.info.name) { metricNames.append(m.info.name) }
    }
    let columns = ["run", "status"] + swept + metricNames.map { "final \($0)" } + ["steps", "wall s"]
    let shown = runs.prefix(5000)
    let rows: [JSON] = shown.map { r in
      var cells: [JSON] = [.string(r.runID), .string(r.status)]
      for key in swept {
        let v = r.settings.first { $0.key == key }?.value
        if let n = v?.number { cells.append(.number(n)) } else { cells.append(.string(v?.description ?? "")) }
      }
      for name in metricNames {
        if let m = r.result?.metrics.first(where: { $0.info.name == name }), m.samples > 0 {
          cells.append(.number(m.values[(m.samples - 1) * m.info.width]))
        } else {
          cells.append(.null)
        }
      }
      cells.append(.integer(r.stepsDone))
      cells.append(.number(r.wallSeconds))
      return .array(cells)
    }
    return .object([
      ("columns", .array(columns.map { .string($0) })), ("rows", .array(rows)),
      ("truncated", .bool(runs.count > shown.count)),
    ])
  }

  /// Particles against the reference PDE at the last sample, for up to four runs with a
  /// reference: 1-D densities, or heat maps of the 2-D and phase-space densities.
  static func densityFigure(state: SweepState, runs: [DatasetRun]) throws -> JSON? {
    var panels = [JSON]()
    for run in runs where panels.count < 4 {
      guard let r = run.result, let ref = r.reference, r.recordedSamples > 0, let last = r.snapshots.last,
        last.step == r.sampleSteps[r.recordedSamples - 1]
      else { continue }
      guard let (x, v) = try? state.store.snapshot(of: r, index: r.snapshots.count - 1) else { continue }
      let cells = ref.cells
      let density = Array(ref.density[((r.recordedSamples - 1) * cells)..<(r.recordedSamples * cells)])
      let title = "\(run.runID) at t = \(String(format: "%.4g", last.time))"
      if ref.axes.count == 1 {
        let centres = ref.axes[0].centres
        let h = centres.count > 1 ? centres[1] - centres[0] : 1
        var histogram = [Double](repeating: 0, count: centres.count)
        let lower = centres[0] - h / 2
        for i in 0..<r.particles {
          let k = Int(((x[i * r.dimension] - lower) / h).rounded(.down))
          if k >= 0 && k < centres.count { histogram[k] += 1 / (Double(r.particles) * h) }
        }
        panels.append(
          .object([
            ("kind", .string("1d")), ("title", .string(title)), ("xlabel", .string("x1")),
            ("centres", .array(centres.map { .number($0) })), ("density", .array(density.map { .number($0) })),
            ("histogram", .array(histogram.map { .number($0) })),
          ]))
      } else if ref.axes.count == 2 {
        let a = ref.axes[0].centres, b = ref.axes[1].centres
        let ha = a[1] - a[0], hb = b[1] - b[0]
        // The PDE's density, and the particles' histogram on the same grid (rows: the second axis).
        var pde = [[Double]](repeating: [Double](repeating: 0, count: a.count), count: b.count)
        var particles = pde
        for i in 0..<a.count { for j in 0..<b.count { pde[j][i] = density[i * b.count + j] } }
        let velocityAxis = ref.axes[1].name == "v"
        for p in 0..<r.particles {
          let u = x[p * r.dimension]
          let w = velocityAxis ? (v.isEmpty ? .nan : v[p * r.dimension]) : x[p * r.dimension + 1]
          let i = Int(((u - (a[0] - ha / 2)) / ha).rounded(.down)), j = Int(((w - (b[0] - hb / 2)) / hb).rounded(.down))
          if i >= 0 && i < a.count && j >= 0 && j < b.count { particles[j][i] += 1 / (Double(r.particles) * ha * hb) }
        }
        let extent: JSON = .array([
          .number(a[0] - ha / 2), .number(a[a.count - 1] + ha / 2), .number(b[0] - hb / 2),
          .number(b[b.count - 1] + hb / 2),
        ])
        let ylabel = velocityAxis ? "v" : "x2"
        for (name, grid) in [("reference PDE", pde), ("particles", particles)] {
          panels.append(
            .object([
              ("kind", .string("2d")), ("title", .string("\(name), \(title)")), ("xlabel", .string("x1")),
              ("ylabel", .string(ylabel)), ("extent", extent),
              ("values", .array(grid.map { row in .array(row.map { .number($0) }) })),
            ]))
        }
        if panels.count >= 2 { break }
      }
    }
    guard !panels.isEmpty else { return nil }
    return .object([
      ("name", .string("figure-density")), ("title", .string("particles against the reference PDE at the last sample")),
      ("kind", .string("density")), ("data", .object([("panels", .array(panels))])),
    ])
  }

  // MARK: - The page

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// A number on the page: shown to 6 digits, with the exact value of report.json in data-value.
  static func number(_ v: Double?, key: String) -> String {
    guard let v, v.isFinite else {
      return "<span class=\"num\" data-key=\"\(escape(key))\" data-value=\"null\">–</span>"
    }
    return
      "<span class=\"num\" data-key=\"\(escape(key))\" data-value=\"\(JSON.numberText(v))\">\(String(format: "%.6g", v))</span>"
  }

  static func page(
    report: JSON, results: [AnalysisResult], runs: [DatasetRun], state: SweepState, figureProblem: String?
  ) -> String {
    var h = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8">
      <title>\(escape(state.index.jobName)) — mfsweep report</title>
      <style>
      body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 1100px; color: #222; line-height: 1.45; }
      h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
      table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
      th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
      th { background: #f5f5f5; cursor: pointer; }
      .consistent { color: #11772d; font-weight: 600; } .inconsistent { color: #b3141b; font-weight: 600; }
      .inconclusive { color: #a36a00; font-weight: 600; }
      figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
      .note { color: #666; font-size: 0.9em; } .problem { color: #b3141b; }
      code { background: #f4f4f4; padding: 0 0.2em; }
      </style></head><body>
      <h1>\(escape(state.index.jobName))</h1>
      <p class="note">Job file <code>\(escape(state.index.jobFile))</code>; swept: \(escape(state.index.sweptKeys.joined(separator: ", ")));
      report of \(runs.count) runs (\(escape(statusText(runs)))). Every number below is in <a href="report.json">report.json</a>;
      figures as <a href="figures.py">figures.py</a> draws them from it (SVG, PDF).</p>

      """
    if let figureProblem { h += "<p class=\"problem\" id=\"figure-problem\">\(escape(figureProblem))</p>\n" }
    // Verdicts first.
    let tested = results.flatMap { r in r.groups.compactMap { g in g.verdict == nil ? nil : (r, g) } }
    if !tested.isEmpty {
      h +=
        "<h2>Verdicts</h2>\n<table id=\"verdicts\"><tr><th>analysis</th><th>group</th><th>estimate</th><th>interval</th><th>expected</th><th>verdict</th></tr>\n"
      for (r, g) in tested {
        let i = r.groups.firstIndex { $0.labels.map(\.value) == g.labels.map(\.value) } ?? 0
        let key = "\(r.spec.name).\(i)"
        h +=
          "<tr><td><a href=\"#\(escape(r.spec.name))\">\(escape(r.spec.name))</a></td><td>\(escape(Analyzer.describe(g.labels)))</td>"
        h += "<td>\(number(g.estimate, key: key + ".estimate"))</td>"
        h +=
          "<td>[\(number(g.interval?.lower, key: key + ".interval.0")), \(number(g.interval?.upper, key: key + ".interval.1"))]</td>"
        h += "<td>\(number(g.expected, key: key + ".expected")) ± \(number(g.tolerance, key: key + ".tolerance"))</td>"
        h += "<td class=\"\(g.verdict!.rawValue)\">\(g.verdict!.rawValue)</td></tr>\n"
      }
      h += "</table>\n"
    }
    for r in results {
      let s = r.spec
      h +=
        "<h2 id=\"\(escape(s.name))\">\(escape(s.name)): \(escape(s.kind.rawValue)) of \(escape(s.metric))\(escape(s.component.map { " [\($0)]" } ?? ""))</h2>\n"
      var what = [String]()
      if let against = s.against { what.append("against \(against)") }
      if !s.over.isEmpty { what.append("replicates over \(s.over.joined(separator: ", "))") }
      if let w = s.window { what.append("window t ∈ [\(formatValue(w.lower)), \(formatValue(w.upper))]") }
      if let e = s.expect {
        switch e {
        case .value(let v): what.append("expected \(formatValue(v)) ± \(formatValue(s.tolerance))")
        case .theory(let t): what.append("expected: \(t.rawValue) ± \(formatValue(s.tolerance))")
        }
      }
      if !what.isEmpty { h += "<p class=\"note\">\(escape(what.joined(separator: "; ")))</p>\n" }
      let name = figureName(s.name)
      h +=
        "<figure><img src=\"\(name).svg\" alt=\"\(escape(s.name))\" class=\"figure\" data-figure=\"\(name)\"><figcaption class=\"note\"><a href=\"\(name).pdf\">PDF</a></figcaption></figure>\n"
      if s.kind != .curves {
        h +=
          "<table class=\"groups\"><tr><th>group</th><th>runs</th><th>estimate</th><th>interval</th><th>fit</th><th>expected</th><th>verdict</th></tr>\n"
        for (i, g) in r.groups.enumerated() {
          let key = "\(s.name).\(i)"
          var fit = [String]()
          if let c = g.chiSquarePerDegree { fit.append("χ²/dof \(number(c, key: key + ".chi2_per_dof"))") }
          if let r2 = g.rSquared { fit.append("R² \(number(r2, key: key + ".r2"))") }
          if let sd = g.standardDeviation { fit.append("sd \(number(sd, key: key + ".sd"))") }
          h +=
            "<tr><td>\(escape(Analyzer.describe(g.labels)))</td><td>\(g.runs.count)</td><td>\(number(g.estimate, key: key + ".estimate"))</td>"
          h +=
            "<td>[\(number(g.interval?.lower, key: key + ".interval.0")), \(number(g.interval?.upper, key: key + ".interval.1"))]</td>"
          h += "<td>\(fit.joined(separator: "; "))</td><td>\(number(g.expected, key: key + ".expected"))</td>"
          h += "<td class=\"\(g.verdict?.rawValue ?? "")\">\(g.verdict?.rawValue ?? "")</td></tr>\n"
          let detail = [g.method, g.reason].filter { !$0.isEmpty }.joined(separator: ". ")
          if !detail.isEmpty { h += "<tr><td></td><td colspan=\"6\" class=\"note\">\(escape(detail))</td></tr>\n" }
        }
        h += "</table>\n"
      }
      for n in r.notes { h += "<p class=\"note\">\(escape(n))</p>\n" }
    }
    if runs.contains(where: { $0.result?.reference != nil }) {
      h +=
        "<h2 id=\"density\">Particles against the reference PDE</h2>\n<figure><img src=\"figure-density.svg\" alt=\"density\" class=\"figure\" data-figure=\"figure-density\"><figcaption class=\"note\"><a href=\"figure-density.pdf\">PDF</a></figcaption></figure>\n"
    }
    // The runs, sortable by any column.
    var metricNames = [String]()
    for r in runs {
      for m in r.result?.metrics ?? [] where !metricNames.contains(m.info.name) { metricNames.append(m.info.name) }
    }
    let swept = state.index.sweptKeys
    h +=
      "<h2 id=\"runs\">Runs</h2>\n<p class=\"note\">Click a column to sort. \(runs.count > 5000 ? "The first 5000 of \(runs.count) runs; summary.csv holds all. " : "")</p>\n<table id=\"runs-table\"><thead><tr>"
    for c in ["run", "status"] + swept + metricNames.map({ "final \($0)" }) + ["steps", "wall s"] {
      h += "<th>\(escape(c))</th>"
    }
    h += "</tr></thead><tbody>\n"
    for r in runs.prefix(5000) {
      h += "<tr><td>\(escape(r.runID))</td><td>\(escape(r.status))</td>"
      for key in swept { h += "<td>\(escape(r.settings.first { $0.key == key }?.value.description ?? ""))</td>" }
      for name in metricNames {
        if let m = r.result?.metrics.first(where: { $0.info.name == name }), m.samples > 0 {
          let v = m.values[(m.samples - 1) * m.info.width]
          h += "<td data-sort=\"\(JSON.numberText(v))\">\(String(format: "%.6g", v))</td>"
        } else {
          h += "<td></td>"
        }
      }
      h += "<td>\(r.stepsDone)</td><td>\(String(format: "%.2f", r.wallSeconds))</td></tr>\n"
    }
    h += """
      </tbody></table>
      <script>
      // Sort the runs table by a column (numbers numerically, text alphabetically).
      document.querySelectorAll('#runs-table th').forEach(function (th, column) {
        th.addEventListener('click', function () {
          var body = document.querySelector('#runs-table tbody');
          var rows = Array.prototype.slice.call(body.rows);
          var ascending = th.dataset.order !== 'asc';
          th.dataset.order = ascending ? 'asc' : 'desc';
          function key(row) {
            var cell = row.cells[column];
            var text = cell.dataset.sort || cell.textContent;
            var n = parseFloat(text);
            return isNaN(n) ? text : n;
          }
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
            return ascending ? c : -c;
          });
          rows.forEach(function (row) { body.appendChild(row); });
        });
      });
      </script>
      </body></html>

      """
    return h
  }

  static func statusText(_ runs: [DatasetRun]) -> String {
    var counts = [String: Int]()
    for r in runs { counts[r.status, default: 0] += 1 }
    return counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
  }
}
