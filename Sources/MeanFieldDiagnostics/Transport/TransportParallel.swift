import Dispatch

/// Deterministic fork–join over a fixed partition of work items.
///
/// The items `0..<count` are cut into chunks of `chunkSize` that do not depend on the thread
/// count; each chunk is processed by exactly one thread, and every per-item output is written
/// by the chunk that owns it. Callers that reduce combine per-chunk partials in chunk order
/// afterwards, so results are bitwise identical for any number of threads.
enum TransportParallel {
  /// Runs `body(chunkRange)` for every chunk, over at most `threads` threads.
  static func forEachChunk(
    count: Int, chunkSize: Int, threads: Int, _ body: (Range<Int>) -> Void
  ) {
    let chunks = (count + chunkSize - 1) / chunkSize
    let workers = max(1, min(threads, chunks))
    if workers == 1 {
      for c in 0..<chunks { body((c * chunkSize)..<min(count, (c + 1) * chunkSize)) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let box = TransportUncheckedBox(body)
      // Worker w takes chunks w, w + workers, ...: a static schedule, so which thread runs a
      // chunk never affects what the chunk computes.
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        var c = w
        while c < chunks {
          box.value((c * chunkSize)..<min(count, (c + 1) * chunkSize))
          c += workers
        }
      }
    }
  }
}

/// Carries a non-Sendable value into a concurrent region whose accesses are disjoint.
struct TransportUncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
