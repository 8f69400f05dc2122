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
        // The same rule for the first images: mailboxes written just before them are read again.
        usleep(300_000)
        let first = try home.backupOK()
        #expect(first.files == 3 && first.filesUnchanged == 0)

        try home.write(mailboxes[0], transactions: 2, seed: 5)
        // An image taken within the timestamp granularity (100 ms) of the last write cannot
        // prove the next run's equal stat means equal content (the racy-clean rule), and that
        // mailbox would rightly be read again; this test is about the selection, so it waits.
        usleep(300_000)
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

    @Test("a backup of many packs: all of it checks and restores; on a new host (no state folder) nothing is stored again")
    func manyPacks() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "delete", count: 2, messages: 400)
        try home.initRepository()
        let first = try home.backupOK(["--pack-bytes", "16384"])
        let packs = Files.packs(in: home.targetFolder("site-a"))
        #expect(packs.count > 64, "only \(packs.count) packs")
        #expect(!FileManager.default.fileExists(atPath: "\(home.targetFolder("site-a"))/index"), "format 2 writes no index objects")
        let (checked, _) = try home.check(["--read-data"])
        #expect(checked.status == 0, "\(checked.stdout)")
        let destination = "\(home.root)/restored"
        let (restored, _) = try home.restore(["--snapshot", try #require(first.snapshot), "--to", destination])
        #expect(restored.status == 0, "\(restored.stderr)")
        for mailbox in mailboxes {
            #expect(try Files.read("\(destination)/\(mailbox.path)") == Files.read("\(home.store)/\(mailbox.path)"))
        }
        // A fresh state folder (a new host): the previous snapshot's list and trees are read
        // from the target, and only what changed is stored.
        try FileManager.default.removeItem(atPath: "\(home.root)/state")
        try home.write(mailboxes[0], transactions: 1, seed: 4)
        let second = try home.backupOK(["--pack-bytes", "16384"])
        #expect(second.newChunks < first.newChunks / 10, "\(second.newChunks) new chunks after a one-transaction change")
    }
}
