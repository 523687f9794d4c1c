/// Who runs what: the share of an array task, and the split of a task's runs over rank groups.
///
/// Both are computed without communication from the job alone, so every rank (and
/// `mfsweep plan`) arrives at the same answer: runs sorted by estimated cost, largest first
/// (ties by index), each placed on the currently least loaded bin (ties to the lowest bin).
public struct SweepPlan: Sendable {
  /// Run indices of every task, each in ascending order.
  public let tasks: [[Int]]

  /// Shares the runs of `job` among `taskCount` array tasks.
  public init(costs: [Double], taskCount: Int) {
    tasks = Self.longestFirst(costs: costs, items: Array(costs.indices), bins: taskCount)
  }

  /// Longest-processing-time-first assignment of `items` (with `costs[item]`) onto `bins`.
  public static func longestFirst(costs: [Double], items: [Int], bins: Int) -> [[Int]] {
    precondition(bins >= 1)
    let order = items.sorted { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }
    var load = [Double](repeating: 0, count: bins)
    var out = [[Int]](repeating: [], count: bins)
    for item in order {
      var best = 0
      for b in 1..<bins where load[b] < load[best] { best = b }
      out[best].append(item)
      load[best] += costs[item]
    }
    return out.map { $0.sorted() }
  }
}

extension SweepPlan {
  /// The runs of array task `task` of `count`, then their split over the rank groups of a
  /// world of `worldSize` ranks.
  public static func plan(job: Job, task: Int, count: Int, worldSize: Int) -> (taskRuns: [Int], groups: [[Int]]) {
    let costs = job.runs.map(\.configuration.cost)
    let share = SweepPlan(costs: costs, taskCount: count).tasks[task]
    let groupCount = max(1, worldSize / job.parallel.ranksPerRun)
    return (share, SweepPlan.longestFirst(costs: costs, items: share, bins: groupCount))
  }
}
