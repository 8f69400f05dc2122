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

    @Test("a backup killed after journaling mailboxes whose trees are in no uploaded pack: the next run reads those trees from the cache and stores their chunks no second time")
    func killedRunsTreesKept() throws {
        let home = try BackupHome()
        // Thirty mailboxes: the kill, polled for from another process, must land while some are
        // still to do (with ten, a faster backup had journaled them all first).
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 30, messages: 400)
        try home.initRepository()
        // Small packs: data reaches the targets as the run goes; the few nodes of these
        // mailboxes stay in one node pack that only the commit would upload, so after the
        // kill their trees are in this host's cache or nowhere.
        let options = ["--pack-bytes", String(256 << 10), "--parallelism", "1"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Drctl.binary)
        process.arguments = ["backup", "--json", "--no-progress", "--config", home.config] + options
        process.environment = home.home.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Killed once the journal holds three mailboxes (polled from the cache).
        let python = try Python.require()
        func journal() throws -> [String] {
            let caches = Files.all(under: "\(home.root)/state/cache").filter { $0.hasSuffix("nodes.sqlite") }
            guard caches.count == 1 else { return [] }
            let result = try home.home.run(python, ["-c", "import sqlite3, sys; [print(r[0]) for r in sqlite3.connect(sys.argv[1], timeout=10).execute('SELECT path FROM journal')]",
                                                    "\(home.root)/state/cache/\(caches[0])"])
            return result.stdout.split(separator: "\n").map(String.init)
        }
        let started = Date()
        while process.isRunning && Date().timeIntervalSince(started) < 120 {
            if try journal().count >= 3 { break }
            usleep(10_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let journaled = try journal()
        try #require(process.terminationReason == .uncaughtSignal && journaled.count >= 3 && journaled.count < mailboxes.count,
                     "the backup ended before it was killed, or was killed before three mailboxes were journaled (\(journaled.count) were): not the case under test")
        func image(_ mailbox: GeneratedMailbox) -> Int64 {
            Files.size("\(home.store)/\(mailbox.path)") + Files.size("\(home.store)/\(mailbox.path)-wal")
        }
        let done = mailboxes.filter { mailbox in journaled.contains { $0.hasSuffix(mailbox.path) } }
        try #require(done.count == journaled.count, "journal paths \(journaled), mailboxes \(mailboxes.map(\.path))")
        let doneBytes = done.map(image).reduce(0, +)
        let restBytes = mailboxes.map(image).reduce(0, +) - doneBytes
        let next = try home.backupOK(options)
        #expect((next.resumed ?? 0) >= done.count, "the next run resumed \(next.resumed ?? 0) mailboxes of the \(done.count) the killed one journaled")
        // The mailboxes the killed run had not finished, and the chunks of the packs the kill
        // kept from the targets (the open data pack and those queued for upload), are stored;
        // the journaled ones (\(doneBytes) B) are not stored again.
        let bound = restBytes + 8 * (256 << 10)
        #expect(next.newChunkBytes <= bound,
                "the run after the kill stored \(next.newChunkBytes) B of new chunks: more than the \(restBytes) B of mailboxes it had not journaled and 8 packs; the \(doneBytes) B of the \(done.count) journaled ones were stored again (their trees not read)")
        let checked = try home.check()
        #expect(checked.0.status == 0, "check --read-data after the kill and the completing run: \(checked.0.stdout)")
    }
}
