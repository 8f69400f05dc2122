import DRBase
import DRSQLite

/// What check has concluded about each node it walked, kept in a private temporary SQLite
/// file (deleted when closed) rather than in memory: a check of a repository ten times larger
/// walks ten times more nodes, and its memory must not grow with them. Snapshots share most
/// of their trees, so each node is judged once per target.
///
/// A verdict belongs to a stored copy (id, pack and offset), not to the id alone: one node can
/// be stored twice (a backup that healed a lost pack stores it again elsewhere), and an old
/// snapshot's ref into the lost pack must not borrow the new copy's "sound".
package final class NodeVerdicts {
    private let database: SQLiteDatabase?
    private let select: SQLiteDatabase.Statement?
    private let insert: SQLiteDatabase.Statement?
    /// Used when no temporary file can be made (then memory does grow).
    private var fallback: [[UInt8]: Bool] = [:]

    package init() {
        // An empty path is SQLite's private temporary database, on disk, removed on close.
        let database = try? SQLiteDatabase(path: "")
        try? database?.execute("""
            PRAGMA cache_size = -4096;
            CREATE TABLE verdicts(site BLOB PRIMARY KEY, damaged INTEGER NOT NULL) WITHOUT ROWID;
            """)
        self.database = database
        select = try? database?.prepare("SELECT damaged FROM verdicts WHERE site = ?1")
        insert = try? database?.prepare("INSERT OR REPLACE INTO verdicts(site, damaged) VALUES (?1, ?2)")
    }

    /// The key of one stored copy: id ‖ pack ‖ u32 LE offset.
    private static func site(_ ref: BlobRef) -> [UInt8] {
        var key = ref.id.bytes + ref.pack.bytes
        LittleEndian.append(ref.offset, to: &key)
        return key
    }

    /// The verdict on the node `ref` names (true: something below it is damaged), if judged already.
    package func verdict(_ ref: BlobRef) -> Bool? {
        let key = Self.site(ref)
        guard let select else { return fallback[key] }
        defer { select.reset() }
        select.bind(1, blob: key)
        guard (try? select.step()) == true else { return fallback[key] }
        return select.int(0) != 0
    }

    package func record(_ ref: BlobRef, damaged: Bool) {
        let key = Self.site(ref)
        guard let insert else {
            fallback[key] = damaged
            return
        }
        defer { insert.reset() }
        insert.bind(1, blob: key)
        insert.bind(2, int: damaged ? 1 : 0)
        if (try? insert.step()) == nil { fallback[key] = damaged }
    }
}
