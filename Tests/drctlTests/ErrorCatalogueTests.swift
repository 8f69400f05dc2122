import DRBase
import Foundation
import Testing

/// The error catalogue (`ErrorCode`) and docs/EXIT-CODES.md say the same: every code has a
/// documented exit status and meaning, and the docs list no code that no longer exists.
@Suite("error catalogue")
struct ErrorCatalogueTests {
    struct Row: Equatable, CustomStringConvertible {
        var code: String
        var exitStatus: Int32
        var meaning: String
        var description: String { "\(code) → \(exitStatus): \(meaning)" }
    }

    /// The rows of the table between the docs' `error-codes` markers.
    static func documentedRows() throws -> [Row] {
        let text = try String(contentsOfFile: ImageWorkspace.repositoryRoot + "/docs/EXIT-CODES.md",
                              encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- error-codes:begin -->"))
        let end = try #require(text.range(of: "<!-- error-codes:end -->"))
        return text[begin.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: CharacterSet.whitespaces) }
            guard cells.count == 5, cells[1].hasPrefix("`"), let status = Int32(cells[2]) else { return nil }
            return Row(code: cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                       exitStatus: status, meaning: cells[3])
        }
    }

    @Test("every code is documented with its exit status, and no documented code is gone")
    func docsMatchCatalogue() throws {
        let documented = try Self.documentedRows()
        let catalogue = ErrorCode.allCases.map {
            Row(code: $0.rawValue, exitStatus: $0.exitStatus.rawValue, meaning: $0.meaning)
        }
        let undocumented = catalogue.filter { row in !documented.contains(row) }
        let stale = documented.filter { row in !catalogue.contains(row) }
        #expect(undocumented.isEmpty, "codes missing from docs/EXIT-CODES.md (or documented differently): \(undocumented); regenerate with drctl debug error-codes")
        #expect(stale.isEmpty, "docs/EXIT-CODES.md lists codes the catalogue no longer has: \(stale)")
        #expect(documented.count == catalogue.count)
    }

    @Test("every code has a meaning and an exit status that the exit-status table documents")
    func codesAreWellFormed() throws {
        let text = try String(contentsOfFile: ImageWorkspace.repositoryRoot + "/docs/EXIT-CODES.md",
                              encoding: .utf8)
        for code in ErrorCode.allCases {
            #expect(!code.meaning.isEmpty, "\(code.rawValue) has no meaning")
            #expect(code.rawValue == "internal" || code.rawValue.contains("."), "\(code.rawValue) has no area prefix")
            #expect(text.contains("| \(code.exitStatus.rawValue) | \(code.exitStatus) |"),
                    "exit status \(code.exitStatus.rawValue) of \(code.rawValue) is not in the exit-status table")
        }
    }

    @Test("drctl debug error-codes prints the table the docs hold")
    func binaryPrintsTheDocumentedTable() throws {
        let result = try BinaryRunner.drctl(["debug", "error-codes"])
        #expect(result.status == 0)
        let printed = result.stdout.split(separator: "\n").filter { $0.hasPrefix("| `") }.count
        #expect(printed == ErrorCode.allCases.count)
        let text = try String(contentsOfFile: ImageWorkspace.repositoryRoot + "/docs/EXIT-CODES.md",
                              encoding: .utf8)
        #expect(text.contains(result.stdout.trimmingCharacters(in: .newlines)))
    }

    @Test("a command that fails with --json prints the error as JSON: code, exit status, context")
    func failureAsJSON() throws {
        let missing = NSTemporaryDirectory() + "drctl-no-such-\(UUID().uuidString).toml"
        let result = try BinaryRunner.drctl(["snapshots", "--json", "--config", missing])
        #expect(result.status == ExitStatus.noInput.rawValue)
        #expect(result.stderr.hasPrefix("<3>drctl: error: configuration file \(missing)"))
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let error = try #require(object?["error"] as? [String: Any])
        #expect(error["code"] as? String == ErrorCode.configNotFound.rawValue)
        #expect(error["exitStatus"] as? Int == Int(ExitStatus.noInput.rawValue))
        #expect((error["underlying"] as? String)?.contains("errno 2") == true)
        #expect(error["context"] is [String: Any])
    }

    @Test("a code split from one that had two exit statuses gives its own: no new secret is a usage error (64)")
    func splitCodesKeepTheirStatus() throws {
        let home = try TemporaryHome()
        let initialized = try home.drctl(["init"])
        try #require(initialized.status == 0, "init failed: \(initialized.stderr)")
        // setsid: no controlling terminal, so drctl cannot ask for the new passphrase.
        let result = try home.run("setsid", ["--wait", Drctl.binary, "key", "add", "--json"])
        #expect(result.status == ExitStatus.usage.rawValue, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let error = try #require(object?["error"] as? [String: Any])
        #expect(error["code"] as? String == ErrorCode.secretNoNewSecret.rawValue)
        #expect(ErrorCode.secretNone.exitStatus == .configuration)
    }
}

