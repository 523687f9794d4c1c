import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import SweepStore

/// The fully resolved settings of a run, and the identities derived from them.
///
/// Every value the run depends on is listed with its default filled in, under its job-file key,
/// in a fixed order; data read from files enter by the SHA-256 of their values (not their path).
/// A run's identity (``RunConfiguration/key(blockSize:)``) is the digest of all of them; the key
/// of its noise is the digest of those that define the dynamics (the model, the dynamics, the
/// particles, the initial laws, the seed), so that recording metrics more or less often, adding
/// a metric or running longer never changes a trajectory.
extension RunConfiguration {
  /// The settings that define the trajectory.
  public var dynamicalSettings: [(key: String, value: SettingValue)] {
    var out = [(key: String, value: SettingValue)]()
    func add(_ key: String, _ value: SettingValue) { out.append((key, value)) }
    add("seed", .int(Int(seed)))
    add("particles", .int(particles))
    switch model {
    case .twoLayerNetwork(let net):
      add("model.kind", .string("two-layer-network"))
      add("model.activation", .string(net.activation.rawValue))
      add("model.loss", .string(net.loss.rawValue))
      add("model.parametrisation", .string(net.parametrisation.rawValue))
      add("model.bias", .bool(net.bias))
      switch net.data {
      case .teacher(let p, let n, let m, let noise, let s):
        add("model.data.kind", .string("teacher"))
        add("model.data.inputs", .int(p))
        add("model.data.samples", .int(n))
        add("model.data.teacher-width", .int(m))
        add("model.data.noise", .double(noise))
        add("model.data.seed", .int(Int(s)))
      case .file(_, let matrix):
        add("model.data.kind", .string("file"))
        add("model.data.samples", .int(matrix.rows))
        add("model.data.inputs", .int(matrix.columns - 1))
        add("model.data.sha256", .string(Self.digest(matrix.values)))
      }
    case .potential(let p):
      add("model.kind", .string("potential"))
      add("model.dimension", .int(p.dimension))
      Self.addPotential(p.potential, as: "model.potential", into: &out)
      switch p.interaction {
      case .none:
        add("model.interaction.kind", .string("none"))
      case .quadraticAttraction(let c):
        add("model.interaction.kind", .string("quadratic"))
        add("model.interaction.strength", .double(c))
      case .gaussianKernel(let c, let s):
        add("model.interaction.kind", .string("gaussian"))
        add("model.interaction.strength", .double(c))
        add("model.interaction.width", .double(s))
      case .expression(let w):
        add("model.interaction.kind", .string("expression"))
        add("model.interaction.W", .string(w.text))
        for name in w.parameters.keys.sorted() {
          add("model.interaction.parameters.\(name)", .double(w.parameters[name]!))
        }
      }
    }
    add("dynamics.kind", .string(dynamics.scheme.kind))
    for (key, value) in dynamics.scheme.values {
      switch value {
      case .number(let v): add("dynamics.\(key)", .double(v))
      case .integer(let v): add("dynamics.\(key)", .int(v))
      case .choice(let v): add("dynamics.\(key)", .string(v))
      }
    }
    add("dynamics.bound", .double(bound))
    Self.addLaw(initial, as: "init", into: &out)
    if dynamics.hasVelocities { Self.addLaw(initialVelocity, as: "velocity-init", into: &out) }
    return out
  }

  /// Every setting of the run, defaults included, in a fixed order.
  public func settings(blockSize: Int) -> [(key: String, value: SettingValue)] {
    var out = dynamicalSettings
    func add(_ key: String, _ value: SettingValue) { out.append((key, value)) }
    add("dynamics.steps", .int(steps))
    let d = diagnostics
    add("diagnostics.every", .int(d.every))
    add("diagnostics.metrics", .string(d.metrics.map(\.rawValue).joined(separator: " ")))
    add(
      "diagnostics.snapshots-every", d.snapshotsEvery.map { $0 == 0 ? .string("none") : .int($0) } ?? .string("last"))
    add("diagnostics.neighbours", .int(d.neighbours))
    add("diagnostics.sample-limit", .int(d.sampleLimit))
    add("diagnostics.w2-method", .string(d.wassersteinMethod.rawValue))
    if let m = d.referenceSample {
      add("diagnostics.reference-sample.rows", .int(m.rows))
      add("diagnostics.reference-sample.sha256", .string(Self.digest(m.values)))
      if let w = d.referenceWeights { add("diagnostics.reference-sample.weights-sha256", .string(Self.digest(w))) }
    }
    if let g = d.gaussian {
      add("diagnostics.gaussian.mean", .string(Self.list(g.mean)))
      add("diagnostics.gaussian.covariance", .string(Self.list(g.covariance)))
    }
    if let w = d.duyWeights { add("diagnostics.duy-weights", .string(Self.list(w))) }
    if let g = d.terminal { Self.addPotential(g, as: "diagnostics.terminal", into: &out) }
    if !d.summary.isEmpty {
      add(
        "diagnostics.summary",
        .string(
          d.summary.map { "\($0.key)=\($0.value.map(\.description).joined(separator: ","))" }.sorted().joined(
            separator: " ")))
    }
    if let r = reference {
      add("reference.kind", .string(r.kind.rawValue))
      add("reference.lower", .string(Self.list(r.lower)))
      add("reference.upper", .string(Self.list(r.upper)))
      add("reference.cells", .string(r.cells.map(String.init).joined(separator: " ")))
      switch r.kind {
      case .fokkerPlanck:
        add("reference.cfl", .double(r.courantFactor))
      case .kineticFokkerPlanck:
        add("reference.cfl", .double(r.courantFactor))
        if let v = r.velocity {
          add("reference.velocity.lower", .double(v.lower))
          add("reference.velocity.upper", .double(v.upper))
          add("reference.velocity.cells", .int(v.cells))
        }
      case .entropicJKO:
        if let t = r.step { add("reference.step", .double(t)) }
        add("reference.epsilon", .double(r.epsilon))
        add("reference.tolerance", .double(r.tolerance))
      }
    }
    // The block size is a setting of the arithmetic (sums are taken per block).
    add("parallel.block-size", .int(blockSize))
    return out
  }

