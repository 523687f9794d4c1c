/// A mistake in a job file: where it is, which key, and what was expected.
public struct JobError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The job file as given on the command line.
  public var file: String
  /// 1-based line and column of the offending node, when known.
  public var line: Int?
  public var column: Int?
  /// Dotted key path, e.g. `dynamics.step` or `sweep.grid.particles[2]`.
  public var keyPath: String
  /// What is wrong and what was expected.
  public var message: String

  public init(file: String, line: Int? = nil, column: Int? = nil, keyPath: String, message: String) {
    self.file = file
    self.line = line
    self.column = column
    self.keyPath = keyPath
    self.message = message
  }

  public var description: String {
    var location = file
    if let line {
      location += ":\(line)"
      if let column { location += ":\(column)" }
    }
    return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
  }
}
