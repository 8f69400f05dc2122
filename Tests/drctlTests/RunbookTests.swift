import Foundation
import Testing

/// Every runbook of runbooks/ is run as written, in the scenario it declares, so that a runbook
/// can never drift from drctl: each ```sh block in order, each ```output block compared
/// (runbooks/README.md, "How the runbooks are tested"). A runbook the test cannot read, or
/// whose scenario it does not know, fails: adding a runbook cannot skip the test.
@Suite("runbooks")
struct RunbookTests {
    /// The runbooks issue 15 asks for, at least: fewer means one was lost.
    static let minimumRunbooks = 10

    @Test("runbooks/ holds every runbook; each one parses and names a scenario this test prepares")
    func everyRunbookHasAScenario() throws {
        let files = Runbook.all()
        #expect(files.count >= Self.minimumRunbooks, "runbooks/ holds \(files.count) runbooks: \(files)")
        for file in files {
            let runbook = try Runbook.parse(file: "\(ProjectRoot.path)/runbooks/\(file)")
            #expect(RunbookScenario(rawValue: runbook.scenario) != nil,
                    "runbooks/\(file) names the scenario \"\(runbook.scenario)\"; known: \(RunbookScenario.allCases.map(\.rawValue))")
            #expect(runbook.steps.count >= 3, "runbooks/\(file) has \(runbook.steps.count) ```sh blocks")
            #expect(runbook.steps.contains { $0.expected != nil }, "runbooks/\(file) shows no expected output (```output)")
            // What issue 15 asks of each: the objectives that apply.
            let text = try String(contentsOfFile: "\(ProjectRoot.path)/runbooks/\(file)", encoding: .utf8)
            let section = text.components(separatedBy: "\n## Objectives\n").dropFirst().first?
                .components(separatedBy: "\n## ").first?.lowercased() ?? ""
            #expect(section.contains("rpo") && section.contains("rto"),
                    "runbooks/\(file) has no \"## Objectives\" section naming the RPO and the RTO")
        }
        // The README documents every scenario the test knows.
        let readme = try String(contentsOfFile: "\(ProjectRoot.path)/runbooks/README.md", encoding: .utf8)
        for scenario in RunbookScenario.allCases {
            #expect(readme.contains("`\(scenario.rawValue)`"), "runbooks/README.md does not describe the scenario \(scenario.rawValue)")
        }
        for file in files {
            #expect(readme.contains("(\(file))"), "runbooks/README.md does not list \(file)")
        }
    }

    @Test("the output matcher: placeholders, ... for any lines, spaces collapsed, and a mismatch is one")
    func outputMatcher() throws {
        let actual = ["snapshot 3f2a9c1e0d4b5a69 at 2026-12-07T04:32:29.698Z", "  4 mailboxes   (0 unchanged)", "took 2.03 s",
                      "restored users/a.db (412.0 KiB) → /tmp/x/users/a.db"]
        #expect(try RunbookOutput.matches(expected: ["snapshot <id> at <time>", "...", "restored <path> (<bytes>) → <path>"], actual: actual))
        #expect(try RunbookOutput.matches(expected: ["snapshot <id> at <time>", "<n> mailboxes (<n> unchanged)", "took <n> s", "<text>"],
                                          actual: actual))
        #expect(try !RunbookOutput.matches(expected: ["snapshot <id> at <time>"], actual: actual), "extra lines must not match")
        #expect(try !RunbookOutput.matches(expected: ["...", "restored <path> (<bytes>) → /srv/<path>"], actual: actual))
        #expect(try !RunbookOutput.matches(expected: ["snapshot <n> at <time>", "..."], actual: ["snapshot abc at 2026-12-07T04:32:29Z"]))
        // Regular-expression syntax in a runbook's text is literal text.
        #expect(try RunbookOutput.matches(expected: ["beyond [objectives] rpo = 1m: <text>", "a.b*c (x|y) $HOME ^ {1} \\"],
                                          actual: ["beyond [objectives] rpo = 1m: check (drctl targets)", "a.b*c (x|y) $HOME ^ {1} \\"]))
        #expect(try !RunbookOutput.matches(expected: ["a.c"], actual: ["abc"]))
        #expect(RunbookRunner.shown("<4>drctl: warning: x\n<4>drctl: warning: target t is reached over plain http:// (…)") == ["drctl: warning: x"])
    }

    @Test("a runbook the test cannot read fails it: no scenario, an output block after no sh block, an unjustified or third sh-norun, an open fence")
    func malformedRunbooksAreRefused() throws {
        let home = try TemporaryHome()
        let cases: [(String, String)] = [
            ("no scenario comment", "# Title\n\n```sh\ntrue\n```\n"),
            ("a comment without a scenario", "<!-- store: 2 mailboxes -->\n```sh\ntrue\n```\n"),
            ("output after prose only", "<!-- scenario: mailbox-changed -->\n```output\nx\n```\n"),
            ("output after a toml example", "<!-- scenario: mailbox-changed -->\n```sh\ntrue\n```\n```toml\na = 1\n```\n```output\nx\n```\n"),
            ("sh-norun without its reason", "<!-- scenario: mailbox-changed -->\n```sh-norun\nsystemctl start x\n```\n"),
            ("three sh-norun blocks", "<!-- scenario: mailbox-changed -->\n"
                + String(repeating: "```sh-norun\n# not run by the test: the real host's systemd\nsystemctl start x\n```\n", count: 3)),
            ("a fence never closed", "<!-- scenario: mailbox-changed -->\n```sh\ntrue\n"),
        ]
        for (label, text) in cases {
            let file = "\(home.root)/bad.md"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(throws: RunbookFormatError.self, "\(label) was accepted") { try Runbook.parse(file: file) }
        }
        // The well-formed counterpart parses, with its expected output and its not-run block.
        let good = "<!-- scenario: mailbox-changed, store: 4 mailboxes -->\n```sh\necho hi\n```\ntext\n```output\nhi\n```\n"
            + "```sh-norun\n# not run by the test: the real host's systemd\nsystemctl start x\n```\n"
        try good.write(toFile: "\(home.root)/good.md", atomically: true, encoding: .utf8)
        let runbook = try Runbook.parse(file: "\(home.root)/good.md")
        let mailboxes = try runbook.mailboxes(default: 1)
        #expect(runbook.scenario == "mailbox-changed" && mailboxes == 4)
        #expect(runbook.steps.count == 1 && runbook.steps.first?.expected == ["hi"] && runbook.notRun.count == 1)
    }

    @Test("every command of the runbook works as written, with the output it shows", arguments: Runbook.all())
    func runbookRunsAsWritten(_ file: String) throws {
        let runbook = try Runbook.parse(file: "\(ProjectRoot.path)/runbooks/\(file)")
        let scenario = try #require(RunbookScenario(rawValue: runbook.scenario),
                                    "runbooks/\(file): no set-up for the scenario \"\(runbook.scenario)\"")
        let prepared = try scenario.prepare(runbook)
        let run = try RunbookRunner.run(runbook, environment: prepared.environment, in: prepared.home.root)
        // For a runbook's author: what each block printed, to write its ```output block from.
        if let folder = ProcessInfo.processInfo.environment["DRCTL_RUNBOOK_TRANSCRIPTS"] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try (run.transcript + "\n" + run.stderr).write(toFile: "\(folder)/\(file).txt", atomically: true, encoding: .utf8)
        }
        try RunbookRunner.expectAsWritten(runbook, run)
        if run.status == 0 {
            try prepared.verify(run)
        }
    }
}
