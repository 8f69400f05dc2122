import Foundation
import Testing

// Global options (--config, --json, --password-file, --key-file, --no-progress, --quiet,
// --verbose) before and after the command name, through the built binary.

/// The command tree as `drctl --experimental-dump-help` prints it: ArgumentParser generates
/// it from the root command's configuration, so a subcommand added there appears here
/// without anyone listing it (and fails `everyCommand` until it is given a case).
private struct CommandTree: Decodable {
    struct Name: Decodable {
        var kind: String
        var name: String
    }
    struct Argument: Decodable {
        var kind: String
        var names: [Name]?
    }
    struct Command: Decodable {
        var commandName: String
        var subcommands: [Command]?
        var arguments: [Argument]?

        /// The long names of its options and flags.
        var longNames: Set<String> {
            Set((arguments ?? []).filter { $0.kind != "positional" }
                .flatMap { $0.names ?? [] }.filter { $0.kind == "long" }.map(\.name))
        }
    }
    var command: Command

    static func load() throws -> CommandTree {
        let result = try BinaryRunner.drctl(["--experimental-dump-help"])
        try #require(result.status == 0, "dump-help failed: \(result.stderr)")
        return try JSONDecoder().decode(CommandTree.self, from: Data(result.stdout.utf8))
    }

    /// Every command below the root with its path, depth first. ArgumentParser's own `help`
    /// is left out: it is not ours and takes no options.
    var all: [(path: [String], command: Command)] {
        func walk(_ command: Command, _ path: [String]) -> [([String], Command)] {
            (command.subcommands ?? []).filter { $0.commandName != "help" }.flatMap { child in
                [(path + [child.commandName], child)] + walk(child, path + [child.commandName])
            }
        }
        return walk(command, []).map { (path: $0.0, command: $0.1) }
    }

    /// The commands that run (no subcommands), as "key list".
    var runnable: [(path: [String], command: Command)] {
        all.filter { ($0.command.subcommands ?? []).isEmpty }
    }
}

/// ArgumentParser's own options, on every command.
private let builtInOptions: Set<String> = ["help", "version"]

/// The global options this suite knows how to give; a new one must be added here (and to
/// GlobalOptions.Spelling, which the run of `version` with every option checks).
private let knownGlobalOptions: Set<String> = [
    "config", "json", "password-file", "key-file", "no-progress", "quiet", "verbose",
]

private enum Placement: CaseIterable, CustomStringConvertible {
    case before, after
    var description: String { self == .before ? "before the command" : "after the command" }

    /// `globals` before the path (`drctl --json key list`) or after the command's own
    /// arguments (`drctl key list --json`).
    func arguments(_ path: [String], _ rest: [String], globals: [String]) -> [String] {
        self == .before ? globals + path + rest : path + rest + globals
    }
}

/// A home with a configuration (key-file repository, two file targets) and a mail store of
/// one small mailbox; `prepare` initialises the repository and takes a first backup.
private final class Fixture {
    let backupHome: BackupHome
    var config: String { backupHome.config }
    var keyFile: String { backupHome.repositoryKeyFile }
    var root: String { backupHome.root }
    let mailbox = "users/alice.db"
    let mailboxBytes: Data

    init() throws {
        backupHome = try BackupHome()
        // Plain text, not an SQLite file: backed up by content-defined chunking, which needs
        // no mailbox key and no Python, and is restored byte for byte all the same. (Random
        // bytes would not do: they look like an encrypted database, and a truncated one.)
        let lines = (0..<800).map { "message \($0) from user\(Int.random(in: 0..<1000))@example.org: \(UUID().uuidString)\n" }
        mailboxBytes = Data(lines.joined().utf8)
        try FileManager.default.createDirectory(atPath: "\(backupHome.store)/users", withIntermediateDirectories: true)
        try mailboxBytes.write(to: URL(fileURLWithPath: "\(backupHome.store)/\(mailbox)"))
        // A signing key (init creates it) and a report folder, for the report commands.
        try backupHome.enableDrillReports()
        resultsFile = "\(backupHome.root)/drill-results.json"
        try DrillResultsFixture.json(mailboxes: [mailbox]).write(toFile: resultsFile, atomically: true, encoding: .utf8)
    }

