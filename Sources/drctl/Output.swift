import DRBase
import Foundation

/// Printing results: text for people, `--json` for machines (one JSON document on stdout).
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        StandardStreams.writeOutput(try jsonText(value))
    }

    /// The JSON text (pretty, sorted keys) with a final newline.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

extension String {
    /// Left-aligned in a column of `width` characters (for text tables).
    func column(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
