/// The primal network simplex for a transportation problem whose arcs are added as they are
/// needed (`GeneralTransport` prices the full cost matrix and adds the arcs it finds violated).
///
/// Nodes `0 ..< n` are the sources (supply `a_i`), `n ..< n + m` the targets (demand `b_j`),
/// and `n + m` an artificial root. Arc `u < n + m` is the artificial arc of node `u`
/// (source → root or root → target, cost `bigCost`); real arcs follow. The basis is a
/// spanning tree kept *strongly feasible* (Cunningham; Ahuja, Magnanti & Orlin, *Network
/// Flows*, §11.5): every tree arc with zero flow points towards the root, so that a positive
/// amount can be sent from any node to the root. The starting tree (every node hangs from
/// the root by its artificial arc, carrying its whole supply) is strongly feasible, and the
/// leaving-arc rule below keeps it so, which rules out cycling on the transportation
/// problem's many degenerate pivots.
///
/// Potentials `y` make every tree arc tight: `r(u → v) = c_uv − y_v + y_u = 0`. An arc with
/// `r < −tolerance` may enter; the entering arc is chosen by block search (the most negative
/// reduced cost in a block of about 2√arcs arcs, blocks taken cyclically; 1 to 3 √arcs measured alike, √arcs is LEMON's default).
///
/// The tree is stored as parent pointers and a preorder *thread* (a cyclic list through all
/// nodes, each subtree a contiguous segment), with every node's subtree size and the last node
/// of its segment (the structure of Barr, Glover & Klingman's and LEMON's network simplex). A
/// pivot then costs the length of its cycle for the apex (by subtree sizes), the flows and
/// the re-rooting of the moved subtree S (the thread segments along the reversed path are
/// spliced, not walked), the depth of the tree for the ancestors' sizes, and `min(|S|, rest)`
/// for the potentials, shifted by one constant on the smaller side.
struct TransportationSimplex {
  let sources: Int
  let targets: Int
  var root: Int { sources + targets }
  /// Cost of the artificial arcs: more than half the largest real cost makes every artificial
  /// path `i → root → j` dearer than the direct arc, so an optimum of the complete problem
  /// carries no flow on them.
  let bigCost: Double
  let tolerance: Double

  // Arcs.
  var tail: [Int] = []
  var head: [Int] = []
  var cost: [Double] = []
  var flow: [Double] = []
  var inTree: [Bool] = []
  // Tree.
  var parent: [Int]
  var parentArc: [Int]
  var potential: [Double]
  var thread: [Int]
  var reverseThread: [Int]
  var subtreeSize: [Int]
  var lastInSubtree: [Int]
  var path: [Int] = []
  var pieces: [(Int, Int, Int)] = []
  var oldSizes: [Int] = []
  var searchStart = 0
  var pivots = 0
  var degeneratePivots = 0

  /// The starting tree for supplies `a` and demands `b` (positive; equal totals).
  init(supplies a: [Double], demands b: [Double], bigCost: Double, tolerance: Double) {
    sources = a.count
    targets = b.count
    self.bigCost = bigCost
    self.tolerance = tolerance
    let nodes = a.count + b.count + 1
    let r = nodes - 1
    parent = [Int](repeating: r, count: nodes)
    parentArc = [Int](repeating: -1, count: nodes)
    potential = [Double](repeating: 0, count: nodes)
    // Preorder: the root, then every node (each a leaf).
    thread = (0..<nodes).map { $0 == r ? 0 : ($0 + 1 == r ? r : $0 + 1) }
    reverseThread = (0..<nodes).map { $0 == r ? r - 1 : ($0 == 0 ? r : $0 - 1) }
    subtreeSize = [Int](repeating: 1, count: nodes)
    lastInSubtree = Array(0..<nodes)
    subtreeSize[r] = nodes
    lastInSubtree[r] = r - 1
    parent[r] = -1
    for u in 0..<(nodes - 1) {
      let isSource = u < a.count
      let arc = appendArc(from: isSource ? u : r, to: isSource ? r : u, cost: bigCost)
      flow[arc] = isSource ? a[u] : b[u - a.count]
      inTree[arc] = true
      parentArc[u] = arc
      potential[u] = isSource ? -bigCost : bigCost
    }
    if nodes == 1 { thread[r] = r; reverseThread[r] = r; lastInSubtree[r] = r }
  }

