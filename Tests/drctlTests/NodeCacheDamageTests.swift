import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A node cache damaged on disk, now that opening it no longer reads it whole (`PRAGMA
/// quick_check`): the statement that meets the damage turns the cache off for the run and
/// deletes it, so the backup is correct (nodes read from the targets), its snapshot restores,
/// and the next run builds a sound cache again.
@Suite("node cache damaged on disk")
struct NodeCacheDamageTests {
    enum Damage: String, CaseIterable {
        /// A run of pages in the middle overwritten with garbage.
        case garbage
        /// Cut short, not on a page boundary.
        case truncated
    }

    /// Integrity and node count of the cache file, by Python's sqlite3.
    static let inspect = """
        import json, sqlite3, sys
        db = sqlite3.connect(sys.argv[1])
        check = db.execute('PRAGMA integrity_check').fetchone()[0]
        nodes = db.execute('SELECT count(*) FROM node_rows').fetchone()[0]
        print(json.dumps({'check': check, 'nodes': nodes}))
        """

    static func damage(_ path: String, _ how: Damage) throws {
        // What the last run left is checkpointed; its -wal and -shm go, so that the file alone
        // is what the next run opens.
        for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
        var bytes = try Files.read(path)
        let page = 4096
        let pages = bytes.count / page
        try #require(pages >= 12, "the cache is only \(pages) pages")
        switch how {
        case .garbage:
            // A fixed pseudo-random sequence (reproducible), over a quarter of the pages.
            var state: UInt32 = 0x9E37_79B9
            for index in (pages / 3 * page)..<((pages / 3 + pages / 4) * page) {
                state = state &* 1_664_525 &+ 1_013_904_223
                bytes[index] = UInt8(truncatingIfNeeded: state >> 24)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        case .truncated:
            #expect(truncate(path, off_t(pages / 2 * page + 1000)) == 0)
        }
    }

    @Test("a cache with garbage pages in the middle, or cut short: the backup is correct and restores, and the cache is rebuilt",
          arguments: Damage.allCases)
    func damagedCache(_ how: Damage) throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 6, messages: 400)
        try home.initRepository()
        _ = try home.backupOK()
        let cache = try NodeCacheTests.cacheFile(home)
        let sound = try NodeCacheTests.python(home, Self.inspect)
        #expect(sound["check"] as? String == "ok")
        try Self.damage(cache, how)

        // Nothing changed: every mailbox unchanged, nothing new stored (the previous
        // snapshot's list read from the targets where the cache failed).
        let after = try home.backupOK()
        #expect(after.filesUnchanged == mailboxes.count, "\(how)")
        #expect(after.newChunks == 0, "\(how)")
        let snapshot = try #require(after.snapshot)
        let destination = "\(home.root)/restored-\(how)"
        let (restored, report) = try home.restore(["--snapshot", snapshot, "--to", destination])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(report?.restored.count == mailboxes.count)
        let verdicts = try home.verify(mailboxes.map { "\(destination)/\($0.path)" }, cipher: "none")
        #expect(verdicts.count == mailboxes.count && verdicts.allSatisfy { $0.problems.isEmpty }, "\(verdicts.map(\.problems))")

        // Rebuilt: the damaged file was deleted, and this run or the next leaves a sound cache
        // that holds nodes again.
        _ = try home.backupOK()
        let rebuilt = try NodeCacheTests.python(home, Self.inspect)
        #expect(rebuilt["check"] as? String == "ok", "\(how): \(rebuilt)")
        #expect((rebuilt["nodes"] as? Int ?? 0) > 0, "\(how): \(rebuilt)")
        // And it is used: with nothing changed, the next backup reads less from the targets
        // than the one that met the damage (which read the previous list from them).
        let warm = try home.backupOK()
        #expect(warm.filesUnchanged == mailboxes.count && warm.newChunks == 0)
        func read(_ report: BackupReport) -> Int64 { report.targets.compactMap(\.transfer?.bytesRead).reduce(0, +) }
        #expect(read(warm) < read(after), "\(how): \(read(warm)) bytes read with the cache, \(read(after)) without")
    }
}
