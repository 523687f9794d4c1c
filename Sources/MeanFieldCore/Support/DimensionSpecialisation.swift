/// Runs `body` with the dimension `d` as a compile-time constant for d = 1, 2, 3 (after
/// inlining), and as a variable otherwise: loops over particles whose inner loop runs over the
/// d coordinates are then unrolled and vectorised across particles in the common low
/// dimensions.
@inlinable @inline(__always)
public func specialisingDimension(_ d: Int, _ body: (Int) -> Void) {
  switch d {
  case 1: body(1)
  case 2: body(2)
  case 3: body(3)
  default: body(d)
  }
}
