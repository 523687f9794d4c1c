import Foundation
import MeanFieldCore
import MeanFieldDiagnostics
import SweepStore

/// Decoding of `model:`: the network and its data, the potentials and the interactions.
extension RunConfiguration {
  static func decodeModel(_ cursor: Cursor, cache: MatrixCache) throws -> ModelSpec {
    guard cursor.isMapping else { throw cursor.error("expected a mapping with 'kind', found \(describe(cursor.node))") }
    let kind = try cursor.mapping(allowed: [
      "kind", "activation", "loss", "bias", "data", "parametrisation", "dimension", "potential", "interaction",
    ])
    .required("kind", "the model kind").kind(ModelKind.self)
    switch kind {
    case .potential:
      let m = try cursor.mapping(allowed: ["kind", "dimension", "potential", "interaction"])
      let d = try m.optional("dimension")?.int(where: { $0 >= 1 }, "a positive integer") ?? 1
      let v = try decodePotential(m.optional("potential"), dimension: d, cache: cache)
      let w = try decodeInteraction(m.optional("interaction"), dimension: d)
      return .potential(PotentialSpec(dimension: d, potential: v, interaction: w))
    case .twoLayerNetwork:
      let m = try cursor.mapping(allowed: ["kind", "activation", "loss", "bias", "data", "parametrisation"])
      let activation = try m.optional("activation")?.kind(Activation.self) ?? .tanh
      let loss = try m.optional("loss")?.kind(Loss.self) ?? .squared
      let bias = try m.optional("bias")?.bool() ?? false
      let data = try decodeData(
        m.required("data", "a mapping with 'kind: teacher' or 'kind: file'"), loss: loss, cache: cache)
      var spec = NetworkSpec(activation: activation, loss: loss, bias: bias, data: data)
      spec.parametrisation = try m.optional("parametrisation")?.kind(TwoLayerNetwork.Parametrisation.self) ?? .meanField
      return .twoLayerNetwork(spec)
    }
  }

  static func decodeData(_ cursor: Cursor, loss: Loss, cache: MatrixCache) throws -> DataSpec {
    let any = try cursor.mapping(allowed: [
      "kind", "inputs", "samples", "teacher-width", "noise", "seed", "path", "header",
    ])
    switch try any.required("kind", "the data kind").kind(DataKind.self) {
    case .file:
      let m = try cursor.mapping(allowed: ["kind", "path", "header"])
      let pathCursor = try m.required("path", "a CSV file (columns z1..zp,y) or file.h5:/dataset")
      let (source, matrix) = try cache.load(pathCursor, relativeTo: baseDirectory(cursor), header: try csvHeader(m))
      guard matrix.columns >= 2 else {
        throw pathCursor.error(
          "\(source) has \(matrix.columns) column(s) (\(matrix.headerNote)); expected the inputs z1..zp then the label y"
        )
      }
      if loss == .logistic,
        let bad = stride(from: matrix.columns - 1, to: matrix.values.count, by: matrix.columns)
          .first(where: { matrix.values[$0] != 1 && matrix.values[$0] != -1 })
      {
        throw pathCursor.error(
          "the logistic loss needs labels ±1; row \(bad / matrix.columns) has \(matrix.values[bad])")
      }
      return .file(source: source, matrix: matrix)
    case .teacher:
      break
    }
    let m = try cursor.mapping(allowed: ["kind", "inputs", "samples", "teacher-width", "noise", "seed"])
    let inputs = try m.required("inputs", "the input dimension p").int(where: { $0 >= 1 }, "a positive integer")
    let samples = try m.required("samples", "the number of data points").int(where: { $0 >= 1 }, "a positive integer")
    let width = try m.optional("teacher-width")?.int(where: { $0 >= 1 }, "a positive integer") ?? 1
    let noise = try m.optional("noise")?.double(where: { $0 >= 0 }, "a non-negative number") ?? 0
    let seed = try m.optional("seed")?.int(where: { $0 >= 0 }, "a non-negative integer") ?? 0
    return .teacher(inputs: inputs, samples: samples, teacherWidth: width, noise: noise, seed: UInt64(seed))
  }

