import Foundation
import SweepRunner
import SweepStore
import Testing

/// Runs the real executable, alone and under mpirun, and reads the HDF5 files back.
@Suite(.serialized) struct EndToEndTests {
  /// Reads every run's metrics and final particles from a task file.
  func contents(of path: String) throws -> [String: [Double]] {
    let reader = try SweepFileReader(path: path)
    var out = [String: [Double]]()
    for id in try reader.runIDs() {
      for name in try reader.metricNames(run: id) { out["\(id)/\(name)"] = try reader.metric(run: id, name: name) }
      out["\(id)/particles"] = try reader.particles(run: id, snapshot: -1).values
      out["\(id)/time"] = try reader.times(run: id)
    }
    return out
  }

  @Test func singletonAndTwoRanksAgreeBitwise() throws {
    let folder = try temporaryFolder("e2e")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    let alone = try mfsweep(["run", job, "--output", folder.appendingPathComponent("alone").path], in: folder)
    #expect(alone.status == 0, "stderr: \(alone.stderr)")
    let two = try mpirunMfsweep(np: 2, ["run", job, "--output", folder.appendingPathComponent("np2").path], in: folder)
    #expect(two.status == 0, "stderr: \(two.stderr)")
    #expect(two.stdout.contains("output: "), "\(two.stdout)")
    #expect(two.stdout.contains("r00005"), "\(two.stdout)")

    let a = try contents(of: folder.appendingPathComponent("alone/task-0000-of-0001.h5").path)
    let b = try contents(of: folder.appendingPathComponent("np2/task-0000-of-0001.h5").path)
    #expect(a.count == 6 * 4)
    #expect(a.keys.sorted() == b.keys.sorted())
    for key in a.keys {
      #expect(a[key]!.map(\.bitPattern) == b[key]!.map(\.bitPattern), "\(key) differs")
    }
    // Every run completed, loss is finite and decreased.
    let reader = try SweepFileReader(path: folder.appendingPathComponent("np2/task-0000-of-0001.h5").path)
    for row in try reader.statusTable() {
      #expect(row.status == .completed && row.stepsDone == 30)
    }
    for id in try reader.runIDs() {
      let loss = try reader.metric(run: id, name: "loss")
      #expect(loss.count == 4 && loss.allSatisfy(\.isFinite))
      #expect(loss.last! < loss.first!)
      #expect(try reader.runAttribute(run: id, "status") == .string("completed"))
      #expect(try reader.times(run: id) == [0, 0.5, 1.0, 1.5])
    }
    #expect(try reader.attribute("schema") == .string("mfsweep/1"))
    #expect(try reader.attribute("job") == .string(smallJob))
    #expect(try reader.runAttribute(run: "r00004", "dynamics.temperature") == .double(1e-3))
    #expect(try reader.runAttribute(run: "r00004", "particles") == .int(50))
  }

  /// The file opens in Python with h5py: a loss curve and the hyperparameters as attributes.
  @Test func h5pyReadsTheOutput() throws {
    guard let python = pythonWithH5py() else {
      Issue.record("python3 with h5py is not installed (the test command installs python3-h5py)")
      return
    }
    let folder = try temporaryFolder("h5py")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    let r = try mpirunMfsweep(np: 2, ["run", job, "--output", "out"], in: folder)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let script = """
      import h5py, sys
      f = h5py.File(sys.argv[1], "r")
      assert f.attrs["schema"] == "mfsweep/1", f.attrs["schema"]
      runs = sorted(f["runs"])
      assert runs == ["r0000%d" % i for i in range(6)], runs
      for r in runs:
          g = f["runs"][r]
          loss = g["metrics/loss"][...]
          t = g["time"][...]
          assert loss.shape == (4,) and t.shape == (4,), (loss.shape, t.shape)
          assert loss[-1] < loss[0]
          assert g.attrs["status"] == "completed"
          p = g["particles"]
          assert p.shape == (3, g.attrs["particles"], 4), p.shape
      assert f["status/code"][...].tolist() == [2] * 6
      assert f["grid/particles"][...].tolist() == [20, 20, 20, 50, 50, 50]
      print("ok", len(runs))
      """
    let check = try runProcess(
      python, ["-c", script, folder.appendingPathComponent("out/task-0000-of-0001.h5").path],
      environment: ProcessInfo.processInfo.environment)
    #expect(check.status == 0, "python: \(check.stdout) \(check.stderr)")
    #expect(check.stdout.contains("ok 6"))
  }

