import DRBase
import DRSQLite

/// What check has concluded about each node it walked, kept in a private temporary SQLite
/// file (deleted when closed) rather than in memory: a check of a repository ten times larger
/// walks ten times more nodes, and its memory must not grow with them. Snapshots share most
/// of their trees, so each node is judged once per target.
package final class NodeVerdicts {
    private let database: SQLiteDatabase?
    private let select: SQLiteDatabase.Statement?
    private let insert: SQLiteDatabase.Statement?
    /// Used when no temporary file can be made (then memory does grow).
    private var fallback: [ChunkID: Bool] = [:]

    package init() {
        // An empty path is SQLite's private temporary database, on disk, removed on close.
        let database = try? SQLiteDatabase(path: "")
        try? database?.execute("""
            PRAGMA cache_size = -4096;
            CREATE TABLE verdicts(id BLOB PRIMARY KEY, damaged INTEGER NOT NULL) WITHOUT ROWID;
            """)
        self.database = database
        select = try? database?.prepare("SELECT damaged FROM verdicts WHERE id = ?1")
        insert = try? database?.prepare("INSERT OR REPLACE INTO verdicts(id, damaged) VALUES (?1, ?2)")
    }

    /// The verdict on `id` (true: something below it is damaged), if judged already.
    package func verdict(_ id: ChunkID) -> Bool? {
        guard let select else { return fallback[id] }
        defer { select.reset() }
        select.bind(1, blob: id.bytes)
        guard (try? select.step()) == true else { return nil }
        return select.int(0) != 0
    }

    package func record(_ id: ChunkID, damaged: Bool) {
        guard let insert else {
            fallback[id] = damaged
            return
        }
        defer { insert.reset() }
        insert.bind(1, blob: id.bytes)
        insert.bind(2, int: damaged ? 1 : 0)
        if (try? insert.step()) == nil { fallback[id] = damaged }
    }
}
