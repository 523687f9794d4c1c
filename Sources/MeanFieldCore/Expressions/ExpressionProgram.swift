import Foundation

/// The arithmetic of every operation, shared by constant folding, single points and blocks, so
/// all three give the same bits. exp, log and tanh are ``FastMath``'s (vectorisable) inside
/// their ranges and libm's outside them (infinities, NaN, overflow).
public enum ExpressionKernels {
  @inlinable @inline(__always)
  public static func expInRange(_ x: Double) -> Bool { Swift.abs(x) <= 708 }
  @inlinable @inline(__always)
  public static func logInRange(_ x: Double) -> Bool { x >= Double.leastNormalMagnitude && x < .infinity }
  @inlinable @inline(__always)
  public static func tanhInRange(_ x: Double) -> Bool { x == x }

  /// One operation on scalars (`b` is the second operand, or the exponent of `power`).
  @inlinable
  public static func apply(_ op: ExpressionOperation, _ a: Double, _ b: Double) -> Double {
    switch op {
    case .constant, .variable: return a
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return a / b
    case .negate: return -a
    case .exp: return expInRange(a) ? FastMath.exp(a) : Foundation.exp(a)
    case .log: return logInRange(a) ? FastMath.log(a) : Foundation.log(a)
    case .tanh: return tanhInRange(a) ? FastMath.tanh(a) : a
    case .sqrt: return a.squareRoot()
    case .sin: return Foundation.sin(a)
    case .cos: return Foundation.cos(a)
    case .tan: return Foundation.tan(a)
    case .sinh: return Foundation.sinh(a)
    case .cosh: return Foundation.cosh(a)
    case .atan: return Foundation.atan(a)
    case .log1p: return Foundation.log1p(a)
    case .expm1: return Foundation.expm1(a)
    case .abs: return Swift.abs(a)
    case .power: return Foundation.pow(a, b)
    case .minimum: return a < b ? a : (b < a ? b : (a != a ? a : b))
    case .maximum: return a > b ? a : (b > a ? b : (a != a ? a : b))
    case .sign: return a > 0 ? 1 : (a < 0 ? -1 : (a != a ? a : 0))
    case .step: return a > 0 ? 1 : 0
    }
  }
}

/// One instruction of a program: `registers[out] = op(registers[a], registers[b])`.
public struct ExpressionInstruction: Sendable {
  public var operation: ExpressionOperation
  public var out: Int32
  public var a: Int32
  public var b: Int32
  /// The exponent of ``ExpressionOperation/power``.
  public var exponent: Double
}

/// A compiled expression: a straight-line program over registers of ``lanes`` numbers each,
/// evaluated over many points at once (one loop over the points per instruction, so the
/// arithmetic vectorises and nothing is dispatched per point). Constants live in registers
/// filled once per call; variables are loaded per chunk of points; a register is reused once
/// its value is dead, but never as the output of an instruction that reads it.
public struct ExpressionProgram: Sendable {
  /// Points evaluated together (the length of a register).
  public static let lanes = 64
  public let instructions: [ExpressionInstruction]
  /// (register, value) of every constant.
  public let constants: [(register: Int32, value: Double)]
  /// The number of variables: variable k lives in register k.
  public let variableCount: Int
  /// The register of each output.
  public let outputRegisters: [Int32]
  public let registerCount: Int

  /// Numbers of working memory ``evaluate(count:work:load:store:)`` needs.
  public var workLength: Int { registerCount * Self.lanes }

  /// Compiles the outputs of `graph` over `variableCount` variables.
  init(graph: ExpressionGraph, outputs: [Int32], variableCount: Int) {
    let order = graph.closure(of: outputs)
    var lastUse = [Int32: Int]()
    for (step, i) in order.enumerated() {
      let n = graph.node(i)
      if n.a >= 0 { lastUse[n.a] = step }
      if n.b >= 0 { lastUse[n.b] = step }
    }
    let keep = Set(outputs)
    var register = [Int32: Int32]()
    var free = [Int32]()
    // Variable k lives in register k, read or not, so a block is loaded in one pass.
    var count = Int32(variableCount)
    var instructions = [ExpressionInstruction]()
    var constants = [(register: Int32, value: Double)]()
    func allocate() -> Int32 {
      if let r = free.popLast() { return r }
      count += 1
      return count - 1
    }
    for (step, i) in order.enumerated() {
      let n = graph.node(i)
      switch n.operation {
      case .constant:
        // Constants and variables are written before the first instruction runs: their
        // registers are never used by anything else.
        let r = count
        count += 1
        register[i] = r
        constants.append((r, n.value))
        continue
      case .variable:
        register[i] = Int32(n.value)
        continue
      default: break
      }
      let out = allocate()
      register[i] = out
      instructions.append(
        ExpressionInstruction(
          operation: n.operation, out: out, a: register[n.a]!, b: n.b >= 0 ? register[n.b]! : 0, exponent: n.value))
      for operand in (n.b == n.a ? [n.a] : [n.a, n.b])
      where operand >= 0 && lastUse[operand] == step
        && !keep.contains(operand)
      {
        let o = graph.node(operand).operation
        if o != .constant && o != .variable { free.append(register[operand]!) }
      }
    }
    self.instructions = instructions
    self.constants = constants
    self.variableCount = variableCount
    outputRegisters = outputs.map { register[$0]! }
    registerCount = max(1, Int(count))
  }

