import Foundation
import SweepRunner
import SweepStore
import Testing

/// A job of three short runs (one per seed) that a test can stop or run to completion.
private func stoppableJob(steps: Int, output: String) -> String {
  """
  name: stoppable
  model: { kind: potential, dimension: 2, potential: { kind: double-well } }
  dynamics: { kind: overdamped, step: 0.001, steps: \(steps), temperature: 0.1 }
  particles: 400
  diagnostics: { every: 1000, metrics: [second-moment] }
  checkpoint: { every: 500 }
  parallel: { threads: 1 }
  sweep: { grid: { seed: [1, 2, 3] } }
  output: \(output)

  """
}

/// Stop files: they stop the launch, are consumed by it, and the next launch runs.
@Suite(.serialized) struct StopFileTests {
  @Test func aStopFileIsConsumedByTheLaunchItStops() throws {
    let folder = try temporaryFolder("stop")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(stoppableJob(steps: 3000, output: "out"), in: folder)
    let out = folder.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    // A stop file made before the launch stops it at once (and is consumed).
    #expect(FileManager.default.createFile(atPath: out.appendingPathComponent("STOP").path, contents: nil))
    let first = try mfsweep(["run", job], in: folder)
    #expect(first.status == 3, "\(first.stdout) \(first.stderr)")
    #expect(first.stdout.contains("stop file STOP consumed"), "\(first.stdout)")
    #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("STOP").path))
    #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("STOP.consumed").path))
    #expect(try mfsweep(["status", "out", "--check"], in: folder).status == 3)
    // The next launch is not stopped by the consumed file and finishes the sweep.
    let second = try mfsweep(["run", job], in: folder)
    #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
    #expect(try mfsweep(["status", "out", "--check"], in: folder).status == 0)
    // The same for one task's stop file.
    let other = try writeJob(stoppableJob(steps: 3000, output: "two"), named: "two.yaml", in: folder)
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("two"), withIntermediateDirectories: true)
    #expect(
      FileManager.default.createFile(atPath: folder.appendingPathComponent("two/STOP-task-0001").path, contents: nil))
    let untouched = try mfsweep(["run", other, "--array-task", "0", "--array-count", "2"], in: folder)
    #expect(untouched.status == 0, "\(untouched.stderr)")
    let stopped = try mfsweep(["run", other, "--array-task", "1", "--array-count", "2"], in: folder)
    #expect(stopped.status == 3 && stopped.stdout.contains("STOP-task-0001 consumed"), "\(stopped.stdout)")
    #expect(try mfsweep(["run", other, "--array-task", "1", "--array-count", "2"], in: folder).status == 0)
  }
}

