import DRBase
import DRSQLite
import DRTransport

#if canImport(Glibc)
import Glibc
#endif

/// Which targets hold each chunk, kept on disk so that a backup's memory does not grow with
/// the repository (a million chunks would otherwise be ~50 MB of memory on every run).
///
/// A cache, never the truth: the index objects on the targets are. It records which index
/// objects it has merged; at the start of a run each target's index names are listed, new
/// objects are merged, and if one it merged has disappeared (a prune rewrote the index) that
/// target's knowledge is dropped and rebuilt, so the cache never claims a chunk a target no
/// longer indexes. It lives in `<[state] path>/cache/<repository id>/presence.sqlite`; a
/// damaged or unreadable cache is deleted and rebuilt. Not thread-safe: `BackupWriter` calls
/// it under its lock.
final class ChunkPresence {
    private let database: SQLiteDatabase
    private let select: SQLiteDatabase.Statement
    private let merge: SQLiteDatabase.Statement

    /// Opens the cache at `path` (":memory:" for none on disk).
    init(path: String) throws(RepositoryError) {
        do {
            database = try Self.openOrRebuild(path)
            select = try database.prepare("SELECT targets FROM chunks WHERE id = ?1")
            merge = try database.prepare(
                "INSERT INTO chunks(id, targets) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET targets = targets | ?2")
            // Earlier versions kept claims here; they are held in memory now.
            try database.execute("DROP TABLE IF EXISTS pending")
        } catch {
            throw RepositoryError(error)
        }
    }

    private static func openOrRebuild(_ path: String) throws(SQLiteError) -> SQLiteDatabase {
        do {
            return try open(path)
        } catch {
            // A cache is never worth failing a backup for: start it again.
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
            return try open(path)
        }
    }

