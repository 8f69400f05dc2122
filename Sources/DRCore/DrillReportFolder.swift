import DRBase
import DRCrypto
import Foundation

/// The names of a report chain's files, locally (`[drill] report_dir`) and on the targets
/// (`reports/…`), and the reading of the local folder.
package enum DrillReportNames {
    /// On a target, below its prefix.
    package static let targetFolder = "reports/"

    /// `<sequence, 6 digits>-<first 12 hex of the envelope's SHA-256>.dsse.json`.
    package static func report(sequence: Int, envelopeHash: String) -> String {
        "\(sixDigits(sequence))-\(envelopeHash.prefix(12)).dsse.json"
    }

    /// The head written after report `sequence`: `head-<6 digits>` on a target, with
    /// `.dsse.json` locally.
    package static func targetHead(sequence: Int) -> String { targetFolder + "head-" + sixDigits(sequence) }
    package static func localHead(sequence: Int) -> String { "head-" + sixDigits(sequence) + ".dsse.json" }

    /// The side file with the clear mailbox names (local only, mode 0600).
    package static func names(report: String) -> String {
        String(report.dropLast(".dsse.json".count)) + ".names.json"
    }

    /// The sequence and hash prefix a report's name claims; nil for other files.
    package static func parseReport(_ name: String) -> (sequence: Int, hashPrefix: String)? {
        guard name.hasSuffix(".dsse.json"), !name.hasPrefix("head-") else { return nil }
        let stem = name.dropLast(".dsse.json".count)
        let parts = stem.split(separator: "-")
        guard parts.count == 2, parts[0].count >= 6, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), let sequence = Int(parts[0]),
              parts[1].count == 12, Hex.decode(parts[1]) != nil else { return nil }
        return (sequence, String(parts[1]))
    }

    /// The sequence of a head's name (`head-000003`, with or without `.dsse.json`).
    package static func parseHead(_ name: String) -> Int? {
        var stem = Substring(name.split(separator: "/").last ?? "")
        guard stem.hasPrefix("head-") else { return nil }
        if stem.hasSuffix(".dsse.json") { stem = stem.dropLast(".dsse.json".count) }
        let digits = stem.dropFirst("head-".count)
        guard digits.count >= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static func sixDigits(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 6 - text.count)) + text
    }
}

/// One report file as read: its exact bytes and what its name and content say. Nothing here
/// is verified; `DrillChainVerifier` does that.
package struct StoredDrillReport: Sendable {
    package var name: String
    package var path: String
    package var bytes: [UInt8]
    /// The hex SHA-256 of the file's bytes: what the next report's `previous` names.
    package var hash: String
    /// The sequence its name claims.
    package var nameSequence: Int
    package var envelope: DSSEEnvelope?
    package var chain: DrillChainFields?

    /// The payload with its drill results, mailbox names revealed when the local names file
    /// is there (`names` true); nil when it cannot be decoded.
    package func payload(reportDirectory: String) -> (payload: DrillReportPayload, names: Bool)? {
        guard let envelope, envelope.payloadType == DrillReportPayload.payloadType,
              var payload = try? JSONDecoder().decode(DrillReportPayload.self, from: Data(envelope.payload)) else { return nil }
        let namesPath = reportDirectory + "/" + DrillReportNames.names(report: name)
        guard let data = FileManager.default.contents(atPath: namesPath),
              let pseudonyms = try? JSONDecoder().decode(DrillPseudonyms.self, from: data) else { return (payload, false) }
        payload.drill = pseudonyms.reveal(payload.drill)
        return (payload, true)
    }
}

package enum DrillReportFolder {
    /// The report files of a folder, by the sequence their names claim (then by name); an
    /// absent folder has none.
    package static func reports(in directory: String) throws(CoreError) -> [StoredDrillReport] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            if !FileManager.default.fileExists(atPath: directory) { return [] }
            throw CoreError(.fileIo, message: "cannot list the drill report folder \(directory) ([drill] report_dir): \(error.localizedDescription)",
                            context: ErrorContext(file: directory))
        }
        var found: [StoredDrillReport] = []
        for name in names {
            guard let claimed = DrillReportNames.parseReport(name) else { continue }
            found.append(try read(directory + "/" + name, nameSequence: claimed.sequence))
        }
        return found.sorted { ($0.nameSequence, $0.name) < ($1.nameSequence, $1.name) }
    }

    /// Reads one report file (any name: an auditor's copy).
    package static func read(_ path: String, nameSequence: Int? = nil) throws(CoreError) -> StoredDrillReport {
        guard let data = try SmallFile.read(path, limit: 256 << 20, what: "drill report") else {
            throw CoreError(.reportNotFound, message: "drill report \(path) does not exist", context: ErrorContext(file: path))
        }
        let bytes = Array(data)
        let name = String(path.split(separator: "/").last ?? "")
        let envelope = DSSEEnvelope.decode(bytes)
        let chain = envelope.flatMap { try? JSONDecoder().decode(DrillChainFields.self, from: Data($0.payload)) }
        return StoredDrillReport(name: name, path: path, bytes: bytes, hash: SHA256.hexDigest(bytes),
                                 nameSequence: nameSequence ?? DrillReportNames.parseReport(name)?.sequence ?? chain?.sequence ?? 0,
                                 envelope: envelope, chain: chain)
    }

    /// The report an id names: its sequence number, its file name, or a prefix of its hash.
    package static func find(_ id: String, in directory: String) throws(CoreError) -> StoredDrillReport {
        let all = try reports(in: directory)
        let matches: [StoredDrillReport]
        if let sequence = Int(id) {
            matches = all.filter { $0.nameSequence == sequence }
        } else {
            matches = all.filter { $0.name == id || ($0.hash.hasPrefix(id.lowercased()) && id.count >= 4) }
        }
        guard matches.count == 1, let match = matches.first else {
            let what = matches.isEmpty ? "no drill report" : "\(matches.count) drill reports"
            throw CoreError(.reportNotFound, message: "\(what) in \(directory) match \(id); give a sequence number, a file name or at least 4 hex digits of the hash (drctl report list shows them)")
        }
        return match
    }
}