  /// Adds the arc from source `i` to target `j` with cost `c` (not in the tree, no flow).
  mutating func addArc(source i: Int, target j: Int, cost c: Double) {
    _ = appendArc(from: i, to: sources + j, cost: c)
  }

  var arcCount: Int { tail.count }

  @discardableResult
  private mutating func appendArc(from u: Int, to v: Int, cost c: Double) -> Int {
    tail.append(u)
    head.append(v)
    cost.append(c)
    flow.append(0)
    inTree.append(false)
    return tail.count - 1
  }

  @inline(__always)
  func reducedCost(_ arc: Int) -> Double { cost[arc] - potential[head[arc]] + potential[tail[arc]] }

  /// Block search: the arc of most negative reduced cost (below `−tolerance`) in the first
  /// block, taken cyclically from where the last search stopped, that has one.
  private mutating func enteringArc() -> Int? {
    let arcs = arcCount
    let block = max(16, 2 * Int(Double(arcs).squareRoot()))
    var best = -1
    var bestValue = -tolerance
    var scanned = 0
    var a = searchStart
    while scanned < arcs {
      if !inTree[a] {
        let r = reducedCost(a)
        if r < bestValue {
          bestValue = r
          best = a
        }
      }
      scanned += 1
      a += 1
      if a == arcs { a = 0 }
      if scanned % block == 0 && best >= 0 { break }
    }
    searchStart = a
    return best >= 0 ? best : nil
  }

  /// Pivots until no arc has a reduced cost below `−tolerance`: the optimum over the arcs
  /// present. Returns the number of pivots made.
  @discardableResult
  mutating func solve() -> Int {
    var made = 0
    while let entering = enteringArc() {
      pivot(entering)
      made += 1
    }
    refreshPotentials()
    return made
  }

  /// Recomputes every potential from the root along the tree arcs (in preorder, a parent
  /// before its children), removing the rounding drift of the pivots' shifts.
  mutating func refreshPotentials() {
    let r = root
    potential[r] = 0
    var u = thread[r]
    while u != r {
      let a = parentArc[u]
      let w = parent[u]
      potential[u] = tail[a] == w ? potential[w] + cost[a] : potential[w] - cost[a]
      u = thread[u]
    }
  }

  /// Sends flow round the cycle that `entering` closes and exchanges it for the leaving arc.
  private mutating func pivot(_ entering: Int) {
    pivots += 1
    let p = tail[entering]
    let q = head[entering]
    // The apex: the lowest common ancestor of p and q (an ancestor has the larger subtree).
    var u = p
    var v = q
    while u != v {
      if subtreeSize[u] < subtreeSize[v] { u = parent[u] } else { v = parent[v] }
    }
    let apex = u
    // The leaving arc: the last blocking arc met when the cycle is traversed in the
    // direction of the entering arc from the apex (apex ⇝ p → q ⇝ apex). On the p side
    // (traversed downwards) an arc pointing up loses flow; the first met walking up from p is
    // the last of the traversal. On the q side (traversed upwards) an arc pointing down loses
    // flow; the last met walking up from q is the last of the traversal, and it wins ties
    // against the p side.
    var delta = Double.infinity
    var leavingNode = -1
    var onPSide = true
    u = p
    while u != apex {
      let a = parentArc[u]
      if tail[a] == u && flow[a] < delta {
        delta = flow[a]
        leavingNode = u
      }
      u = parent[u]
    }
    v = q
    while v != apex {
      let a = parentArc[v]
      if head[a] == v && flow[a] <= delta {
        delta = flow[a]
        leavingNode = v
        onPSide = false
      }
      v = parent[v]
    }
    precondition(leavingNode >= 0, "transportation simplex: no blocking arc on the cycle")
    if delta > 0 {
      flow[entering] += delta
      u = p
      while u != apex {
        let a = parentArc[u]
        if tail[a] == u { flow[a] -= delta } else { flow[a] += delta }
        u = parent[u]
      }
      v = q
      while v != apex {
        let a = parentArc[v]
        if head[a] == v { flow[a] -= delta } else { flow[a] += delta }
        v = parent[v]
      }
    } else {
      degeneratePivots += 1
    }
    let leaving = parentArc[leavingNode]
    flow[leaving] = 0
    inTree[leaving] = false
    inTree[entering] = true
    // The subtree under the leaving arc holds p (or q); it now hangs from q (or p) by the
    // entering arc.
    move(leavingNode, newRoot: onPSide ? p : q, under: onPSide ? q : p, by: entering)
  }

