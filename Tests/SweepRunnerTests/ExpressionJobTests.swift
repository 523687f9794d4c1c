import Foundation
import SweepRunner
import SweepStore
import Testing

/// Expression potentials and interactions as a user writes them in a job file: mistakes are
/// refused at validation with the key and the column, parameters are swept as grid keys, and an
/// expression run is bitwise the same on 1 to 3 ranks and after an interruption. (Trajectories of
/// built-in models written as expressions are compared in ExpressionTests: a job's noise is keyed
/// by its settings, so two jobs naming V differently draw different noise.)
@Suite(.serialized) struct ExpressionJobTests {
  static func job(potential: String, interaction: String = "{ kind: none }", extra: String = "") -> String {
    """
    model: { kind: potential, dimension: 2, potential: \(potential), interaction: \(interaction) }
    dynamics: { kind: overdamped, step: 0.01, steps: 40, temperature: 0.3 }
    particles: 150
    diagnostics: { every: 10, metrics: [mean, second-moment, free-energy, dissipation], snapshots-every: 20 }
    parallel: { block-size: 8 }
    \(extra)
    output: out
    """
  }

  /// Each mistake: exit 2, the key path, the column and the phrase, before anything runs.
  @Test func mistakesAreRefusedWithTheColumn() throws {
    let folder = try temporaryFolder("expression-errors")
    defer { try? FileManager.default.removeItem(at: folder) }
    let cases: [(String, String, [String])] = [
      (
        "{ kind: expression, V: \"x1^2 + exq(x2)\" }", "{ kind: none }",
        ["model.potential.V", "column 8", "did you mean 'exp'?", "^"]
      ),
      ("{ kind: expression, V: \"x1^2 + x3^2\" }", "{ kind: none }", ["column 8", "'x3' is beyond the dimension"]),
      ("{ kind: expression, V: \"(x1^2 + x2^2\" }", "{ kind: none }", ["column 1", "unbalanced parentheses"]),
      ("{ kind: expression, V: \"a*x1^2\" }", "{ kind: none }", ["unknown name 'a'"]),
      (
        "{ kind: expression, V: \"a*x1^2 + x2^2\", parameters: { a: 1, b: 2 } }", "{ kind: none }",
        ["model.potential.parameters.b", "the parameter 'b' is not used in V"]
      ),
      ("{ kind: expression, V: \"x1^2\", parameters: { exp: 1 } }", "{ kind: none }", ["'exp' is already a variable"]),
      (
        "{ kind: expression, V: \"x1 + x2^2\", minima: [[0, 0]] }", "{ kind: none }",
        ["model.potential.minima", "Newton"]
      ),
      ("{ kind: expression, V: \"x1^2\", minima: [[0]] }", "{ kind: none }", ["minimum 1 has 1 coordinate(s)"]),
      ("{ kind: expression }", "{ kind: none }", ["missing key 'V'"]),
      ("{ kind: double-well }", "{ kind: expression, W: \"z1^3\" }", ["model.interaction.W", "not symmetric"]),
      ("{ kind: double-well }", "{ kind: expression, W: \"exp(-r)\" }", ["not defined at z = 0"]),
      ("{ kind: double-well }", "{ kind: expression, W: \"-exp(-r^2)\", width: 1 }", ["unknown key"]),
    ]
    for (potential, interaction, phrases) in cases {
      let path = try writeJob(Self.job(potential: potential, interaction: interaction), in: folder)
      let r = try mfsweep(["validate", path], in: folder)
      #expect(r.status == 2, "\(potential) \(interaction): exit \(r.status)")
      for phrase in phrases { #expect(r.stderr.contains(phrase), "\(potential) \(interaction): \(r.stderr)") }
    }
  }

  /// `model.potential.parameters.b` as a grid key: one run per value, each with its own V.
  @Test func parametersAreSweptAsGridKeys() throws {
    let folder = try temporaryFolder("expression-sweep")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = Self.job(
      potential: "{ kind: expression, V: \"(x1^2 - 1)^2 + b*x2^2\", parameters: { b: 1 } }",
      extra: "sweep: { grid: { model.potential.parameters.b: [0.5, 1, 4] } }")
    let path = try writeJob(text, in: folder)
    let v = try mfsweep(["validate", path], in: folder)
    #expect(v.status == 0 && v.stdout.contains("runs:   3"), "\(v.stdout)\(v.stderr)")
    let r = try mfsweep(["run", path], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let file = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    let moments = try file.runIDs().map { try file.metric(run: $0, name: "second-moment").last! }
    // A stiffer x2 confinement holds the particles closer: the second moment falls with b.
    #expect(moments[0] > moments[1] && moments[1] > moments[2], "\(moments)")
  }

  /// Every dynamics and the landscape metrics (kl-to-gibbs by quadrature, basins from the given
  /// minima, the Duy integral, the dissipation with the exact Laplacian) and the Fokker–Planck,
  /// kinetic and entropic-JKO references run on an expression potential and give finite values (kl-to-gibbs is NaN at
  /// λ = 0, where there is no Gibbs law).
  @Test func everyDynamicsAndMetricRunsOnAnExpression() throws {
    let folder = try temporaryFolder("expression-all")
    defer { try? FileManager.default.removeItem(at: folder) }
    let model =
      "model: { kind: potential, dimension: 1, potential: { kind: expression, V: \"(x1^2 - 1)^2 + t*x1\", parameters: { t: 0.2 }, minima: [[-1], [1]] } }"
    let jobs = [
      """
      \(model)
      dynamics: { kind: overdamped, step: 0.01, steps: 40, temperature: 0.3 }
      particles: 301
      diagnostics: { every: 10, metrics: [loss, mean, entropy, free-energy, kl-to-gibbs, basin-mass, duy-integral, dissipation] }
      sweep:
        grid:
          dynamics:
            - { kind: overdamped, step: 0.01, steps: 40, temperature: 0.3 }
            - { kind: underdamped, scheme: baoab, step: 0.01, steps: 40, temperature: 0.3, friction: 1 }
            - { kind: jko, step: 0.05, steps: 4, temperature: 0.3, blob: 0.3, tolerance: 1.0e-9 }
            - { kind: gradient-flow, step: 0.01, steps: 40 }
      output: out
      """,
      """
      \(model)
      dynamics: { kind: overdamped, step: 0.01, steps: 40, temperature: 0.3 }
      particles: 301
      diagnostics: { every: 10, metrics: [l1-to-pde, w2-to-pde-marginal] }
      reference: { kind: fokker-planck, lower: -3, upper: 3, cells: 60 }
      output: out
      """,
      """
      \(model)
      dynamics: { kind: underdamped, scheme: baoab, step: 0.01, steps: 40, temperature: 0.3, friction: 1 }
      particles: 301
      diagnostics: { every: 10, metrics: [l1-to-pde-phase-space, pde-mean] }
      reference: { kind: kinetic-fokker-planck, lower: -3, upper: 3, cells: 40, velocity: { lower: -3, upper: 3, cells: 40 } }
      output: out
      """,
      """
      \(model)
      dynamics: { kind: jko, step: 0.05, steps: 4, temperature: 0.3, blob: 0.3, tolerance: 1.0e-9 }
      particles: 301
      diagnostics: { every: 2, metrics: [l1-to-pde, pde-mean] }
      reference: { kind: entropic-jko, lower: -3, upper: 3, cells: 100, step: 0.05, epsilon: 1.0e-2 }
      output: out
      """,
    ]
    for (i, text) in jobs.enumerated() {
      let path = try writeJob(text, named: "job\(i).yaml", in: folder)
      let r = try mfsweep(["run", path, "--output", "out\(i)"], in: folder)
      #expect(r.status == 0, "job \(i): \(r.stderr)")
      let file = try TaskFile(path: folder.appendingPathComponent("out\(i)/task-0000-of-0001.h5").path)
      let statuses = try file.statusTable().map(\.status)
      #expect(statuses.allSatisfy { $0 == "completed" }, "job \(i): \(statuses)")
      for (k, id) in file.runIDs().enumerated() {
        for name in try file.metricNames() where !(name == "kl-to-gibbs" && k == 3) {
          // The sample axis is padded with NaN beyond a run's own samples (the JKO run's 4 steps).
          let times = try file.times(run: id), all = try file.metric(run: id, name: name)
          let values = all.prefix(times.filter(\.isFinite).count * (all.count / times.count))
          let finite = !values.isEmpty && values.allSatisfy { $0.isFinite }
          #expect(finite, "job \(i) run \(id) \(name): \(values)")
        }
      }
    }
  }

  /// A gradient that is not finite at run time marks the run diverged, naming the expression
  /// and the point; the other runs of the sweep complete.
  @Test func aNonFiniteGradientNamesTheExpressionAndThePoint() throws {
    let folder = try temporaryFolder("expression-nan")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = """
      model: { kind: potential, dimension: 1, potential: { kind: expression, V: "x1^2 + s*sqrt(1 - x1^2)", parameters: { s: 1 } } }
      dynamics: { kind: overdamped, step: 0.01, steps: 50, temperature: 0.3 }
      particles: 100
      diagnostics: { every: 10 }
      sweep: { grid: { model.potential.parameters.s: [1, 0] } }
      output: out
      """
    let path = try writeJob(text, in: folder)
    #expect(try mfsweep(["run", path], in: folder).status == 0)
    let table = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path).statusTable()
    #expect(table.map(\.status) == ["diverged", "completed"])
    #expect(table[0].message.contains("∇V for V = x1^2 + s*sqrt(1 - x1^2) = (nan) at x = ("), "\(table[0].message)")
  }

  /// An expression potential with an expression interaction, split over 1, 2 and 3 ranks:
  /// every metric (the dissipation's Laplacian of W included) and snapshot bit for bit.
  @Test func expressionRunsAreIdenticalOnOneToThreeRanks() throws {
    let folder = try temporaryFolder("expression-ranks")
    defer { try? FileManager.default.removeItem(at: folder) }
    var reference: [String: [UInt64]]? = nil
    for g in [1, 2, 3] {
      let text = Self.job(
        potential: "{ kind: expression, V: \"(x1^2 - 1)^2 + t*x1 + 2*x2^2\", parameters: { t: 0.3 } }",
        interaction: "{ kind: expression, W: \"-a*exp(-r^2/2) + 0.1*cos(z1)*z2^2\", parameters: { a: 0.5 } }",
        extra: "sweep: { grid: { seed: [1, 2] } }"
      ).replacingOccurrences(
        of: "parallel: { block-size: 8 }", with: "parallel: { ranks-per-run: \(g), block-size: 8 }")
      let path = try writeJob(text, named: "g\(g).yaml", in: folder)
      let output = "g\(g)"
      let r =
        g == 1
        ? try mfsweep(["run", path, "--output", output], in: folder)
        : try mpirunMfsweep(np: g, ["run", path, "--output", output], in: folder)
      #expect(r.status == 0, "G = \(g): \(r.stderr)")
      var data = try TaskFile(path: folder.appendingPathComponent("\(output)/task-0000-of-0001.h5").path).contents()
      data["status"] = nil
      if let reference { expectSameContents(data, reference, "G = \(g):") } else { reference = data }
    }
  }

  /// SIGTERM mid-run, then a rerun: the resumed expression run equals an uninterrupted one bit for bit.
  @Test func anInterruptedExpressionRunResumesBitwise() throws {
    let folder = try temporaryFolder("expression-resume")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = """
      model:
        kind: potential
        dimension: 2
        potential: { kind: expression, V: "(x1^2 - 1)^2 + b*x2^2", parameters: { b: 2 } }
        interaction: { kind: expression, W: "-0.5*exp(-r^2/2)" }
      dynamics: { kind: underdamped, scheme: baoab, step: 0.01, steps: 3000, temperature: 0.3, friction: 1 }
      particles: 300
      diagnostics: { every: 500, metrics: [mean, second-moment], snapshots-every: 1500 }
      checkpoint: { every: 100 }
      parallel: { threads: 1 }
      output: out
      """
    let path = try writeJob(text, in: folder)
    #expect(try mfsweep(["run", path, "--output", "whole"], in: folder).status == 0)
    var expected = try TaskFile(path: folder.appendingPathComponent("whole/task-0000-of-0001.h5").path).contents()
    let p = try startMfsweep(["run", path, "--output", "cut"], in: folder)
    waitForFile(folder.appendingPathComponent("cut/store/locks/task-0000-of-0001.lock").path)
    Thread.sleep(forTimeInterval: 1.0)
    kill(p.processIdentifier, SIGTERM)
    p.waitUntilExit()
    #expect(p.terminationStatus == 3, "the run finished before the signal: make it longer")
    let stopped = try SweepState(output: folder.appendingPathComponent("cut").path).run(0)
    #expect(stopped.status == "interrupted" && stopped.stepsDone > 0 && stopped.stepsDone < 3000)
    #expect(try mfsweep(["run", path, "--output", "cut"], in: folder).status == 0)
    var actual = try TaskFile(path: folder.appendingPathComponent("cut/task-0000-of-0001.h5").path).contents()
    expected["status"] = nil
    actual["status"] = nil
    expectSameContents(actual, expected, "resumed against uninterrupted:")
  }
}
