import Foundation
import Testing

/// docs/CONFIGURATION.md against the decoder, so that neither can drift from the other: every
/// key the decoder accepts is in the reference tables, and every key the tables name is
/// accepted, section by section.
///
/// The decoder's lists are read through the built binary, from the message it gives for an
/// unknown key ("Allowed keys: …") and an unknown section ("Known sections: …"): the very lists
/// `checkUnknownKeys` holds a real file to.
@Suite("docs/CONFIGURATION.md and the decoder")
struct ConfigurationReferenceTests {
    static let unknownKey = "zz_not_a_key"

    /// Section name ("store", "target", …) → the keys the decoder accepts, and the sections.
    static func decoderKeys() throws -> (keys: [String: Set<String>], sections: Set<String>) {
        let home = try TemporaryHome()
        // A dotted name is a table inside its section (`[logs.anonymize]`).
        let sections = ["store", "repository", "objectives", "retention", "drill", "logs", "logs.anonymize", "prune", "state",
                        "metrics"]
        var text = ""
        for section in sections {
            text += "[\(section)]\n"
            if section == "store" { text += "path = \"\(home.root)/mailstore\"\n" }
            if section == "repository" { text += "key_file = \"\(home.root)/repository.key\"\n" }
            text += "\(unknownKey) = 1\n\n"
        }
        text += "[[target]]\nname = \"a\"\nurl = \"file://\(home.root)/targets/a\"\n\(unknownKey) = 1\n\n"
        text += "[zz_not_a_section]\n"
        let config = "\(home.root)/drctl.toml"
        try text.write(toFile: config, atomically: true, encoding: .utf8)

        // --json: one problem per element, each message whole (text mode joins them into one
        // journal line when standard error is not a terminal).
        let result = try home.drctl(["config", "check", "--config", config, "--json"])
        #expect(result.status == 78, "config check should refuse the unknown keys: \(result.stderr)")
        struct Report: Decodable {
            struct Problem: Decodable { var message: String }
            var problems: [Problem]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        var keys: [String: Set<String>] = [:]
        var known: Set<String> = []
        for line in report.problems.map(\.message) {
            if line.contains("unknown key \"\(unknownKey)\""), let range = line.range(of: "Allowed keys: ") {
                let list = Set(line[range.upperBound...].split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces)
                })
                guard let section = sections.first(where: { line.contains(": [\($0)]: ") })
                    ?? (line.contains(": [[target]] #1") ? "target" : nil) else {
                    Issue.record("an unknown-key line of no section this test wrote: \(line)")
                    continue
                }
                keys[section] = list
            } else if let range = line.range(of: "Known sections: ") {
                known = Set(line[range.upperBound...].split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                })
            }
        }
        #expect(Set(keys.keys) == Set(sections + ["target"]),
                "every section's allowed keys should be named; output:\n\(result.stdout)")
        #expect(!known.isEmpty, "the unknown section's message should list the known ones; output:\n\(result.stdout)")
        return (keys, known)
    }

    /// The keys of the "Sections and keys" table, by section: a `**[name]**` row opens a
    /// section, and each following row names its keys in backquotes in its first cell. A
    /// `**[parent.name]**` row is a table inside `parent`, which therefore accepts `name`.
    static func documentedKeys(_ markdown: String) -> [String: Set<String>] {
        var keys: [String: Set<String>] = [:]
        var section: String?
        var inTable = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                inTable = line == "## Sections and keys"
                continue
            }
            guard inTable, line.hasPrefix("|") else { continue }
            let first = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().first ?? ""
            if let name = first.firstMatch(of: /\*\*\[\[?([a-z_.]+)\]?\]\*\*/)?.1 {
                section = String(name)
                keys[String(name), default: []] = keys[String(name)] ?? []
                if let dot = name.lastIndex(of: ".") {
                    keys[String(name[..<dot]), default: []].insert(String(name[name.index(after: dot)...]))
                }
            } else if let section {
                for match in first.matches(of: /`([a-z0-9_]+)`/) {
                    keys[section, default: []].insert(String(match.1))
                }
            }
        }
        return keys
    }

    /// The first-column keys of the table under "## S3 targets" / "### Keys".
    static func documentedS3Keys(_ markdown: String) -> Set<String> {
        var keys: Set<String> = []
        var inS3 = false
        var inKeys = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { inS3 = line == "## S3 targets" }
            if line.hasPrefix("### ") { inKeys = inS3 && line == "### Keys" }
            guard inKeys, line.hasPrefix("| `") else { continue }
            let first = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().first ?? ""
            for match in first.matches(of: /`([a-z0-9_]+)`/) { keys.insert(String(match.1)) }
        }
        return keys
    }

    static func configurationPage() throws -> String {
        try String(contentsOfFile: "\(ProjectRoot.path)/docs/CONFIGURATION.md", encoding: .utf8)
    }

    @Test("every key the decoder accepts is in the reference table under its section, and every key there is accepted")
    func referenceTableMatchesDecoder() throws {
        let (decoder, knownSections) = try Self.decoderKeys()
        let documented = Self.documentedKeys(try Self.configurationPage())
        #expect(documented.count >= 8, "the reference table was not found in docs/CONFIGURATION.md")
        #expect(Set(documented.keys.filter { !$0.contains(".") }) == knownSections,
                "sections in the table \(documented.keys.sorted()) vs the decoder's \(knownSections.sorted())")
        for (section, accepted) in decoder {
            let written = documented[section] ?? []
            let undocumented = accepted.subtracting(written)
            let unknown = written.subtracting(accepted)
            #expect(undocumented.isEmpty, "[\(section)] accepts \(undocumented.sorted()), which docs/CONFIGURATION.md does not list")
            #expect(unknown.isEmpty, "docs/CONFIGURATION.md lists \(unknown.sorted()) under [\(section)], which the decoder refuses")
        }
    }

    @Test("the S3 keys table names only keys a [[target]] accepts, and every S3-only key")
    func s3TableMatchesDecoder() throws {
        let target = try Self.decoderKeys().keys["target"] ?? []
        let page = try Self.configurationPage()
        let s3 = Self.documentedS3Keys(page)
        #expect(s3.count >= 10, "the S3 keys table was not found in docs/CONFIGURATION.md")
        #expect(s3.subtracting(target).isEmpty, "the S3 table names keys a [[target]] refuses: \(s3.subtracting(target).sorted())")
        // The S3 table describes every key of an S3 target but its name.
        let missing = target.subtracting(s3).subtracting(["name"])
        #expect(missing.isEmpty, "[[target]] accepts \(missing.sorted()), which the S3 keys table does not describe")
    }

    @Test("the example error in docs/CONFIGURATION.md quotes the decoder's [[target]] key list as it is")
    func exampleErrorQuotesCurrentList() throws {
        let target = try Self.decoderKeys().keys["target"] ?? []
        let page = try Self.configurationPage()
        let line = try #require(page.split(separator: "\n").first { $0.contains("[[target]]") && $0.contains("Allowed keys: ") },
                                "the example unknown-key error was not found")
        let quoted = line[line.range(of: "Allowed keys: ")!.upperBound...].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        #expect(Set(quoted) == target, "the example quotes \(quoted), the decoder allows \(target.sorted())")
    }
}
