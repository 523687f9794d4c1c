/// Sorting of doubles by least-significant-digit radix sort on their IEEE bit patterns.
///
/// A double maps to an unsigned key with the same order (flip the sign bit of non-negative
/// values, all bits of negative ones). The keys are first ordered by their top 42 bits (sign,
/// exponent and 30 mantissa bits) with four stable counting passes over 11-bit digits (the
/// last one 9 bits wide), skipping a pass whose digit is the same for every key; an insertion
/// pass then orders keys that agree in those bits (values within a relative 2^-30 of each
/// other, which are rare and adjacent). Should that pass need more than `4n` moves (heavily
/// clustered data), the keys are sorted completely by all six digits instead. The output is
/// the sorted sequence, so it is the same as any other correct sort's, at O(n) cost with a
/// small constant (the sliced distance sorts hundreds of arrays).
/// `-0.0` orders before `+0.0`; NaN never reaches here (inputs are checked).
///
/// - Complexity: O(n) time, O(n) scratch.
enum RadixSort {
  static let digitBits = 11
  static let passes = 6
  static let buckets = 1 << digitBits

  @inline(__always)
  static func key(_ x: Double) -> UInt64 {
    let b = x.bitPattern
    return b & (1 << 63) != 0 ? ~b : b | (1 << 63)
  }

  @inline(__always)
  static func value(_ k: UInt64) -> Double {
    Double(bitPattern: k & (1 << 63) != 0 ? k & ~(1 << 63) : ~k)
  }

  /// Sorts `values[0..<count]` in place; `keys`, `scratch` (count each) and `histogram`
  /// (`passes × buckets`) are work space.
  static func sort(
    _ values: UnsafeMutablePointer<Double>, count n: Int, keys: UnsafeMutablePointer<UInt64>,
    scratch: UnsafeMutablePointer<UInt64>, histogram: UnsafeMutablePointer<Int32>
  ) {
    if n < 2 { return }
    if n <= 64 {
      insertionSort(values, count: n)
      return
    }
    histogram.update(repeating: 0, count: passes * buckets)
    let mask = UInt64(buckets - 1)
    for i in 0..<n {
      let k = key(values[i])
      keys[i] = k
      for p in 2..<passes {
        histogram[p * buckets + Int((k >> UInt64(p * digitBits)) & mask)] &+= 1
      }
    }
    var source = keys
    var target = scratch
    func digitPass(_ p: Int) {
      let h = histogram + p * buckets
      // Skip a digit that is constant over all keys.
      if h[Int((source[0] >> UInt64(p * digitBits)) & mask)] == Int32(n) { return }
      var offset: Int32 = 0
      for b in 0..<buckets {
        let c = h[b]
        h[b] = offset
        offset &+= c
      }
      let shift = UInt64(p * digitBits)
      for i in 0..<n {
        let k = source[i]
        let b = Int((k >> shift) & mask)
        target[Int(h[b])] = k
        h[b] &+= 1
      }
      swap(&source, &target)
    }
    for p in 2..<passes { digitPass(p) }
    if !insertionPass(source, count: n, moveBudget: 4 * n) {
      // Clustered data: sort the (partly ordered) keys completely, all six digits.
      fullSort(source, count: n, scratch: target, histogram: histogram)
    }
    for i in 0..<n { values[i] = value(source[i]) }
  }

  /// Insertion sort of nearly sorted keys; gives up (returns false) past `moveBudget` moves,
  /// leaving a permutation of the input.
  static func insertionPass(_ k: UnsafeMutablePointer<UInt64>, count n: Int, moveBudget: Int)
    -> Bool
  {
    var moves = 0
    for i in 1..<n {
      let x = k[i]
      if x >= k[i - 1] { continue }
      var j = i - 1
      while j >= 0 && x < k[j] {
        k[j + 1] = k[j]
        j -= 1
        moves += 1
      }
      k[j + 1] = x
      if moves > moveBudget { return false }
    }
    return true
  }

  /// A complete six-pass LSD radix sort of keys (result in `keys`).
  static func fullSort(
    _ keys: UnsafeMutablePointer<UInt64>, count n: Int, scratch: UnsafeMutablePointer<UInt64>,
    histogram: UnsafeMutablePointer<Int32>
  ) {
    let mask = UInt64(buckets - 1)
    var source = keys
    var target = scratch
    for p in 0..<passes {
      let shift = UInt64(p * digitBits)
      histogram.update(repeating: 0, count: buckets)
      for i in 0..<n { histogram[Int((source[i] >> shift) & mask)] &+= 1 }
      var offset: Int32 = 0
      for b in 0..<buckets {
        let c = histogram[b]
        histogram[b] = offset
        offset &+= c
      }
      for i in 0..<n {
        let k = source[i]
        let b = Int((k >> shift) & mask)
        target[Int(histogram[b])] = k
        histogram[b] &+= 1
      }
      swap(&source, &target)
    }
    // An even number of passes leaves the result in `keys`.
  }

  /// Sorts `values` and permutes `payload` alongside (stable), for weighted samples.
  static func sort(_ values: inout [Double], payload: inout [Double]) {
    let n = values.count
    var order = Array(0..<n)
    order.sort { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
    values = order.map { values[$0] }
    payload = order.map { payload[$0] }
  }

  static func insertionSort(_ v: UnsafeMutablePointer<Double>, count n: Int) {
    for i in 1..<n {
      let x = v[i]
      var j = i - 1
      while j >= 0 && x < v[j] {
        v[j + 1] = v[j]
        j -= 1
      }
      v[j + 1] = x
    }
  }
}

/// Scratch space for repeated sorts of arrays up to a given length (one per thread).
final class RadixSortWorkspace {
  let capacity: Int
  let keys: UnsafeMutablePointer<UInt64>
  let scratch: UnsafeMutablePointer<UInt64>
  let histogram: UnsafeMutablePointer<Int32>

  init(capacity: Int) {
    self.capacity = capacity
    keys = .allocate(capacity: max(1, capacity))
    scratch = .allocate(capacity: max(1, capacity))
    histogram = .allocate(capacity: RadixSort.passes * RadixSort.buckets)
  }

  deinit {
    keys.deallocate()
    scratch.deallocate()
    histogram.deallocate()
  }

  func sort(_ values: UnsafeMutablePointer<Double>, count: Int) {
    precondition(count <= capacity)
    RadixSort.sort(values, count: count, keys: keys, scratch: scratch, histogram: histogram)
  }
}
