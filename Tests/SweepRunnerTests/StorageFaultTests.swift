import Foundation
import MeanFieldCore
import ParallelRuntime
import SweepRunner
import SweepStore
import Testing

/// A sweep of four short runs with two snapshots each.
private func fourRuns(output: String, steps: Int = 60, checkpointEvery: Int? = nil, seeds: [Int] = [1, 2, 3, 4])
  -> String
{
  """
  name: four
  model: { kind: potential, dimension: 2, potential: { kind: double-well } }
  dynamics: { kind: overdamped, step: 0.005, steps: \(steps), temperature: 0.2 }
  particles: 300
  diagnostics: { every: 20, metrics: [loss, mean], snapshots-every: \(steps / 2) }
  parallel: { threads: 1, block-size: 64 }
  \(checkpointEvery.map { "checkpoint: { every: \($0) }" } ?? "")
  sweep: { grid: { seed: [\(seeds.map(String.init).joined(separator: ", "))] } }
  output: \(output)

  """
}

/// Copies a folder tree.
private func copyTree(_ from: URL, _ to: URL) throws {
  try? FileManager.default.removeItem(at: to)
  try FileManager.default.copyItem(at: from, to: to)
}

/// The journals of an output folder.
private func journals(_ output: URL) throws -> [URL] {
  let store = output.appendingPathComponent("store")
  return try FileManager.default.contentsOfDirectory(atPath: store.path).filter {
    $0.hasSuffix(".mfj") && $0.hasPrefix("journal-")
  }
  .sorted().map { store.appendingPathComponent($0) }
}

/// Damage of a stored file: truncation, random bytes, one flipped bit.
private enum Damage: CustomStringConvertible {
  case truncate(fraction: Double)
  case randomBytes(seed: UInt64)
  case flipBit(seed: UInt64)

  var description: String {
    switch self {
    case .truncate(let f): return "truncated at \(f)"
    case .randomBytes(let s): return "64 random bytes (seed \(s))"
    case .flipBit(let s): return "one flipped bit (seed \(s))"
    }
  }

  func apply(to url: URL) throws {
    var data = try Data(contentsOf: url)
    switch self {
    case .truncate(let f):
      data = data.prefix(max(0, min(data.count - 1, Int(Double(data.count) * f))))
    case .randomBytes(let seed):
      var g = SplitMix(seed: seed)
      let at = g.below(max(1, data.count - 64))
      for i in 0..<min(64, data.count - at) { data[at + i] = UInt8(truncatingIfNeeded: g.next()) }
    case .flipBit(let seed):
      var g = SplitMix(seed: seed)
      let at = g.below(data.count)
      data[at] ^= UInt8(1 << g.below(8))
    }
    try data.write(to: url)
  }
}

