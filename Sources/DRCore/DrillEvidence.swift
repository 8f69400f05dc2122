import DRBase
package import DRConfig
import DRCrypto
package import DRRepository
import DRTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
package import Logging

/// A drill's results as evidence: a signed DSSE envelope, chained to the previous report by
/// its hash, stored locally and on every target, with the chain head written once to every
/// target so that a chain cut short or rewritten locally shows against them. Format:
/// docs/AUDIT.md.
package enum DrillEvidence {
    /// What `record` did.
    package struct RecordedReport: Sendable, Codable {
        package struct TargetCopy: Sendable, Codable {
            package var target: String
            /// `reports/<name>` and `reports/head-<sequence>` written.
            package var report: Bool
            package var head: Bool
            package var error: String?
        }
        package var name: String
        /// The local copy.
        package var path: String
        package var sequence: Int
        /// The hex SHA-256 of the envelope's bytes.
        package var envelopeHash: String
        /// The signing key's fingerprint; nil when the configuration has no signing key and the
        /// report is unsigned.
        package var keyid: String?
        package var targets: [TargetCopy]
    }

    /// Signs `results` as the next report of the chain; stores it in `[drill] report_dir` as
    /// `<sequence 6 digits>-<first 12 hex of its SHA-256>.dsse.json` (with the clear mailbox
    /// names beside it, mode 0600) and on every target of `repository` as `reports/<same
    /// name>`, then writes the chain head (sequence and envelope hash, signed too) to every
    /// target as `reports/head-<sequence>` (write-once; under Object Lock where the target
    /// has it) and locally; then `latest.json` (DrillStatus) for `drctl status`.
    ///
    /// A target that cannot be written is named in the result and the log, not an error: the
    /// report stands locally and on the others, and `report verify --against-targets` shows
    /// the gap. Without `[drill] signing_key_file` the report is unsigned (and says so).
    package static func record(_ results: DrillResults, configuration: Configuration, repository: Repository,
                               logger: Logger) throws(CoreError) -> RecordedReport {
        let directory = configuration.drill.reportDirectory
        let signer = try configuration.drill.signingKeyFile.map { path throws(CoreError) in try DrillSigner(seedFile: path) }
        if signer == nil {
            logger.warning("[drill] has no signing_key_file: this drill report is not signed, so an auditor cannot verify it; set signing_key_file and run drctl init to create the key")
        }
        let stores = repository.stores
        let (sequence, previous) = try nextLink(directory: directory, stores: stores, publicKey: signer?.publicKey, logger: logger)

        var pseudonyms = DrillPseudonyms.fresh()
        let hidden = pseudonyms.hide(results)
        let payload = DrillReportPayload(schema: DrillReportPayload.schema, sequence: sequence, previous: previous,
                                         created: Timestamps.now(), tool: .init(name: "drctl", version: DrctlRelease.version),
                                         host: configuration.hostName,
                                         configurationHash: try ConfigurationFingerprint.hash(configuration),
                                         mailboxPaths: DrillReportPayload.pseudonymousPaths, drill: hidden)
        let envelope = try DSSEEnvelope.sign(payloadType: DrillReportPayload.payloadType, payload: payload.encoded(), signer: signer).encoded()
        let hash = SHA256.hexDigest(envelope)
        let name = DrillReportNames.report(sequence: sequence, envelopeHash: hash)
        let head = DrillHeadPayload(schema: DrillHeadPayload.schema, sequence: sequence, envelope: hash, report: name,
                                    created: payload.created)
        let headBytes = try DSSEEnvelope.sign(payloadType: DrillHeadPayload.payloadType, payload: head.encoded(), signer: signer).encoded()

        // Locally first, names before the report, so that a report never lacks its names file;
        // the head, written once per sequence, is what stops two drills taking one sequence.
        let path = directory + "/" + name
        try write(encodeNames(pseudonyms), to: directory + "/" + DrillReportNames.names(report: name), mode: 0o600, what: "drill report names file")
        try write(envelope, to: path, mode: 0o644, what: "drill report")
        do {
            try write(headBytes, to: directory + "/" + DrillReportNames.localHead(sequence: sequence), mode: 0o644, what: "drill chain head")
        } catch where error.code == .fileExists {
            unlink(path)
            unlink(directory + "/" + DrillReportNames.names(report: name))
            throw CoreError(.reportConcurrent, message: "another drill recorded report \(sequence) in \(directory) at the same time; this report was withdrawn: run the drill again",
                            context: ErrorContext(file: path))
        }

        var copies: [RecordedReport.TargetCopy] = []
        for store in stores {
            var copy = RecordedReport.TargetCopy(target: store.targetName, report: false, head: false, error: nil)
            do throws(TransportError) {
                try store.put(DrillReportNames.targetFolder + name, envelope, ifAbsent: true)
                copy.report = true
                try store.put(DrillReportNames.targetHead(sequence: sequence), headBytes, ifAbsent: true)
                copy.head = true
            } catch {
                copy.error = error.message
                logger.warning("target \(store.targetName): drill report \(sequence) not stored: \(error.message); it is kept locally in \(path) and on the other targets",
                               metadata: ["target": "\(store.targetName)", "code": "\(error.code.rawValue)"])
            }
            copies.append(copy)
        }
        // Targets the repository could not open at all are named too: they lack this report.
        for missing in repository.unavailable {
            copies.append(.init(target: missing.target, report: false, head: false, error: missing.error.message))
            logger.warning("target \(missing.target): drill report \(sequence) not stored: the target could not be opened (\(missing.error.message)); it is kept locally in \(path) and on the other targets",
                           metadata: ["target": "\(missing.target)"])
        }

        let verdict = DrillStatus.Verdict(results.verdict)
        try DrillStatus.record(.init(time: results.finished, verdict: verdict), reportDirectory: directory)
        return RecordedReport(name: name, path: path, sequence: sequence, envelopeHash: hash, keyid: signer?.keyid, targets: copies)
    }

    /// The local chain's reports in order, mailbox names revealed where the names file is
    /// there, for what a drill computes from its history (coverage) and the HTML report's
    /// charts of past drills. Not verified (`report verify` does that); a report that cannot
    /// be decoded is left out.
    package static func history(reportDirectory: String) throws(CoreError) -> [DrillReportPayload] {
        try DrillReportFolder.reports(in: reportDirectory).compactMap { $0.payload(reportDirectory: reportDirectory)?.payload }
    }

    /// The next sequence and the previous report's hash: from the local chain, unless a
    /// target's head is newer (the local folder was lost or cut short), when the chain goes on
    /// from that head, so that it never forks (the warning says what is missing locally).
    static func nextLink(directory: String, stores: [any ObjectStore], publicKey: [UInt8]?,
                         logger: Logger) throws(CoreError) -> (sequence: Int, previous: String?) {
        let local = try DrillReportFolder.reports(in: directory).last
        var link = (sequence: (local?.nameSequence ?? 0) + 1, previous: local?.hash)
        for store in stores {
            guard let head = DrillHeads.newest(on: store, publicKey: publicKey, logger: logger) else { continue }
            if head.payload.sequence >= link.sequence {
                logger.warning("target \(store.targetName) holds drill chain head \(head.payload.sequence) (\(head.payload.report)), newer than the local chain in \(directory) (ends at \((local?.nameSequence).map(String.init) ?? "none")): reports are missing locally; the new report continues the chain from the target's head",
                               metadata: ["target": "\(store.targetName)"])
                link = (head.payload.sequence + 1, head.payload.envelope)
            }
        }
        return link
    }

    static func encodeNames(_ pseudonyms: DrillPseudonyms) throws(CoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        do { return Array(try encoder.encode(pseudonyms)) + [UInt8(ascii: "\n")] } catch {
            throw CoreError(.internalDefect, message: "the mailbox names of a drill report could not be encoded: \(error)")
        }
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, what: String) throws(CoreError) {
        do {
            try AtomicFile.write(bytes, to: path, mode: mode, .writeOnce, creatingFoldersWithMode: 0o700)
        } catch {
            throw CoreError(error.code, message: "cannot write the \(what) \(path): \(error.message)", context: ErrorContext(file: path),
                            underlying: error.underlying)
        }
    }
}

/// The configuration's fingerprint in a report: the hex SHA-256 of the configuration file's
/// exact bytes; for the embedded default (no file), of the UTF-8 text
/// `drctl embedded default configuration <version>, data folder <path>\n`, which determines it.
package enum ConfigurationFingerprint {
    package static func hash(_ configuration: Configuration) throws(CoreError) -> String {
        switch configuration.source {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CoreError(.configIo, message: "the configuration file \(path) cannot be read again to record its hash in the drill report",
                                context: ErrorContext(file: path))
            }
            return SHA256.hexDigest(Array(data))
        case .embedded(let data):
            return SHA256.hexDigest(Array("drctl embedded default configuration \(DrctlRelease.version), data folder \(data)\n".utf8))
        }
    }
}
