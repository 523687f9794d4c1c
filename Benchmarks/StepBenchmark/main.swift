import Foundation
import MeanFieldCore

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

// tanh throughput
var buf = (0..<100_000).map { Double($0) * 1e-4 - 5 }
var acc = SIMD4<Double>(repeating: 0)
var times = [Double]()
for _ in 0..<20 {
  let t0 = now()
  buf.withUnsafeBufferPointer { b in
    var i = 0
    while i < b.count {
      acc[i & 3] += FastMath.tanh(b[i])
      i += 1
    }
  }
  times.append(now() - t0)
}
print("fast tanh: \(median(times) / 1e5 * 1e9) ns/elt  \(acc.sum())")
times = []
var s = 0.0
for _ in 0..<20 {
  let t0 = now()
  for x in buf { s += Foundation.tanh(x) }
  times.append(now() - t0)
}
print("libm tanh: \(median(times) / 1e5 * 1e9) ns/elt \(s)")

let N = Int(CommandLine.arguments.dropFirst().first ?? "16384")!
let spec = TeacherSpecification(inputs: 20, samples: 1000, teacherWidth: 4, noise: 0.1, seed: 1, activation: .tanh)
let model = TwoLayerNetwork(data: spec.makeDataSet(), activation: .tanh)
BLAS.setThreadCount(1)
for threads in [1, 2] {
  let engine = ParticleEngine(
    model: model, exchange: LocalExchange(layout: BlockLayout(particleCount: N, blockSize: 1024)),
    dynamics: .overdamped(.init(step: 0.01, temperature: 1e-3, l2: 1e-3)), initial: .gaussian(mean: [0], std: [1]),
    noise: GaussianField(seed: 1, runIndex: 0), threads: threads)
  var ts = [Double]()
  for _ in 0..<10 {
    let t0 = now()
    _ = try engine.step()
    ts.append(now() - t0)
  }
  print("step N=\(N) threads=\(threads): \(median(ts) * 1e3) ms  (\(median(ts) / Double(N * 1000) * 1e9) ns/pair)")
}
