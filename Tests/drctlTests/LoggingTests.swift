import DRLog
import Foundation
import Logging
import Testing

/// Standard error as journald reads it: when it is not a terminal, every line is one event
/// with a syslog priority prefix and no control character (Sources/DRLog).
@Suite("logs for journald")
struct LoggingTests {
    // MARK: - The handlers' text

    @Test("an event whose message holds line breaks, an ANSI sequence, U+2028 and NUL is one escaped line")
    func journalLineEscapes() {
        let line = JournalLogHandler.line(level: .warning, message: "a\nb\rc\u{1B}[31mred\u{2028}d\u{0}e\tf\u{7F}g\u{9B}h")
        #expect(line == #"<4>drctl: warning: a\nb\rc\x1b[31mred\u2028d\x00e\tf\x7fg\u009bh"# + "\n")
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(!line.utf8.dropLast().contains { $0 < 0x20 || $0 == 0x7F })
        // A name cannot forge a second event with a priority of its choosing.
        let forged = JournalLogHandler.line(level: .info, message: "mailbox x\n<0>drctl: error: forged")
        #expect(forged.split(separator: "\n").count == 1 && forged.hasPrefix("<6>drctl: mailbox x\\n<0>"))
    }

    @Test("each level has its syslog priority and its word")
    func priorities() {
        let expected: [(Logger.Level, String)] = [
            (.trace, "<7>drctl: m"), (.debug, "<7>drctl: m"), (.info, "<6>drctl: m"), (.notice, "<5>drctl: m"),
            (.warning, "<4>drctl: warning: m"), (.error, "<3>drctl: error: m"), (.critical, "<2>drctl: critical: m"),
        ]
        for (level, line) in expected {
            #expect(JournalLogHandler.line(level: level, message: "m") == line + "\n", "\(level)")
        }
    }

    @Test("metadata is key=value, sorted, quoted when it must be, escaped inside the quotes")
    func metadata() {
        let line = JournalLogHandler.line(level: .error, message: "m", metadata: [
            "target": "site-a", "path": "users/a b.db", "empty": "", "evil": "x\ny\"z\\", "count": "3",
            "bad key=": "v",
        ])
        #expect(line == #"<3>drctl: error: m bad_key_=v count=3 empty="" evil="x\ny\"z\\" path="users/a b.db" target=site-a"# + "\n")
    }

