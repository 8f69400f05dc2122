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
/// is deleted and started again when SQLite finds it damaged. It is what keeps a nightly run
/// from downloading the previous run's mailbox list and the changed files' trees from a
/// distant target: 19.6 MiB per stored GiB for 4 KiB pages, 40.7 for mailboxes of 8–64 KiB
/// (`scripts/bench --scale`, docs/BENCHMARKS.md; ids arrive in random order, so its b-tree
/// pages are about half full).
/// Safe from several threads: one connection under a lock.
package final class NodeCache: Sendable {
    private struct Connection: @unchecked Sendable {
        let database: SQLiteDatabase
        let select: SQLiteDatabase.Statement
        let insert: SQLiteDatabase.Statement
    }
    /// The connection, and the nodes inserted since the last batch was written.
    private struct State: @unchecked Sendable {
        var connection: Connection?
        /// Inserted nodes not yet in the file, written in one transaction per batch: one
        /// autocommit per node (one per 16 chunks) rewrote the same b-tree pages into the WAL
        /// again and again (the node cache was 11 % of a full backup's profile). Lost if
        /// the process is killed, which a cache may be: the nodes are read from a target then.
        var pending: [ChunkID: [UInt8]] = [:]
        var pendingBytes = 0
    }
    private let connection: Mutex<State>
    private let keys: RepositoryKeys
    /// A batch is written when it holds this many nodes or bytes (bounded memory).
    static let batchNodes = 1024
    static let batchBytes = 4 << 20
    let path: String

    /// Opens (or creates, or recreates when damaged) the cache at `path`; ":memory:" keeps it
    /// in memory. A cache that cannot be opened at all leaves the cache off: a cache is never
    /// worth a backup.
    package init(path: String, keys: RepositoryKeys) {
        self.path = path
        self.keys = keys
        connection = Mutex(State(connection: Self.openOrRebuild(path)))
    }

    deinit {
        flush()
    }

    private static func openOrRebuild(_ path: String) -> Connection? {
        if let connection = try? open(path) { return connection }
        remove(path)
        return try? open(path)
    }

    static func remove(_ path: String) {
        guard path != ":memory:" else { return }
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    private static func open(_ path: String) throws(SQLiteError) -> Connection {
        let database = try SQLiteDatabase(path: path)
        // Rebuildable from the targets: speed over durability, WAL so a killed drctl never
        // leaves it inconsistent.
        try database.execute("""
            PRAGMA busy_timeout = 5000;
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -8192;
            CREATE TABLE IF NOT EXISTS nodes(id BLOB PRIMARY KEY, plain BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS packs(target TEXT NOT NULL, pack BLOB NOT NULL, size INTEGER NOT NULL,
                                             PRIMARY KEY(target, pack)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS manifests(name TEXT PRIMARY KEY, time TEXT NOT NULL,
                                                 host TEXT NOT NULL, store TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS listed(target TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS journal(store TEXT NOT NULL, path TEXT NOT NULL, entry BLOB NOT NULL,
                                               PRIMARY KEY(store, path)) WITHOUT ROWID;
            """)
        let check = try database.prepare("PRAGMA quick_check")
        if try check.step(), check.text(0) != "ok" {
            throw SQLiteError(.sqliteError, message: "the node cache \(path) is damaged (\(check.text(0))); it is rebuilt")
        }
        return Connection(database: database,
                          select: try database.prepare("SELECT plain FROM nodes WHERE id = ?1"),
                          insert: try database.prepare("INSERT OR IGNORE INTO nodes(id, plain) VALUES (?1, ?2)"))
    }

    /// Runs `body` on the connection; an SQLite failure drops the cache file and turns the
    /// cache off for the rest of the command (the next one starts a new file).
    private func using<R: Sendable>(_ fallback: sending R, _ body: (Connection) throws(SQLiteError) -> sending R) -> R {
        connection.withLock { state in
            guard let open = state.connection else { return fallback }
            do {
                try Self.writePending(&state, open)
                return try body(open)
            } catch {
                state = State()
                Self.remove(path)
                return fallback
            }
        }
    }

    /// Writes the pending nodes in one transaction.
    private static func writePending(_ state: inout State, _ open: Connection) throws(SQLiteError) {
        guard !state.pending.isEmpty else { return }
        let batch = state.pending
        state.pending = [:]
        state.pendingBytes = 0
        try transaction(open) { () throws(SQLiteError) in
            for (id, plain) in batch {
                defer { open.insert.reset() }
                open.insert.bind(1, blob: id.bytes)
                open.insert.bind(2, blob: plain)
                _ = try open.insert.step()
            }
        }
    }

    /// Writes the nodes inserted so far to the file (a backup calls it at commit; dropping the
    /// cache does it too).
    package func flush() {
        using(()) { _ in }
    }

    /// A node's plaintext if the cache holds it intact (checked against its keyed id).
    package func node(_ id: ChunkID) -> [UInt8]? {
        // A node inserted by this run is taken from the batch (it was hashed when inserted).
        if let plain = connection.withLock({ $0.pending[id] }) { return plain }
        let plain: [UInt8]? = using(nil) { (open) throws(SQLiteError) -> [UInt8]? in
            defer { open.select.reset() }
            open.select.bind(1, blob: id.bytes)
            return try open.select.step() ? open.select.blob(0) : nil
        }
        guard let plain else { return nil }
        guard keys.chunkID(of: plain) == id else {
            using(()) { (open) throws(SQLiteError) in
                let drop = try open.database.prepare("DELETE FROM nodes WHERE id = ?1")
                drop.bind(1, blob: id.bytes)
                _ = try drop.step()
            }
            return nil
        }
        return plain
    }

    /// Adds a node (written with the next batch).
    package func insert(_ id: ChunkID, _ plain: [UInt8]) {
        let full = connection.withLock { state in
            guard state.connection != nil, state.pending[id] == nil else { return false }
            state.pending[id] = plain
            state.pendingBytes += plain.count
            return state.pending.count >= Self.batchNodes || state.pendingBytes >= Self.batchBytes
        }
        if full { flush() }
    }

    /// The packs `target` was last seen holding (id → size), or nil if never recorded.
    package func packs(of target: String) -> [PackID: Int64]? {
        using(nil) { (open) throws(SQLiteError) -> [PackID: Int64]? in
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

    /// Records what `target` holds now (replacing what was recorded).
    package func record(packs: [PackID: Int64], of target: String) {
        using(()) { (open) throws(SQLiteError) in
            try Self.transaction(open) { () throws(SQLiteError) in
                let forget = try open.database.prepare("DELETE FROM packs WHERE target = ?1")
                forget.bind(1, text: target)
                _ = try forget.step()
                try add(packs, of: target, open)
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
    /// are not stored again. Encoded as a one-entry list leaf.
    package func journal(_ entry: SnapshotManifest.FileEntry, store: String) {
        let leaf = ListCoding.encodeLeaf([entry])
        using(()) { (open) throws(SQLiteError) in
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
        let rows: [[UInt8]] = using([]) { (open) throws(SQLiteError) -> [[UInt8]] in
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
        using(nil) { (open) throws(SQLiteError) -> (time: String, host: String, store: String)? in
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
