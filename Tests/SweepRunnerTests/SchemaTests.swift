import Foundation
import MeanFieldCore
import SweepRunner
import SweepStore
import Testing

let potentialJob = """
  name: wells
  model:
    kind: potential
    dimension: 2
    potential: { kind: flat-sharp, sharp: 8, flat: 1, transverse: 2 }
    interaction: { kind: quadratic, strength: 0.5 }
  dynamics: { kind: underdamped, scheme: baoab, step: 0.05, steps: 40, temperature: 0.2, friction: 1.5 }
  particles: 64
  init: { kind: uniform, lower: -2, upper: 2 }
  velocity-init: { kind: gaussian, std: 0.3 }
  diagnostics: { every: 10, metrics: [loss, second-moment] }
  sweep:
    grid:
      dynamics.scheme: [plain, baoab]
  output: out
  """

@Suite struct SchemaTests {
  func expectError(
    _ text: String, file: String = "bad.yaml", contains fragments: [String],
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    do {
      _ = try Job.parse(text: text, file: file)
      Issue.record("no error", sourceLocation: sourceLocation)
    } catch let error as JobError {
      for f in fragments {
        #expect(error.description.contains(f), "'\(error)' lacks '\(f)'", sourceLocation: sourceLocation)
      }
    } catch {
      Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func potentialModelDecodes() throws {
    let job = try Job.parse(text: potentialJob, file: "wells.yaml")
    #expect(job.runs.count == 2)
    let c = job.runs[1].configuration
    #expect(
      c.model
        == .potential(
          PotentialSpec(
            dimension: 2, potential: .flatSharp(sharp: 8, flat: 1, transverse: 2),
            interaction: .quadraticAttraction(strength: 0.5))))
    #expect(c.dynamics == .underdamped(.init(step: 0.05, temperature: 0.2, l2: 0, friction: 1.5, scheme: .baoab)))
    #expect(
      job.runs[0].configuration.dynamics
        == .underdamped(.init(step: 0.05, temperature: 0.2, l2: 0, friction: 1.5, scheme: .plain)))
    #expect(c.initial == .uniform(lower: [-2], upper: [2]))
    #expect(c.initialVelocity == .gaussian(mean: [0], std: [0.3]))
    #expect(c.dimension == 2)
  }

  @Test func everyDynamicsKind() throws {
    for (dynamics, expected) in [
      (
        "{ kind: gradient-flow, step: 0.1, steps: 5, l2: 0.2 }",
        Dynamics.overdamped(.init(step: 0.1, temperature: 0, l2: 0.2))
      ),
      (
        "{ kind: jko, step: 0.1, steps: 5, temperature: 0.3, blob: 0.2, tolerance: 1e-9, max-iterations: 50, damping: 0.5 }",
        .jko(.init(step: 0.1, temperature: 0.3, l2: 0, blob: 0.2, tolerance: 1e-9, maxIterations: 50, damping: 0.5))
      ),
      (
        "{ kind: underdamped, step: 0.1, steps: 5 }",
        .underdamped(.init(step: 0.1, temperature: 0, l2: 0, friction: 1, scheme: .baoab))
      ),
    ] {
      let text = smallJob.replacingOccurrences(
        of: "dynamics: { kind: overdamped, step: 0.05, steps: 30, temperature: 1.0e-3, l2: 1.0e-3 }",
        with: "dynamics: \(dynamics)"
      )
      .replacingOccurrences(of: "    dynamics.temperature: { logspace: [1.0e-4, 1.0e-2, 3] }\n", with: "")
      let job = try Job.parse(text: text, file: "j.yaml")
      #expect(job.runs[0].configuration.dynamics == expected)
    }
  }

  @Test func schemaMistakes() {
    expectError(
      potentialJob.replacingOccurrences(of: "sharp: 8,", with: "sharp: -8,"),
      contains: ["model.potential.sharp", "positive"])
    expectError(
      potentialJob.replacingOccurrences(of: "kind: flat-sharp", with: "kind: flat-shrap"),
      contains: ["model.potential.kind", "did you mean 'flat-sharp'"])
    expectError(
      potentialJob.replacingOccurrences(of: "friction: 1.5", with: "blob: 1.5"),
      contains: ["dynamics.blob", "unknown key"])
    expectError(
      smallJob.replacingOccurrences(
        of: "init: { kind: gaussian, std: 1.0 }",
        with: "init: { kind: gaussian, std: 1.0 }\nvelocity-init: { kind: zero }"),
      contains: ["velocity-init", "only underdamped dynamics have velocities"])
    expectError(
      potentialJob.replacingOccurrences(of: "lower: -2, upper: 2", with: "lower: [-2, 0, 1], upper: 2"),
      contains: ["init.lower", "3 entries", "expected one number or 2"])
    expectError(
      potentialJob.replacingOccurrences(of: "lower: -2, upper: 2", with: "lower: 2, upper: -2"),
      contains: ["init.upper", "must exceed lower"])
  }

