import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The node cache (`<state>/cache/<repository>/nodes.sqlite`) as backups leave it: nodes
/// appended to a rowid table found by an index on their id, and a cache of the older layout
/// (a table keyed by id) carried over.
@Suite("node cache layout and carry-over")
struct NodeCacheTests {
    /// The one cache file of `home`'s repository.
    static func cacheFile(_ home: BackupHome) throws -> String {
        let caches = Files.all(under: "\(home.root)/state/cache").filter { $0.hasSuffix("nodes.sqlite") }
        try #require(caches.count == 1, "expected one node cache, found \(caches)")
        return "\(home.root)/state/cache/\(caches[0])"
    }

    /// Runs a Python snippet on the cache (argv[1]) with the sqlite3 module; its stdout as JSON.
    static func python(_ home: BackupHome, _ script: String) throws -> [String: Any] {
        let result = try home.home.run(try Python.require(), ["-c", script, try cacheFile(home)])
        try #require(result.status == 0, "python on the node cache failed: \(result.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(parsed, "python printed no JSON object: \(result.stdout)")
    }

    /// Pages in use, and the node bytes the cache holds (whichever node table it has).
    static let measure = """
        import json, sqlite3, sys
        db = sqlite3.connect(sys.argv[1])
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        table = 'node_rows' if 'node_rows' in tables else 'nodes'
        count, plain = db.execute(f"SELECT count(*), coalesce(sum(length(plain)), 0) FROM {table}").fetchone()
        pages = db.execute('PRAGMA page_count').fetchone()[0] - db.execute('PRAGMA freelist_count').fetchone()[0]
        size = db.execute('PRAGMA page_size').fetchone()[0]
        print(json.dumps({'table': table, 'nodes': count, 'plain': plain, 'used': pages * size}))
        """

    @Test("a cache of the older layout (nodes keyed by id) is carried over: the next backup reads no more from the targets than one after a cache of this version")
    func olderLayoutCarriedOver() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 4, messages: 300)
        try home.initRepository()
        _ = try home.backupOK()
        // One mailbox changes, so that the next run reads its previous tree (from the cache);
        // what that run reads from the targets, with the cache as this version writes it,
        // is the measure for the run after the carry-over.
        try home.write(mailboxes[0], transactions: 20, seed: 7)
        let control = try home.backupOK()
        let controlRead = control.targets.compactMap(\.transfer).map(\.getRequests).reduce(0, +)
        try home.write(mailboxes[0], transactions: 20, seed: 8)
        let before = try Self.python(home, Self.measure)
        try #require(before["table"] as? String == "node_rows", "this version writes node_rows: \(before)")
        // Rewrite the cache in the older layout (no node_rows, node_ids, node_indexed), with
        // the same nodes.
        _ = try Self.python(home, """
            import json, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript('''
                BEGIN;
                CREATE TABLE nodes(id BLOB PRIMARY KEY, plain BLOB NOT NULL) WITHOUT ROWID;
                INSERT INTO nodes(id, plain) SELECT id, plain FROM node_rows;
                DROP TABLE node_rows;
                DROP TABLE node_ids;
                DROP TABLE node_indexed;
                COMMIT;
                ''')
            print(json.dumps({'nodes': db.execute('SELECT count(*) FROM nodes').fetchone()[0]}))
            """)
        let report = try home.backupOK()
        let read = report.targets.compactMap(\.transfer).map(\.getRequests).reduce(0, +)
        let after = try Self.python(home, Self.measure)
        #expect(after["table"] as? String == "node_rows", "the older table is carried over: \(after)")
        #expect((after["nodes"] as? Int ?? 0) >= (before["nodes"] as? Int ?? .max), "nodes before \(before), after \(after)")
        #expect(report.files - report.filesUnchanged >= 1, "the changed mailbox was read")
        // The previous list and the changed mailbox's tree came from the cache, as in the
        // control run: no more reads from the targets than it made.
        #expect(read <= controlRead, "the backup after the carry-over made \(read) reads from the targets, the one before it \(controlRead)")
    }
}
