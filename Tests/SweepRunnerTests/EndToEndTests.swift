import Foundation
import SweepRunner
import SweepStore
import Testing

/// Runs the real executable, alone and under mpirun, and reads the HDF5 files back.
@Suite(.serialized) struct EndToEndTests {
  /// Reads every run's metrics, snapshots and times from a task file (bit patterns).
  func contents(of path: String) throws -> [String: [UInt64]] {
    var out = try TaskFile(path: path).contents()
    out["status"] = nil
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
    #expect(a.count == 6 * (2 + 3 + 1))
    #expect(a.keys.sorted() == b.keys.sorted())
    for key in a.keys {
      #expect(a[key]! == b[key]!, "\(key) differs")
    }
    // Every run completed, loss is finite and decreased.
    let reader = try TaskFile(path: folder.appendingPathComponent("np2/task-0000-of-0001.h5").path)
    for row in try reader.statusTable() {
      #expect(row.status == "completed" && row.stepsDone == 30)
    }
    for id in reader.runIDs() {
      let loss = try reader.metric(run: id, name: "loss")
      #expect(loss.count == 4 && loss.allSatisfy(\.isFinite))
      #expect(loss.last! < loss.first!)
      #expect(try reader.times(run: id) == [0, 0.5, 1.0, 1.5])
    }
    #expect(try reader.reader.attribute("schema") == .string("mfsweep/2"))
    #expect(try reader.reader.attribute("job") == .string(smallJob))
    #expect(try reader.reader.doubles("temperature").values[4] == 1e-3)
    #expect(try reader.reader.ints("particles")[4] == 50)
  }

  /// The file opens in Python with h5py: runs are a dimension, settings are columns.
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
      assert f.attrs["schema"] == "mfsweep/2", f.attrs["schema"]
      assert f["run"][...].tolist() == list(range(6))
      ids = [bytes(row).rstrip(b"\\0").decode() for row in f["run_id"][...]]
      assert ids == ["r0000%d" % i for i in range(6)], ids
      assert f["loss"].shape == (6, 4) and f["time"][...].tolist() == [0, 0.5, 1.0, 1.5]
      assert (f["loss"][:, -1] < f["loss"][:, 0]).all()
      assert f["particles"][...].tolist() == [20, 20, 20, 50, 50, 50]
      assert f["particles"].dtype.kind == "i" and f["temperature"].dtype.kind == "f"
      assert f["positions"].shape == (3 * (3 * 20 + 3 * 50), 4), f["positions"].shape
      start = f["snapshot_start"][4, 2]
      assert f["positions"][start:start + 50].shape == (50, 4)
      print("ok", len(ids))
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
  /// an edited job keeps the runs whose configuration is unchanged and runs the new ones; a job
  /// of another name into the same folder is refused.
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
    #expect(second.stdout.contains("6 already finished (kept), 0 to run"), "\(second.stdout)")
    let after = try contents(of: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    #expect(before == after)
    // A comment, reordered grid values and one more grid point: the six runs are kept, the new
    // one runs, and the kept runs' data are bitwise unchanged under their new indices.
    let edited = try writeJob(
      "# edited\n" + smallJob.replacingOccurrences(of: "particles: [20, 50]", with: "particles: [50, 35, 20]"),
      named: "job.yaml", in: folder)
    let third = try mfsweep(["run", edited], in: folder)
    #expect(third.status == 0, "\(third.stderr)")
    #expect(third.stdout.contains("9 runs in this task: 6 already finished (kept), 3 to run"), "\(third.stdout)")
    let view = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path)
    // Old r00000 (20 particles, T = 1e-4) is now r00006.
    #expect(try view.metric(run: "r00006", name: "loss").map(\.bitPattern) == before["r00000/loss"])
    // Another seed keeps the folder's earlier runs aside (not mixed into the new job's).
    let reseeded = try writeJob(
      smallJob.replacingOccurrences(of: "seed: 3", with: "seed: 4"), named: "reseeded.yaml", in: folder)
    let fourth = try mfsweep(["run", reseeded], in: folder)
    #expect(fourth.status == 0, "\(fourth.stderr)")
    #expect(fourth.stdout.contains("0 already finished (kept), 6 to run"), "\(fourth.stdout)")
    #expect(fourth.stdout.contains("9 finished run(s) of earlier versions of this job are kept"), "\(fourth.stdout)")
    let summary = try mfsweep(["aggregate", "out"], in: folder)
    #expect(summary.status == 0 && summary.stdout.contains(": 6 runs"), "\(summary.stdout) \(summary.stderr)")
    // A job of another name is refused.
    let other = try writeJob(
      smallJob.replacingOccurrences(of: "name: small", with: "name: other"), named: "other.yaml", in: folder)
    let refused = try mfsweep(["run", other], in: folder)
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("holds the results of job 'small'"), "\(refused.stderr)")
  }
}