  @Test func dataAndInitialPointsFromFiles() throws {
    let folder = try temporaryFolder("files")
    defer { try? FileManager.default.removeItem(at: folder) }
    // 5 data points with 2 inputs and a label, with a header.
    try "z1,z2,y\n0.1,0.2,0.3\n-1,0.5,0.1\n0.3,0.3,-0.2\n1,1,0.5\n0,-1,0.0\n".write(
      to: folder.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
    // 4 initial neurons of dimension 3.
    try "1,2,3\n4,5,6\n7,8,9\n10,11,12\n".write(
      to: folder.appendingPathComponent("init.csv"), atomically: true, encoding: .utf8)
    let text = """
      model: { kind: two-layer-network, data: { kind: file, path: data.csv } }
      dynamics: { kind: overdamped, step: 0.1, steps: 3 }
      particles: 4
      init: { kind: file, path: init.csv }
      """
    let jobPath = try writeJob(text, in: folder)
    let job = try Job.load(path: jobPath)
    let c = job.runs[0].configuration
    #expect(c.dimension == 3)
    #expect(c.initial == .points((1...12).map(Double.init)))
    guard case .twoLayerNetwork(let net) = c.model, case .file(_, let m) = net.data else {
      Issue.record("not file data")
      return
    }
    #expect(m.rows == 5 && m.columns == 3 && m.header == ["z1", "z2", "y"])

    // Mistakes: wrong shape, missing file, bad number, HDF5 without dataset.
    expectError(
      text.replacingOccurrences(of: "particles: 4", with: "particles: 5"), file: jobPath,
      contains: ["init.path", "4 × 3 (no header row was read); expected 5 × 3"])
    expectError(
      text.replacingOccurrences(of: "path: data.csv", with: "path: nothere.csv"), file: jobPath,
      contains: ["model.data.path", "nothere.csv: no such file"])
    try "1,2\n3,x\n".write(to: folder.appendingPathComponent("bad.csv"), atomically: true, encoding: .utf8)
    expectError(
      text.replacingOccurrences(of: "path: data.csv", with: "path: bad.csv"), file: jobPath,
      contains: ["bad.csv:2: 'x' is not a number"])
    expectError(
      text.replacingOccurrences(of: "path: data.csv", with: "path: some.h5"), file: jobPath,
      contains: ["no such file"])
  }

  @Test func tabulatedPotentialInlineAndChecked() throws {
    let text = """
      model:
        kind: potential
        dimension: 1
        potential: { kind: tabulated, lower: -2, upper: 2, values: [4, 1, 0, 1, 4], wall: 2 }
      dynamics: { kind: overdamped, step: 0.01, steps: 3, temperature: 0.1 }
      particles: 10
      """
    let job = try Job.parse(text: text, file: "t.yaml")
    guard case .potential(let p) = job.runs[0].configuration.model, case .tabulated(let t) = p.potential else {
      Issue.record("not tabulated")
      return
    }
    #expect(t.points == [5] && t.values == [4, 1, 0, 1, 4] && t.wall == 2)
    expectError(
      text.replacingOccurrences(of: "values: [4, 1, 0, 1, 4]", with: "values: [4]"), contains: ["at least 2 points"])
    expectError(
      text.replacingOccurrences(of: "lower: -2, upper: 2", with: "lower: [-2, -2], upper: [2, 2]"),
      contains: ["a 2-D table needs model.dimension ≥ 2"])
  }
}

/// Jobs of every model and dynamics run end to end and chain through files.
@Suite(.serialized) struct SchemaEndToEndTests {
  @Test func potentialJobsRun() throws {
    let folder = try temporaryFolder("wells")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(potentialJob, in: folder)
    let r = try mpirunMfsweep(np: 2, ["run", job], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let reader = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    for row in try reader.statusTable() { #expect(row.status == "completed") }
    let loss = try reader.metric(run: "r00001", name: "loss")
    #expect(loss.count == 5 && loss.allSatisfy(\.isFinite))
  }

  /// A run's final snapshot, named as task.h5:r00001[-1], starts the next job.
  @Test func snapshotStartsANewJob() throws {
    let folder = try temporaryFolder("chain")
    defer { try? FileManager.default.removeItem(at: folder) }
    let first = try writeJob(
      potentialJob.replacingOccurrences(of: "output: out", with: "output: first"), named: "first.yaml", in: folder)
    #expect(try mfsweep(["run", first], in: folder).status == 0)
    let second = try writeJob(
      potentialJob.replacingOccurrences(of: "output: out", with: "output: second")
        .replacingOccurrences(
          of: "init: { kind: uniform, lower: -2, upper: 2 }",
          with: "init: { kind: file, path: \"first/task-0000-of-0001.h5:r00001[-1]\" }"),
      named: "second.yaml", in: folder)
    let r = try mfsweep(["run", second], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let a = try TaskFile(path: folder.appendingPathComponent("first/task-0000-of-0001.h5").path)
    let b = try TaskFile(path: folder.appendingPathComponent("second/task-0000-of-0001.h5").path)
    // The second job's step-0 second moment is the first job's final one.
    let m1 = try a.metric(run: "r00001", name: "second-moment").last!
    let m2 = try b.metric(run: "r00000", name: "second-moment").first!
    #expect(m1 == m2)
  }

  /// The schemes added as one file each: MALA (with its acceptance rate as a metric) and the
  /// symplectic underdamped variant run from job files; MALA is refused where particles
  /// interact.
  @Test func malaAndSymplecticRunFromJobFiles() throws {
    let folder = try temporaryFolder("mala")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = """
      model: { kind: potential, dimension: 1, potential: { kind: double-well } }
      dynamics: { kind: mala, step: 0.05, steps: 40, temperature: 0.3 }
      particles: 200
      diagnostics: { every: 10, metrics: [second-moment, acceptance-rate] }
      output: out
      """
    let r = try mfsweep(["run", try writeJob(text, in: folder)], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let reader = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    let rate = try reader.metric(run: "r00000", name: "acceptance-rate")
    #expect(rate.first!.isNaN && rate.dropFirst().allSatisfy { $0 > 0.5 && $0 <= 1 }, "\(rate)")
    let symplectic = potentialJob.replacingOccurrences(
      of: "dynamics.scheme: [plain, baoab]", with: "dynamics.scheme: [plain, symplectic]")
    let job = try Job.parse(text: symplectic, file: "s.yaml")
    #expect(
      job.runs[1].configuration.dynamics
        == .underdamped(.init(step: 0.05, temperature: 0.2, l2: 0, friction: 1.5, scheme: .symplectic)))
    do {
      _ = try Job.parse(
        text: text.replacingOccurrences(
          of: "potential: { kind: double-well } }",
          with: "potential: { kind: double-well }, interaction: { kind: quadratic } }"), file: "m.yaml")
      Issue.record("MALA with an interaction was accepted")
    } catch let error as JobError {
      #expect(error.description.contains("mala needs particles in a potential without interaction"), "\(error)")
    }
  }

  @Test func jkoJobRecordsItsInnerSolve() throws {
    let folder = try temporaryFolder("jko")
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = """
      model: { kind: potential, dimension: 1, potential: { kind: double-well } }
      dynamics: { kind: jko, step: 0.05, steps: 6, temperature: 0.1, blob: 0.2, tolerance: 1.0e-8 }
      particles: 40
      diagnostics: { every: 2, metrics: [loss, jko-iterations, jko-residual] }
      output: out
      """
    let job = try writeJob(text, in: folder)
    let r = try mfsweep(["run", job], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    let reader = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    let iterations = try reader.metric(run: "r00000", name: "jko-iterations")
    let residual = try reader.metric(run: "r00000", name: "jko-residual")
    #expect(iterations.first!.isNaN && iterations.dropFirst().allSatisfy { $0 >= 1 })
    #expect(residual.dropFirst().allSatisfy { $0 <= 1e-8 })
  }
}

/// The ready jobs of Jobs/ are valid, and `mfsweep submit --dry-run` renders the Slurm scripts.
@Suite struct ShippedJobsTests {
  @Test func everyShippedJobValidates() throws {
    let folder = repositoryRoot().appendingPathComponent("Jobs")
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
    #expect(names.count >= 6)
    for name in names {
      let path = folder.appendingPathComponent(name).path
      let text = try String(contentsOfFile: path, encoding: .utf8)
      let r = try mfsweep(["validate", path])
      // A job that compares with another job's output validates once that output exists; before,
      // it is refused with the missing file named (ExperimentTests runs the pair).
      if r.status != 0, text.contains("reference-sample: ../runs/"), r.stderr.contains("no such file") {
        #expect(
          r.status == 2 && r.stderr.contains("reference-sample") && r.stderr.contains("no such file"), "\(r.stderr)")
        continue
      }
      #expect(r.status == 0, "\(name): \(r.stderr)")
    }
  }

  /// With more shares than MaxArraySize, the array is capped and each index takes several shares.
  @Test func submitDryRunFoldsSharesOntoTheArray() throws {
    let folder = try temporaryFolder("submit")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    let r = try mfsweep(
      [
        "submit", job, "--tasks", "5", "--ranks", "2", "--time", "01:30:00", "--partition", "gpu", "--account", "lab",
        "--grace", "90", "--max-array-size", "2", "--dry-run", "--templates",
        repositoryRoot().appendingPathComponent("slurm").path,
        "--sbatch-option=--mem=4G", "--sbatch-option", "--qos=long", "--array-throttle", "3", "--max-requeues", "4",
        "--aggregate-time", "10",
      ], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    for fragment in [
      "#SBATCH --array=0-1%3", "#SBATCH --ntasks=2", "#SBATCH --time=01:30:00", "#SBATCH --signal=B:USR1@90",
      "#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --requeue", "SHARES=5", "ARRAY=2",
      "#SBATCH --mem=4G", "#SBATCH --qos=long", "MAX_REQUEUES=4", "#SBATCH --time=10\n",
      "srun --mpi=pmix --ntasks=2", "--array-count \"$SHARES\"", "scontrol requeue", "aggregate",
      "--dependency=afterany",
    ] {
      #expect(r.stdout.contains(fragment), "missing \(fragment)")
    }
    #expect(!r.stdout.contains("{{"))
    // Mistakes are refused before anything is rendered.
    for (args, fragment) in [
      (["--tasks", "7"], "exceeds the 6 runs"), (["--tasks", "2", "--time", "soon"], "not a Slurm time"),
      (["--tasks", "2", "--time", "abc-1"], "not a Slurm time"),
      (["--tasks", "2", "--time", "1:75"], "not a Slurm time"),
      (["--tasks", "2", "--time", "00:01:00", "--grace", "60"], "not shorter than the time limit"),
      (["--tasks", "2", "--time", "00:01:00", "--grace", "0"], "--grace 0"),
      (["--tasks", "2", "--sbatch-option", "mem=4G"], "is not an sbatch option"),
      (["--tasks", "2", "--sbatch-option", "--mem=4G\n#SBATCH --x"], "control character"),
      (["--tasks", "2", "--partition", "a b"], "is not a Slurm name"),
      (["--tasks", "2", "--srun-mpi", "pmix;rm"], "is not an MPI plugin name"),
      (["--tasks", "2", "--aggregate-time", "never"], "--aggregate-time"),
    ] {
      let bad = try mfsweep(
        ["submit", job, "--ranks", "1", "--dry-run"]
          + (args.contains("--time") ? args : args + ["--time", "00:10:00"]), in: folder)
      #expect(bad.status == 2 && bad.stderr.contains(fragment), "\(args): \(bad.stderr)")
    }
  }
}

/// The rendered array script runs shares i, i + A, i + 2A, … of T for array index i (run with a
/// stand-in srun that records its arguments).
@Suite struct SbatchScriptTests {
  @Test func arrayIndexRunsItsShares() throws {
    let folder = try temporaryFolder("sbatch")
    defer { try? FileManager.default.removeItem(at: folder) }
    let jobPath = try writeJob(smallJob, in: folder)
    let job = try Job.load(path: jobPath)
    let submission = SlurmSubmission(
      job: job, jobFile: jobPath, output: folder.appendingPathComponent("out").path, executable: "/bin/true",
      tasks: 5, ranks: 1, time: "00:10:00", partition: nil, account: nil, grace: 30, maxArraySize: 2,
      templates: repositoryRoot().appendingPathComponent("slurm").path)
    try submission.validate()
    let script = try submission.render().sweep
    let scriptPath = folder.appendingPathComponent("sweep.sbatch").path
    try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    let bin = folder.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    let log = folder.appendingPathComponent("calls.log").path
    let stub = bin.appendingPathComponent("srun").path
    try "#!/bin/sh\necho \"$@\" >> \(log)\n".write(toFile: stub, atomically: true, encoding: .utf8)
    chmod(stub, 0o755)
    for index in 0..<2 {
      var env = ProcessInfo.processInfo.environment
      env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
      env["SLURM_ARRAY_TASK_ID"] = String(index)
      env["SLURM_ARRAY_JOB_ID"] = "6"
      env["SLURM_JOB_ID"] = String(10 + index)
      env["SLURM_JOB_NODELIST"] = "node"
      let r = try runProcess("/bin/bash", [scriptPath], environment: env)
      #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
    }
    let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
    let shares = calls.compactMap { line -> Int? in
      let parts = line.split(separator: " ")
      guard let i = parts.firstIndex(of: "--array-task") else { return nil }
      #expect(parts[i + 2] == "--array-count" && parts[i + 3] == "5", "\(line)")
      return Int(parts[i + 1])
    }
    #expect(shares == [0, 2, 4, 1, 3], "\(calls)")
  }
}