/// The store's damage handling, from the outside: no completed run is lost or changed.
@Suite(.serialized) struct StorageFaultTests {
  /// Truncation at many offsets, random bytes and single bit flips in the journal of a completed
  /// sweep: `status --check` names the damage and exits 3, `aggregate` keeps the intact runs, and
  /// the same `run` command recomputes exactly the damaged ones, bitwise equal to an undamaged
  /// sweep.
  @Test func damagedJournalsAreDetectedAndRecomputed() throws {
    let folder = try temporaryFolder("damage")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(fourRuns(output: "pristine"), in: folder)
    #expect(try mfsweep(["run", job], in: folder).status == 0)
    let pristine = folder.appendingPathComponent("pristine")
    let expected = try TaskFile(path: pristine.appendingPathComponent("task-0000-of-0001.h5").path).contents()
    let cases: [Damage] =
      [0.05, 0.3, 0.55, 0.8, 0.999].map { .truncate(fraction: $0) } + (1...4).map { .randomBytes(seed: $0) }
      + (1...6).map { .flipBit(seed: $0) }
    for damage in cases {
      let out = folder.appendingPathComponent("out")
      try copyTree(pristine, out)
      let files = try journals(out)
      #expect(files.count == 1)
      try damage.apply(to: files[0])
      let status = try mfsweep(["status", "out", "--check"], in: folder)
      let named =
        status.stdout.contains("damaged") || status.stdout.contains("no intact record")
        || status.stdout.contains("pending")
      #expect(named, "\(damage): \(status.stdout)")
      #expect(
        status.status == 3 || (status.status == 0 && status.stdout.contains("store:")),
        "\(damage): status \(status.status) \(status.stdout)")
      let aggregate = try mfsweep(["aggregate", "out"], in: folder)
      #expect(aggregate.status == 0, "\(damage): \(aggregate.stderr)")
      let rerun = try mfsweep(["run", job, "--output", "out"], in: folder)
      #expect(rerun.status == 0, "\(damage): \(rerun.stderr)")
      let actual = try TaskFile(path: out.appendingPathComponent("task-0000-of-0001.h5").path).contents()
      expectSameContents(actual, expected, "\(damage):")
      #expect(try mfsweep(["status", "out", "--check"], in: folder).status == 0, "\(damage)")
    }
  }

  /// A damaged checkpoint is never used: a resume takes the other slot, or restarts the run,
  /// and the result is bitwise that of an uninterrupted run.
  @Test(arguments: [1, 2])
  func damagedCheckpointsFallBack(damagedSlots: Int) throws {
    let folder = try temporaryFolder("checkpoint-damage")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(fourRuns(output: "out", steps: 200_000, checkpointEvery: 5_000, seeds: [1]), in: folder)
    #expect(try mfsweep(["run", job, "--output", "whole"], in: folder).status == 0)
    let expected = try TaskFile(path: folder.appendingPathComponent("whole/task-0000-of-0001.h5").path).contents()
    // Run until a run has written both checkpoint slots, then stop the launch.
    let p = try startMfsweep(["run", job], in: folder)
    let checkpoints = folder.appendingPathComponent("out/store/checkpoints")
    var run: URL? = nil
    for _ in 0..<1200 {
      if let name = try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path).first {
        let dir = checkpoints.appendingPathComponent(name)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        if files.contains("slot0.manifest") && files.contains("slot1.manifest") {
          run = dir
          break
        }
      }
      Thread.sleep(forTimeInterval: 0.02)
    }
    // SIGTERM, seen at the next step (a stop file is looked for once a second, and on a fast
    // machine the run finished first: 5 s in all, the two slots written in its first 5%).
    p.terminate()
    p.waitUntilExit()
    #expect(p.terminationStatus == 3)
    guard let run else {
      Issue.record("no run wrote two checkpoint slots")
      return
    }
    // Damage the newest slot's part (or both slots' parts).
    let parts = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasSuffix(".part") }
    let dated = try parts.map {
      (
        $0,
        try FileManager.default.attributesOfItem(atPath: run.appendingPathComponent($0).path)[.modificationDate]
          as! Date
      )
    }
    .sorted { $0.1 > $1.1 }
    for (name, _) in dated.prefix(damagedSlots) {
      try Damage.flipBit(seed: 7).apply(to: run.appendingPathComponent(name))
    }
    let resumed = try mfsweep(["run", job], in: folder)
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("checkpoint not used"), "\(resumed.stdout)")
    #expect(
      resumed.stdout.contains(damagedSlots == 1 ? "resumed from the other slot" : "restarted from step 0"),
      "\(resumed.stdout)")
    let actual = try TaskFile(path: folder.appendingPathComponent("out/task-0000-of-0001.h5").path).contents()
    expectSameContents(actual, expected)
  }

  /// Two launches into one folder: the second is refused at once, naming the first (host, pid,
  /// start); after the first ends, the next launch runs. A launch split into another number of
  /// tasks is refused while one runs.
  @Test func twoLaunchesAtOnceAndStaggered() throws {
    let folder = try temporaryFolder("two-launches")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(fourRuns(output: "out", steps: 400_000), in: folder)
    let first = try startMfsweep(["run", job], in: folder)
    let lock = folder.appendingPathComponent("out/store/locks/task-0000-of-0001.lock").path
    for _ in 0..<600 {
      if case .held = FolderLock.inspect(path: lock) { break }
      Thread.sleep(forTimeInterval: 0.02)
    }
    let started = Date()
    let second = try mfsweep(["run", job], in: folder)
    #expect(second.status == 2, "\(second.stdout) \(second.stderr)")
    #expect(
      second.stderr.contains("in use by a launch on host") && second.stderr.contains("pid \(first.processIdentifier)"),
      "\(second.stderr)")
    #expect(Date().timeIntervalSince(started) < 10)
    let split = try mfsweep(["run", job, "--array-task", "1", "--array-count", "2"], in: folder)
    #expect(split.status == 2 && split.stderr.contains("cannot run beside it"), "\(split.stderr)")
    let status = try mfsweep(["status", "out"], in: folder)
    #expect(
      status.stdout.contains("running: host") && status.stdout.contains("pid \(first.processIdentifier)"),
      "\(status.stdout)")
    #expect(FileManager.default.createFile(atPath: folder.appendingPathComponent("out/STOP").path, contents: nil))
    first.waitUntilExit()
    #expect(first.terminationStatus == 3)
    // Staggered: the lock is free again.
    let after = try mfsweep(["status", "out"], in: folder)
    #expect(
      after.stdout.contains("not running (last launch") && !after.stdout.contains(" running: "), "\(after.stdout)")
    let short = try writeJob(fourRuns(output: "out", steps: 60), named: "short.yaml", in: folder)
    let third = try mfsweep(["run", short], in: folder)
    #expect(third.status == 0, "\(third.stderr)")
  }

  /// SIGKILL of mpirun, then of one rank: `status` never calls the dead launch's runs running,
  /// and the same command completes the sweep with the results of an uninterrupted one.
  @Test func sigkillOfMpirunOrOfOneRank() throws {
    guard let mpirun = findInPath("mpirun") else { throw TestFailure("mpirun is not on PATH") }
    let folder = try temporaryFolder("sigkill")
    defer { try? FileManager.default.removeItem(at: folder) }
    let job = try writeJob(fourRuns(output: "out", steps: 200_000, checkpointEvery: 5_000), in: folder)
    #expect(try mpirunMfsweep(np: 2, ["run", job, "--output", "whole"], in: folder).status == 0)
    let expected = try TaskFile(path: folder.appendingPathComponent("whole/task-0000-of-0001.h5").path).contents()
    // Each victim has a folder of its own, so the rank to kill is always mid-sweep (in one
    // folder, the orphans of the killed mpirun sometimes finished the sweep first on a loaded
    // machine, leaving no rank to kill).
    for victim in ["mpirun", "rank"] {
      let out = "out-\(victim)"
      let p = Process()
      p.executableURL = URL(fileURLWithPath: mpirun)
      p.arguments = ["-np", "2", try mfsweepPath(), "run", job, "--output", out]
      p.currentDirectoryURL = folder
      p.environment = childEnvironment(sessionRoot: FileManager.default.temporaryDirectory)
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      let lock = folder.appendingPathComponent("\(out)/store/locks/task-0000-of-0001.lock").path
      for _ in 0..<600 {
        if case .held = FolderLock.inspect(path: lock) { break }
        Thread.sleep(forTimeInterval: 0.02)
      }
      Thread.sleep(forTimeInterval: 1.0)
      if victim == "mpirun" {
        kill(p.processIdentifier, SIGKILL)
      } else {
        // A rank: a process whose parent is mpirun.
        let ranks = childProcesses(of: p.processIdentifier)
        #expect(!ranks.isEmpty)
        if let rank = ranks.last { kill(rank, SIGKILL) }
      }
      p.waitUntilExit()
      // The orphaned ranks of a killed mpirun stop within seconds (they watch their parent);
      // wait for the lock to free.
      for _ in 0..<1500 {
        if case .free = FolderLock.inspect(path: lock) { break }
        Thread.sleep(forTimeInterval: 0.02)
      }
      let status = try mfsweep(["status", out], in: folder)
      #expect(status.status == 0, "\(status.stderr)")
      let lines = status.stdout.split(separator: "\n")
      #expect(lines.contains { $0.hasPrefix("0 ") && $0.contains("not running") }, "\(victim): \(status.stdout)")
      let state = try SweepState(output: folder.appendingPathComponent(out).path)
      for i in 0..<4 { #expect(try state.run(i).status != "running", "\(victim): run \(i) called running") }
      let final = try mpirunMfsweep(np: 2, ["run", job, "--output", out], in: folder)
      #expect(final.status == 0, "\(victim): \(final.stderr)")
      let actual = try TaskFile(path: folder.appendingPathComponent("\(out)/task-0000-of-0001.h5").path).contents()
      expectSameContents(actual, expected, "\(victim):")
    }
  }

  /// A folder of mfsweep/1 results is refused by run, status and aggregate, naming both
  /// schemas; nothing in it is changed.
  @Test func version1FoldersAreRefused() throws {
    let folder = try temporaryFolder("v1")
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let old = try H5File.createReplacing(path: out.appendingPathComponent("task-0000-of-0001.h5").path)
    try old.root.setAttribute("schema", .string("mfsweep/1"))
    try old.close()
    let before = try Data(contentsOf: out.appendingPathComponent("task-0000-of-0001.h5"))
    let job = try writeJob(fourRuns(output: "out"), in: folder)
    for arguments in [["run", job], ["status", "out"], ["aggregate", "out"]] {
      let r = try mfsweep(arguments, in: folder)
      #expect(r.status == 2, "\(arguments): \(r.stdout) \(r.stderr)")
      #expect(r.stderr.contains("schema mfsweep/1") && r.stderr.contains("mfsweep/2"), "\(arguments): \(r.stderr)")
    }
    #expect(try Data(contentsOf: out.appendingPathComponent("task-0000-of-0001.h5")) == before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["task-0000-of-0001.h5"])
  }
}