    /// A DrillResults document for `debug sign-drill`.
    let resultsFile: String

    /// Runs drctl in the home with the tests' controlled environment.
    func drctl(_ arguments: [String]) throws -> RunResult {
        try backupHome.home.drctl(arguments)
    }

    func prepare() throws {
        let initialised = try drctl(["init", "--config", config])
        try #require(initialised.status == 0, "init failed: \(initialised.stderr)")
        let backup = try drctl(["backup", "--config", config, "--json"])
        try #require(backup.status == 0, "backup failed: \(backup.stderr)")
    }

    /// Global options for a command that opens the repository: all used.
    func repositoryGlobals(keyFile: String? = nil, json: Bool = true) -> [String] {
        ["--config", config, "--key-file", keyFile ?? self.keyFile, "--no-progress", "--verbose"]
            + (json ? ["--json"] : [])
    }

    /// Global options for a command that needs neither the configuration nor a secret:
    /// every one of them, naming files that do not exist, to show that they are ignored.
    let ignoredGlobals = ["--config", "/nonexistent/drctl.toml", "--password-file", "/nonexistent/pass",
                          "--key-file", "/nonexistent/key", "--no-progress", "--verbose", "--json"]
}

private func json(_ result: RunResult) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
}

private func jsonObject(_ result: RunResult) throws -> [String: Any] {
    try #require(try json(result) as? [String: Any], "not a JSON object: \(result.stdout)")
}

private func jsonArray(_ result: RunResult) throws -> [[String: Any]] {
    try #require(try json(result) as? [[String: Any]], "not a JSON array: \(result.stdout)")
}

/// What one command is run with, for each placement of the global options.
private struct CommandCase {
    /// Arguments enough to get through parsing (required options and arguments).
    var parsing: [String]
    /// A real, cheap run of the command with global options placed as given; asserts on it.
    var run: (Fixture, Placement) throws -> Void
}

