import Foundation
import Testing

/// A writer killed with SIGKILL in the middle of a transaction that already spilled to disk
/// (uncommitted WAL frames; a hot journal with the database file already modified) must still
/// yield an image of the last committed state, and the mailbox must not be touched.
@Suite("Snapshot after a crashed writer", .serialized)
struct ImageCrashTests {
    @Test("SIGKILL mid-transaction yields the committed state", arguments: MailboxKind.all)
    func killedWriter(kind: MailboxKind) throws {
        let workspace = try ImageWorkspace()
        let database = try workspace.createMailbox(kind, messages: 60)
        let committedBeforeCrash = 25
        let writer = try workspace.startWriter(database, cipher: kind.cipher,
                                               extra: ["--crash-after", "\(committedBeforeCrash)"])
        defer { writer.signal(SIGKILL) }
        let ready = writer.waitForOutput(containing: "READY", seconds: 60)
        writer.signal(SIGKILL)
        let ended = writer.wait()
        try #require(ready, "the writer never reached its crash point: \(ended.stderr)")
        #expect(ended.signalled && ended.status == SIGKILL)

        // The crash left what it should: a hot journal, or uncommitted frames in the WAL.
        if kind.journal == .delete {
            let journal = try #require(workspace.contents(database + "-journal"), "no -journal after the crash")
            #expect(Array(journal.prefix(8)) == [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7],
                    "the journal is not hot")
        } else {
            let wal = try #require(workspace.contents(database + "-wal"), "no -wal after the crash")
            #expect(wal.count > 100_000, "the WAL holds no spilled frames (\(wal.count) bytes)")
        }

        let before = workspace.mailboxFiles(database)
        let shmBefore = workspace.contents(database + "-shm")
        let image = workspace.path("image.db")
        let (result, report) = try workspace.snapshot(database, to: image)
        try #require(result.status == 0, "drctl image failed: \(result.stderr)")
        let mode = report?["mode"] as? String
        #expect(mode == (kind.journal == .wal ? "wal-offline" : "rollback"))
        if kind.journal == .delete {
            let consistency = report?["consistency"] as? [String: Any]
            #expect(consistency?["hotJournalApplied"] as? Bool == true)
        }
        #expect(workspace.mailboxFiles(database) == before, "the snapshot modified the mailbox")
        #expect(workspace.contents(database + "-shm") == shmBefore, "an offline snapshot wrote the -shm")

        let checks = try workspace.verify([image], cipher: kind.cipher)
        let check = try #require(checks.first)
        #expect(check.problems.isEmpty, "\(kind): \(check.problems)")
        #expect(check.counter == committedBeforeCrash, "\(kind): image holds counter \(String(describing: check.counter))")

        if kind.journal == .delete {
            // Proof that the journal mattered: the database file alone is not the committed state.
            let raw = workspace.path("raw-copy.db")
            try FileManager.default.copyItem(atPath: database, toPath: raw)
            let rawCheck = try #require(try workspace.verify([raw], cipher: kind.cipher).first)
            #expect(!rawCheck.problems.isEmpty || rawCheck.counter != committedBeforeCrash,
                    "the crash did not modify the database file, so this test proves nothing")
        }
    }
}
