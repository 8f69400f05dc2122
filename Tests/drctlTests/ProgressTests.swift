import Foundation
import Testing

/// The progress line: drawn on a terminal (items, bytes, rate, time left), cleared at the end,
/// and nothing of it where standard error is not a terminal. The terminal is a real
/// pseudo-terminal, util-linux `script`'s.
@Suite("progress on a terminal")
struct ProgressTests {
    /// Erase-line, which every redraw and the final clear begin with.
    static let erase = "\r\u{1B}[K"

    /// Runs `arguments` (drctl's, with the fixture's configuration) under a pseudo-terminal;
    /// `redirect` is shell text after the command (`2>FILE`). Returns what the terminal got.
    static func underTerminal(_ fixture: BackupHome, _ arguments: [String], redirect: String = "") throws -> RunResult {
        let words = [Drctl.binary] + arguments + ["--config", fixture.config]
        let line = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            + (redirect.isEmpty ? "" : " " + redirect)
        var environment = fixture.home.environment
        environment["TERM"] = "xterm"
        environment["NO_COLOR"] = "1"
        return try BinaryRunner.run("script", ["-qfec", line, "/dev/null"], environment: environment,
                                    inheritEnvironment: false, currentDirectory: fixture.root)
    }

    /// The progress lines drawn: the text after each erase-line up to the next control, when
    /// it is a progress line (the final erase is followed by the report, which is not).
    static func drawn(_ output: String) -> [String] {
        output.components(separatedBy: erase).dropFirst().map { piece in
            String(piece.prefix { $0 != "\r" && $0 != "\n" && $0 != "\u{1B}" })
        }.filter { $0.hasPrefix("[") }
    }

    /// `[3/12 files] 1.2 MiB read, …, 4.0 MiB/s, ETA 0:03`: the counts, a rate and a time left.
    static func expectProgressLine(_ line: String, unit: String, verb: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(line.firstMatch(of: #/^\[\d+/\d+ /#) != nil && line.contains(" \(unit)] "),
                "no [done/total \(unit)]: \(line)", sourceLocation: sourceLocation)
        #expect(line.contains(" \(verb)"), "no '\(verb)': \(line)", sourceLocation: sourceLocation)
        // Before the first item is done nothing is measured yet: "ETA --".
        #expect(line.firstMatch(of: #/\d(\.\d)? (B|KiB|MiB|GiB)/s, ETA ((\d+:)?\d+:\d\d|--)/#) != nil,
                "no rate and ETA: \(line)", sourceLocation: sourceLocation)
    }

    /// Some line of `lines` estimates a time left.
    static func expectEstimate(_ lines: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(lines.contains { $0.firstMatch(of: #/, ETA (\d+:)?\d+:\d\d/#) != nil },
                "no time left estimated: \(lines)", sourceLocation: sourceLocation)
    }

    @Test("backup on a terminal redraws a progress line with files, bytes, rate and ETA, and clears it before the summary; with stderr to a file, no control character")
    func backupProgress() throws {
        let fixture = try BackupHome(targets: ["site-a"])
        try fixture.generate(cipher: "sqlcipher", journal: "wal", count: 6, messages: 300)
        try fixture.initRepository()

        let shown = try Self.underTerminal(fixture, ["backup", "--parallelism", "1"])
        #expect(shown.status == 0, "exit \(shown.status): \(shown.stdout)")
        let lines = Self.drawn(shown.stdout)
        // The first item's line and the last item's line at least: a redraw in place.
        #expect(lines.count >= 2, "drawn: \(lines)")
        for line in lines { Self.expectProgressLine(line, unit: "files", verb: "read") }
        Self.expectEstimate(lines)
        #expect(lines.contains { $0.hasPrefix("[6/6 files] ") && $0.contains(" new, ") }, "\(lines)")
        // Cleared, then the summary: nothing of the progress line is left before it.
        let summary = try #require(shown.stdout.range(of: "snapshot "), "no summary: \(shown.stdout)")
        let before = shown.stdout[..<summary.lowerBound]
        #expect(before.hasSuffix(Self.erase), "the line is not cleared before the summary: \(before.debugDescription)")
        #expect(!shown.stdout[summary.lowerBound...].contains("ETA"), "progress after the summary")

        // Standard error to a file (standard output still the terminal): no progress, no
        // escape sequence, no carriage return in the file.
        let file = "\(fixture.root)/stderr.txt"
        let redirected = try Self.underTerminal(fixture, ["backup", "--parallelism", "1"], redirect: "2>'\(file)'")
        #expect(redirected.status == 0, "exit \(redirected.status): \(redirected.stdout)")
        let written = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(!written.contains(0x1B) && !written.contains(0x0D), "control bytes in \(String(decoding: written, as: UTF8.self))")
        #expect(!redirected.stdout.contains("ETA"), "progress on standard output: \(redirected.stdout)")
        #expect(redirected.stdout.contains("snapshot "), "\(redirected.stdout)")

        // --no-progress on a terminal: none.
        let off = try Self.underTerminal(fixture, ["backup", "--no-progress"])
        #expect(off.status == 0 && !off.stdout.contains("ETA"), "\(off.stdout)")
    }

    @Test("restore, check, check --read-data and sync draw theirs: mailboxes restored, snapshots read, packs verified, packs copied")
    func otherJobsProgress() throws {
        let fixture = try BackupHome(targets: ["site-a", "site-b"])
        let mailboxes = try fixture.generate(cipher: "chacha20", journal: "wal", count: 3, messages: 150)
        try fixture.initRepository()
        _ = try fixture.backupOK()
        // site-b misses a backup, so that sync has packs to copy to it.
        try fixture.takeAway("site-b")
        try fixture.write(mailboxes[0], transactions: 8, seed: 3)
        let (missed, _) = try fixture.backup()
        try #require(missed.status == 2, "the backup without site-b is degraded: \(missed.stderr)")
        try fixture.bringBack("site-b")

        let restored = try Self.underTerminal(fixture, ["restore", "--to", "\(fixture.root)/restored"])
        #expect(restored.status == 0, "\(restored.stdout)")
        let restoring = Self.drawn(restored.stdout)
        #expect(!restoring.isEmpty, "\(restored.stdout)")
        for line in restoring { Self.expectProgressLine(line, unit: "files", verb: "restored") }
        Self.expectEstimate(restoring)

        let checked = try Self.underTerminal(fixture, ["check"])
        let walking = Self.drawn(checked.stdout)
        #expect(!walking.isEmpty, "\(checked.stdout)")
        for line in walking { Self.expectProgressLine(line, unit: "snapshots", verb: "read") }
        Self.expectEstimate(walking)

        let read = try Self.underTerminal(fixture, ["check", "--read-data"])
        let verifying = Self.drawn(read.stdout).filter { $0.contains(" packs] ") }
        #expect(!verifying.isEmpty, "\(read.stdout)")
        for line in verifying { Self.expectProgressLine(line, unit: "packs", verb: "verified") }
        Self.expectEstimate(verifying)

        let synced = try Self.underTerminal(fixture, ["sync"])
        #expect(synced.status == 0, "\(synced.stdout)")
        let copying = Self.drawn(synced.stdout)
        #expect(!copying.isEmpty, "\(synced.stdout)")
        for line in copying { Self.expectProgressLine(line, unit: "packs", verb: "copied") }
        Self.expectEstimate(copying)
    }
}
