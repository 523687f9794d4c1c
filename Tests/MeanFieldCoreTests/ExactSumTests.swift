import Foundation
import MeanFieldCore
import Testing

/// The exact accumulator behind every sum over particles: correctly rounded against independent
/// references, and the same bits whatever the order, the split into parts and the merge.
@Suite struct ExactSumTests {
  static func exact(_ values: [Double]) -> Double { values.withUnsafeBufferPointer { ExactSum.sum($0) } }

  /// Terms of every kind: wide exponents, subnormals, huge values, exact cancellations.
  static func adversarial(_ g: inout SplitMix, count: Int) -> [Double] {
    var v = [Double]()
    for _ in 0..<count {
      let sign: Double = Bool.random(using: &g) ? 1 : -1
      switch Int.random(in: 0..<5, using: &g) {
      case 0: v.append(sign * Double(bitPattern: UInt64.random(in: 1..<(1 << 52), using: &g)))  // subnormal
      case 1: v.append(sign * Double.random(in: 1..<2, using: &g) * 0x1p1000)
      case 2:
        v.append(
          sign * Double.random(in: 1..<2, using: &g)
            * Double(sign: .plus, exponent: Int.random(in: -1070...1020, using: &g), significand: 1))
      default:
        v.append(
          sign * Double.random(in: 0..<1, using: &g)
            * Double(sign: .plus, exponent: Int.random(in: -60...60, using: &g), significand: 1))
      }
    }
    for i in 0..<(count / 3) { v.append(-v[i]) }
    v.shuffle(using: &g)
    return v
  }

  /// Against exact rational arithmetic in Python (`fractions.Fraction`, whose conversion to
  /// float is correctly rounded): 2 000 sums of adversarial terms, overflow to ±∞ included.
  @Test func matchesExactRationalArithmetic() throws {
    guard let python = ["/usr/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
      Issue.record("python3 is needed as the independent reference")
      return
    }
    var g = SplitMix(seed: 7)
    var cases = [[Double]]()
    for c in 0..<2000 {
      var v = Self.adversarial(&g, count: 1 + c % 37)
      if c % 5 == 0 { v = v.map { $0 * 0x1p-1000 } }
      cases.append(v)
    }
    cases += [
      [0x1.fffffffffffffp1023, 0x1p971], [0x1.fffffffffffffp1023, 0x1p970], [-0x1.fffffffffffffp1023, -0x1p971],
    ]
    cases += [
      [1, 0x1p-53], [1, 0x1p-53, 0x1p-1074], [1 + 0x1p-52, 0x1p-53], [0x1p-1022, -0x1p-1074], [-0.0], [0, -0.0],
    ]
    let text = cases.map { $0.map { String($0.bitPattern, radix: 16) }.joined(separator: " ") }.joined(separator: "\n")
    let script = """
      import sys, struct, math
      from fractions import Fraction
      for line in sys.stdin.read().split("\\n"):
          v = [struct.unpack("<d", struct.pack("<Q", int(w, 16)))[0] for w in line.split()]
          q = sum(Fraction(x) for x in v)
          try:
              s = float(q)
          except OverflowError:
              s = math.inf if q > 0 else -math.inf
          print("%x" % struct.unpack("<Q", struct.pack("<d", s))[0])
      """
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("exact-sum-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in.txt"), output = folder.appendingPathComponent("out.txt")
    try text.write(to: input, atomically: true, encoding: .utf8)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", script]
    p.standardInput = try FileHandle(forReadingFrom: input)
    FileManager.default.createFile(atPath: output.path, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: output)
    try p.run()
    p.waitUntilExit()
    let expected = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map { UInt64($0, radix: 16)! }
    #expect(expected.count == cases.count)
    var mismatches = 0
    for (v, e) in zip(cases, expected) where Self.exact(v).bitPattern != e {
      mismatches += 1
      if mismatches < 4 { Issue.record("sum of \(v) = \(Self.exact(v)), exact \(Double(bitPattern: e))") }
    }
    #expect(mismatches == 0)
  }

  /// Against 128-bit integer arithmetic (a second, in-process route): terms that are multiples
  /// of 2⁻⁴⁰ below 2⁶⁰, whose sum of up to 10⁵ terms is an exact Int128, converted once.
  @Test func matchesIntegerArithmetic() {
    var g = SplitMix(seed: 3)
    for trial in 0..<40 {
      let n = trial < 20 ? 1 + trial * 7 : 100_000
      var total: Int128 = 0
      var v = [Double]()
      for _ in 0..<n {
        let k = Int64.random(in: -(1 << 53)...(1 << 53), using: &g) >> Int.random(in: 0...52, using: &g)
        let shift = Int.random(in: 0...46, using: &g)
        total += Int128(k) << shift
        v.append(Double(sign: .plus, exponent: shift - 40, significand: Double(k)))
      }
      let expected = Double(total) * 0x1p-40
      #expect(Self.exact(v).bitPattern == expected.bitPattern, "trial \(trial)")
    }
  }

