import Dispatch
import Foundation

/// Work the pool hands to its threads without a closure (a closure crossing threads allocates
/// its context on every call).
public protocol PoolWorker: AnyObject {
  /// Does participant `index`'s share.
  func poolWork(_ index: Int)
}

/// A fixed set of threads that run one body on every index `0..<count` and wait for each other,
/// without allocating per use (Dispatch's `concurrentPerform` allocates on every call).
///
/// The caller's thread takes index 0; the others are persistent threads started once and
/// stopped when the pool is released.
public final class WorkerPool: @unchecked Sendable {
  /// Number of participants (including the caller).
  public let count: Int
  private let state: State

  /// What the threads share. The threads hold it strongly, so it outlives the pool until the
  /// last thread has left.
  private final class State: @unchecked Sendable {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let start = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var generation = 0
    var pending = 0
    var stopping = false
    /// The body of the current run, as the address of a `(Int) -> Void` on the caller's stack
    /// (storing the closure itself in a property would allocate its context on every call).
    var body: UnsafeRawPointer?
    var worker: PoolWorker?

    init() {
      pthread_mutex_init(mutex, nil)
      pthread_cond_init(start, nil)
      pthread_cond_init(done, nil)
    }

    deinit {
      pthread_cond_destroy(start)
      pthread_cond_destroy(done)
      pthread_mutex_destroy(mutex)
      mutex.deallocate()
      start.deallocate()
      done.deallocate()
    }

    func work(_ index: Int) {
      var seen = 0
      while true {
        pthread_mutex_lock(mutex)
        while generation == seen && !stopping { pthread_cond_wait(start, mutex) }
        if stopping {
          pthread_mutex_unlock(mutex)
          return
        }
        seen = generation
        let task = body
        let object = worker
        pthread_mutex_unlock(mutex)
        if let object {
          object.poolWork(index)
        } else if let task {
          task.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
        }
        pthread_mutex_lock(mutex)
        pending -= 1
        if pending == 0 { pthread_cond_signal(done) }
        pthread_mutex_unlock(mutex)
      }
    }
  }

  /// A pool of `count` participants (`count − 1` threads are started).
  public init(count: Int) {
    self.count = max(1, count)
    state = State()
    for index in 1..<self.count {
      let shared = state
      let thread = Thread { shared.work(index) }
      thread.stackSize = 1 << 22
      thread.start()
    }
  }

  deinit {
    pthread_mutex_lock(state.mutex)
    state.stopping = true
    pthread_cond_broadcast(state.start)
    pthread_mutex_unlock(state.mutex)
  }

  /// Runs `worker.poolWork(i)` for every `i` in `0..<count`, concurrently, and returns when
  /// all are done. Allocates nothing.
  public func run(worker: PoolWorker) {
    if count == 1 {
      worker.poolWork(0)
      return
    }
    let s = state
    pthread_mutex_lock(s.mutex)
    s.worker = worker
    s.pending = count - 1
    s.generation += 1
    pthread_cond_broadcast(s.start)
    pthread_mutex_unlock(s.mutex)
    worker.poolWork(0)
    pthread_mutex_lock(s.mutex)
    while s.pending > 0 { pthread_cond_wait(s.done, s.mutex) }
    s.worker = nil
    pthread_mutex_unlock(s.mutex)
  }

  /// Runs `body(i)` for every `i` in `0..<count`, concurrently, and returns when all are done.
  /// (May allocate the closure's context; use ``run(worker:)`` on hot paths.)
  public func run(_ body: (Int) -> Void) {
    if count == 1 {
      body(0)
      return
    }
    let s = state
    withoutActuallyEscaping(body) { escapable in
      var stored = escapable
      withUnsafePointer(to: &stored) { pointer in
        pthread_mutex_lock(s.mutex)
        s.body = UnsafeRawPointer(pointer)
        s.pending = count - 1
        s.generation += 1
        pthread_cond_broadcast(s.start)
        pthread_mutex_unlock(s.mutex)
        escapable(0)
        pthread_mutex_lock(s.mutex)
        while s.pending > 0 { pthread_cond_wait(s.done, s.mutex) }
        s.body = nil
        pthread_mutex_unlock(s.mutex)
      }
    }
  }
}

/// Deterministic fork–join over a fixed partition of work items (the diagnostics' parallel
/// loops; the engine's steps use a ``WorkerPool``, which dispatches without allocating).
///
/// The items are cut into chunks that do not depend on the thread count; each chunk is
/// processed by exactly one thread and writes only its own outputs. Callers that reduce
/// combine per-chunk partials in chunk order afterwards, so results are bitwise identical for
/// any number of threads.
public enum Parallel {
  /// Runs `body(chunkRange)` for every chunk of `chunkSize` items of `0..<count`, over at most
  /// `threads` threads (worker w takes chunks w, w + workers, …: a static schedule).
  @inlinable
  public static func forEachChunk(count: Int, chunkSize: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    let chunks = (count + chunkSize - 1) / chunkSize
    let workers = max(1, min(threads, chunks))
    if workers == 1 {
      for c in 0..<chunks { body((c * chunkSize)..<min(count, (c + 1) * chunkSize)) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let shared = UncheckedSendable(body)
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        var c = w
        while c < chunks {
          shared.value((c * chunkSize)..<min(count, (c + 1) * chunkSize))
          c += workers
        }
      }
    }
  }

  /// Runs `body(chunk, range)` over `chunks` contiguous, nearly equal ranges covering
  /// `0..<count`, concurrently when `chunks > 1`. Every index belongs to exactly one chunk
  /// whatever the chunk count.
  @inlinable
  public static func forEachRange(count: Int, chunks: Int, _ body: (Int, Range<Int>) -> Void) {
    if chunks <= 1 || count <= 1 {
      body(0, 0..<count)
      return
    }
    withoutActuallyEscaping(body) { escapable in
      // The workers touch disjoint outputs through raw pointers; the caller guarantees that.
      let shared = UncheckedSendable(escapable)
      DispatchQueue.concurrentPerform(iterations: chunks) { c in
        shared.value(c, (count * c / chunks)..<(count * (c + 1) / chunks))
      }
    }
  }
}

/// Carries a value into a concurrent region whose accesses are disjoint.
public struct UncheckedSendable<T>: @unchecked Sendable {
  public let value: T
  @inlinable public init(_ value: T) { self.value = value }
}
