import DRBase
import DRCrypto
import Foundation

/// Mailbox paths in a signed drill report are pseudonyms, because the report is stored in
/// clear on every target, where the repository otherwise keeps every path encrypted: a path
/// often names a person (`users/alice@example.com/…`). The pseudonym of a path is
/// `mailbox-` + the first 16 hex digits of SHA-256(salt ‖ UTF-8 path), with a random 32-byte
/// salt per report; the salt and the clear names stay in the local report folder only
/// (`<report>.names.json`, mode 0600), which is what lets drctl and an auditor the operator
/// hands it to read the names and check each one against the signed pseudonym. A new salt
/// per report keeps a target's reader from linking one mailbox across reports.
package struct DrillPseudonyms: Sendable, Equatable, Codable {
    package static let prefix = "mailbox-"

    /// 32 random bytes, hex.
    package var salt: String
    /// Pseudonym → path.
    package var mailboxes: [String: String]

    package static func fresh() -> DrillPseudonyms {
        DrillPseudonyms(salt: Hex.encode(SecureRandom.bytes(32)), mailboxes: [:])
    }

    package func pseudonym(of path: String) -> String {
        Self.prefix + String(SHA256.hexDigest((Hex.decode(salt) ?? []) + Array(path.utf8)).prefix(16))
    }

    /// The results with every mailbox path replaced by its pseudonym, also where a path is
    /// quoted in free text (a deviation's cause, a check's detail); `mailboxes` records them.
    package mutating func hide(_ results: DrillResults) -> DrillResults {
        var paths = Set(results.selection.mailboxes + results.selection.rotated)
        for target in results.targets { paths.formUnion(target.mailboxes.map(\.path)) }
        paths.formUnion(results.deviations.compactMap(\.mailbox))
        if let worst = results.rpo.worstMailbox { paths.insert(worst) }
        if let canary = results.rpo.canary?.mailbox { paths.insert(canary) }
        paths.remove("")
        var mapping: [String: String] = [:]
        for path in paths { mapping[path] = pseudonym(of: path) }
        for (path, name) in mapping { mailboxes[name] = path }
        return Self.rewrite(results, mapping)
    }

    /// The results with the pseudonyms this file knows replaced by their paths.
    package func reveal(_ results: DrillResults) -> DrillResults {
        Self.rewrite(results, mailboxes)
    }

    /// Whether `path` is the mailbox behind `name` (what an auditor re-computes).
    package func confirms(_ name: String, is path: String) -> Bool {
        pseudonym(of: path) == name
    }

    /// Applies a whole-value mapping to the mailbox fields and a substring replacement (longest
    /// first, so that `a/b.db` is not half-replaced through `b.db`) to the free text.
    static func rewrite(_ results: DrillResults, _ mapping: [String: String]) -> DrillResults {
        guard !mapping.isEmpty else { return results }
        let ordered = mapping.keys.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
        func whole(_ value: String) -> String { mapping[value] ?? text(value) }
        func text(_ value: String) -> String {
            var value = value
            for key in ordered where value.contains(key) {
                value = value.replacingOccurrences(of: key, with: mapping[key] ?? key)
            }
            return value
        }
        var out = results
        out.scenario = results.scenario.map(text)
        out.selection.mailboxes = results.selection.mailboxes.map(whole)
        out.selection.rotated = results.selection.rotated.map(whole)
        for t in out.targets.indices {
            out.targets[t].error = out.targets[t].error.map(text)
            out.targets[t].projectionAssumptions = out.targets[t].projectionAssumptions.map(text)
            for m in out.targets[t].mailboxes.indices {
                out.targets[t].mailboxes[m].path = whole(out.targets[t].mailboxes[m].path)
                for c in out.targets[t].mailboxes[m].checks.indices {
                    out.targets[t].mailboxes[m].checks[c].detail = out.targets[t].mailboxes[m].checks[c].detail.map(text)
                }
            }
        }
        out.rpo.worstMailbox = results.rpo.worstMailbox.map(whole)
        out.rpo.canary?.mailbox = results.rpo.canary.map { whole($0.mailbox) } ?? ""
        for d in out.deviations.indices {
            out.deviations[d].mailbox = out.deviations[d].mailbox.map(whole)
            out.deviations[d].cause = text(out.deviations[d].cause)
        }
        return out
    }
}