  /// Evaluates the outputs at `count` points in chunks of ``lanes``: `load(registers, first, n)`
  /// writes variable k of points `first ..< first + n` into `registers + k·lanes`, then the
  /// program runs and `store(first, n)` reads the outputs through ``output(_:in:)``. `work`
  /// holds ``workLength`` numbers; the constants are written once per call.
  @inlinable
  public func evaluate(
    count: Int, work: UnsafeMutablePointer<Double>,
    load: (_ registers: UnsafeMutablePointer<Double>, _ first: Int, _ lanes: Int) -> Void,
    store: (_ first: Int, _ lanes: Int) -> Void
  ) {
    fillConstants(work)
    var first = 0
    while first < count {
      let n = Swift.min(Self.lanes, count &- first)
      load(work, first, n)
      run(lanes: n, registers: work)
      store(first, n)
      first &+= n
    }
  }

  /// Output k's register in `work`.
  @inlinable
  public func output(_ k: Int, in work: UnsafeMutablePointer<Double>) -> UnsafePointer<Double> {
    UnsafePointer(work + Int(outputRegisters[k]) &* Self.lanes)
  }

  /// Loads points `first ..< first + n` of row-major `x` (d per point) into the variable
  /// registers, in one interleaved pass (which the compiler vectorises for a constant d).
  @inlinable @inline(__always)
  public static func transpose(
    _ x: UnsafePointer<Double>, dimension d: Int, first: Int, count n: Int, into registers: UnsafeMutablePointer<Double>
  ) {
    let source = x + first &* d
    for l in 0..<n { for k in 0..<d { registers[k &* lanes &+ l] = source[l &* d &+ k] } }
  }

  /// Writes the constants into their registers (once per call: no instruction overwrites them).
  @inlinable
  public func fillConstants(_ work: UnsafeMutablePointer<Double>) {
    for (r, v) in constants { (work + Int(r) &* Self.lanes).update(repeating: v, count: Self.lanes) }
  }

  /// Runs every instruction on the first `n` lanes of the registers.
  @inlinable
  public func run(lanes n: Int, registers: UnsafeMutablePointer<Double>) {
    let width = Self.lanes
    instructions.withUnsafeBufferPointer { program in
      for ins in program {
        let o = registers + Int(ins.out) &* width
        let a = UnsafePointer(registers + Int(ins.a) &* width)
        let b = UnsafePointer(registers + Int(ins.b) &* width)
        switch ins.operation {
        case .add: for l in 0..<n { o[l] = a[l] + b[l] }
        case .subtract: for l in 0..<n { o[l] = a[l] - b[l] }
        case .multiply: for l in 0..<n { o[l] = a[l] * b[l] }
        case .divide: for l in 0..<n { o[l] = a[l] / b[l] }
        case .negate: for l in 0..<n { o[l] = -a[l] }
        case .sqrt: for l in 0..<n { o[l] = a[l].squareRoot() }
        case .abs: for l in 0..<n { o[l] = Swift.abs(a[l]) }
        case .exp:
          for l in 0..<n { o[l] = FastMath.exp(a[l]) }
          for l in 0..<n where !ExpressionKernels.expInRange(a[l]) { o[l] = Foundation.exp(a[l]) }
        case .log:
          for l in 0..<n { o[l] = FastMath.log(a[l]) }
          for l in 0..<n where !ExpressionKernels.logInRange(a[l]) { o[l] = Foundation.log(a[l]) }
        case .tanh:
          for l in 0..<n { o[l] = FastMath.tanh(a[l]) }
          for l in 0..<n where !ExpressionKernels.tanhInRange(a[l]) { o[l] = a[l] }
        case .step: for l in 0..<n { o[l] = a[l] > 0 ? 1 : 0 }
        default:
          for l in 0..<n { o[l] = ExpressionKernels.apply(ins.operation, a[l], ins.arity == 2 ? b[l] : ins.exponent) }
        }
      }
    }
  }

  /// The outputs at one point (`x` holds the variables), into `out`.
  public func evaluate(at x: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: workLength) { w in
      evaluate(
        count: 1, work: w.baseAddress!,
        load: { registers, _, _ in for k in 0..<variableCount { registers[k &* Self.lanes] = x[k] } },
        store: { _, _ in for k in outputRegisters.indices { out[k] = output(k, in: w.baseAddress!)[0] } })
    }
  }
}

extension ExpressionInstruction {
  @inlinable var arity: Int { operation.arity }
}
