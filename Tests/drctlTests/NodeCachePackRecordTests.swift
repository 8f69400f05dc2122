import Foundation
import Testing

/// The node cache's record of each target's packs (`packs`, for spotting a pack lost on a
/// target) is brought up to date row by row: a backup that changed nothing writes none of
/// it, one that stored new packs inserts those, and the record always equals what each
/// target holds. (It was deleted and inserted again whole, twice per run.)
@Suite("node cache: the packs record is written only where it changed")
struct NodeCachePackRecordTests {
    /// Triggers that count every row inserted into and deleted from `packs`, in a table of the
    /// test's own (drctl's schema is `CREATE … IF NOT EXISTS`: it leaves both alone).
    static let count = """
        import json, sqlite3, sys
        db = sqlite3.connect(sys.argv[1])
        db.executescript('''
            CREATE TABLE IF NOT EXISTS test_pack_writes(kind TEXT NOT NULL);
            CREATE TRIGGER IF NOT EXISTS test_pack_insert AFTER INSERT ON packs BEGIN INSERT INTO test_pack_writes VALUES ('insert'); END;
            CREATE TRIGGER IF NOT EXISTS test_pack_delete AFTER DELETE ON packs BEGIN INSERT INTO test_pack_writes VALUES ('delete'); END;
            ''')
        counts = dict(db.execute("SELECT kind, count(*) FROM test_pack_writes GROUP BY kind").fetchall())
        db.execute('DELETE FROM test_pack_writes')
        db.commit()
        rows = {}
        for target, pack, size in db.execute('SELECT target, hex(pack), size FROM packs'):
            rows.setdefault(target, {})[pack.lower()] = size
        print(json.dumps({'inserts': counts.get('insert', 0), 'deletes': counts.get('delete', 0), 'packs': rows}))
        """

    /// Pack id (hex) → size of every pack file under a target's `data/`.
    static func held(_ folder: String) throws -> [String: Int] {
        var packs: [String: Int] = [:]
        for path in Files.all(under: "\(folder)/data") {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(folder)/data/\(path)")
            packs[(path as NSString).lastPathComponent.lowercased()] = (attributes[.size] as? Int) ?? -1
        }
        return packs
    }

    static func expectRecordMatches(_ home: BackupHome, _ measured: [String: Any], _ step: String) throws {
        let recorded = try #require(measured["packs"] as? [String: [String: Int]], "\(measured)")
        for target in ["site-a", "site-b"] {
            let held = try held(home.targetFolder(target))
            #expect(!held.isEmpty)
            #expect(recorded[target] == held, "\(step): the record of \(target) is not what it holds")
        }
    }

    @Test("nothing changed: no pack row written; a changed mailbox: only its new packs inserted, none deleted; the record equals each target's data/")
    func onlyWhatChanged() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 3, messages: 300)
        try home.initRepository()
        _ = try home.backupOK()
        _ = try NodeCacheTests.python(home, Self.count)   // the triggers, from here on

        let unchanged = try home.backupOK()
        #expect(unchanged.filesUnchanged == mailboxes.count)
        let quiet = try NodeCacheTests.python(home, Self.count)
        #expect(quiet["inserts"] as? Int == 0 && quiet["deletes"] as? Int == 0,
                "a backup that changed nothing wrote pack rows: \(quiet["inserts"] ?? "?") inserted, \(quiet["deletes"] ?? "?") deleted")
        try Self.expectRecordMatches(home, quiet, "nothing changed")

        let before = try Self.held(home.targetFolder("site-a")).count + Self.held(home.targetFolder("site-b")).count
        _ = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 300, seed: 7, subfolder: "more")
        let changed = try home.backupOK()
        #expect(changed.newChunks > 0)
        let after = try Self.held(home.targetFolder("site-a")).count + Self.held(home.targetFolder("site-b")).count
        let written = try NodeCacheTests.python(home, Self.count)
        #expect(written["inserts"] as? Int == after - before, "\(after - before) new pack files, \(written["inserts"] ?? "?") rows inserted")
        #expect(written["deletes"] as? Int == 0)
        try Self.expectRecordMatches(home, written, "a new mailbox")
    }
}
