import Foundation
import Testing

/// A backup compares each mailbox with its previous entry using the facts the store's
/// listing took (after reading each folder whole), not three `lstat`s by path: a commit that
/// is only in a `-wal` the listing found, and a `-journal` that appeared, still make the
/// mailbox read, and the image restored holds the commit.
@Suite("backup: the listing's facts decide what is unchanged")
struct BackupListedStateTests {
    /// Commits `PRAGMA user_version = N` into a plain WAL database and exits without closing
    /// it, so that the commit stays in its `-wal` (no checkpoint) and the file is untouched.
    static let commitInWAL = """
        import os, sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        assert db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        db.execute('PRAGMA wal_autocheckpoint = 0')
        db.execute(f'PRAGMA user_version = {int(sys.argv[2])}')
        os._exit(0)
        """

    static let userVersion = """
        import sqlite3, sys
        print(sqlite3.connect(sys.argv[1]).execute('PRAGMA user_version').fetchone()[0])
        """

    @Test("unchanged mailboxes are not read; a commit left in a -wal, and a -journal that appeared, make their mailbox read; the restored image holds the commit")
    func listedFacts() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 3, messages: 100)
        try home.initRepository()
        // Past the racy-clean window of the files' last writes.
        usleep(300_000)
        _ = try home.backupOK()
        let quiet = try home.backupOK()
        #expect(quiet.filesUnchanged == mailboxes.count)

        let python = try Python.require()
        let first = "\(home.store)/\(mailboxes[0].path)"
        let before = try FileManager.default.attributesOfItem(atPath: first)[.modificationDate] as? Date
        let commit = try home.home.run(python, ["-c", Self.commitInWAL, first, "7"])
        try #require(commit.status == 0, "python: \(commit.stderr)")
        try #require(FileManager.default.fileExists(atPath: first + "-wal"))
        #expect(try FileManager.default.attributesOfItem(atPath: first)[.modificationDate] as? Date == before,
                "the commit reached the file itself: the test would not test the -wal")
        usleep(300_000)
        let walOnly = try home.backupOK()
        #expect(walOnly.filesUnchanged == mailboxes.count - 1, "the mailbox with a commit in its -wal was not read")
        let destination = "\(home.root)/restored"
        let (restored, _) = try home.restore(["--snapshot", try #require(walOnly.snapshot), "--mailbox", mailboxes[0].path,
                                              "--to", destination])
        #expect(restored.status == 0, "\(restored.stderr)")
        let version = try home.home.run(python, ["-c", Self.userVersion, "\(destination)/\(mailboxes[0].path)"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "7", "\(version.stdout) \(version.stderr)")

        // A -journal beside another mailbox: its facts differ, so it is read.
        let second = "\(home.store)/\(mailboxes[1].path)"
        try #require(FileManager.default.createFile(atPath: second + "-journal", contents: Data()))
        usleep(300_000)
        let (journaled, report) = try home.backup()
        #expect(journaled.status == 0, "\(journaled.stderr)")
        #expect(report?.filesUnchanged == mailboxes.count - 1, "the mailbox with a -journal was not read")
    }
}