  /// A misspelt key or a negative particle count is refused with the key path, status 2, and
  /// nothing on disk; alone and under mpirun.
  @Test(arguments: [
    ("step: 0.05", "stepp: 0.05", "dynamics.stepp"), ("particles: 50", "particles: -3", "particles"),
  ])
  func badJobsAreRefused(original: String, replacement: String, keyPath: String) throws {
    let folder = try temporaryFolder("bad")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob.replacingOccurrences(of: original, with: replacement), in: folder)
    for result in [
      try mfsweep(["validate", job], in: folder),
      try mfsweep(["run", job], in: folder),
      try mpirunMfsweep(np: 2, ["run", job], in: folder),
    ] {
      #expect(result.status == 2, "status \(result.status): \(result.stderr)")
      #expect(result.stderr.contains("\(keyPath):"), "\(result.stderr)")
      #expect(result.stderr.contains("job.yaml:"), "\(result.stderr)")
    }
    let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    #expect(entries == ["job.yaml"], "left behind: \(entries)")
  }

  @Test func missingJobFile() throws {
    let r = try mfsweep(["run", "/nonexistent/job.yaml"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("/nonexistent/job.yaml: no such file"), "\(r.stderr)")
  }

  @Test func planShowsTheAssignment() throws {
    let folder = try temporaryFolder("plan")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    let r = try mfsweep(["plan", job, "--ranks", "2", "--tasks", "2"], in: folder)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("6 runs; 2 task(s) × 2 group(s) of 1 rank(s)"), "\(r.stdout)")
    for id in 0..<6 { #expect(r.stdout.contains("r0000\(id)"), "\(r.stdout)") }
  }

  /// A second launch of the same job skips completed runs and leaves the results unchanged;
  /// a different job into the same folder is refused.
  @Test func rerunSkipsCompletedRunsAndRefusesAnotherJob() throws {
    let folder = try temporaryFolder("rerun")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    let first = try mfsweep(["run", job], in: folder)
    #expect(first.status == 0, "\(first.stderr)")
    let before = try contents(of: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    let second = try mfsweep(["run", job], in: folder)
    #expect(second.status == 0, "\(second.stderr)")
    #expect(!second.stdout.contains("started"), "\(second.stdout)")
    let after = try contents(of: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    #expect(before.keys.sorted() == after.keys.sorted())
    for key in before.keys { #expect(before[key]!.map(\.bitPattern) == after[key]!.map(\.bitPattern)) }
    let other = try writeJob(smallJob.replacingOccurrences(of: "seed: 3", with: "seed: 4"), named: "other.yaml", in: folder)
    let refused = try mfsweep(["run", other], in: folder)
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("different job"), "\(refused.stderr)")
  }
}

/// xarray opens a run's group with its dimension scales (netCDF-4 style, no phony dims).
@Suite(.serialized) struct XarrayTests {
  @Test func xarrayOpensRunsWithNamedDimensions() throws {
    guard let python = pythonWithH5py(),
      (try? runProcess(python, ["-c", "import xarray, h5netcdf"], environment: ProcessInfo.processInfo.environment))?.status == 0
    else {
      Issue.record("python3 with xarray and h5netcdf is not installed (the test command installs them)")
      return
    }
    let folder = try temporaryFolder("xarray")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(smallJob, in: folder)
    #expect(try mfsweep(["run", job], in: folder).status == 0)
    let script = """
      import sys, xarray as xr
      path = sys.argv[1]
      ds = xr.open_dataset(path, group="runs/r00002", engine="h5netcdf")
      assert dict(ds.sizes) == {"time": 4, "snapshot": 3, "particle": 20, "coordinate": 4}, dict(ds.sizes)
      assert ds["particles"].dims == ("snapshot", "particle", "coordinate")
      assert not any(d.startswith("phony") for d in ds.dims)
      assert float(ds["time"][-1]) == 1.5
      m = xr.open_dataset(path, group="runs/r00002/metrics", engine="h5netcdf")
      assert m["loss"].dims == ("time",), m["loss"].dims
      status = xr.open_dataset(path, group="status", engine="h5netcdf")
      assert list(status["code"].values) == [2] * 6
      print("ok")
      """
    let r = try runProcess(
      python, ["-c", script, folder.appendingPathComponent("out/task-0000-of-0001.h5").path],
      environment: ProcessInfo.processInfo.environment)
    #expect(r.status == 0 && r.stdout.contains("ok"), "\(r.stdout) \(r.stderr)")
  }
}
