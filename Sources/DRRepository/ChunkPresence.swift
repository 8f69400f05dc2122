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
/// longer indexes. Index objects are not trusted alone either: a pack is believed only while
/// the target's `data/` listing shows it with the size its index records, so a pack lost or
/// truncated on a target makes the cache forget that target's chunks of it and the next
/// backup stores them there again. It lives in
/// `<[state] path>/cache/<repository id>/presence.sqlite`; a damaged or unreadable cache is
/// deleted and rebuilt. Not thread-safe: `BackupWriter` calls it only under its lock (hence
/// `@unchecked Sendable`: a cache rebuilt in mid-run replaces the old one under that lock).
final class ChunkPresence: @unchecked Sendable {
    private let database: SQLiteDatabase
    private let select: SQLiteDatabase.Statement
    private let merge: SQLiteDatabase.Statement

    /// What one target's synchronization found wrong on the target.
    struct Findings {
        /// Packs an index object names that the target does not hold as indexed (missing, not
        /// a regular file, or of another size), with why.
        var lostPacks: [(pack: String, why: String)] = []
        /// Index objects that could not be read or opened (not merged; their packs are
        /// recovered from the packs' own headers).
        var damagedIndexObjects: [RepositoryError] = []
    }

    let path: String

    /// Opens the cache at `path` (":memory:" for none on disk).
    /// - Parameter fresh: delete whatever is there first (a cache found damaged in mid-run).
    init(path: String, fresh: Bool = false) throws(RepositoryError) {
        self.path = path
        if fresh { Self.remove(path) }
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
            remove(path)
            return try open(path)
        }
    }

    static func remove(_ path: String) {
        guard path != ":memory:" else { return }
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
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
            CREATE TABLE IF NOT EXISTS manifests(name TEXT PRIMARY KEY, time TEXT NOT NULL,
                                                 host TEXT NOT NULL, store TEXT NOT NULL) WITHOUT ROWID;
            """)
        // Damage deep in the file would otherwise surface only when a query reaches it, in
        // the middle of a backup, and again on every run: look once, at the start.
        let check = try database.prepare("PRAGMA quick_check")
        if try check.step(), check.text(0) != "ok" {
            throw SQLiteError(.sqliteError, message: "the presence cache \(path) is damaged (\(check.text(0))); it is rebuilt")
        }
        // Caches written before pack lengths were recorded cannot check packs against the
        // target: they start again (the targets' index objects rebuild them).
        let columns = try database.prepare("SELECT count(*) FROM pragma_table_info('packs') WHERE name = 'length'")
        let hasTable = try database.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'packs'")
        if try hasTable.step(), hasTable.int(0) > 0, try columns.step(), columns.int(0) == 0 {
            try database.execute("DROP TABLE packs; DELETE FROM merged; DELETE FROM chunks;")
        }
        try database.execute("""
            CREATE TABLE IF NOT EXISTS packs(target TEXT NOT NULL, pack TEXT NOT NULL, length INTEGER NOT NULL,
                                             PRIMARY KEY(target, pack)) WITHOUT ROWID;
            """)
        return database
    }

    /// Gives `target` a known bit (a rebuilt cache keeps the bits the run already uses).
    func assign(bit: UInt16, to target: String) throws(RepositoryError) {
        do {
            let add = try database.prepare("INSERT OR REPLACE INTO bits(target, bit) VALUES (?1, ?2)")
            add.bind(1, text: target)
            add.bind(2, int: Int64(bit.trailingZeroBitCount))
            _ = try add.step()
        } catch {
            throw RepositoryError(error)
        }
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
    /// now) and its packs (`packs`: id → size, as listed now; -1 for what is not a regular
    /// file); `load` reads and opens one index object.
    func synchronize(target: String, names: [String], packs: [String: Int64],
                     load: (String) throws(RepositoryError) -> IndexObject) throws(RepositoryError) -> Findings {
        let bit = try bit(for: target)
        var findings = Findings()
        func why(_ pack: String, length: UInt64) -> String? {
            guard let size = packs[pack] else { return "missing" }
            if size < 0 { return "not a regular file" }
            return size == Int64(length) ? nil : "\(size) bytes where its index says \(length)"
        }
        do {
            let known = try database.prepare("SELECT object FROM merged WHERE target = ?1")
            known.bind(1, text: target)
            var merged: Set<String> = []
            while try known.step() { merged.insert(known.text(0)) }
            let recorded = try database.prepare("SELECT pack, length FROM packs WHERE target = ?1")
            recorded.bind(1, text: target)
            var lost = false
            while try recorded.step() {
                if why(recorded.text(0), length: UInt64(max(0, recorded.int(1)))) != nil { lost = true }
            }
            // An index object this cache merged is gone (a prune rewrote the index), or a pack
            // it relies on is gone or damaged: forget the target and rebuild its knowledge,
            // leaving out the packs the target does not hold as indexed.
            if !merged.isSubset(of: Set(names)) || lost {
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
            // The packs lost are reported by the merge below, from the index objects that
            // still name them (a pack whose index object is gone too was pruned, not lost).
            var reported: Set<String> = []
            for name in names.sorted() where !merged.contains(name) {
                let object: IndexObject
                do {
                    object = try load(name)
                } catch {
                    // Not merged, so tried again next run; until then its packs count as
                    // unindexed and are recovered (authenticated) from their own headers.
                    findings.damagedIndexObjects.append(error)
                    continue
                }
                var held: [IndexObject.PackRecord] = []
                for record in object.packs {
                    if let problem = why(record.pack, length: record.length) {
                        if reported.insert(record.pack).inserted { findings.lostPacks.append((record.pack, problem)) }
                    } else {
                        held.append(record)
                    }
                }
                try record(indexObject: IndexObject(packs: held), named: name, target: target, bit: bit)
            }
        } catch let error as RepositoryError {
            throw error
        } catch {
            throw RepositoryError(error)
        }
        return findings
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
            let recordPack = try database.prepare("INSERT OR IGNORE INTO packs(target, pack, length) VALUES (?1, ?2, ?3)")
            try database.transaction { () throws(SQLiteError) in
                for pack in object.packs {
                    for target in targets {
                        recordPack.bind(1, text: target)
                        recordPack.bind(2, text: pack.pack)
                        recordPack.bind(3, int: Int64(pack.length))
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

    /// The time, host and store of each named manifest that can be read; manifests not seen
    /// before are read once (`load`) and remembered, so a run does not decrypt a year of history to find its
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
                // One no target can read is left out (and not remembered: it is tried again).
                guard let manifest = try? load(name) else { continue }
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