  static func decodePotential(_ cursor: Cursor?, dimension d: Int, cache: MatrixCache) throws -> ConfiningPotential {
    guard let cursor else { return .none }
    let every = [
      "kind", "stiffness", "sharp", "flat", "transverse", "lower", "upper", "values", "path", "wall", "a", "b", "V",
      "parameters", "minima",
    ]
    let any = try cursor.mapping(allowed: every)
    let kind = try any.required("kind", "one of \(PotentialKind.allCases.map(\.rawValue).joined(separator: ", "))")
      .kind(PotentialKind.self)
    let positive = { (v: Double) in v > 0 }
    switch kind {
    case .quadratic:
      let m = try cursor.kindMapping(allowed: ["kind", "stiffness"], every: every)
      let k = try m.optional("stiffness")?.doubles(where: positive, "a positive number") ?? [1]
      if k.count == 1 { return .quadratic(stiffness: k[0]) }
      guard k.count == d else {
        throw try m.required("stiffness", "").error(
          "has \(k.count) entries; expected one number or \(d) (one per coordinate)")
      }
      return Set(k).count == 1 ? .quadratic(stiffness: k[0]) : .anisotropicQuadratic(stiffness: k)
    case .rosenbrock:
      let m = try cursor.kindMapping(allowed: ["kind", "a", "b"], every: every)
      guard d == 2 else { throw try any.required("kind", "").error("rosenbrock is defined in model.dimension 2") }
      let a = try m.optional("a")?.double() ?? 1
      let b = try m.optional("b")?.double(where: positive, "a positive number") ?? 100
      return .rosenbrock(a: a, b: b)
    case .doubleWell:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .doubleWell
    case .flatSharp:
      let m = try cursor.kindMapping(allowed: ["kind", "sharp", "flat", "transverse"], every: every)
      let sharp = try m.required("sharp", "the curvature of the sharp minimum at x1 = -1").double(
        where: positive, "a positive number")
      let flat = try m.required("flat", "the curvature of the flat minimum at x1 = +1").double(
        where: positive, "a positive number")
      let transverse = try m.optional("transverse")?.double(where: positive, "a positive number") ?? 1
      return .flatSharp(sharp: sharp, flat: flat, transverse: transverse)
    case .tabulated:
      let m = try cursor.kindMapping(
        allowed: ["kind", "lower", "upper", "values", "path", "header", "wall"], every: every)
      let lower = try m.required("lower", "the lower corner of the grid (1 or 2 numbers)").doubles(
        where: { _ in true }, "a number")
      let upper = try m.required("upper", "the upper corner of the grid").doubles(where: { _ in true }, "a number")
      guard lower.count == upper.count, lower.count <= 2 else {
        throw try m.required("upper", "").error("lower and upper must both have 1 or 2 entries")
      }
      for k in lower.indices where !(upper[k] > lower[k]) {
        throw try m.required("upper", "").error("upper must exceed lower in every coordinate")
      }
      if lower.count == 2 && d < 2 { throw try m.required("lower", "").error("a 2-D table needs model.dimension ≥ 2") }
      let wall = try m.optional("wall")?.double(where: positive, "a positive number") ?? 1
      var values: [Double], points: [Int]
      if let inline = m.optional("values") {
        if m.optional("path") != nil { throw inline.error("give either values or path, not both") }
        let rows = try inline.sequence()
        if lower.count == 1 {
          values = try rows.map { try $0.double() }
          points = [values.count]
        } else {
          let table = try rows.map { try $0.sequence().map { try $0.double() } }
          guard let width = table.first?.count, table.allSatisfy({ $0.count == width }) else {
            throw inline.error("a 2-D table is a list of rows of equal length")
          }
          values = table.flatMap { $0 }
          points = [table.count, width]
        }
      } else {
        let pathCursor = try m.required("path", "values: [...] or a file path")
        let (source, matrix) = try cache.load(pathCursor, relativeTo: baseDirectory(cursor), header: try csvHeader(m))
        values = matrix.values
        points = lower.count == 1 ? [matrix.rows * matrix.columns] : [matrix.rows, matrix.columns]
        if lower.count == 1 && matrix.columns != 1 && matrix.rows != 1 {
          throw pathCursor.error(
            "a 1-D table needs one row or one column; \(source) is \(matrix.rows) × \(matrix.columns) (\(matrix.headerNote))"
          )
        }
      }
      guard points.allSatisfy({ $0 >= 2 }) else {
        throw try m.required(m.optional("values") != nil ? "values" : "path", "").error(
          "a table needs at least 2 points per axis")
      }
      return .tabulated(TabulatedPotential(lower: lower, upper: upper, points: points, values: values, wall: wall))
    case .expression:
      let m = try cursor.kindMapping(allowed: ["kind", "V", "parameters", "minima"], every: every)
      return try decodeExpressionPotential(m, dimension: d)
    case .none:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .none
    }
  }

  static func decodeInteraction(_ cursor: Cursor?, dimension d: Int) throws -> Interaction {
    guard let cursor else { return .none }
    let every = ["kind", "strength", "width", "W", "parameters"]
    let kind = try cursor.mapping(allowed: every)
      .required("kind", "one of \(InteractionKind.allCases.map(\.rawValue).joined(separator: ", "))").kind(
        InteractionKind.self)
    switch kind {
    case .quadratic:
      let m = try cursor.kindMapping(allowed: ["kind", "strength"], every: every)
      return .quadraticAttraction(strength: try m.optional("strength")?.double() ?? 1)
    case .gaussian:
      let m = try cursor.kindMapping(allowed: ["kind", "strength", "width"], every: every)
      let c = try m.optional("strength")?.double() ?? 1
      let s = try m.optional("width")?.double(where: { $0 > 0 }, "a positive number") ?? 1
      return .gaussianKernel(strength: c, width: s)
    case .expression:
      return try decodeExpressionInteraction(
        cursor.kindMapping(allowed: ["kind", "W", "parameters"], every: every), dimension: d)
    case .none:
      _ = try cursor.kindMapping(allowed: ["kind"], every: every)
      return .none
    }
  }
}
