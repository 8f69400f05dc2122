import DRBase
import Foundation

/// The signed body of a drill report: the chain fields around the drill's results.
/// docs/AUDIT.md documents every field for independent verifiers.
package struct DrillReportPayload: Sendable, Equatable, Codable {
    package static let schema = "drctl.drill-report/1"
    package static let payloadType = "application/vnd.drctl.drill+json"
    /// How mailbox paths appear in `drill`: salted SHA-256 pseudonyms (DrillPseudonyms).
    package static let pseudonymousPaths = "salted-sha256"

    package struct Tool: Sendable, Equatable, Codable {
        package var name: String
        package var version: String
    }

    package var schema: String
    /// 1 for the first report of a report folder's chain, then rising by exactly one.
    package var sequence: Int
    /// The hex SHA-256 of the previous report's exact file bytes; nil (JSON null) for the first.
    package var previous: String?
    package var created: String
    package var tool: Tool
    package var host: String
    /// The hex SHA-256 of the configuration file's bytes (`ConfigurationFingerprint`).
    package var configurationHash: String
    /// `salted-sha256`: every mailbox path in `drill` is a pseudonym (docs/AUDIT.md).
    package var mailboxPaths: String
    package var drill: DrillResults

    // `previous` is written as null for the first report, not left out: the chain rule reads it.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(previous, forKey: .previous)
        try container.encode(created, forKey: .created)
        try container.encode(tool, forKey: .tool)
        try container.encode(host, forKey: .host)
        try container.encode(configurationHash, forKey: .configurationHash)
        try container.encode(mailboxPaths, forKey: .mailboxPaths)
        try container.encode(drill, forKey: .drill)
    }

    /// Sorted keys, no escaped slashes: the bytes that are signed.
    package func encoded() throws(CoreError) -> [UInt8] {
        try SignedJSON.encode(self, what: "the drill report (a measure that is not a finite number?)")
    }
}

/// What the chain rule reads of a payload: enough to verify a report whose drill results come
/// from a newer drctl.
package struct DrillChainFields: Sendable, Equatable, Decodable {
    package var schema: String
    package var sequence: Int
    package var previous: String?
    package var created: String?
}

/// A chain head: which report is the newest, written once per report to every target.
package struct DrillHeadPayload: Sendable, Equatable, Codable {
    package static let schema = "drctl.drill-head/1"
    package static let payloadType = "application/vnd.drctl.drill-head+json"

    package var schema: String
    package var sequence: Int
    /// The hex SHA-256 of the report's exact file bytes.
    package var envelope: String
    /// The report's file name.
    package var report: String
    package var created: String

    package func encoded() throws(CoreError) -> [UInt8] {
        try SignedJSON.encode(self, what: "a chain head")
    }
}

/// The bytes drctl signs: JSON with sorted keys and no escaped slashes, so that a verifier in
/// any language re-derives them (docs/AUDIT.md).
enum SignedJSON {
    static func encode(_ value: some Encodable, what: String) throws(CoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw CoreError(.internalDefect, message: "\(what) could not be encoded: \(error)")
        }
    }
}
