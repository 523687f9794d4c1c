import Foundation
import MeanFieldCore
import SweepRunner
import Testing

@Suite struct JobDecodingTests {
  @Test func smallJobExpands() throws {
    let job = try Job.parse(text: smallJob, file: "small.yaml")
    #expect(job.name == "small")
    #expect(job.runs.count == 6)
    #expect(job.sweptKeys == ["particles", "dynamics.temperature"])
    // Last axis varies fastest; logspace hits both ends exactly.
    let temps = job.runs.map { $0.configuration.dynamics.temperature }
    #expect(temps == [1e-4, 1e-3, 1e-2, 1e-4, 1e-3, 1e-2])
    #expect(job.runs.map(\.configuration.particles) == [20, 20, 20, 50, 50, 50])
    #expect(job.runs.map(\.id) == ["r00000", "r00001", "r00002", "r00003", "r00004", "r00005"])
    let c = job.runs[0].configuration
    #expect(c.steps == 30 && c.seed == 3 && c.dimension == 4)
    #expect(c.diagnostics.sampleSteps(totalSteps: 30) == [0, 10, 20, 30])
    #expect(c.diagnostics.snapshotSteps(totalSteps: 30) == [0, 15, 30])
    #expect(job.parallel.blockSize == 16)
  }

  @Test func rangeLinspaceAndZip() throws {
    let text = smallJob.replacingOccurrences(
      of: """
          particles: [20, 50]
            dynamics.temperature: { logspace: [1.0e-4, 1.0e-2, 3] }
        """,
      with: """
          seed: { range: [0, 6, 2] }
            dynamics.l2: { linspace: [0, 1, 3] }
          zip:
            particles: [10, 20]
            dynamics.step: [0.1, 0.2]
        """)
    let job = try Job.parse(text: text, file: "j.yaml")
    #expect(job.runs.count == 3 * 3 * 2)
    #expect(job.sweptKeys == ["seed", "dynamics.l2", "particles", "dynamics.step"])
    #expect(job.runs.map(\.configuration.seed).prefix(6) == [0, 0, 0, 0, 0, 0])
    #expect(Set(job.runs.map(\.configuration.seed)) == [0, 2, 4])
    #expect(job.runs.prefix(6).map(\.configuration.dynamics.l2) == [0, 0, 0.5, 0.5, 1, 1])
    // zip pairs stay together
    for run in job.runs {
      let c = run.configuration
      #expect((c.particles == 10 && c.dynamics.timeStep == 0.1) || (c.particles == 20 && c.dynamics.timeStep == 0.2))
    }
  }