@Suite("global options before and after the command")
struct GlobalOptionsTests {
    /// One case per runnable command, in the order they run (state carries over: init
    /// before backup, key add before key remove, passwd last because it replaces the key
    /// the configuration names).
    private func cases(_ fixture: Fixture) -> [(String, CommandCase)] {
        let config = fixture.config
        let restoreFolder = { (placement: Placement) in "\(fixture.root)/restore-\(placement)" }
        var addedKeys: [Placement: String] = [:]
        var passwdKey: String?
        return [
            ("init", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["init"], [],
                                                                   globals: ["--config", config, "--no-progress", "--verbose", "--json"]))
                if placement == .before {
                    #expect(result.status == 0, "\(result.stderr)")
                    #expect(try jsonObject(result)["repository"] is String)
                } else {
                    // The repository exists by now: a domain error, after parsing succeeded.
                    #expect(result.status == 73, "\(result.stderr)")
                    #expect(result.stderr.contains("already holds a repository"))
                }
                #expect(result.stderr.contains("drctl: configuration: \(config)"), "\(result.stderr)")
            }),
            ("backup", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["backup"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try JSONDecoder().decode(BackupReport.self, from: Data(result.stdout.utf8))
                #expect(report.files == 1)
                #expect(report.targets.filter { !$0.ok }.isEmpty)
                #expect(result.stderr.contains("drctl: backup: every mailbox"), "\(result.stderr)")
            }),
            ("snapshots", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["snapshots"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                // init ran, then backup twice (before and after): at least two snapshots.
                #expect(try jsonArray(result).count >= 2)
            }),
            ("restore", CommandCase(parsing: ["--to", "\(fixture.root)/never"]) { fixture, placement in
                let folder = restoreFolder(placement)
                let result = try fixture.drctl(placement.arguments(["restore"], ["--to", folder],
                                                                   globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try JSONDecoder().decode(RestoreReport.self, from: Data(result.stdout.utf8))
                #expect(report.restored.map(\.mailbox) == [fixture.mailbox])
                #expect(FileManager.default.contents(atPath: "\(folder)/\(fixture.mailbox)") == fixture.mailboxBytes)
            }),
            ("check", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["check"], ["--read-data"],
                                                                   globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try JSONDecoder().decode(CheckReport.self, from: Data(result.stdout.utf8))
                #expect(report.targets.count == 2)
                #expect(report.targets.filter { !$0.errors.isEmpty || $0.packsRead == 0 }.isEmpty)
            }),
            ("sync", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["sync"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect(report["complete"] as? Bool == true, "\(result.stdout)")
                #expect((report["targets"] as? [[String: Any]])?.count == 2)
                #expect(result.stderr.contains("drctl: sync: every target"), "\(result.stderr)")
            }),
            ("forget", CommandCase(parsing: []) { fixture, placement in
                // A dry run: the commands after it still find every snapshot.
                let result = try fixture.drctl(placement.arguments(["forget"], ["--dry-run"], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect(report["dryRun"] as? Bool == true)
                let plan = try #require(report["plan"] as? [String: Any])
                #expect((plan["snapshots"] as? [[String: Any]])?.isEmpty == false, "\(result.stdout)")
                #expect(result.stderr.contains("drctl: forget: this host"), "\(result.stderr)")
            }),
            ("targets", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["targets"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let rows = try #require(try jsonObject(result)["targets"] as? [[String: Any]])
                #expect(rows.count == 2 && rows.allSatisfy { $0["reachable"] as? Bool == true }, "\(result.stdout)")
                #expect(result.stderr.contains("drctl: targets: site-a, site-b"), "\(result.stderr)")
            }),
            ("prune", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["prune"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect((report["targets"] as? [[String: Any]])?.count == 2, "\(result.stdout)")
                #expect(result.stderr.contains("drctl: prune: site-a, site-b"), "\(result.stderr)")
            }),
            ("run", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["run"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect((report["steps"] as? [[String: Any]])?.first?["step"] as? String == "backup", "\(result.stdout)")
                #expect(result.stderr.contains("drctl: run: backup, then prune"), "\(result.stderr)")
            }),
            ("status", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["status"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect(report["schema"] as? String == "drctl.status/1", "\(result.stdout)")
                #expect((report["rpo"] as? [String: Any])?["worstMailbox"] as? String == fixture.mailbox, "\(result.stdout)")
                #expect(result.stderr.contains("drctl: status: this host"), "\(result.stderr)")
            }),
            ("drill", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["drill"], ["--seed", "1"], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect(report["verdict"] as? String == "pass", "\(result.stdout)")
                #expect((report["selection"] as? [String: Any])?["mailboxes"] as? [String] == [fixture.mailbox], "\(result.stdout)")
                #expect(result.stderr.contains("drctl: drill: sample"), "\(result.stderr)")
            }),
            ("canary", CommandCase(parsing: []) { fixture, placement in
                // The fixture has no [drill] canary: the command says what to add.
                let result = try fixture.drctl(placement.arguments(["canary"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 78, "\(result.stderr)")
                #expect(try jsonObject(result)["error"] is [String: Any], "\(result.stdout)")
                #expect(result.stderr.contains("[drill] canary is not set"), "\(result.stderr)")
            }),
            ("debug sign-drill", CommandCase(parsing: ["--results", fixture.resultsFile]) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["debug", "sign-drill"], ["--results", fixture.resultsFile],
                                                                   globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                // The drill (and run) cases above signed reports too: this one comes next.
                let sequence = try #require(try jsonObject(result)["sequence"] as? Int, "\(result.stdout)")
                let listed = try jsonArray(try fixture.drctl(["report", "list"] + fixture.repositoryGlobals()))
                #expect(sequence >= 2 && listed.count == sequence, "sequence \(sequence), \(listed.count) reports listed")
            }),
            ("report list", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["report", "list"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonArray(result).count >= 3, "\(result.stdout)")
            }),
            ("report show", CommandCase(parsing: ["1"]) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["report", "show"], ["2"], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                #expect((try jsonObject(result)["payload"] as? [String: Any])?["sequence"] as? Int == 2, "\(result.stdout)")
            }),
            ("report verify", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["report", "verify"], ["--against-targets"],
                                                                   globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let listed = try jsonArray(try fixture.drctl(["report", "list"] + fixture.repositoryGlobals()))
                #expect((try jsonObject(result)["reports"] as? [[String: Any]])?.count == listed.count, "\(result.stdout)")
            }),
            ("report public-key", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["report", "public-key"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                #expect((try jsonObject(result)["publicKey"] as? String)?.count == 64, "\(result.stdout)")
            }),
            ("logs ip", CommandCase(parsing: ["--raw-key-file", fixture.keyFile, "192.0.2.1"]) { fixture, placement in
                // A repository key file is 64 hex digits in a 0600 file, as a raw pseudonym key is.
                let result = try fixture.drctl(placement.arguments(["logs", "ip"], ["--raw-key-file", fixture.keyFile, "192.0.2.1", "2001:db8::1"],
                                                                   globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                let rows = try jsonArray(result)
                #expect(rows.count == 2 && rows.allSatisfy { $0["pseudonym"] is String }, "\(result.stdout)")
            }),
            ("logs retain", CommandCase(parsing: []) { fixture, placement in
                // The fixture has no [logs] sources: nothing to take, and nothing expires.
                let result = try fixture.drctl(placement.arguments(["logs", "retain"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let report = try jsonObject(result)
                #expect((report["retained"] as? [Any])?.isEmpty == true && report["targets"] is [Any], "\(result.stdout)")
            }),
            ("logs show", CommandCase(parsing: []) { fixture, placement in
                // Nothing retained: no line (one JSON object per line with --json), exit 0.
                let result = try fixture.drctl(placement.arguments(["logs", "show"], ["--since", "1d ago"], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0 && result.stdout.isEmpty, "\(result.status) \(result.stdout) \(result.stderr)")
                #expect(result.stderr.contains("logs show: 0 lines"), "\(result.stderr)")
            }),
            ("logs keys", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["logs", "keys"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonArray(result).isEmpty, "\(result.stdout)")
            }),
            ("logs anonymize", CommandCase(parsing: ["--raw-key-file", fixture.keyFile, "\(fixture.root)/never.log"]) { fixture, placement in
                // A repository key file is 64 hex digits in a 0600 file, as a raw pseudonym key is.
                let input = "\(fixture.root)/mail-\(placement).log"
                try "connect from unknown[192.0.2.1]\n".write(toFile: input, atomically: true, encoding: .utf8)
                // It reads [logs.anonymize] from the configuration, so --config must name a real one.
                let result = try fixture.drctl(placement.arguments(["logs", "anonymize"], ["--raw-key-file", fixture.keyFile, input],
                                                                   globals: ["--config", fixture.config, "--no-progress", "--verbose", "--json"]))
                #expect(result.status == 0, "\(result.stderr)")
                let rows = try jsonArray(result)
                #expect(rows.count == 1 && rows.first?["output"] as? String == input + ".anon", "\(result.stdout)")
                #expect(!((try? String(contentsOfFile: input + ".anon", encoding: .utf8)) ?? "192.0.2.1").contains("192.0.2.1"))
            }),
            ("image", CommandCase(parsing: ["\(fixture.root)/mailstore/\(fixture.mailbox)", "--to", "\(fixture.root)/never.img"]) { fixture, placement in
                let image = "\(fixture.root)/copy-\(placement).img"
                let result = try fixture.drctl(placement.arguments(
                    ["image"], ["\(fixture.root)/mailstore/\(fixture.mailbox)", "--to", image], globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonObject(result)["mode"] as? String == "not-sqlite")
                #expect(FileManager.default.contents(atPath: image) == fixture.mailboxBytes)
            }),
            ("key list", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["key", "list"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonArray(result).filter { $0["current"] as? Bool == true }.count == 1)
            }),
            ("key add", CommandCase(parsing: []) { fixture, placement in
                let newKey = "\(fixture.root)/added-\(placement).key"
                let result = try fixture.drctl(placement.arguments(["key", "add"], ["--new-key-file", newKey],
                                                                   globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let added = try jsonObject(result)
                #expect(added["createdKeyFile"] as? String == newKey)
                addedKeys[placement] = added["id"] as? String
            }),
            ("key remove", CommandCase(parsing: ["0000"]) { fixture, placement in
                let id = try #require(addedKeys[placement], "key add did not run first")
                let result = try fixture.drctl(placement.arguments(["key", "remove"], [id],
                                                                   globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonObject(result)["removed"] as? String == id)
            }),
            ("key passwd", CommandCase(parsing: []) { fixture, placement in
                // Each run replaces the key in use; the next one opens with the new key file.
                let newKey = "\(fixture.root)/passwd-\(placement).key"
                let result = try fixture.drctl(placement.arguments(["key", "passwd"], ["--new-key-file", newKey],
                                                                   globals: fixture.repositoryGlobals(keyFile: passwdKey)))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonObject(result)["newID"] is String)
                passwdKey = newKey
            }),
            ("config check", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["config", "check"], [], globals: fixture.repositoryGlobals()))
                #expect(result.status == 0, "\(result.stderr)")
                let source = try #require(try jsonObject(result)["source"] as? [String: Any])
                #expect(source["path"] as? String == config)
            }),
            ("config example", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["config", "example"], [], globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.contains("[[target]]"))
            }),
            ("version", CommandCase(parsing: []) { fixture, placement in
                // Every global option (in both spellings of a value) in one run: each must be
                // known to the argument rewriting, or `version` would not be found.
                let globals = ["--config=/nonexistent/drctl.toml", "--password-file", "/nonexistent/pass",
                               "--key-file=/nonexistent/key", "--no-progress", "--json", "-v"]
                let result = try fixture.drctl(placement.arguments(["version"], [], globals: globals))
                #expect(result.status == 0, "\(result.stderr)")
                let version = try #require(try jsonObject(result)["version"] as? String)
                #expect(!version.isEmpty)
                let quiet = try fixture.drctl(placement.arguments(["version"], [], globals: ["--quiet"]))
                #expect(quiet.status == 0, "\(quiet.stderr)")
                #expect(quiet.stdout == "drctl \(version)\n")
            }),
            ("debug process", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["debug", "process"], [], globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonObject(result)["dumpable"] is Bool)
            }),
            ("debug render-drill", CommandCase(parsing: ["--results", "\(fixture.root)/none.json", "--html", "\(fixture.root)/never.html"]) { fixture, placement in
                let drill = try DrillHTMLFixture()
                let result = try fixture.drctl(placement.arguments(["debug", "render-drill"], ["--results", drill.resultsPath, "--html", drill.htmlPath],
                                                                   globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try jsonObject(result)["html"] as? String == drill.htmlPath)
                #expect(FileManager.default.contents(atPath: drill.htmlPath)?.isEmpty == false)
            }),
            ("debug error-codes", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["debug", "error-codes"], [], globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                let entries = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
                #expect(entries.contains { $0["code"] as? String == "repository.wrong-key" })
            }),
            ("debug man", CommandCase(parsing: []) { fixture, placement in
                let result = try fixture.drctl(placement.arguments(["debug", "man"], [], globals: fixture.ignoredGlobals))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.contains(".TH DRCTL 1"), "not a manual page: \(result.stdout.prefix(200))")
            }),
        ]
    }

    @Test("every command accepts the global options before and after its name, and runs")
    func everyCommand() throws {
        let tree = try CommandTree.load()
        let fixture = try Fixture()
        let cases = cases(fixture)
        let commands = tree.runnable.map { $0.path.joined(separator: " ") }
        #expect(Set(commands) == Set(cases.map(\.0)),
                "commands without a case here (add one) or cases of removed commands: \(Set(commands).symmetricDifference(cases.map(\.0)))")
        #expect(commands.count >= 14, "the tree looks too small: \(commands)")

        for (name, command) in cases where commands.contains(name) {
            for placement in Placement.allCases {
                // Recorded, not thrown: one broken command must not hide the others.
                do {
                    try command.run(fixture, placement)
                } catch {
                    Issue.record(error, "\(name), global options \(placement)")
                }
            }
        }
    }

    @Test("every command declares every global option and lists it under GLOBAL OPTIONS in --help")
    func everyCommandDeclaresThem() throws {
        let tree = try CommandTree.load()
        let version = try #require(tree.runnable.first { $0.path == ["version"] })
        // `version` has nothing but the global options: they are its options.
        let globals = version.command.longNames.subtracting(builtInOptions)
        #expect(globals == knownGlobalOptions)
        for (path, command) in tree.runnable {
            let name = path.joined(separator: " ")
            #expect(command.longNames.isSuperset(of: globals),
                    "\(name) lacks \(globals.subtracting(command.longNames).sorted())")
            let help = try BinaryRunner.drctl(path + ["--help"])
            #expect(help.status == 0, "\(name) --help: \(help.stderr)")
            let section = try #require(help.stdout.range(of: "GLOBAL OPTIONS:"), "\(name) --help has no GLOBAL OPTIONS section")
            let listed = help.stdout[section.upperBound...]
            for option in globals {
                #expect(listed.contains("--\(option)"), "\(name) --help does not list --\(option)")
            }
        }
        // Groups take no options of their own: the argument rewriting relies on it (it ends
        // the command path at the first argument that is neither a global option nor a name).
        for (path, command) in tree.all where !(command.subcommands ?? []).isEmpty {
            #expect(command.longNames.subtracting(builtInOptions).isEmpty,
                    "\(path.joined(separator: " ")) has options of its own: \(command.longNames)")
        }
        let root = try BinaryRunner.drctl(["--help"])
        #expect(root.status == 0)
        #expect(root.stdout.contains("Global options work with every command, before or after its name"))
        for option in knownGlobalOptions {
            #expect(root.stdout.contains("--\(option)"), "drctl --help does not explain --\(option)")
        }
    }

    @Test("--quiet with --verbose is a usage error (64) for every command, before or after its name")
    func quietWithVerbose() throws {
        let tree = try CommandTree.load()
        let fixture = try Fixture()
        let cases = Dictionary(uniqueKeysWithValues: cases(fixture))
        for (path, _) in tree.runnable {
            let name = path.joined(separator: " ")
            let parsing = try #require(cases[name], "no case for \(name)").parsing
            for placement in Placement.allCases {
                for spelling in [["--quiet", "--verbose"], ["-qv"]] {
                    let result = try fixture.drctl(placement.arguments(path, parsing, globals: spelling))
                    #expect(result.status == 64, "\(name) \(spelling) \(placement): \(result.status) \(result.stderr)")
                    #expect(result.stderr.contains("--quiet and --verbose contradict each other"),
                            "\(name) \(spelling) \(placement): \(result.stderr)")
                    #expect(result.stdout.isEmpty)
                }
            }
        }
        // Nothing ran: init (on the embedded default, as no --config was given) created nothing.
        #expect(!FileManager.default.fileExists(atPath: fixture.backupHome.home.dataDirectory))
    }

    @Test("--json before the command prints the same JSON as after it")
    func jsonBeforeTheCommand() throws {
        let fixture = try Fixture()
        try fixture.prepare()
        for path in [["snapshots"], ["key", "list"], ["config", "check"], ["version"]] {
            let before = try fixture.drctl(["--json", "--config", fixture.config] + path)
            let after = try fixture.drctl(path + ["--config", fixture.config, "--json"])
            #expect(before.status == 0, "\(path): \(before.stderr)")
            #expect(after.status == 0, "\(path): \(after.stderr)")
            let parsed = try json(before)
            #expect(parsed is [Any] || parsed is [String: Any], "\(path): \(before.stdout)")
            #expect(before.stdout == after.stdout)
        }
    }

    @Test("restore and check accept --no-progress, after and before their name")
    func noProgress() throws {
        let fixture = try Fixture()
        try fixture.prepare()
        let config = ["--config", fixture.config]
        let restore = try fixture.drctl(["restore", "--no-progress", "--to", "\(fixture.root)/r1"] + config)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("1 mailboxes restored"), "\(restore.stdout)")
        let restoreBefore = try fixture.drctl(["--no-progress"] + config + ["restore", "--to", "\(fixture.root)/r2"])
        #expect(restoreBefore.status == 0, "\(restoreBefore.stderr)")
        #expect(FileManager.default.contents(atPath: "\(fixture.root)/r2/\(fixture.mailbox)") == fixture.mailboxBytes)
        for form in [["check", "--no-progress"], ["check", "--no-progress", "--read-data"],
                     ["--no-progress", "check", "--read-data"]] {
            let check = try fixture.drctl(form + config)
            #expect(check.status == 0, "\(form): \(check.stderr)")
            #expect(check.stdout.contains("target site-a: ok"), "\(form): \(check.stdout)")
        }
        let backup = try fixture.drctl(["--no-progress", "backup"] + config)
        #expect(backup.status == 0, "\(backup.stderr)")
    }

    @Test("--quiet leaves out summaries but not listings; --verbose adds detail on standard error")
    func quietAndVerbose() throws {
        let fixture = try Fixture()
        try fixture.prepare()
        let config = ["--config", fixture.config]
        for form in [["-q", "backup"], ["backup", "--quiet"], ["--quiet", "check", "--read-data"],
                     ["--quiet", "restore", "--to", "\(fixture.root)/quiet"], ["-q", "config", "check"]] {
            let result = try fixture.drctl(form + config)
            #expect(result.status == 0, "\(form): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(form) printed: \(result.stdout)")
            #expect(result.stderr.isEmpty, "\(form) printed on stderr: \(result.stderr)")
        }
        #expect(FileManager.default.contents(atPath: "\(fixture.root)/quiet/\(fixture.mailbox)") == fixture.mailboxBytes)
        // A listing is what was asked for: still printed.
        let snapshots = try fixture.drctl(["-q", "snapshots"] + config)
        #expect(snapshots.status == 0)
        #expect(snapshots.stdout.contains("ID "), "\(snapshots.stdout)")
        // --json output stays under --quiet.
        let quietJSON = try fixture.drctl(["-q", "--json", "backup"] + config)
        #expect(quietJSON.status == 0)
        #expect(try JSONDecoder().decode(BackupReport.self, from: Data(quietJSON.stdout.utf8)).files == 1)

        let verbose = try fixture.drctl(["-v", "snapshots", "--json"] + config)
        #expect(verbose.status == 0, "\(verbose.stderr)")
        #expect(verbose.stderr.contains("drctl: configuration: \(fixture.config)"), "\(verbose.stderr)")
        // prepare's backup, two quiet ones and the quiet --json one.
        #expect(try jsonArray(verbose).count == 4)
        let plain = try fixture.drctl(["snapshots", "--json"] + config)
        #expect(plain.stderr.isEmpty, "\(plain.stderr)")
    }

    @Test("a secret file named before the command is used, not just accepted")
    func secretsBeforeTheCommand() throws {
        let home = try TemporaryHome()
        let password = try home.secretFile("pass", "correct horse\n")
        let config = try home.configFile(passwordFile: password)
        try #require(try home.drctl(["init", "--config", config]).status == 0)
        let wrong = try home.secretFile("wrong", "battery staple\n")
        let right = try home.drctl(["--config", config, "--password-file", password, "--json", "key", "list"])
        #expect(right.status == 0, "\(right.stderr)")
        #expect(try jsonArray(right).count == 1)
        let refused = try home.drctl(["--password-file=\(wrong)", "--config", config, "key", "list"])
        #expect(refused.status == 77, "\(refused.status): \(refused.stderr)")
        let refusedAfter = try home.drctl(["key", "list", "--config", config, "--password-file", wrong])
        #expect(refusedAfter.status == 77, "\(refusedAfter.status): \(refusedAfter.stderr)")
    }

    @Test("unknown options before the command are named in the error; values that look like commands stay values")
    func edgesOfTheRewriting() throws {
        let home = try TemporaryHome()
        for arguments in [["--bogus", "backup"], ["--json", "--bogus", "backup"], ["--config", "x", "--bogus", "key", "list"]] {
            let result = try home.drctl(arguments)
            #expect(result.status == 64, "\(arguments): \(result.status)")
            #expect(result.stderr.contains("Unknown option '--bogus'"), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("'--json'") && !result.stderr.contains("'--config'"),
                    "\(arguments) blamed a global option: \(result.stderr)")
        }
        let misspelt = try home.drctl(["--json", "bakup"])
        #expect(misspelt.status == 64)
        #expect(misspelt.stderr.contains("'bakup'"), "\(misspelt.stderr)")

        // A configuration file called `backup`, in the working folder: --config takes it as
        // its value, and `config check` is the command.
        let named = "\(home.root)/backup"
        let password = try home.secretFile("pass", "correct horse\n")
        try FileManager.default.copyItem(atPath: try home.configFile(passwordFile: password), toPath: named)
        let checked = try home.drctl(["--config", "backup", "--json", "config", "check"])
        #expect(checked.status == 0, "\(checked.stderr)")
        let source = try #require(try jsonObject(checked)["source"] as? [String: Any], "\(checked.stdout) \(checked.stderr)")
        #expect((source["path"] as? String)?.hasSuffix("backup") == true, "\(source)")
        // With no command left after it, that is an error, not `backup` run without --config.
        let swallowed = try home.drctl(["--config", "backup"])
        #expect(swallowed.status == 64)
        #expect(swallowed.stderr.contains("a command must follow the global options (here: --config backup)"),
                "\(swallowed.stderr)")
        // A missing value after the command is reported as ArgumentParser does.
        let missing = try home.drctl(["version", "--config"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("Missing value for '--config <path>'"), "\(missing.stderr)")

        // The moved options go before the command's own arguments, so a `--` there still
        // ends the options (here it lets a file name start with a dash).
        let odd = "\(home.root)/-odd.db"
        try Data("not sqlite".utf8).write(to: URL(fileURLWithPath: odd))
        let copy = try BinaryRunner.run(Drctl.binary, ["--json", "image", "--to", "copy.img", "--", "-odd.db"],
                                        environment: home.environment, inheritEnvironment: false,
                                        currentDirectory: home.root)
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try jsonObject(copy)["mode"] as? String == "not-sqlite")
        // A `--` before the command ends the scan: nothing after it is taken for an option or a command.
        let terminated = try home.drctl(["--json", "--", "version"])
        #expect(terminated.status == 64, "\(terminated.stdout)")
        #expect(terminated.stdout.isEmpty)

        // Help and the version still work after global options.
        let help = try home.drctl(["--json", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: drctl <subcommand>"))
        let keyHelp = try home.drctl(["--config", "x", "key", "--help"])
        #expect(keyHelp.status == 0)
        #expect(keyHelp.stdout.contains("Manage the keys"))
    }
}
