import DRBase
import DRCrypto
package import DRTransport
import Foundation

/// `report verify`: signatures over PAE with a pinned public key, the chain rule, and the
/// heads the targets hold. Needs no repository key. Every problem names the file (or target)
/// and the sequence; docs/AUDIT.md describes the same steps for an independent verifier.
package enum DrillChainVerifier {
    package struct Problem: Sendable, Codable, Equatable {
        package var code: String
        package var file: String?
        package var target: String?
        package var sequence: Int?
        package var message: String
    }

    package struct Report: Sendable, Codable {
        package struct Row: Sendable, Codable {
            package var file: String
            package var sequence: Int?
            package var hash: String
            package var signature: Bool
        }
        package struct TargetHeads: Sendable, Codable {
            package var target: String
            /// The newest head's sequence; nil when the target holds none or could not be read.
            package var newest: Int?
            package var heads: Int
            package var error: String?
        }
        package var keyid: String
        package var reports: [Row]
        /// Filled by `--against-targets`.
        package var targets: [TargetHeads]?
        package var problems: [Problem]
        package var warnings: [String]

        /// The problem that ends the command: the gravest first (a broken chain before "no
        /// target could be read"); its code decides the exit status.
        package var failureIndex: Int? {
            let unreadable = ErrorCode.reportTargetsUnreadable.rawValue
            return problems.firstIndex { $0.code != unreadable } ?? problems.indices.first
        }

        package var failure: CoreError? {
            guard let index = failureIndex else { return nil }
            let chosen = problems[index]
            let code = ErrorCode(rawValue: chosen.code) ?? .reportChain
            let more = problems.count > 1 ? " (and \(problems.count - 1) more problem(s), listed above)" : ""
            return CoreError(code, message: chosen.message + more,
                             context: ErrorContext(target: chosen.target, file: chosen.file))
        }
    }

    /// Verifies report files. `wholeChain`: they are a whole report folder, whose chain must
    /// start at 1, taken in the order of their names; otherwise a segment, taken in the order
    /// of the sequences they hold.
    package static func verify(_ reports: [StoredDrillReport], publicKey: [UInt8], wholeChain: Bool) -> Report {
        var report = Report(keyid: DrillSigningKey.fingerprint(publicKey), reports: [], targets: nil, problems: [], warnings: [])
        func problem(_ code: ErrorCode, _ file: StoredDrillReport, _ sequence: Int?, _ message: String) {
            report.problems.append(Problem(code: code.rawValue, file: file.path, target: nil, sequence: sequence, message: message))
        }
        var chained: [(file: StoredDrillReport, fields: DrillChainFields)] = []
        for file in reports {
            var row = Report.Row(file: file.path, sequence: file.chain?.sequence, hash: file.hash, signature: false)
            defer { report.reports.append(row) }
            guard let envelope = file.envelope else {
                problem(.reportMalformed, file, nil, "\(file.path) is not a DSSE envelope (JSON with payload, payloadType and signatures, the payload in base64): it was altered or is not a drill report")
                continue
            }
            guard envelope.payloadType == DrillReportPayload.payloadType, let fields = file.chain,
                  fields.schema == DrillReportPayload.schema else {
                problem(.reportMalformed, file, nil, "\(file.path) is not a drctl drill report (payloadType \(envelope.payloadType), expected \(DrillReportPayload.payloadType) with schema \(DrillReportPayload.schema))")
                continue
            }
            let sequence = fields.sequence
            if envelope.signatures.isEmpty {
                problem(.reportSignature, file, sequence, "\(file.path) (report \(sequence)) is unsigned: [drill] had no signing_key_file when it was made, so nothing proves who made it")
            } else if envelope.isSigned(by: publicKey) {
                row.signature = true
            } else {
                problem(.reportSignature, file, sequence, "\(file.path) (report \(sequence)): no signature verifies with the public key \(report.keyid.prefix(16)): the report was altered after it was signed, or signed by another key")
            }
            if let claimed = DrillReportNames.parseReport(file.name) {
                if claimed.sequence != sequence {
                    problem(.reportChain, file, sequence, "\(file.path) holds report \(sequence), not report \(claimed.sequence) as its name says: report files were renamed or swapped")
                }
                if !file.hash.hasPrefix(claimed.hashPrefix) {
                    problem(.reportChain, file, sequence, "\(file.path) (report \(sequence)) hashes to \(file.hash.prefix(12))…, not \(claimed.hashPrefix) as its name says: the file was altered or replaced")
                }
            }
            chained.append((file, fields))
        }
        if !wholeChain {
            chained.sort { ($0.fields.sequence, $0.file.path) < ($1.fields.sequence, $1.file.path) }
        }
        var previous: (file: StoredDrillReport, fields: DrillChainFields)?
        for current in chained {
            let sequence = current.fields.sequence
            let path = current.file.path
            if let before = previous {
                let expected = before.fields.sequence + 1
                if sequence == before.fields.sequence {
                    problem(.reportChain, current.file, sequence, "report \(sequence) appears twice: \(before.file.path) and \(path)")
                } else if sequence != expected {
                    let what = sequence > expected
                        ? "report \(expected)\(sequence - 1 > expected ? "–\(sequence - 1)" : "") is missing: \(before.file.path) (report \(before.fields.sequence)) is followed by \(path) (report \(sequence))"
                        : "reports are out of order: \(path) (report \(sequence)) comes after \(before.file.path) (report \(before.fields.sequence))"
                    problem(.reportChain, current.file, sequence, what)
                } else if current.fields.previous != before.file.hash {
                    problem(.reportChain, current.file, sequence, "\(path) (report \(sequence)) names the previous report's hash \(current.fields.previous.map { String($0.prefix(16)) + "…" } ?? "null"), but \(before.file.path) (report \(before.fields.sequence)) hashes to \(before.file.hash.prefix(16))…: a report was replaced or the chain was rewritten")
                }
            } else if wholeChain, sequence != 1 {
                problem(.reportChain, current.file, sequence, "the chain starts at \(path) (report \(sequence)): report\(sequence > 2 ? "s 1–\(sequence - 1) are" : " 1 is") missing")
            } else if sequence == 1, current.fields.previous != nil {
                problem(.reportChain, current.file, sequence, "\(path) is report 1 but names a previous report")
            }
            previous = current
        }
        return report
    }

    /// Checks the local names files (`….names.json`) beside `reports`: each clear path must
    /// hash, with the file's salt, to the pseudonym it is given for. The names file is not
    /// signed; this binds each name it gives to the signed report.
    package static func checkNames(_ report: inout Report, _ reports: [StoredDrillReport], directory: String) {
        for file in reports {
            let path = directory + "/" + DrillReportNames.names(report: file.name)
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            guard let names = try? JSONDecoder().decode(DrillPseudonyms.self, from: data), Hex.decode(names.salt)?.count == 32 else {
                report.problems.append(Problem(code: ErrorCode.reportNames.rawValue, file: path, target: nil, sequence: file.chain?.sequence,
                                               message: "names file \(path) is not JSON of a 32-byte hex salt and mailboxes: it was altered"))
                continue
            }
            let wrong = names.mailboxes.filter { !names.confirms($0.key, is: $0.value) }.keys.sorted()
            if !wrong.isEmpty {
                report.problems.append(Problem(code: ErrorCode.reportNames.rawValue, file: path, target: nil, sequence: file.chain?.sequence,
                                               message: "names file \(path) gives \(wrong.count) mailbox path(s) that do not hash to their pseudonym (\(wrong.prefix(3).joined(separator: ", "))): it was altered"))
            }
        }
    }

    /// Compares the heads every target holds with the local chain: a head newer than the
    /// local newest report (reports deleted or the chain cut short locally) or naming another
    /// hash than the local report of its sequence (rewritten) is a problem; a target whose
    /// newest head is older (it missed later drills) is a warning.
    package static func compareHeads(_ report: inout Report, local: [StoredDrillReport], stores: [any ObjectStore],
                                     publicKey: [UInt8]) {
        var bySequence: [Int: StoredDrillReport] = [:]
        for file in local { if let sequence = file.chain?.sequence { bySequence[sequence] = file } }
        let localNewest = bySequence.keys.max() ?? 0
        var rows: [Report.TargetHeads] = []
        func problem(_ code: ErrorCode, _ target: String, _ sequence: Int?, _ message: String) {
            report.problems.append(Problem(code: code.rawValue, file: nil, target: target, sequence: sequence, message: message))
        }
        for store in stores {
            let target = store.targetName
            let heads: [(sequence: Int, object: String)]
            do {
                heads = try DrillHeads.sequences(on: store)
            } catch {
                rows.append(.init(target: target, newest: nil, heads: 0, error: error.message))
                report.warnings.append("target \(target): its chain heads cannot be listed: \(error.message)")
                continue
            }
            rows.append(.init(target: target, newest: heads.last?.sequence, heads: heads.count, error: nil))
            for (sequence, object) in heads {
                let head: DrillHeads.Head
                do {
                    head = try DrillHeads.read(object, sequence: sequence, on: store, publicKey: publicKey)
                } catch {
                    problem(error.code.area == "report" ? error.code : .reportHead, target, sequence, error.message)
                    continue
                }
                guard let mine = bySequence[sequence] else {
                    if sequence > localNewest {
                        problem(.reportHead, target, sequence, "target \(target) holds the chain head of report \(sequence) (\(head.payload.report), hash \(head.payload.envelope.prefix(16))…), but the local chain ends at \(localNewest == 0 ? "no report" : "report \(localNewest)"): newer reports were deleted locally (or the chain was cut short)")
                    } else {
                        problem(.reportHead, target, sequence, "target \(target) holds the chain head of report \(sequence) (\(head.payload.report)), which the local chain lacks: it was deleted locally")
                    }
                    continue
                }
                if mine.hash != head.payload.envelope {
                    problem(.reportHead, target, sequence, "report \(sequence) (\(mine.path), hash \(mine.hash.prefix(16))…) is not the report whose head target \(target) holds (\(head.payload.report), hash \(head.payload.envelope.prefix(16))…): it was rewritten or replaced locally")
                }
            }
            if let newest = heads.last?.sequence, newest < localNewest {
                report.warnings.append("target \(target): its newest chain head is report \(newest), the local chain's is \(localNewest): it missed the heads of later drills (unreachable then); nothing newer can be checked against it")
            } else if heads.isEmpty, localNewest > 0 {
                report.warnings.append("target \(target) holds no chain head: the local chain cannot be checked against it")
            }
        }
        report.targets = rows
        if !rows.contains(where: { $0.error == nil && $0.heads > 0 }), localNewest > 0 || rows.allSatisfy({ $0.error != nil }) {
            report.problems.append(Problem(code: ErrorCode.reportTargetsUnreadable.rawValue, file: nil, target: nil, sequence: nil,
                                           message: "no target holds a readable chain head (\(rows.map { "\($0.target): \($0.error ?? "none")" }.joined(separator: "; "))): a local chain cut short or rewritten cannot be detected"))
        }
    }
}
