import Foundation
import Testing

/// `restore --point-in-time` at the boundaries given by `snapshots --mailbox ID --json`.
@Suite("restore --point-in-time at snapshot boundaries")
struct BackupPointInTimeTests {
    @Test("at consistentAt → that snapshot, 1 ms before → the previous one, just after → that one; before the first → error, nothing written; \"1h ago\" parses")
    func boundaries() throws {
        let fixture = try BackupHome()
        let mailboxes = try fixture.generate(cipher: "chacha20", journal: "all", count: 1, messages: 60, seed: 21)
        try fixture.initRepository()
        let mailbox = try #require(mailboxes.first { $0.journal == "wal" })
        for round in 0..<3 {
            if round > 0 { try fixture.write(mailbox, transactions: 2, seed: round) }
            _ = try fixture.backupOK()
        }
        let rows = try fixture.snapshots(mailbox: mailbox.path)
        try #require(rows.count == 3, "expected 3 snapshots holding \(mailbox.path), got \(rows.count)")
        let images = try rows.map { try #require($0.mailbox, "snapshot \($0.id) lists no image of \(mailbox.path)") }
        #expect(images.allSatisfy { !$0.unchanged }, "the mailbox changed before every backup")
        let at = try images.map { try Millis.parse($0.consistentAt) }
        #expect(at == at.sorted() && Set(at).count == 3, "consistentAt values must increase: \(images.map(\.consistentAt))")

        var run = 0
        /// Restores the mailbox as of `time`; returns the snapshot id it came from.
        func restore(at time: String) throws -> (ProcessResult, String?, String) {
            run += 1
            let destination = "\(fixture.root)/pit-\(run)"
            let (result, report) = try fixture.restore(["--point-in-time", time, "--mailbox", mailbox.path, "--to", destination])
            return (result, report?.restored.first?.snapshot, destination)
        }

        for (k, row) in rows.enumerated() {
            let exact = try restore(at: images[k].consistentAt)
            #expect(exact.0.status == 0, "\(exact.0.stderr)")
            #expect(exact.1 == row.id, "exactly at snapshot \(k)'s consistentAt \(images[k].consistentAt)")
            // The restored bytes are that snapshot's image.
            let bySnapshot = "\(fixture.root)/by-snapshot-\(k)"
            let (direct, _) = try fixture.restore(["--snapshot", row.id, "--mailbox", mailbox.path, "--to", bySnapshot])
            #expect(direct.status == 0, "\(direct.stderr)")
            #expect(try Files.read("\(exact.2)/\(mailbox.path)") == Files.read("\(bySnapshot)/\(mailbox.path)"))

            let after = try restore(at: Millis.format(at[k] + 1))
            #expect(after.0.status == 0, "\(after.0.stderr)")
            #expect(after.1 == row.id, "1 ms after snapshot \(k)'s consistentAt")

            let before = Millis.format(at[k] - 1)
            let earlier = try restore(at: before)
            if k > 0 {
                #expect(earlier.0.status == 0, "\(earlier.0.stderr)")
                #expect(earlier.1 == rows[k - 1].id, "1 ms before snapshot \(k)'s consistentAt (\(before)) must give snapshot \(k - 1)")
            } else {
                // Before the first snapshot: a clear error, a non-zero status, nothing written.
                #expect(earlier.0.status == 66, "exit \(earlier.0.status): \(earlier.0.stderr)")
                #expect(earlier.0.stderr.contains("drctl: error:"))
                #expect(earlier.0.stderr.contains("no snapshot of mailbox \(mailbox.path) is consistent at or before"),
                        "\(earlier.0.stderr)")
                #expect(Files.all(under: earlier.2).isEmpty, "nothing may be written: \(Files.all(under: earlier.2))")
            }
        }

        // Relative form: "1h ago" is a time (not a usage error); every snapshot is newer, so
        // it is "no snapshot … at or before <an hour ago>", and the time it names is an hour ago.
        let started = Date()
        let relative = try restore(at: "1h ago")
        #expect(relative.0.status == 66, "\"1h ago\" should parse and find no snapshot: exit \(relative.0.status), \(relative.0.stderr)")
        #expect(!relative.0.stderr.contains("is not a time"))
        let named = relative.0.stderr.components(separatedBy: "at or before ").dropFirst().first?
            .split(separator: " ").first.map(String.init)
        let moment = try Millis.parse(try #require(named, "the error names no moment: \(relative.0.stderr)"))
        let expected = Int64((started.timeIntervalSince1970 - 3600) * 1000)
        #expect(abs(moment - expected) < 60_000, "\"1h ago\" resolved to \(named ?? ""), expected about \(Millis.format(expected))")
        #expect(Files.all(under: relative.2).isEmpty)

        // A relative time after the last snapshot restores the newest image.
        let recent = try restore(at: "0s ago")
        #expect(recent.0.status == 0, "\(recent.0.stderr)")
        #expect(recent.1 == rows.last?.id)
    }
}