    @Test("the terminal's text keeps a message's line breaks and escapes the rest; colour only on the level word")
    func terminalText() {
        #expect(TerminalLogHandler.text(level: .error, message: "line 1\nline 2 \u{1B}]0;title\u{7}")
                == "drctl: error: line 1\nline 2 \\x1b]0;title\\x07\n")
        #expect(TerminalLogHandler.text(level: .notice, message: "generated key file k") == "drctl: generated key file k\n")
        #expect(TerminalLogHandler.text(level: .warning, message: "w", colour: true) == "drctl: \u{1B}[1;33mwarning\u{1B}[0m: w\n")
        #expect(TerminalLogHandler.wantsColour(environment: ["TERM": "xterm"]))
        #expect(!TerminalLogHandler.wantsColour(environment: ["TERM": "xterm", "NO_COLOR": "1"]))
        #expect(!TerminalLogHandler.wantsColour(environment: ["TERM": "dumb"]))
    }

    // MARK: - drctl's standard error, not a terminal

    /// Every line of `stderr` is `<N>…` with N in 0…7, and no byte is a control character but
    /// the newlines that end the lines.
    static func expectJournalLines(_ stderr: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!stderr.isEmpty, "\(what): nothing on standard error", sourceLocation: sourceLocation)
        #expect(stderr.hasSuffix("\n"), "\(what): the last line is not ended: \(stderr)", sourceLocation: sourceLocation)
        for line in stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let bytes = Array(line.utf8)
            let prioritised = bytes.count > 3 && bytes[0] == UInt8(ascii: "<") && (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[1])
                && bytes[2] == UInt8(ascii: ">")
            #expect(prioritised, "\(what): a line without a priority: \(line)", sourceLocation: sourceLocation)
        }
        let control = stderr.utf8.filter { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }
        #expect(control.isEmpty, "\(what): control bytes \(control) in \(stderr)", sourceLocation: sourceLocation)
        // C1 controls (U+0080…U+009F), the 8-bit CSI among them, are escaped too.
        #expect(!stderr.unicodeScalars.contains { (0x80...0x9F).contains($0.value) }, "\(what): a C1 control", sourceLocation: sourceLocation)
    }

    @Test("a backup with a plain-http target that is down and entries left out: each stderr line an event with its priority")
    func backupWarningsAreJournalLines() throws {
        let fixture = try BackupHome(targets: ["site-a"])
        try fixture.generate(cipher: "sqlcipher", journal: "wal", count: 2, messages: 20)
        try fixture.initRepository()
        // Entries that are left out, one of them named to forge a log line of its own.
        let store = fixture.store
        try FileManager.default.createSymbolicLink(atPath: "\(store)/linked.db", withDestinationPath: "/etc/hostname")
        try FileManager.default.createSymbolicLink(atPath: "\(store)/evil\n<0>drctl: error: forged\u{1B}[2J.db",
                                                   withDestinationPath: "/etc/hostname")
        // A target reached over plain http (a warning), at a port where nothing listens (the
        // target fails: an error, and the run is degraded).
        let credentials = try fixture.home.secretFile("down.credentials",
                                                      "access_key_id = \"AKIDLOGTEST\"\nsecret_access_key = \"not-a-real-secret-0123456789\"\n")
        try fixture.replaceConfig {
            $0 + """

                [[target]]
                name = "down"
                url = "s3://bucket/logs"
                endpoint = "http://127.0.0.1:9"
                region = "us-east-1"
                credentials_file = "\(credentials)"
                allow_insecure_http = true

                """
        }

        let quiet = try fixture.drctl(["backup", "--quiet"])
        #expect(quiet.status == 1, "exit \(quiet.status): \(quiet.stderr)")
        Self.expectJournalLines(quiet.stderr, "backup --quiet")
        let lines = quiet.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("<4>drctl: warning: target down is reached over plain http://") && $0.contains(" target=down") },
                "\(quiet.stderr)")
        #expect(lines.contains { $0.hasPrefix("<3>drctl: error: target down: ") }, "\(quiet.stderr)")
        #expect(lines.contains { $0.hasPrefix("<3>drctl: error: not backed up (symbolic-link): ") && $0.contains("linked.db") },
                "\(quiet.stderr)")
        // The forged name stays inside its own event, escaped.
        #expect(!lines.contains { $0.hasPrefix("<0>") }, "\(quiet.stderr)")
        #expect(lines.contains { $0.contains(#"evil\n<0>drctl: error: forged\x1b[2J.db"#) }, "\(quiet.stderr)")
        // No secret of the credentials file in any line.
        #expect(!quiet.stderr.contains("not-a-real-secret"))

        // The text summary on stdout (the journal's too, under systemd) cannot be forged
        // either: the name is one escaped line, and no line carries a priority of its own.
        let summary = try fixture.drctl(["backup"])
        #expect(summary.status == 1)
        #expect(summary.stdout.contains(#"evil\n<0>drctl: error: forged\x1b[2J.db"#), "\(summary.stdout)")
        #expect(!summary.stdout.split(separator: "\n").contains { $0.hasPrefix("<") }, "\(summary.stdout)")
        #expect(!summary.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F }, "\(summary.stdout)")

        // The text report goes to standard output, the events to standard error.
        let text = try fixture.drctl(["backup"])
        #expect(text.status == 1)
        Self.expectJournalLines(text.stderr, "backup")
        #expect(text.stdout.contains("target down: FAILED"), "\(text.stdout)")
    }

    @Test("an error that ends the command, a usage error and --verbose detail are journal lines too")
    func failuresAreJournalLines() throws {
        let home = try TemporaryHome()
        let missing = "\(home.root)/missing.toml"
        let failed = try home.drctl(["snapshots", "--config", missing])
        #expect(failed.status != 0)
        Self.expectJournalLines(failed.stderr, "missing configuration")
        #expect(failed.stderr.hasPrefix("<3>drctl: error: configuration file \(missing)"), "\(failed.stderr)")
        #expect(failed.stderr.contains(" code=config."), "the line carries the error's code: \(failed.stderr)")
        #expect(failed.stderr.split(separator: "\n").count == 1, "\(failed.stderr)")

        let usage = try home.drctl(["backup", "--no-such-option"])
        #expect(usage.status == 64)
        Self.expectJournalLines(usage.stderr, "usage error")
        #expect(usage.stderr.hasPrefix("<3>drctl: error: Unknown option '--no-such-option'"), "\(usage.stderr)")
        #expect(usage.stderr.split(separator: "\n").count == 1, "one event, one line: \(usage.stderr)")

        let verbose = try home.drctl(["config", "check", "--verbose"])
        Self.expectJournalLines(verbose.stderr, "config check --verbose")
        #expect(verbose.stderr.contains("<7>drctl: configuration: embedded default"), "\(verbose.stderr)")
        let plain = try home.drctl(["config", "check"])
        #expect(!plain.stderr.contains("configuration: embedded default"), "debug detail without --verbose: \(plain.stderr)")
    }
}