  /// The error names the file, line, key path, and what was expected.
  func expectError(_ text: String, contains fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
      _ = try Job.parse(text: text, file: "bad.yaml")
      Issue.record("no error for a bad job", sourceLocation: sourceLocation)
    } catch let error as JobError {
      let message = error.description
      #expect(message.hasPrefix("bad.yaml:"), "\(message)", sourceLocation: sourceLocation)
      for f in fragments {
        #expect(message.contains(f), "'\(message)' lacks '\(f)'", sourceLocation: sourceLocation)
      }
    } catch {
      Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func misspeltKey() {
    expectError(
      smallJob.replacingOccurrences(of: "step: 0.05", with: "stepp: 0.05"),
      contains: ["dynamics.stepp", "unknown key", "did you mean 'step'"])
    expectError(
      smallJob.replacingOccurrences(of: "particles: 50", with: "particels: 50"),
      contains: ["particels", "unknown key", "did you mean 'particles'"])
  }

  @Test func outOfRangeValues() {
    expectError(
      smallJob.replacingOccurrences(of: "particles: 50", with: "particles: -3"),
      contains: ["particles", "-3 is out of range", "positive integer"])
    expectError(
      smallJob.replacingOccurrences(of: "step: 0.05", with: "step: -0.1"),
      contains: ["dynamics.step", "out of range", "positive number"])
    expectError(
      smallJob.replacingOccurrences(of: "temperature: 1.0e-3", with: "temperature: -1"),
      contains: ["dynamics.temperature", "non-negative"])
    expectError(
      smallJob.replacingOccurrences(of: "every: 10", with: "every: 0"),
      contains: ["diagnostics.every"])
    // Beyond the exact sums' bound on the ranks of one run.
    expectError(
      smallJob.replacingOccurrences(of: "parallel: { block-size: 16 }", with: "parallel: { ranks-per-run: 16385 }"),
      contains: ["parallel.ranks-per-run", "16385 is out of range", "up to 16384"])
  }

  @Test func wrongTypes() {
    expectError(
      smallJob.replacingOccurrences(of: "particles: 50", with: "particles: many"),
      contains: ["particles", "expected a positive integer", "'many'"])
    expectError(
      smallJob.replacingOccurrences(of: "particles: 50", with: "particles: 2.5"),
      contains: ["particles", "integer"])
    expectError(
      smallJob.replacingOccurrences(of: "activation: tanh", with: "activation: tahn"),
      contains: ["model.activation", "did you mean 'tanh'"])
    expectError(
      smallJob.replacingOccurrences(of: "metrics: [loss, second-moment]", with: "metrics: [loss, los]"),
      contains: ["diagnostics.metrics[1]", "unknown value 'los'"])
    expectError("just a string", contains: ["expected a mapping of job settings"])
    expectError("a: [1, 2\n", contains: ["not valid YAML"])
  }

  @Test func badGridValues() {
    expectError(
      smallJob.replacingOccurrences(of: "particles: [20, 50]", with: "particles: [20, -50]"),
      contains: ["particles", "-50 is out of range", "set by sweep grid.particles[1]"])
    expectError(
      smallJob.replacingOccurrences(of: "particles: [20, 50]", with: "dynamics.temprature: [1, 2]"),
      contains: ["dynamics.temprature", "unknown key", "did you mean 'temperature'"])
    expectError(
      smallJob.replacingOccurrences(of: "particles: [20, 50]", with: "output: [a, b]"),
      contains: ["'output' cannot be swept"])
    expectError(
      smallJob.replacingOccurrences(of: "particles: [20, 50]", with: "particles: []"),
      contains: ["empty list"])
    expectError(
      smallJob.replacingOccurrences(of: "particles: [20, 50]", with: "particles: { range: [5, 1] }"),
      contains: ["is empty"])
  }

  @Test func missingFile() {
    #expect(throws: JobError.self) { _ = try Job.load(path: "/nonexistent/job.yaml") }
  }

  @Test func duplicateKey() {
    expectError(smallJob + "\nparticles: 7\n", contains: ["particles", "appears twice"])
  }
}

@Suite struct PlanTests {
  @Test func longestFirstIsBalancedAndDeterministic() {
    let costs: [Double] = [5, 1, 4, 2, 3, 3]
    let bins = SweepPlan.longestFirst(costs: costs, items: Array(0..<6), bins: 2)
    // 5→b0, 4→b1, 3→b1 (4 < 5), 3→b0 (5 < 7), 2→b1 (7 < 8), 1→b0 (8 < 9): loads 9 and 9.
    #expect(bins == [[0, 1, 5], [2, 3, 4]])
    let loads = bins.map { $0.reduce(0.0) { $0 + costs[$1] } }
    #expect(loads == [9, 9])
    #expect(Set(bins.flatMap { $0 }) == Set(0..<6))
  }

  @Test func tasksPartitionTheGrid() throws {
    let job = try Job.parse(text: smallJob, file: "small.yaml")
    let costs = job.runs.map(\.configuration.cost)
    let plan = SweepPlan(costs: costs, taskCount: 4)
    #expect(plan.tasks.flatMap { $0 }.sorted() == Array(0..<6))
  }
}

/// The README's metric table is the one the metric definitions make.
@Test func readmeMetricTableComesFromTheDefinitions() throws {
  let readme = try String(contentsOf: repositoryRoot().appendingPathComponent("README.md"), encoding: .utf8)
  #expect(
    readme.contains(MetricTable.markdown()),
    "the README's metric table differs from `mfsweep metrics`; paste its output")
}
