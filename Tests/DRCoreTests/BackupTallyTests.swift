import DRBase
import DRRepository
import Foundation
import Testing

@testable import DRCore

/// How a backup hands its entries to the mailbox list builder: in byte-wise path order, the
/// new ones from the run, the unchanged ones decoded one at a time from the previous entries
/// (never a second whole copy of them; docs/PROFILES.md, "Backup memory per mailbox").
@Suite("backup tally")
struct BackupTallyTests {
    private static func entry(_ path: String, seed: UInt64, consistentAt: String = "2026-12-07T10:00:00.000Z") -> SnapshotManifest.FileEntry {
        let root = BlobRef(id: ChunkID(words: seed, 1, 2, 3), kind: .tree, compressed: false,
                           pack: PackID(words: seed % 3, 0, 0, 1), offset: UInt32(seed), length: 100, rawLength: 90)
        let state = FileState(size: Int64(seed) * 4096, mtimeNanoseconds: Int64(seed), ctimeNanoseconds: 7, inode: seed, device: 1,
                              walSize: nil, walMtimeNanoseconds: nil, walCtimeNanoseconds: nil, walInode: nil, journalPresent: false)
        return SnapshotManifest.FileEntry(path: path, kind: "sqlite", size: Int64(seed) * 4096, mode: 0o600,
                                          snapshotMode: "wal-offline", pageSize: 4096, pageCount: Int(seed),
                                          consistentAt: consistentAt, consistency: "change counter \(seed)", root: root,
                                          chunks: Int(seed), sourceState: state, unchanged: false)
    }

    @Test("entries come in byte-wise path order, new and unchanged interleaved, counted by where they come from")
    func pathOrder() throws {
        // The listing's order (String order); byte-wise, "cafe\u{301}" (e, U+0301) comes
        // before "caf\u{E9}" (0xC3 0xA9), and "Z" before "a".
        let ids = ["a/1.sqlite", "caf\u{E9}/x.sqlite", "cafe\u{301}/x.sqlite", "b/2.sqlite", "Z/3.sqlite", "a/4.sqlite", "gone.sqlite", "bad.sqlite"]
        let mailboxes = ids.map { MailStore.Mailbox(id: $0, root: "/store") }
        let old = ids.enumerated().map { Self.entry($1, seed: UInt64($0) + 1) }
        var previous = PreviousEntries()
        // The newest list holds three of them; an older snapshot one more.
        try previous.inserting(newest: true) { insert in
            for index in [2, 1, 4].sorted(by: { ids[$0].utf8.lexicographicallyPrecedes(ids[$1].utf8) }) { insert(old[index]) }
        }
        try previous.inserting(newest: false) { insert in insert(old[5]) }
        let renewed = Self.entry(ids[0], seed: 40)
        let changed = Self.entry(ids[3], seed: 41)
        func unchanged(_ index: Int, newest: Bool) -> FileOutcome {
            .unchanged(size: old[index].size, newest: newest, consistentAt: Timestamps.parse(old[index].consistentAt))
        }
        let outcomes: [FileOutcome?] = [
            .entry(renewed), unchanged(1, newest: true), unchanged(2, newest: true), .entry(changed),
            unchanged(4, newest: true), unchanged(5, newest: false), .vanished(ids[6]),
            .failure(BackupJob.Report.Failure(mailbox: ids[7], code: .imageMissing, error: "unreadable")),
        ]
        let tally = BackupTally(outcomes, mailboxes: mailboxes)
        var seen: [SnapshotManifest.FileEntry] = []
        try tally.forEachEntryInPathOrder(mailboxes: mailboxes, previous: previous) { seen.append($0) }
        let expected = [old[4], renewed, old[5], changed, old[2], old[1]]
        #expect(seen.map(\.path) == expected.map(\.path))
        #expect(zip(seen, expected).allSatisfy { $0.sameStored(as: $1) })
        #expect(zip(seen.map(\.path), seen.map(\.path).dropFirst()).allSatisfy { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(tally.reusedFromNewest == 3 && tally.others == 3)
        #expect(tally.statistics.files == 6 && tally.statistics.filesUnchanged == 4)
        #expect(tally.statistics.bytesRead == renewed.size + changed.size)
        #expect(tally.readAgain == [ids[0], ids[3]])
        #expect(tally.vanished == [ids[6]] && tally.failures.map(\.mailbox) == [ids[7]])
        #expect(tally.facts.count == 6 && tally.facts.least == "Z/3.sqlite" && !tally.facts.unreadableTime)
    }

    @Test("the previous list is reused whole only when every entry is one of its, unchanged")
    func sameList() throws {
        var previous = BackupWriter.Previous()
        previous.list = SnapshotManifest.ListRoot(count: 3, root: BlobRef.placeholder)
        #expect(BackupWriter.sameList(reusedFromNewest: 3, others: 0, previous: previous) != nil)
        #expect(BackupWriter.sameList(reusedFromNewest: 2, others: 0, previous: previous) == nil)  // one vanished or failed
        // One vanished and one found unchanged in an older snapshot: as many entries, another set.
        #expect(BackupWriter.sameList(reusedFromNewest: 2, others: 1, previous: previous) == nil)
        #expect(BackupWriter.sameList(reusedFromNewest: 3, others: 1, previous: previous) == nil)
        previous.list = nil
        #expect(BackupWriter.sameList(reusedFromNewest: 3, others: 0, previous: previous) == nil)
    }

    @Test("an unchanged mailbox whose previous entry is not held stops the list with an internal error")
    func missingPrevious() throws {
        let mailboxes = [MailStore.Mailbox(id: "a.sqlite", root: "/store")]
        let tally = BackupTally([.unchanged(size: 1, newest: true, consistentAt: nil)], mailboxes: mailboxes)
        #expect(tally.facts.unreadableTime)
        #expect(throws: RepositoryError.self) {
            try tally.forEachEntryInPathOrder(mailboxes: mailboxes, previous: PreviousEntries()) { _ in }
        }
    }
}