/// Process ids whose parent is `parent` (from /proc).
func childProcesses(of parent: Int32) -> [Int32] {
  let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  return entries.compactMap { Int32($0) }.filter { pid in
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return false }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 2 && Int32(fields[1]) == parent
  }.sorted()
}

/// A full disk in the middle of a launch (a tmpfs made by the test): every rank stops within
/// seconds with a clear message and status 2; the runs completed before stay complete; after
/// space is freed the same command finishes the sweep with the results of an unhindered one.
@Suite(.serialized, .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct FullDiskMidRunTests {
  @Test func aDiskThatFillsMidLaunch() throws {
    let folder = try temporaryFolder("fill")
    defer { try? FileManager.default.removeItem(at: folder) }
    let disk = folder.appendingPathComponent("disk")
    try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
    let mount = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", disk.path])
    guard mount.status == 0 else { throw TestFailure("mount: \(mount.stderr)") }
    defer { _ = try? runProcess("/bin/umount", [disk.path]) }
    // Eight runs of about 1.5 s, 2.4 MB of snapshots each.
    let text = """
      name: fill
      model: { kind: potential, dimension: 2, potential: { kind: double-well } }
      dynamics: { kind: overdamped, step: 0.001, steps: 1500, temperature: 0.2 }
      particles: 20000
      diagnostics: { every: 500, metrics: [loss], snapshots-every: 500 }
      parallel: { threads: 1 }
      sweep: { grid: { seed: [1, 2, 3, 4, 5, 6, 7, 8] } }
      output: disk/out

      """
    let job = try writeJob(text, in: folder)
    #expect(try mpirunMfsweep(np: 2, ["run", job, "--output", "whole"], in: folder).status == 0)
    let expected = try TaskFile(path: folder.appendingPathComponent("whole/task-0000-of-0001.h5").path).contents()
    guard let mpirun = findInPath("mpirun") else { throw TestFailure("mpirun is not on PATH") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: mpirun)
    p.arguments = ["-np", "2", try mfsweepPath(), "run", job]
    p.currentDirectoryURL = folder
    p.environment = childEnvironment(sessionRoot: FileManager.default.temporaryDirectory)
    let err = Pipe()
    p.standardOutput = FileHandle.nullDevice
    p.standardError = err
    try p.run()
    // Wait for two completed runs, then fill the disk.
    let out = disk.appendingPathComponent("out")
    for _ in 0..<1500 {
      if let state = try? SweepState(output: out.path),
        (0..<8).filter({ (try? state.run($0))?.result != nil }).count >= 2
      {
        break
      }
      Thread.sleep(forTimeInterval: 0.02)
    }
    let filled = Date()
    _ = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(disk.path)/filler", "bs=64k"])
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(Date().timeIntervalSince(filled) < 30, "the launch took \(Date().timeIntervalSince(filled)) s to stop")
    #expect(p.terminationStatus == 2, "exit \(p.terminationStatus): \(stderr)")
    #expect(stderr.contains("is full") && stderr.contains("every run completed before is kept"), "\(stderr)")
    // The completed runs are intact.
    let state = try SweepState(output: out.path)
    var completed = 0
    for i in 0..<8 {
      let run = try state.run(i, verify: true)
      #expect(run.damage == nil)
      if run.result != nil { completed += 1 }
    }
    #expect(completed >= 2 && completed < 8, "\(completed) runs completed")
    // Space freed: the same command resumes and finishes, bitwise as an unhindered sweep.
    try FileManager.default.removeItem(atPath: "\(disk.path)/filler")
    let resumed = try mpirunMfsweep(np: 2, ["run", job], in: folder)
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("\(completed) already finished (kept)"), "\(resumed.stdout)")
    let actual = try TaskFile(path: out.appendingPathComponent("task-0000-of-0001.h5").path).contents()
    expectSameContents(actual, expected)
  }
}

