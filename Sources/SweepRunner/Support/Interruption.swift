import Foundation
import Synchronization

/// Requests to stop a launch cleanly: SIGTERM (Slurm's warning before a time limit or a
/// preemption), SIGINT (Ctrl-C), or a stop file (`OUT/STOP`, or `OUT/STOP-task-0003` for one
/// array task) for schedulers that signal only the batch shell.
///
/// A second SIGINT gets the default action (immediate termination).
public enum Interruption {
  /// The signal that asked to stop, or 0.
  static let signalNumber = Atomic<Int32>(0)

  /// Installs the handlers (idempotent).
  public static func install() {
    _ = signalNumber.load(ordering: .relaxed)
    let handler: @convention(c) (Int32) -> Void = { number in
      Interruption.signalNumber.store(number, ordering: .relaxed)
      signal(number, SIG_DFL)
    }
    signal(SIGTERM, handler)
    signal(SIGINT, handler)
    // A parent may have left these signals blocked (the mask is inherited): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }

  /// The signal received so far, or nil.
  public static var receivedSignal: Int32? {
    let n = signalNumber.load(ordering: .relaxed)
    return n == 0 ? nil : n
  }

  /// The name of a signal for messages.
  public static func name(_ number: Int32) -> String {
    switch number {
    case SIGTERM: return "SIGTERM"
    case SIGINT: return "SIGINT"
    default: return "signal \(number)"
    }
  }
}
