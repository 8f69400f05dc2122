import DRBase
package import DRConfig
import DRTransport
import Foundation
package import Logging

/// `report list | show | verify | public-key`: the local report folder read, and verified with
/// a public key only (never the repository key), so that an auditor runs them on their own
/// machine with a copy of the folder.
package enum DrillReportJobs {
    package struct Listed: Sendable, Codable {
        package var sequence: Int
        package var file: String
        package var hash: String
        package var created: String?
        package var verdict: String?
        package var scenario: String?
        /// Whether the file decodes as a drill report (list does not verify signatures).
        package var readable: Bool
    }

    package static func list(_ configuration: Configuration) throws(CoreError) -> [Listed] {
        let directory = configuration.drill.reportDirectory
        return try DrillReportFolder.reports(in: directory).map { file in
            let decoded = file.payload(reportDirectory: directory)?.payload
            return Listed(sequence: file.chain?.sequence ?? file.nameSequence, file: file.name, hash: file.hash,
                          created: decoded?.created ?? file.chain?.created, verdict: decoded?.drill.verdict.rawValue,
                          scenario: decoded?.drill.scenario, readable: decoded != nil)
        }
    }

    package struct Shown: Sendable, Codable {
        package var file: String
        package var hash: String
        package var keyids: [String]
        /// Mailbox paths revealed from the local names file (else they are pseudonyms).
        package var namesRevealed: Bool
        package var payload: DrillReportPayload
    }

    /// One report, its mailbox names revealed when the names file is there. Not verified.
    package static func show(_ configuration: Configuration, id: String) throws(CoreError) -> Shown {
        let directory = configuration.drill.reportDirectory
        let file = try DrillReportFolder.find(id, in: directory)
        guard let decoded = file.payload(reportDirectory: directory) else {
            throw CoreError(.reportMalformed, message: "\(file.path) is not a drill report this drctl reads (run drctl report verify on it)",
                            context: ErrorContext(file: file.path))
        }
        return Shown(file: file.path, hash: file.hash, keyids: file.envelope?.signatures.map(\.keyid) ?? [],
                     namesRevealed: decoded.names, payload: decoded.payload)
    }

    /// The public key to verify with: a file (`--public-key`), else `[drill] signing_key_file`'s.
    package static func publicKey(_ configuration: Configuration?, file: String?) throws(CoreError) -> [UInt8] {
        if let file { return try DrillSigningKey.readPublicKeyFile(file) }
        guard let seed = configuration?.drill.signingKeyFile else {
            throw CoreError(.reportNoPublicKey, message: "no public key to verify the drill reports with: pass --public-key FILE (drctl report public-key prints it on the signing host), or set [drill] signing_key_file")
        }
        return try DrillSigningKey.publicKey(seedFile: seed)
    }

    /// Verifies `files`, or the whole local chain when there are none.
    package static func verify(_ configuration: Configuration, files: [String], publicKeyFile: String?,
                               againstTargets: Bool, logger: Logger) throws(CoreError) -> DrillChainVerifier.Report {
        let key = try publicKey(configuration, file: publicKeyFile)
        let directory = configuration.drill.reportDirectory
        let reports: [StoredDrillReport]
        if files.isEmpty {
            reports = try DrillReportFolder.reports(in: directory)
            if reports.isEmpty && !againstTargets {
                throw CoreError(.reportNotFound, message: "no drill reports in \(directory) ([drill] report_dir): nothing to verify",
                                context: ErrorContext(file: directory))
            }
        } else {
            var read: [StoredDrillReport] = []
            for file in files { read.append(try DrillReportFolder.read(file)) }
            reports = read
        }
        var report = DrillChainVerifier.verify(reports, publicKey: key, wholeChain: files.isEmpty)
        if files.isEmpty {
            DrillChainVerifier.checkNames(&report, reports, directory: directory)
        }
        if againstTargets {
            // Only the heads are read: listing and GET, never the repository's key.
            let stores = Targets.stores(for: configuration, use: .read, logger: logger)
            let local = files.isEmpty ? reports : try DrillReportFolder.reports(in: directory)
            DrillChainVerifier.compareHeads(&report, local: local, stores: stores, publicKey: key)
            if reports.isEmpty && report.problems.isEmpty {
                throw CoreError(.reportNotFound, message: "no drill reports in \(directory) ([drill] report_dir) and no chain head on any target: nothing to verify",
                                context: ErrorContext(file: directory))
            }
        }
        return report
    }
}
