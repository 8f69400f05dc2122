import DRRepository
import Foundation
import Testing

/// A backup in which every mailbox is unchanged reuses the previous snapshot's mailbox list
/// whole (its root), without encoding the entries again; one in which a mailbox was added or
/// deleted builds its list. Either way the snapshot names exactly the store's mailboxes and
/// restores them.
@Suite("backup: an unchanged store reuses the previous list")
struct BackupSameListTests {
    @Test("unchanged: the same list root, restorable; a mailbox deleted, then added: a new list that holds exactly the store")
    func sameListOnlyWhenSame() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 4, messages: 200)
        try home.initRepository()
        let first = try home.backupOK()
        let forger = try ManifestForger(config: home.config)
        func manifest(_ report: BackupReport) throws -> SnapshotManifest {
            try forger.manifest("snapshots/" + (try #require(report.snapshot)))
        }

        let unchanged = try home.backupOK()
        #expect(unchanged.filesUnchanged == mailboxes.count)
        #expect(try manifest(unchanged).mailboxes == manifest(first).mailboxes)
        let latest = try #require(unchanged.snapshot)
        let (restored, report) = try home.restore(["--snapshot", latest, "--to", "\(home.root)/same"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(report?.restored.count == mailboxes.count)
        let verdicts = try home.verify(mailboxes.map { "\(home.root)/same/\($0.path)" }, cipher: "none")
        #expect(verdicts.count == mailboxes.count && verdicts.allSatisfy { $0.problems.isEmpty })

        // One mailbox gone: every other one unchanged, but the list is not the same.
        try FileManager.default.removeItem(atPath: "\(home.store)/\(mailboxes[1].path)")
        let fewer = try home.backupOK()
        #expect(fewer.filesUnchanged == mailboxes.count - 1)
        let fewerList = try manifest(fewer).mailboxes
        #expect(fewerList.count == mailboxes.count - 1)
        #expect(fewerList != (try manifest(first).mailboxes))
        let gone = try forger.entries("snapshots/" + (try #require(fewer.snapshot))).map(\.path)
        #expect(gone.sorted() == mailboxes.map(\.path).filter { $0 != mailboxes[1].path }.sorted())

        // A new one: a list of five.
        _ = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 200, seed: 9, subfolder: "late")
        let more = try home.backupOK()
        #expect(try manifest(more).mailboxes.count == mailboxes.count)
        #expect(more.filesUnchanged == mailboxes.count - 1)
        // And unchanged again: that list is reused.
        let again = try home.backupOK()
        #expect(again.filesUnchanged == mailboxes.count)
        #expect(try manifest(again).mailboxes == manifest(more).mailboxes)
    }
}