/// A sweep driven in one process with `SerialCommunicator`: the run layer needs no MPI.
@Suite(.serialized) struct InProcessSweepTests {
  @Test func aSweepRunsAndResumesInProcess() throws {
    let folder = try temporaryFolder("in-process")
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("out").path
    let job = try Job.parse(text: fourRuns(output: output), file: folder.appendingPathComponent("job.yaml").path)
    var lines = [String]()
    let driver = SweepDriver(job: job, options: RunOptions(), world: SerialCommunicator())
    let result = try driver.run { lines.append($0) }
    #expect(result.outcomes.count == 4 && result.outcomes.allSatisfy { $0.1.status == .completed })
    #expect(result.storageFailure == nil && !result.interrupted)
    let view = try TaskFile(path: driver.taskView)
    #expect(try view.statusTable().map(\.status) == ["completed", "completed", "completed", "completed"])
    #expect(try view.snapshotCount(run: "r00002") == 3)
    // The second launch keeps every run.
    let again = try SweepDriver(job: job, options: RunOptions(), world: SerialCommunicator()).run { lines.append($0) }
    #expect(again.outcomes.isEmpty)
    #expect(lines.contains { $0.contains("4 already finished (kept), 0 to run") }, "\(lines)")
  }
}

/// `aggregate A B` merges output folders; the same run twice is kept once; two different
/// results under one identity are refused.
@Suite(.serialized) struct MergeTests {
  @Test func foldersMergeAndClashesAreRefused() throws {
    let folder = try temporaryFolder("merge")
    defer { try? FileManager.default.removeItem(at: folder) }
    let a = try writeJob(fourRuns(output: "a"), named: "a.yaml", in: folder)
    let b = try writeJob(fourRuns(output: "b", seeds: [3, 4, 5, 6]), named: "b.yaml", in: folder)
    #expect(try mfsweep(["run", a], in: folder).status == 0)
    #expect(try mfsweep(["run", b], in: folder).status == 0)
    let merged = try mfsweep(["aggregate", "a", "b", "--into", "both"], in: folder)
    #expect(merged.status == 0, "\(merged.stderr)")
    #expect(merged.stdout.contains(": 6 runs"), "\(merged.stdout)")
    let view = try TaskFile(path: folder.appendingPathComponent("both/summary.h5").path)
    #expect(try view.reader.strings("folder") == ["a", "a", "a", "a", "b", "b"])
    #expect(try view.reader.ints("seed") == [1, 2, 3, 4, 5, 6])
    // A different result under run r00000's identity in a copy of `a`.
    try FileManager.default.copyItem(at: folder.appendingPathComponent("a"), to: folder.appendingPathComponent("c"))
    let state = try SweepState(output: folder.appendingPathComponent("c").path)
    var result = try #require(try state.run(0).result)
    result.metrics[0].values[0] += 1
    let journal = JournalWriter(path: folder.appendingPathComponent("c/store/journal-forged-00000.mfj").path)
    try journal.append(kind: .result, key: result.key, attempt: 1, payload: result.encoded())
    try journal.close()
    let clash = try mfsweep(["aggregate", "a", "c", "--into", "clash"], in: folder)
    #expect(clash.status == 2, "\(clash.stdout) \(clash.stderr)")
    #expect(clash.stderr.contains("different results in a and c"), "\(clash.stderr)")
  }
}

/// Path splitting that does not trap on short relative paths (Foundation's does on "a").
@Test func parentFoldersOfShortPaths() {
  #expect(parentFolder("a") == "")
  #expect(parentFolder("a/b") == "a")
  #expect(parentFolder("/a") == "/")
  #expect(parentFolder("a/b/") == "a")
  #expect(parentFolder("/x//y") == "/x")
  #expect(parentFolder("") == "")
}