/// xarray and pandas open the views and the summary in one line, with both netCDF engines.
@Suite(.serialized) struct XarrayTests {
  @Test func xarrayAndPandasOpenTheSweep() throws {
    guard let python = pythonWithH5py(),
      (try? runProcess(
        python, ["-c", "import xarray, h5netcdf, netCDF4, pandas"], environment: ProcessInfo.processInfo.environment))?
        .status == 0
    else {
      Issue.record(
        "python3 with xarray, h5netcdf, netCDF4 and pandas is not installed (the test command installs them)")
      return
    }
    let folder = try temporaryFolder("xarray")
    defer { try? FileManager.default.removeItem(at: folder) }
    let vector = smallJob.replacingOccurrences(
      of: "metrics: [loss, second-moment]", with: "metrics: [loss, second-moment, mean]")
    let job = try writeJob(vector, in: folder)
    #expect(try mfsweep(["run", job], in: folder).status == 0)
    #expect(try mfsweep(["aggregate", "out"], in: folder).status == 0)
    let script = """
      import sys, xarray as xr, pandas as pd, numpy as np
      out = sys.argv[1]
      for path in [out + "/summary.h5", out + "/task-0000-of-0001.h5"]:
          for engine in ["h5netcdf", "netcdf4"]:
              ds = xr.open_dataset(path, engine=engine)
              assert not any(d.startswith("phony") for d in ds.dims), ds.dims
              assert dict(ds.loss.sizes) == {"run": 6, "sample": 4}, ds.loss.sizes
              assert ds["mean"].dims == ("run", "sample", "coordinate") and list(ds.coordinate.values) == ["x1", "x2", "x3", "x4"]
              assert ds.particles.dtype == np.int64 and list(ds.status.values) == ["completed"] * 6
              assert ds.temperature.attrs["long_name"] == "dynamics.temperature"
              curve = ds.loss.where(ds.temperature == 0.01, drop=True).mean("run")
              assert curve.sizes["sample"] == 4 and np.isfinite(curve.values).all()
              by = ds.loss.groupby("particles").mean()
              assert by.sizes["particles"] == 2
              swapped = ds.swap_dims(run="run_id")
              assert float(swapped.loss.sel(run_id="r00004")[-1]) == float(ds.loss[4, -1])
              assert ds.loss.attrs["long_name"] and ds.loss.attrs["description"]
      s = xr.open_dataset(out + "/summary.h5")
      assert s.loss_final.dims == ("run",) and s.mean_final.dims == ("run", "coordinate")
      assert np.allclose(s.loss_final.values, s.loss.isel(sample=-1).values)
      df = pd.read_csv(out + "/summary.csv", float_precision="round_trip")
      assert len(df) == 6 and all(c in df for c in ["temperature", "l2", "seed", "run_id"]), list(df.columns)
      assert (df.loss_final.values == s.loss_final.values).all()
      assert df["mean_final[x1]"].notna().all()
      t = xr.open_dataset(out + "/task-0000-of-0001.h5")
      r, k = 4, 2
      start = int(t.snapshot_start[r, k]); n = int(t.particles[r])
      assert t.positions[start:start + n].shape == (50, 4)
      print("ok")
      """
    let r = try runProcess(
      python, ["-c", script, folder.appendingPathComponent("out").path],
      environment: ProcessInfo.processInfo.environment)
    #expect(r.status == 0 && r.stdout.contains("ok"), "\(r.stdout) \(r.stderr)")
  }
}