  /// Cuts the subtree of `x` out, re-roots it at `r` (a node of it), hangs it under `w` by
  /// `arc`, and shifts the potentials of the smaller side to make `arc` tight.
  private mutating func move(_ x: Int, newRoot r: Int, under w: Int, by arc: Int) {
    let size = subtreeSize[x]
    // 1. Cut the segment [x … last(x)] out of the thread and out of its ancestors.
    let first = x
    let last = lastInSubtree[x]
    let before = reverseThread[first]
    let after = thread[last]
    thread[before] = after
    reverseThread[after] = before
    var a = parent[x]
    while a >= 0 {
      subtreeSize[a] -= size
      if lastInSubtree[a] == last { lastInSubtree[a] = before }
      a = parent[a]
    }
    // 2. Re-root at r: along the path r = v0, v1, …, vk = x, each v_i (i ≥ 1) keeps its old
    //    subtree minus v_{i−1}'s, in two thread pieces (before and after v_{i−1}'s segment);
    //    the new preorder is v0's old segment, then the pieces of v1, v2, …, vk in order.
    path.removeAll(keepingCapacity: true)
    var t = r
    while true {
      path.append(t)
      if t == x { break }
      t = parent[t]
    }
    var tailOfNew = lastInSubtree[r]
    oldSizes.removeAll(keepingCapacity: true)
    for vi in path { oldSizes.append(subtreeSize[vi]) }
    if path.count > 1 {
      // The pieces, read from the old thread before it is relinked.
      pieces.removeAll(keepingCapacity: true)
      for i in 1..<path.count {
        let vi = path[i]
        let child = path[i - 1]
        let childLast = lastInSubtree[child]
        // Piece A: vi … the node before the child's segment (it starts with vi itself);
        // piece B: after the child's segment … last(vi), possibly empty.
        let viLast = lastInSubtree[vi]
        pieces.append((reverseThread[child], childLast == viLast ? -1 : thread[childLast], viLast))
      }
      for i in 1..<path.count {
        let vi = path[i]
        let (aLast, bFirst, viLast) = pieces[i - 1]
        thread[tailOfNew] = vi
        reverseThread[vi] = tailOfNew
        tailOfNew = aLast
        if bFirst >= 0 {
          thread[tailOfNew] = bFirst
          reverseThread[bFirst] = tailOfNew
          tailOfNew = viLast
        }
      }
      // Parents, arcs and sizes along the reversed path.
      for i in stride(from: path.count - 1, through: 1, by: -1) {
        parent[path[i]] = path[i - 1]
        parentArc[path[i]] = parentArc[path[i - 1]]
        subtreeSize[path[i]] = size - oldSizes[i - 1]
      }
    }
    for vi in path { lastInSubtree[vi] = tailOfNew }
    subtreeSize[r] = size
    parent[r] = w
    parentArc[r] = arc
    // 3. Insert the segment [r … tailOfNew] after w's segment and grow w's ancestors.
    let wLast = lastInSubtree[w]
    let next = thread[wLast]
    thread[wLast] = r
    reverseThread[r] = wLast
    thread[tailOfNew] = next
    reverseThread[next] = tailOfNew
    a = w
    while a >= 0 {
      subtreeSize[a] += size
      if lastInSubtree[a] == wLast { lastInSubtree[a] = tailOfNew }
      a = parent[a]
    }
    // 4. Potentials: make `arc` tight by shifting the smaller side by one constant.
    let wanted = tail[arc] == w ? potential[w] + cost[arc] : potential[w] - cost[arc]
    let shift = wanted - potential[r]
    let nodes = potential.count
    if 2 * size <= nodes {
      var s = r
      for _ in 0..<size {
        potential[s] += shift
        s = thread[s]
      }
    } else {
      var s = thread[tailOfNew]
      for _ in 0..<(nodes - size) {
        potential[s] -= shift
        s = thread[s]
      }
    }
  }
}
