import DRBase
import Foundation

/// Reads what the HTML report is rendered from, when it comes from files: a drill's results
/// (the JSON of `DrillResults`, as a report's `drill` field holds it) and its history (a
/// JSON array of `DrillHistoryPoint`). Errors name the file and, for JSON of the wrong
/// shape, the field.
package enum DrillRenderInput {
    /// A drill of every mailbox of a large store with every check is some MiB; this is far above.
    static let limit = 256 << 20

    package static func results(_ path: String) throws(CoreError) -> DrillResults {
        try decode(DrillResults.self, path, what: "drill results")
    }

    package static func history(_ path: String) throws(CoreError) -> [DrillHistoryPoint] {
        try decode([DrillHistoryPoint].self, path, what: "drill history")
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ path: String, what: String) throws(CoreError) -> T {
        guard let data = try SmallFile.read(path, limit: limit, what: "the \(what) file") else {
            throw CoreError(.drillResultsMissing, message: "the \(what) file \(path) does not exist; name the JSON file the drill wrote",
                            context: ErrorContext(file: path))
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw CoreError(.drillResultsInvalid, message: "the \(what) file \(path) is not what drctl writes: \(describe(error))",
                            context: ErrorContext(file: path))
        } catch {
            throw CoreError(.drillResultsInvalid, message: "the \(what) file \(path) cannot be read as JSON: \(error)",
                            context: ErrorContext(file: path))
        }
    }

    /// "at targets[1].mailboxes[0].verdict: …", the field as a person finds it in the file.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "the top level" : text)
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "at \(path(context.codingPath)): the field \(key.stringValue) is missing"
        case .typeMismatch(let type, let context):
            return "at \(path(context.codingPath)): expected \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "at \(path(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON: \(context.debugDescription)"
                : "at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
