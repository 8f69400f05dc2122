import DRBase
import Foundation
import Synchronization

/// Printing results: text for people, `--json` for machines (one JSON document on stdout).
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        writeJSON(try jsonText(value))
    }

    /// Writes a rendered JSON document to standard output and remembers it, so that a failure
    /// after it (a report that ends in a non-zero exit) adds no second document.
    static func writeJSON(_ text: String) {
        documentWritten.store(true, ordering: .relaxed)
        StandardStreams.writeOutput(text)
    }

    /// Whether this process has printed its JSON document already.
    static var hasWrittenJSON: Bool { documentWritten.load(ordering: .relaxed) }
    private static let documentWritten = Atomic<Bool>(false)

    /// One line of compact JSON (sorted keys) with a final newline: a summary that the
    /// journal keeps as one entry and a script reads with one `readline`.
    static func jsonLine<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// The JSON text (pretty, sorted keys, so that the order is stable) with a final newline.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

extension String {
    /// Left-aligned in a column of `width` characters (for text tables), followed by at least
    /// `minimumGap` spaces (so that a long value never runs into the next column).
    func column(_ width: Int, minimumGap: Int = 0) -> String {
        self + String(repeating: " ", count: Swift.max(minimumGap, width - count))
    }
}