  /// The run's identity: the digest of every setting (and of the arithmetic's version).
  public func key(blockSize: Int) -> RunKey {
    Self.key(of: settings(blockSize: blockSize), salt: "mfsweep-run-1")
  }

  /// The key word of the run's noise (Philox is keyed by the seed and this word).
  public var noiseStream: UInt64 {
    Self.key(of: dynamicalSettings, salt: "mfsweep-noise-1").high
  }

  static func key(of settings: [(key: String, value: SettingValue)], salt: String) -> RunKey {
    var bytes = Array(salt.utf8)
    bytes.append(10)
    func append(_ s: String) {
      for b in s.utf8 {
        if b == 10 {
          bytes.append(92)
          bytes.append(110)
        } else {
          bytes.append(b)
        }
      }
    }
    for (k, v) in settings {
      append(k)
      bytes.append(61)
      switch v {
      case .int(let i): append("i" + String(i))
      case .double(let x): append("d" + String(x.bitPattern, radix: 16))
      case .string(let s): append("s" + s)
      case .bool(let b): append(b ? "b1" : "b0")
      }
      bytes.append(10)
    }
    return RunKey(digest: SHA256.digest(bytes))
  }

  /// The settings of a potential under `prefix` (`model.potential`, `diagnostics.terminal`).
  static func addPotential(
    _ potential: ConfiningPotential, as prefix: String, into out: inout [(key: String, value: SettingValue)]
  ) {
    switch potential {
    case .none:
      out.append(("\(prefix).kind", .string("none")))
    case .quadratic(let k):
      out.append(("\(prefix).kind", .string("quadratic")))
      out.append(("\(prefix).stiffness", .double(k)))
    case .anisotropicQuadratic(let k):
      out.append(("\(prefix).kind", .string("quadratic")))
      out.append(("\(prefix).stiffness", .string(Self.list(k))))
    case .rosenbrock(let a, let b):
      out.append(("\(prefix).kind", .string("rosenbrock")))
      out.append(("\(prefix).a", .double(a)))
      out.append(("\(prefix).b", .double(b)))
    case .doubleWell:
      out.append(("\(prefix).kind", .string("double-well")))
    case .flatSharp(let sharp, let flat, let transverse):
      out.append(("\(prefix).kind", .string("flat-sharp")))
      out.append(("\(prefix).sharp", .double(sharp)))
      out.append(("\(prefix).flat", .double(flat)))
      out.append(("\(prefix).transverse", .double(transverse)))
    case .tabulated(let table):
      out.append(("\(prefix).kind", .string("tabulated")))
      out.append(("\(prefix).lower", .string(Self.list(table.lower))))
      out.append(("\(prefix).upper", .string(Self.list(table.upper))))
      out.append(("\(prefix).points", .string(table.points.map(String.init).joined(separator: " "))))
      out.append(("\(prefix).wall", .double(table.wall)))
      out.append(("\(prefix).sha256", .string(Self.digest(table.values))))
    case .expression(let e):
      out.append(("\(prefix).kind", .string("expression")))
      out.append(("\(prefix).V", .string(e.text)))
      for name in e.parameters.keys.sorted() {
        out.append(("\(prefix).parameters.\(name)", .double(e.parameters[name]!)))
      }
      if !e.minimumGuesses.isEmpty {
        out.append(("\(prefix).minima", .string("[" + e.minimumGuesses.map(Self.list).joined(separator: ", ") + "]")))
      }
    }
  }

  static func addLaw(_ law: InitialLaw, as prefix: String, into out: inout [(key: String, value: SettingValue)]) {
    switch law {
    case .gaussian(let mean, let std):
      out.append(("\(prefix).kind", .string("gaussian")))
      out.append(("\(prefix).mean", mean.count == 1 ? .double(mean[0]) : .string(list(mean))))
      out.append(("\(prefix).std", std.count == 1 ? .double(std[0]) : .string(list(std))))
    case .uniform(let lower, let upper):
      out.append(("\(prefix).kind", .string("uniform")))
      out.append(("\(prefix).lower", lower.count == 1 ? .double(lower[0]) : .string(list(lower))))
      out.append(("\(prefix).upper", upper.count == 1 ? .double(upper[0]) : .string(list(upper))))
    case .points(let values):
      out.append(("\(prefix).kind", .string("file")))
      out.append(("\(prefix).sha256", .string(digest(values))))
    case .zero:
      out.append(("\(prefix).kind", .string("zero")))
    }
  }

  /// `[0, 1.5]`.
  static func list(_ values: [Double]) -> String {
    "[" + values.map(formatValue).joined(separator: ", ") + "]"
  }

  /// SHA-256 of the bit patterns of values, as hex.
  static func digest(_ values: [Double]) -> String {
    var bytes = [UInt8]()
    bytes.reserveCapacity(values.count * 8)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    return SHA256.hex(bytes)
  }
}