    private static func open(_ path: String) throws(SQLiteError) -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: path)
        // The cache can always be rebuilt from the targets: favour speed over durability, but
        // keep WAL so that a killed drctl never leaves it inconsistent.
        try database.execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -16384;
            CREATE TABLE IF NOT EXISTS chunks(id BLOB PRIMARY KEY, targets INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS merged(target TEXT NOT NULL, object TEXT NOT NULL,
                                              PRIMARY KEY(target, object)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS bits(target TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS packs(target TEXT NOT NULL, pack TEXT NOT NULL,
                                             PRIMARY KEY(target, pack)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS manifests(name TEXT PRIMARY KEY, time TEXT NOT NULL,
                                                 host TEXT NOT NULL, store TEXT NOT NULL) WITHOUT ROWID;
            """)
        return database
    }

    /// The bit that stands for `target` in this cache (stable across runs, whatever the
    /// order of targets in the configuration).
    func bit(for target: String) throws(RepositoryError) -> UInt16 {
        do {
            let find = try database.prepare("SELECT bit FROM bits WHERE target = ?1")
            find.bind(1, text: target)
            if try find.step() { return UInt16(1) << UInt16(find.int(0)) }
            let used = try database.prepare("SELECT bit FROM bits")
            var taken: Set<Int64> = []
            while try used.step() { taken.insert(used.int(0)) }
            guard let free = (0..<16).first(where: { !taken.contains(Int64($0)) }) else {
                throw RepositoryError(.repositoryCacheFull, message: "the presence cache \(database.path) knows 16 targets already; delete it to start afresh")
            }
            let add = try database.prepare("INSERT INTO bits(target, bit) VALUES (?1, ?2)")
            add.bind(1, text: target)
            add.bind(2, int: Int64(free))
            _ = try add.step()
            return UInt16(1) << UInt16(free)
        } catch {
            throw RepositoryError(error)
        }
    }

    /// Brings one target's knowledge up to date with its index objects (`names`, as listed
    /// now); `load` reads and opens one of them.
    func synchronize(target: String, names: [String],
                     load: (String) throws(RepositoryError) -> IndexObject) throws(RepositoryError) {
        let bit = try bit(for: target)
        do {
            let known = try database.prepare("SELECT object FROM merged WHERE target = ?1")
            known.bind(1, text: target)
            var merged: Set<String> = []
            while try known.step() { merged.insert(known.text(0)) }
            let current = Set(names)
            if !merged.isSubset(of: current) {
                // An index object this cache merged is gone: forget the target, rebuild it.
                try database.transaction { () throws(SQLiteError) in
                    try database.execute("UPDATE chunks SET targets = targets & \(~Int64(bit) & 0xFFFF) WHERE targets & \(bit) != 0")
                    for table in ["merged", "packs"] {
                        let forget = try database.prepare("DELETE FROM \(table) WHERE target = ?1")
                        forget.bind(1, text: target)
                        _ = try forget.step()
                    }
                }
                merged = []
            }
            for name in names.sorted() where !merged.contains(name) {
                try record(indexObject: try load(name), named: name, target: target, bit: bit)
            }
        } catch {
            throw RepositoryError(error)
        }
    }

    /// Records one index object of `target`: its chunks, its packs and its name, in one
    /// transaction (a killed run leaves it merged or not, never half).
    func record(indexObject object: IndexObject, named name: String, target: String) throws(RepositoryError) {
        try record(indexObject: object, named: name, targets: [target])
    }

    /// Records one index object that several targets now hold (one pass over its entries).
    func record(indexObject object: IndexObject, named name: String, targets: [String]) throws(RepositoryError) {
        var bits: UInt16 = 0
        for target in targets { bits |= try bit(for: target) }
        try record(indexObject: object, named: name, targets: targets, bits: bits)
    }

    private func record(indexObject object: IndexObject, named name: String, target: String,
                        bit: UInt16) throws(RepositoryError) {
        try record(indexObject: object, named: name, targets: [target], bits: bit)
    }

    private func record(indexObject object: IndexObject, named name: String, targets: [String],
                        bits: UInt16) throws(RepositoryError) {
        guard !targets.isEmpty else { return }
        do {
            let record = try database.prepare("INSERT OR IGNORE INTO merged(target, object) VALUES (?1, ?2)")
            let recordPack = try database.prepare("INSERT OR IGNORE INTO packs(target, pack) VALUES (?1, ?2)")
            try database.transaction { () throws(SQLiteError) in
                for pack in object.packs {
                    for target in targets {
                        recordPack.bind(1, text: target)
                        recordPack.bind(2, text: pack.pack)
                        _ = try recordPack.step()
                        recordPack.reset()
                    }
                    for entry in pack.entries {
                        merge.bind(1, blob: entry.id.bytes)
                        merge.bind(2, int: Int64(bits))
                        _ = try merge.step()
                        merge.reset()
                    }
                }
                for target in targets {
                    record.bind(1, text: target)
                    record.bind(2, text: name)
                    _ = try record.step()
                    record.reset()
                }
            }
        } catch {
            throw RepositoryError(error)
        }
    }

    /// The time, host and store of each named manifest; manifests not seen before are read
    /// once (`load`) and remembered, so a run does not decrypt a year of history to find its
    /// previous snapshot.
    func manifestSummaries(names: [String],
                           load: (String) throws(RepositoryError) -> SnapshotManifest) throws(RepositoryError)
        -> [(name: String, time: String, host: String, store: String)] {
        do {
            let find = try database.prepare("SELECT time, host, store FROM manifests WHERE name = ?1")
            let add = try database.prepare("INSERT OR REPLACE INTO manifests(name, time, host, store) VALUES (?1, ?2, ?3, ?4)")
            var result: [(name: String, time: String, host: String, store: String)] = []
            for name in names {
                find.bind(1, text: name)
                if try find.step() {
                    result.append((name, find.text(0), find.text(1), find.text(2)))
                    find.reset()
                    continue
                }
                find.reset()
                let manifest = try load(name)
                add.bind(1, text: name)
                add.bind(2, text: manifest.time)
                add.bind(3, text: manifest.host)
                add.bind(4, text: manifest.storePath)
                _ = try add.step()
                add.reset()
                result.append((name, manifest.time, manifest.host, manifest.storePath))
            }
            return result
        } catch {
            throw RepositoryError(error)
        }
    }

    /// The packs that `target`'s index objects name.
    func indexedPacks(of target: String) throws(RepositoryError) -> Set<String> {
        do {
            let query = try database.prepare("SELECT pack FROM packs WHERE target = ?1")
            query.bind(1, text: target)
            var packs: Set<String> = []
            while try query.step() { packs.insert(query.text(0)) }
            return packs
        } catch {
            throw RepositoryError(error)
        }
    }

    /// The targets (bits) known to hold `id`.
    func targets(holding id: ChunkID) throws(RepositoryError) -> UInt16 {
        do {
            defer { select.reset() }
            select.bind(1, blob: id.bytes)
            return try select.step() ? UInt16(truncatingIfNeeded: select.int(0)) : 0
        } catch {
            throw RepositoryError(error)
        }
    }

}
