import DRBase
import DRSQLite
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// This host's copy of the metadata it has written or read: tree and list nodes (by id),
/// the packs each target was last seen to hold, and which manifests belong to which host and
/// store. It lives in `<[state] path>/cache/<repository id>/nodes.sqlite`.
///
/// A cache, never the truth: every node is checked against its keyed id when it is read back
/// (a damaged or planted row is dropped and the node read from a target), and the whole file
/// is deleted (and started again by the next command) as soon as any statement finds it
/// damaged (`SQLITE_CORRUPT`, `SQLITE_NOTADB`: any failure but a busy lock or a full disk). Opening it does not check it whole: `PRAGMA
/// quick_check` read all of it on every open (55 MiB at 10,000 mailboxes, ~24 MiB per stored
/// GiB), the largest fixed cost of a backup that found nothing changed (docs/BENCHMARKS.md,
/// "The frequent timer"), and a damaged page it would have found is found by the statement
/// that reads it. It is what keeps a nightly run
/// from downloading the previous run's mailbox list and the changed files' trees from a
/// distant target (`scripts/bench --scale`, docs/BENCHMARKS.md).
///
/// Nodes are appended to a rowid table (`node_rows`) as a run inserts them, and found
/// through `node_ids` (id → row), which is brought up to date in one sorted pass when the
/// run commits (and, after a killed run, when the cache is next opened). Ids are random, so a
/// table keyed by id rewrote pages all over the file for every batch (a full backup of
/// 813 MiB wrote 320 MiB to the cache for 11 MiB of nodes; docs/PROFILES.md); appended rows
/// fill each page once, and each page of the index is written once per run. A node this run
/// wrote out and has not indexed yet is not found until then: a cache miss (the node is read
/// from a target), never a wrong answer.
///
/// Safe from several threads. Two locks: `state` (the nodes not yet written, held only to
/// touch them) and `connection` (held while SQLite works): a worker adding a node does not
/// wait for the SQLite I/O of another thread's batch. Nodes are written in batches, and with
/// the run journal's rows; every other call (pack records, lookups) leaves them pending.
package final class NodeCache: Sendable {
    private struct Connection: @unchecked Sendable {
        let database: SQLiteDatabase
        let select: SQLiteDatabase.Statement
        let append: SQLiteDatabase.Statement
        /// A read transaction is open for the walks in progress (`reading`).
        let read = ReadTransaction()
    }
    /// Touched only under the connection lock.
    private final class ReadTransaction {
        var open = false
    }
    /// The nodes inserted and not yet in the file.
    private struct State: Sendable {
        /// Filling: written in one transaction when it reaches a batch. One autocommit per
        /// node rewrote the same b-tree pages into the WAL again and again. Lost if the
        /// process is killed, which a cache may be: the nodes are read from a target then.
        var pending: [ChunkID: [UInt8]] = [:]
        var pendingBytes = 0
        /// Batches taken out of `pending`, to be written by the next thread that gets the
        /// connection (found by `node` until they are in the file).
        var writing: [Int: [ChunkID: [UInt8]]] = [:]
        var nextBatch = 0
        /// The cache failed and was dropped: inserts are ignored for the rest of the command.
        var off = false
        /// Walks in progress (`reading`): lookups share one read transaction meanwhile.
        var walks = 0
    }
    private let state: Mutex<State>
    private let connection: Mutex<Connection?>
    private let keys: RepositoryKeys
    /// A batch is written when it holds this many nodes or bytes (besides with each journal
    /// row): bounded memory for a mailbox with a large tree (a full batch waits only while
    /// the connection writes another).
    static let batchNodes = 4096
    static let batchBytes = 2 << 20
    let path: String

    /// Opens (or creates, or recreates when damaged) the cache at `path`; ":memory:" keeps it
    /// in memory. A cache that cannot be opened at all leaves the cache off: a cache is never
    /// worth a backup.
    package init(path: String, keys: RepositoryKeys) {
        self.path = path
        self.keys = keys
        let open = Self.openOrRebuild(path)
        connection = Mutex(open)
        state = Mutex(State(off: open == nil))
    }

    deinit {
        flush()
    }

    /// A file SQLite cannot open or finds damaged is deleted and created again; one that fails
    /// for a passing reason (another drctl holds a lock past the busy timeout, a full disk) is
    /// left as it is and the cache is off for this command.
    private static func openOrRebuild(_ path: String) -> Connection? {
        do {
            return try open(path)
        } catch where error.isTransient {
            return nil
        } catch {
            remove(path)
            return try? open(path)
        }
    }

    static func remove(_ path: String) {
        guard path != ":memory:" else { return }
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    private static func open(_ path: String) throws(SQLiteError) -> Connection {
        let database = try SQLiteDatabase(path: path)
        // Rebuildable from the targets, so no fsync (synchronous = OFF): a host crash may
        // lose the last transactions or damage the file, which is then rebuilt. WAL, so that
        // a killed drctl never leaves it inconsistent (every committed transaction is in the
        // WAL's page-cache copy; a torn one is ignored) and so that a restore or `status` can
        // read it while a backup writes.
        try database.execute("""
            PRAGMA busy_timeout = 5000;
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -8192;
            CREATE TABLE IF NOT EXISTS node_rows(id BLOB NOT NULL, plain BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS node_ids(id BLOB PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS node_indexed(through INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS packs(target TEXT NOT NULL, pack BLOB NOT NULL, size INTEGER NOT NULL,
                                             PRIMARY KEY(target, pack)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS manifests(name TEXT PRIMARY KEY, time TEXT NOT NULL,
                                                 host TEXT NOT NULL, store TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS listed(target TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS journal(store TEXT NOT NULL, path TEXT NOT NULL, entry BLOB NOT NULL,
                                               PRIMARY KEY(store, path)) WITHOUT ROWID;
            """)
        // Not fatal: a cache whose old table cannot be moved or whose rows cannot be indexed
        // now (another drctl holds the write lock past the busy timeout) works without those
        // nodes, and is brought up to date later. Damage found on the way is: rebuilt now.
        do { try migrateKeyedNodes(database) } catch where !error.isTransient { throw error } catch {}
        do { try index(database) } catch where !error.isTransient { throw error } catch {}
        return Connection(database: database,
                          select: try database.prepare("SELECT plain FROM node_rows WHERE rowid = (SELECT row FROM node_ids WHERE id = ?1)"),
                          append: try database.prepare("INSERT INTO node_rows(id, plain) VALUES (?1, ?2)"))
    }

    /// Indexes the rows appended since the last time, in id order (each index page is
    /// written once), and deletes those whose id was already there (a node stored or read
    /// again): one transaction.
    private static func index(_ database: SQLiteDatabase) throws(SQLiteError) {
        let mark = try database.prepare("SELECT coalesce((SELECT max(through) FROM node_indexed), 0), coalesce((SELECT max(rowid) FROM node_rows), 0)")
        func unindexed() throws(SQLiteError) -> (through: Int64, last: Int64)? {
            defer { mark.reset() }
            guard try mark.step(), mark.int(1) > mark.int(0) else { return nil }
            return (mark.int(0), mark.int(1))
        }
        // Looked at without the write lock first (a restore opening the cache usually finds
        // nothing to do), then again under it (another drctl may have indexed meanwhile).
        guard try unindexed() != nil else { return }
        try database.execute("BEGIN IMMEDIATE")
        do {
            guard let (through, last) = try unindexed() else {
                try database.execute("COMMIT")
                return
            }
            try database.execute("""
                INSERT OR IGNORE INTO node_ids(id, row) SELECT id, rowid FROM node_rows WHERE rowid > \(through) ORDER BY id;
                DELETE FROM node_rows WHERE rowid > \(through)
                    AND NOT EXISTS (SELECT 1 FROM node_ids WHERE node_ids.id = node_rows.id AND node_ids.row = node_rows.rowid);
                DELETE FROM node_indexed;
                INSERT INTO node_indexed(through) VALUES (\(last));
                COMMIT;
                """)
        } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
    }

    /// Moves the nodes of a cache written before `node_rows` (the `nodes` table keyed by
    /// id) into `node_rows` and drops the old table, in one transaction, so that an upgraded
    /// host keeps its cache (else its next backup downloads the previous snapshot's nodes).
    private static func migrateKeyedNodes(_ database: SQLiteDatabase) throws(SQLiteError) {
        let old = try database.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'nodes'")
        let present = try old.step() && old.int(0) > 0
        old.reset()
        guard present else { return }
        try database.execute("BEGIN IMMEDIATE")
        do {
            try database.execute("""
                INSERT INTO node_rows(id, plain) SELECT id, plain FROM nodes;
                DROP TABLE nodes;
                COMMIT;
                """)
        } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` on the connection; an SQLite failure turns the cache off for the rest of
    /// the command (a cache is never worth a backup), and one that is not a passing one (the
    /// file is damaged) also deletes it (the next command starts a new file).
    ///
    /// A call that writes (`reads` false) first ends the read transaction of the walks in
    /// progress; a lookup during a walk opens one, if none is open, and leaves it open.
    private func using<R: Sendable>(_ fallback: sending R, reads: Bool = false,
                                    _ body: (Connection) throws(SQLiteError) -> sending R) -> R {
        connection.withLock { connection in
            guard let open = connection else { return fallback }
            do throws(SQLiteError) {
                if reads {
                    // Lock order: `connection`, then `state`.
                    if !open.read.open, state.withLock({ $0.walks > 0 }) {
                        try open.database.execute("BEGIN")
                        open.read.open = true
                    }
                } else if open.read.open {
                    open.read.open = false
                    try open.database.execute("COMMIT")
                }
                return try body(open)
            } catch {
                connection = nil
                if !error.isTransient { Self.remove(path) }
                // Lock order: `connection`, then `state` (never the other way).
                state.withLock { $0 = State(off: true) }
                return fallback
            }
        }
    }

    /// Appends every batch in flight and the pending nodes (with `also`, in the same
    /// transaction). Under the connection lock, so whoever gets it writes what every thread
    /// handed over: once it returns, every node inserted before the call is in the file.
    private func writeOut(also: ((Connection) throws(SQLiteError) -> Void)? = nil) {
        using(()) { (open) throws(SQLiteError) in
            let batches = state.withLock { state in
                Self.takeBatch(&state)
                return state.writing
            }
            guard !batches.isEmpty || also != nil else { return }
            try Self.transaction(open) { () throws(SQLiteError) in
                for batch in batches.values {
                    for (id, plain) in batch {
                        defer { open.append.reset() }
                        open.append.bind(1, blob: id.bytes)
                        open.append.bind(2, blob: plain)
                        _ = try open.append.step()
                    }
                }
                try also?(open)
            }
            state.withLock { state in
                for number in batches.keys { state.writing.removeValue(forKey: number) }
            }
        }
    }

    /// Moves the pending nodes into the batches in flight (under the state lock).
    private static func takeBatch(_ state: inout State) {
        guard !state.pending.isEmpty else { return }
        state.writing[state.nextBatch] = state.pending
        state.nextBatch += 1
        state.pending = [:]
        state.pendingBytes = 0
    }

    /// Writes the nodes inserted so far to the file and indexes them (a backup calls it at
    /// commit, so that the next run finds this one's nodes; dropping the cache does it too).
    package func flush() {
        writeOut()
        using(()) { (open) throws(SQLiteError) in try Self.index(open.database) }
    }

    /// A node's plaintext if the cache holds it intact (checked against its keyed id).
    package func node(_ id: ChunkID) -> [UInt8]? {
        // A node inserted by this run is taken from memory (it was hashed when inserted).
        let held: [UInt8]? = state.withLock { state in
            if let plain = state.pending[id] { return plain }
            for batch in state.writing.values { if let plain = batch[id] { return plain } }
            return nil
        }
        if let held { return held }
        let plain: [UInt8]? = using(nil, reads: true) { (open) throws(SQLiteError) -> [UInt8]? in
            defer { open.select.reset() }
            open.select.bind(1, blob: id.bytes)
            return try open.select.step() ? open.select.blob(0) : nil
        }
        guard let plain else { return nil }
        guard keys.chunkID(of: plain) == id else {
            using(()) { (open) throws(SQLiteError) in
                let drop = try open.database.prepare("DELETE FROM node_rows WHERE rowid = (SELECT row FROM node_ids WHERE id = ?1)")
                drop.bind(1, blob: id.bytes)
                _ = try drop.step()
                let unlist = try open.database.prepare("DELETE FROM node_ids WHERE id = ?1")
                unlist.bind(1, blob: id.bytes)
                _ = try unlist.step()
            }
            return nil
        }
        return plain
    }

    /// Runs `body` (a walk of a list or tree: one lookup per node) with the lookups sharing
    /// one read transaction, which ends with the last walk or at the next write. Each lookup
    /// on its own took SQLite's read lock (two `fcntl`s and the WAL index) for one SELECT:
    /// ~4,200 times per walk of 10,000 mailboxes' list (docs/BENCHMARKS.md, "The frequent
    /// timer"). A walk sees the cache as it was when it started, which a cache may.
    package func reading<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        state.withLock { $0.walks += 1 }
        defer {
            let last = state.withLock { state in
                state.walks = max(0, state.walks - 1)
                return state.walks == 0
            }
            if last { endRead() }
        }
        return try body()
    }

    /// Ends the walks' read transaction, if one is open.
    private func endRead() {
        using(()) { (_) throws(SQLiteError) in }
    }

    /// Adds a node (written with the next batch, by the thread that fills it; the others
    /// go on adding to a new batch meanwhile).
    package func insert(_ id: ChunkID, _ plain: [UInt8]) {
        let full = state.withLock { state in
            guard !state.off, state.pending[id] == nil else { return false }
            state.pending[id] = plain
            state.pendingBytes += plain.count
            guard state.pending.count >= Self.batchNodes || state.pendingBytes >= Self.batchBytes else { return false }
            Self.takeBatch(&state)
            return true
        }
        if full { writeOut() }
    }

    /// The packs `target` was last seen holding (id → size), or nil if never recorded.
    package func packs(of target: String) -> [PackID: Int64]? {
        using(nil, reads: true) { (open) throws(SQLiteError) -> [PackID: Int64]? in
            let known = try open.database.prepare("SELECT count(*) FROM listed WHERE target = ?1")
            known.bind(1, text: target)
            guard try known.step(), known.int(0) > 0 else { return nil }
            let query = try open.database.prepare("SELECT pack, size FROM packs WHERE target = ?1")
            query.bind(1, text: target)
            var result: [PackID: Int64] = [:]
            while try query.step() {
                let raw = query.blob(0)
                if raw.count == 32 { result[PackID(bytes: raw)] = query.int(1) }
            }
            return result
        }
    }

    /// Records what `target` holds now (replacing what was recorded): only the rows that
    /// differ are written. Deleting the target's rows and inserting them all again wrote ~32
    /// KiB of WAL per call with 324 packs, twice per backup that changed nothing, and would
    /// write ~17 MiB per call at 1 TiB (~65,000 packs; docs/BENCHMARKS.md, "The frequent
    /// timer").
    package func record(packs: [PackID: Int64], of target: String) {
        using(()) { (open) throws(SQLiteError) in
            try Self.transaction(open) { () throws(SQLiteError) in
                let query = try open.database.prepare("SELECT pack, size FROM packs WHERE target = ?1")
                query.bind(1, text: target)
                var gone: [[UInt8]] = []
                var changed = packs
                while try query.step() {
                    let raw = query.blob(0)
                    let pack = raw.count == 32 ? PackID(bytes: raw) : nil
                    if let pack, let size = packs[pack] {
                        if size == query.int(1) { changed.removeValue(forKey: pack) }
                    } else {
                        gone.append(raw)
                    }
                }
                query.reset()
                let forget = try open.database.prepare("DELETE FROM packs WHERE target = ?1 AND pack = ?2")
                for raw in gone {
                    forget.bind(1, text: target)
                    forget.bind(2, blob: raw)
                    _ = try forget.step()
                    forget.reset()
                }
                try add(changed, of: target, open)
                // A marker that the target's packs were recorded at least once (an empty set
                // is a real answer).
                let mark = try open.database.prepare("INSERT OR IGNORE INTO listed(target) VALUES (?1)")
                mark.bind(1, text: target)
                _ = try mark.step()
            }
        }
    }

    /// Adds packs this run uploaded to `target`.
    package func add(packs: [PackID: Int64], of target: String) {
        using(()) { (open) throws(SQLiteError) in
            try Self.transaction(open) { () throws(SQLiteError) in try add(packs, of: target, open) }
        }
    }

    /// BEGIN … COMMIT around `body` (rolled back when it fails).
    private static func transaction(_ open: Connection, _ body: () throws(SQLiteError) -> Void) throws(SQLiteError) {
        try open.database.execute("BEGIN")
        do {
            try body()
            try open.database.execute("COMMIT")
        } catch {
            try? open.database.execute("ROLLBACK")
            throw error
        }
    }

    private func add(_ packs: [PackID: Int64], of target: String, _ open: Connection) throws(SQLiteError) {
        let add = try open.database.prepare("INSERT OR REPLACE INTO packs(target, pack, size) VALUES (?1, ?2, ?3)")
        for (pack, size) in packs {
            add.bind(1, text: target)
            add.bind(2, blob: pack.bytes)
            add.bind(3, int: size)
            _ = try add.step()
            add.reset()
        }
    }

    // MARK: - The run journal

    /// Records a mailbox a run has stored, before the run commits: if it is killed, the next
    /// run compares the file with what this one stored, so chunks that reached every target
    /// are not stored again. Encoded as a one-entry list leaf. Committed with every node
    /// inserted before it: the mailbox's tree may be in a node pack that never reached a
    /// target, and the next run can compare only with a tree it can read.
    package func journal(_ entry: SnapshotManifest.FileEntry, store: String) {
        let leaf = ListCoding.encodeLeaf([entry])
        writeOut { (open) throws(SQLiteError) in
            let add = try open.database.prepare("INSERT OR REPLACE INTO journal(store, path, entry) VALUES (?1, ?2, ?3)")
            add.bind(1, text: store)
            add.bind(2, text: entry.path)
            add.bind(3, blob: leaf)
            _ = try add.step()
        }
    }

    /// What an interrupted run of `store` had stored, by path (rows that do not decode are
    /// left out: a cache is never trusted beyond what it can prove).
    package func journaled(store: String) -> [String: SnapshotManifest.FileEntry] {
        let rows: [[UInt8]] = using([], reads: true) { (open) throws(SQLiteError) -> [[UInt8]] in
            let query = try open.database.prepare("SELECT entry FROM journal WHERE store = ?1")
            query.bind(1, text: store)
            var rows: [[UInt8]] = []
            while try query.step() { rows.append(query.blob(0)) }
            return rows
        }
        var entries: [String: SnapshotManifest.FileEntry] = [:]
        for row in rows {
            guard case .leaf(let leaf)? = try? ListCoding.decode(row), leaf.count == 1 else { continue }
            entries[leaf[0].path] = leaf[0]
        }
        return entries
    }

    /// Forgets the journal of `store` (its run committed).
    package func clearJournal(store: String) {
        using(()) { (open) throws(SQLiteError) in
            let clear = try open.database.prepare("DELETE FROM journal WHERE store = ?1")
            clear.bind(1, text: store)
            _ = try clear.step()
        }
    }

    /// The time, host and store recorded for a manifest.
    package func manifestSummary(_ name: String) -> (time: String, host: String, store: String)? {
        using(nil, reads: true) { (open) throws(SQLiteError) -> (time: String, host: String, store: String)? in
            let find = try open.database.prepare("SELECT time, host, store FROM manifests WHERE name = ?1")
            find.bind(1, text: name)
            return try find.step() ? (find.text(0), find.text(1), find.text(2)) : nil
        }
    }

    package func recordManifest(_ name: String, time: String, host: String, store: String) {
        using(()) { (open) throws(SQLiteError) in
            let add = try open.database.prepare("INSERT OR REPLACE INTO manifests(name, time, host, store) VALUES (?1, ?2, ?3, ?4)")
            add.bind(1, text: name)
            add.bind(2, text: time)
            add.bind(3, text: host)
            add.bind(4, text: store)
            _ = try add.step()
        }
    }
}

extension NodeCache {
    /// The cache of a repository in a state folder, for commands that only read (restore,
    /// snapshots, check): nil when there is none yet (nothing is created for them).
    package static func forReading(_ stateDirectory: String, repository: String, keys: RepositoryKeys) -> NodeCache? {
        let path = "\(stateDirectory)/cache/\(repository)/nodes.sqlite"
        guard access(path, R_OK | W_OK) == 0 else { return nil }
        return NodeCache(path: path, keys: keys)
    }
}
