import Foundation
import Testing

/// `backup --mailbox` and what the next run reads.
@Suite("backup of chosen mailboxes")
struct BackupSelectionTests {
    @Test("--mailbox backs up only those; the next full run reads only what changed since each mailbox's last image")
    func partialRuns() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 3, messages: 80)
        try home.initRepository()
        let first = try home.backupOK()
        #expect(first.files == 3 && first.filesUnchanged == 0)

        try home.write(mailboxes[0], transactions: 2, seed: 5)
        let partial = try home.backupOK(["--mailbox", mailboxes[0].path])
        #expect(partial.files == 1)
        #expect(partial.filesUnchanged == 0)

        // Nothing changed since: the full run reads nothing (mailbox 0's newest image is in
        // the partial snapshot, the others' in the first).
        let full = try home.backupOK()
        #expect(full.files == 3)
        #expect(full.filesUnchanged == 3, "read \(full.bytesRead) bytes")
        #expect(full.bytesRead == 0)

        let unknown = try home.drctl(["backup", "--mailbox", "no/such.db"])
        #expect(unknown.status == 66)
        #expect(unknown.stderr.contains("no/such.db"))
    }
}