extension StopFileTests {
  /// Two array tasks running at once both stop on one `STOP`, though the first to stop
  /// consumes it: the consumed file still stops launches that were running when it was made.
  @Test func oneStopFileStopsEveryRunningTask() throws {
    let folder = try temporaryFolder("stop-two")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(stoppableJob(steps: 400_000, output: "out"), in: folder)
    var launches = [Process]()
    for t in 0..<2 {
      let log = folder.appendingPathComponent("launch-\(t).err")
      launches.append(
        try startMfsweep(["run", job, "--array-task", String(t), "--array-count", "2"], in: folder, errorLog: log))
    }
    let out = folder.appendingPathComponent("out")
    // Both launches hold their task's lock once they run.
    for _ in 0..<600 {
      let locks = out.appendingPathComponent("store/locks").path
      let names = (try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? []
      let held = names.filter {
        if case .held = FolderLock.inspect(path: locks + "/" + $0) { return true } else { return false }
      }
      if held.count == 2 { break }
      Thread.sleep(forTimeInterval: 0.05)
    }
    Thread.sleep(forTimeInterval: 0.5)
    #expect(FileManager.default.createFile(atPath: out.appendingPathComponent("STOP").path, contents: nil))
    for p in launches { p.waitUntilExit() }
    let logs = (0..<2).map {
      (try? String(contentsOf: folder.appendingPathComponent("launch-\($0).err"), encoding: .utf8)) ?? ""
    }
    #expect(launches.map(\.terminationStatus) == [3, 3], "\(logs)")
    #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("STOP").path))
    #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("STOP.consumed").path))
  }
}

/// Full and read-only file systems, made by the test as a small tmpfs (root only; removed after).
@Suite(.serialized, .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct FullAndReadOnlyDiskTests {
  func mount(_ folder: URL, size: String) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let r = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", folder.path])
    guard r.status == 0 else { throw TestFailure("mount: \(r.stderr)") }
  }

  func unmount(_ folder: URL) { _ = try? runProcess("/bin/umount", [folder.path]) }

  func remountReadOnly(_ folder: URL) throws {
    let r = try runProcess("/bin/mount", ["-o", "remount,ro", folder.path])
    guard r.status == 0 else { throw TestFailure("remount: \(r.stderr)") }
  }

  /// A folder with a tmpfs `disk/` of 8 MiB holding a completed, aggregated sweep `disk/out`;
  /// `body` gets the folder, the disk and the job file; the disk is unmounted after.
  func withCompletedSweepOnATmpfs(_ name: String, _ body: (URL, URL, String) throws -> Void) throws {
    let folder = try temporaryFolder(name)
    defer { try? FileManager.default.removeItem(at: folder) }
    let disk = folder.appendingPathComponent("disk")
    try mount(disk, size: "8m")
    defer { unmount(disk) }
    let job = try writeJob(stoppableJob(steps: 100, output: "disk/out"), in: folder)
    #expect(try mfsweep(["run", job], in: folder).status == 0)
    #expect(try mfsweep(["aggregate", "disk/out"], in: folder).status == 0)
    try body(folder, disk, job)
  }

  @Test func aTooSmallDiskIsRefusedBeforeAnythingIsCreated() throws {
    let folder = try temporaryFolder("full")
    defer { try? FileManager.default.removeItem(at: folder) }
    let disk = folder.appendingPathComponent("disk")
    try mount(disk, size: "64k")
    defer { unmount(disk) }
    let job = try writeJob(stoppableJob(steps: 100, output: "disk/out"), in: folder)
    let r = try mfsweep(["run", job], in: folder)
    #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
    #expect(r.stderr.contains("free") && r.stderr.contains("disk/out"), "\(r.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: disk.path).isEmpty)
  }

  @Test func aCompleteOutputOnAReadOnlyDiskIsNeverCalledDamaged() throws {
    try withCompletedSweepOnATmpfs("readonly") { folder, disk, job in
      let before = try Data(contentsOf: disk.appendingPathComponent("out/summary.csv"))
      try remountReadOnly(disk)
      let rerun = try mfsweep(["run", job], in: folder)
      #expect(rerun.status == 2, "\(rerun.stderr)")
      #expect(rerun.stderr.contains("read-only file system") && !rerun.stderr.contains("damaged:"), "\(rerun.stderr)")
      #expect(!rerun.stderr.contains("move it away"), "\(rerun.stderr)")
      let status = try mfsweep(["status", "disk/out", "--check"], in: folder)
      #expect(status.status == 0, "\(status.stderr)")
      let aggregate = try mfsweep(["aggregate", "disk/out"], in: folder)
      #expect(aggregate.status == 2 && aggregate.stderr.contains("--into"), "\(aggregate.stderr)")
      #expect(!aggregate.stderr.contains("NSCocoaErrorDomain"), "\(aggregate.stderr)")
      let elsewhere = try mfsweep(["aggregate", "disk/out", "--into", "summary"], in: folder)
      #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
      #expect(try Data(contentsOf: folder.appendingPathComponent("summary/summary.csv")) == before)
    }
  }

  @Test func aggregateOnAFullDiskKeepsThePreviousSummary() throws {
    try withCompletedSweepOnATmpfs("fullsummary") { folder, disk, job in
      let csv = disk.appendingPathComponent("out/summary.csv")
      let before = try Data(contentsOf: csv)
      // Fill the disk.
      _ = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(disk.path)/filler", "bs=64k"])
      let r = try mfsweep(["aggregate", "disk/out"], in: folder)
      #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
      #expect(r.stderr.contains("is full") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r.stderr)")
      #expect(try Data(contentsOf: csv) == before)
      let names = try FileManager.default.contentsOfDirectory(atPath: disk.appendingPathComponent("out").path)
      #expect(!names.contains { $0.hasSuffix(".partial") }, "\(names)")
      // Space freed: the same command works again.
      try FileManager.default.removeItem(atPath: "\(disk.path)/filler")
      #expect(try mfsweep(["aggregate", "disk/out"], in: folder).status == 0)
    }
  }
}

/// A run with a reference PDE: SIGTERM is seen within one particle step (the PDE's interval to
/// the next sample is spread over the steps before it), and the resumed run's PDE metrics are
/// bitwise those of an uninterrupted run (its PDE replays the sample intervals in order).
@Suite(.serialized) struct ReferenceInterruptionTests {
  static let job = """
    model: { kind: potential, dimension: 1, potential: { kind: double-well } }
    dynamics: { kind: overdamped, step: 0.001, steps: 4000, temperature: 0.1 }
    particles: 2000
    init: { kind: gaussian, mean: 0.5, std: 0.3 }
    diagnostics: { every: 1000, metrics: [l1-to-pde, w2-to-pde-marginal] }
    reference: { kind: fokker-planck, lower: -2.5, upper: 2.5, cells: 3000 }
    checkpoint: { every: 300 }
    parallel: { threads: 1 }

    """

  func metrics(_ path: String) throws -> [String: [UInt64]] {
    let reader = try TaskFile(path: path)
    var out = [String: [UInt64]]()
    for name in try reader.metricNames() {
      out[name] = try reader.metric(run: "r00000", name: name).map(\.bitPattern)
    }
    return out
  }

  @Test func sigtermStopsWithinAStepAndTheResumeIsBitwise() throws {
    let folder = try temporaryFolder("reference-stop")
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = try writeJob(Self.job, in: folder)
    #expect(try mfsweep(["run", path, "--output", "whole"], in: folder).status == 0)
    let expected = try metrics(folder.appendingPathComponent("whole/task-0000-of-0001.h5").path)
    #expect(expected["l1-to-pde"]?.count == 5)

    let p = try startMfsweep(["run", path, "--output", "cut"], in: folder)
    let file = folder.appendingPathComponent("cut/task-0000-of-0001.h5").path
    waitForFile(folder.appendingPathComponent("cut/store/locks/task-0000-of-0001.lock").path)
    Thread.sleep(forTimeInterval: 0.4)
    kill(p.processIdentifier, SIGTERM)
    p.waitUntilExit()
    #expect(p.terminationStatus == 3)
    let stopped = try SweepState(output: folder.appendingPathComponent("cut").path).run(0)
    #expect(stopped.status == "interrupted")
    // Stopped between samples, not after the PDE had caught up with the next one.
    #expect(stopped.stepsDone % 1000 != 0, "stopped at step \(stopped.stepsDone)")
    let resumed = try mfsweep(["run", path, "--output", "cut"], in: folder)
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(try metrics(file) == expected)
  }
}
