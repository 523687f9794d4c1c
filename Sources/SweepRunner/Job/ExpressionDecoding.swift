import Foundation
import MeanFieldCore

/// Decoding of expression potentials and interactions (`kind: expression`): the text, its
/// named parameters (sweepable as grid keys `model.potential.parameters.b`) and, for a
/// potential, guesses of its minima. Every problem is reported at validation with the key and
/// the column of the expression.
extension RunConfiguration {
  static func decodeExpressionPotential(_ m: MappingReader, dimension d: Int) throws -> ConfiningPotential {
    let textCursor = try m.required("V", "the potential as an expression in x1…x\(d), e.g. \"(x1^2 - 1)^2\"")
    let text = try textCursor.string("an expression in quotes")
    let parameters = try decodeParameters(m.optional("parameters"), prefix: "x", radius: false)
    var minima = [[Double]]()
    if let list = m.optional("minima") {
      for (i, row) in try list.sequence().enumerated() {
        let point = try row.doubles(where: { $0.isFinite }, "a finite number")
        guard point.count == d else {
          throw row.error("minimum \(i + 1) has \(point.count) coordinate(s); model.dimension is \(d)")
        }
        minima.append(point)
      }
    }
    let potential: ExpressionPotential
    do {
      potential = try ExpressionPotential(text, dimension: d, parameters: parameters, minima: minima)
    } catch let e as ExpressionError {
      throw textCursor.error(message(e, text))
    }
    try checkUnused(parameters, used: potential.programs.usedParameters, cursor: m.optional("parameters"), in: "V")
    if case .failure(let e) = potential.refinedMinima {
      throw try m.required("minima", "").error(e.message)
    }
    return .expression(potential)
  }

  static func decodeExpressionInteraction(_ m: MappingReader, dimension d: Int) throws -> Interaction {
    let textCursor = try m.required(
      "W", "the interaction as an expression in z1…z\(d) (z = x − y) and r = |z|, e.g. \"-exp(-r^2/2)\"")
    let text = try textCursor.string("an expression in quotes")
    let parameters = try decodeParameters(m.optional("parameters"), prefix: "z", radius: true)
    let interaction: ExpressionInteraction
    do {
      interaction = try ExpressionInteraction(text, dimension: d, parameters: parameters)
    } catch let e as ExpressionError {
      throw textCursor.error(message(e, text))
    }
    try checkUnused(parameters, used: interaction.programs.usedParameters, cursor: m.optional("parameters"), in: "W")
    return .expression(interaction)
  }

  /// "column 7 of the expression: unknown name 'y'…", the text, and a caret under the column.
  static func message(_ e: ExpressionError, _ text: String) -> String {
    "column \(e.position + 1) of the expression: \(e.message)\n" + e.pointing(into: text)
  }

  static func decodeParameters(_ cursor: Cursor?, prefix: String, radius: Bool) throws -> [String: Double] {
    guard let cursor else { return [:] }
    let table = try cursor.mappingOfAnyKeys("a mapping of parameter names to numbers")
    let reserved = ExpressionCompilerNames.reserved(prefix: prefix, radius: radius)
    var out = [String: Double]()
    for name in table.keys {
      let key = table.keyCursor(name)
      guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || first == "_",
        name.unicodeScalars.allSatisfy({
          $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_")
        })
      else {
        throw key.error("a parameter name is a letter or '_' followed by letters, digits or '_'")
      }
      if reserved(name) {
        throw key.error("'\(name)' is already a variable, constant or function of the expression; choose another name")
      }
      out[name] = try table.optional(name)!.double(where: { $0.isFinite }, "a finite number")
    }
    return out
  }

  static func checkUnused(_ parameters: [String: Double], used: Set<String>, cursor: Cursor?, in what: String) throws {
    guard let cursor else { return }
    let table = try cursor.mappingOfAnyKeys()
    for name in table.keys where !used.contains(name) {
      throw table.keyCursor(name).error("the parameter '\(name)' is not used in \(what)")
    }
  }
}