  /// Any order, any split into parts (threads, ranks), any merge: the same bits.
  @Test func orderAndSplitInvariance() {
    var g = SplitMix(seed: 11)
    for trial in 0..<50 {
      let v = Self.adversarial(&g, count: 200 + trial)
      let reference = Self.exact(v)
      let w = ExactSum.width
      for parts in [2, 3, 8, 17] {
        var shuffled = v
        shuffled.shuffle(using: &g)
        var accumulators = [Int64](repeating: 0, count: parts * w)
        accumulators.withUnsafeMutableBufferPointer { a in
          for x in shuffled { ExactSum.deposit(x, into: a.baseAddress! + Int.random(in: 0..<parts, using: &g) * w) }
          for p in 0..<parts { ExactSum.bound(a.baseAddress! + p * w) }
          // Merge in a random tree: repeatedly add a random part into another.
          var alive = Array(0..<parts)
          while alive.count > 1 {
            alive.shuffle(using: &g)
            let from = alive.removeLast()
            ExactSum.add(a.baseAddress! + from * w, into: a.baseAddress! + alive[0] * w)
          }
          let r = ExactSum.rounded(a.baseAddress! + alive[0] * w)
          #expect(r.bitPattern == reference.bitPattern, "trial \(trial), \(parts) parts")
        }
      }
    }
  }

  /// Many deposits between carry passes (the engine bounds every 2¹⁴ blocks), and the largest
  /// number of parts: no overflow of a word.
  @Test func boundsHoldAtTheirLimits() {
    let w = ExactSum.width
    var a = [Int64](repeating: 0, count: w)
    let term = 0x1.fffffffffffffp-2  // every bit of a 53-bit mantissa, set across words
    a.withUnsafeMutableBufferPointer { p in
      for round in 0..<4 {
        for _ in 0..<ExactSum.depositsBetweenBounds { ExactSum.deposit(term, into: p.baseAddress!) }
        ExactSum.bound(p.baseAddress!)
        _ = round
      }
    }
    // The parts of one run: maximumParts copies added word by word.
    var sum = [Int64](repeating: 0, count: w)
    for k in 0..<w { sum[k] = a[k].multipliedReportingOverflow(by: Int64(ExactSum.maximumParts)).partialValue }
    for k in 0..<w {
      #expect(!a[k].multipliedReportingOverflow(by: Int64(ExactSum.maximumParts)).overflow, "word \(k)")
    }
    let expected = term * Double(4 * ExactSum.depositsBetweenBounds * ExactSum.maximumParts)
    let r = sum.withUnsafeMutableBufferPointer { ExactSum.rounded($0.baseAddress!) }
    #expect(r == expected)
  }

  @Test func nonFiniteTermsAndSignedZero() {
    #expect(Self.exact([1, .nan, 2]).isNaN)
    #expect(Self.exact([.infinity, -.infinity]).isNaN)
    #expect(Self.exact([.infinity, 1, 0x1p1023]) == .infinity)
    #expect(Self.exact([-.infinity, 1]) == -.infinity)
    #expect(Self.exact([0x1p1023, 0x1p1023]) == .infinity)
    #expect(Self.exact([0x1p1023, 0x1p1023, -0x1p1023]) == 0x1p1023)
    #expect(Self.exact([-0.0, -0.0]).bitPattern == (0.0).bitPattern)
    #expect(Self.exact([]).bitPattern == (0.0).bitPattern)
    #expect(Self.exact([3, -3]).bitPattern == (0.0).bitPattern)
    #expect(Self.exact([-0x1p-1074]) == -0x1p-1074)
  }

  /// At least as accurate as the block-order fold it replaced, and strictly more on
  /// cancelling data: the exact sum is the correctly rounded one (error ≤ ½ ulp of the
  /// result), the fold loses every small term between large ones.
  @Test func moreAccurateThanTheBlockOrderFold() {
    var v = [Double]()
    for k in 0..<1000 { v += [1e16, Double(k % 7) + 0.25, -1e16] }
    var fold = 0.0
    for x in v { fold += x }
    var exact = 0.0
    for k in 0..<1000 { exact += Double(k % 7) + 0.25 }  // exact in doubles: small integers and quarters
    #expect(Self.exact(v) == exact)
    #expect(abs(fold - exact) > 100, "the fold's error: \(fold - exact)")
    // Random cancelling partials of mixed scales: against the correctly rounded reference
    // (128-bit integers, rounded once), the exact sum has no error, the fold often has.
    var g = SplitMix(seed: 5)
    var foldWrong = 0
    for _ in 0..<200 {
      var total: Int128 = 0
      var terms = [Double]()
      for _ in 0..<64 {
        let k = Int64.random(in: -(1 << 40)...(1 << 40), using: &g), e = Int.random(in: -30...30, using: &g)
        total += Int128(k) << (e + 30)
        terms.append(Double(sign: .plus, exponent: e, significand: Double(k)))
      }
      let reference = Double(total) * 0x1p-30
      var blocked = 0.0
      for t in terms { blocked += t }
      #expect(Self.exact(terms) == reference)
      if blocked != reference { foldWrong += 1 }
    }
    #expect(foldWrong > 20, "the fold was wrong in \(foldWrong) of 200")
  }
}
