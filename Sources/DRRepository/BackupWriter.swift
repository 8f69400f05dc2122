import DRBase
package import DRCompression
import DRCrypto
package import DRTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Stores new content in a repository on every target: deduplicates chunks, fills packs,
/// uploads each pack to every healthy target, writes index objects (every 64 packs and at the
/// end) and then the snapshot manifest (the write order that keeps a crash harmless).
///
/// Safe to use from several worker threads at once: hashing, compressing and sealing run in
/// the caller's thread without a lock; only claiming an id and appending to the open pack
/// take the lock; a full pack is uploaded by the thread that filled it, outside the lock.
///
/// A target that fails is marked failed and skipped from then on; the run goes on for the
/// others and reports the failure (every target is complete on its own, so one broken
/// target must not cost the others their backup).
package final class BackupWriter: Sendable {
    package let keys: RepositoryKeys
    private let stores: [any ObjectStore]
    private let packSize: Int
    private let compressionLevel: Int
    private let cachePath: String

    private struct State {
        /// Which targets hold each chunk, on disk (memory stays flat whatever the repository's
        /// size).
        var presence: ChunkPresence
        /// Each target's bit in `presence`.
        var bits: [String: UInt16] = [:]
        /// The bits of the targets that have not failed: a chunk is stored unless all of
        /// them hold it.
        var healthy: UInt16 = 0
        /// Chunks in packs that no index names yet (a killed run's), for this run only.
        var recovered: [ChunkID: UInt16] = [:]
        /// Chunks this run has claimed whose packs no index object written by this run names
        /// yet. Bounded: every 64 packs an index object is written and recorded in the cache,
        /// and its chunks leave this set (at most ~64 × 4096 ids).
        var claims: Set<ChunkID> = []
        var pack = PackWriter()
        var newRecords: [IndexObject.PackRecord] = []
        var recoveredPacks: [String: [IndexObject.PackRecord]] = [:]
        var failures: [String: RepositoryError] = [:]
        /// Damage found on targets that still take this run's backup (lost packs whose chunks
        /// are stored again, damaged index objects or manifests), per target.
        var degraded: [String: [RepositoryError]] = [:]
        var storedBytes: [String: Int64] = [:]
        var newChunks = 0
        var newChunkBytes: Int64 = 0
    }
    private let state: Mutex<State>

    /// Packs found on a target but named by no index (left by an interrupted run): indexed
    /// again by this run so their chunks are reused.
    package var recoveredPacks: [String: [IndexObject.PackRecord]] { state.withLock { $0.recoveredPacks } }
    package var failures: [String: RepositoryError] { state.withLock { $0.failures } }
    /// Damage found on targets that still received this run's backup: each error names the
    /// target and the object, and says what this run did about it.
    package var degraded: [String: [RepositoryError]] { state.withLock { $0.degraded } }
    /// Bytes written per target by this run.
    package var storedBytes: [String: Int64] { state.withLock { $0.storedBytes } }
    package var newChunks: Int { state.withLock { $0.newChunks } }
    package var newChunkBytes: Int64 { state.withLock { $0.newChunkBytes } }

    package var healthyStores: [any ObjectStore] {
        let failed = state.withLock { $0.failures }
        return stores.filter { failed[$0.targetName] == nil }
    }

    /// - Parameter cacheFolder: where the presence cache lives (the state folder's
    ///   `cache/<repository id>`); nil keeps it in memory (tests).
    package init(repository: Repository, cacheFolder: String?, compressionLevel: Int = 3,
                packSize: Int = 16 << 20) throws(RepositoryError) {
        self.stores = repository.stores
        self.keys = try repository.derivedKeys()
        self.compressionLevel = compressionLevel
        self.packSize = packSize
        guard repository.stores.count <= 16 else {
            throw RepositoryError(.repositoryTooManyTargets, message: "\(repository.stores.count) targets are configured; drctl supports at most 16")
        }
        var cachePath = ":memory:"
        if let cacheFolder {
            let created = Folders.create(cacheFolder)
            if created != 0 {
                throw RepositoryError(.repositoryCache, message: "cannot create the cache folder \(cacheFolder) (in the [state] folder): \(errnoDescription(created))")
            }
            cachePath = cacheFolder + "/presence.sqlite"
        }
        self.cachePath = cachePath
        var initial = State(presence: try ChunkPresence(path: cachePath))
        for store in repository.stores {
            do throws(RepositoryError) {
                let bit = try initial.presence.bit(for: store.targetName)
                initial.bits[store.targetName] = bit
                // Leftovers of killed runs. Only old ones: a fresh one may be another host's
                // backup writing to the same target right now.
                do throws(TransportError) {
                    for write in try store.incompleteWrites() where write.ageSeconds > Self.staleWriteAge {
                        try store.removeIncompleteWrite(write)
                    }
                } catch {
                    throw RepositoryError(error)
                }
                let known = try Self.synchronize(initial.presence, store: store, keys: keys)
                initial.degraded[store.targetName] = known.degraded
                let indexedPacks = try initial.presence.indexedPacks(of: store.targetName)
                let recovered = try Self.recoverUnindexedPacks(store: store, indexedPacks: indexedPacks,
                                                               sizes: known.packSizes, keys: keys)
                for record in recovered {
                    for entry in record.entries { initial.recovered[entry.id, default: 0] |= bit }
                }
                initial.recoveredPacks[store.targetName] = recovered
            } catch {
                initial.failures[store.targetName] = error
            }
        }
        for (target, bit) in initial.bits where initial.failures[target] == nil { initial.healthy |= bit }
        let failures = initial.failures
        state = Mutex(initial)
        if failures.count == stores.count { throw Self.allFailed(failures) }
    }

    /// Merges one target's index objects into `presence`, believing each pack only as the
    /// target's `data/` listing shows it. Returns the damage found, as errors that name the
    /// target and object, and the listing (pack id → size).
    private static func synchronize(_ presence: ChunkPresence, store: any ObjectStore,
                                    keys: RepositoryKeys) throws(RepositoryError) -> (degraded: [RepositoryError], packSizes: [String: Int64]) {
        let names: [String]
        var packSizes: [String: Int64] = [:]
        do throws(TransportError) {
            names = try store.list(prefix: "index/")
            for (name, size) in try store.listSizes(prefix: "data/") {
                if let id = PackNaming.id(fromObjectName: name) { packSizes[id] = size }
            }
        } catch {
            throw RepositoryError(error)
        }
        let findings = try presence.synchronize(target: store.targetName, names: names, packs: packSizes) { (name) throws(RepositoryError) in
            let bytes: [UInt8]
            do throws(TransportError) { bytes = try store.get(name) } catch { throw RepositoryError(error) }
            return try IndexObject.open(bytes, name: name, target: store.targetName, keys: keys)
        }
        var degraded: [RepositoryError] = findings.damagedIndexObjects.map { error in
            RepositoryError(error.code, message: "\(error.message); this backup indexes the packs it names again from their own headers",
                            context: error.context.merged(with: ErrorContext(target: store.targetName)),
                            underlying: error.underlying)
        }
        for lost in findings.lostPacks {
            let name = PackNaming.objectName(lost.pack)
            degraded.append(RepositoryError(.repositoryPackLost, message: "target \(store.targetName): pack \(name), named by its index, is \(lost.why); this backup stores its chunks on \(store.targetName) again, but older snapshots that use them are damaged there: run drctl check --read-data to see which", context: ErrorContext(target: store.targetName, object: name)))
        }
        return (degraded, packSizes)
    }

    /// Runs `body` on the presence cache under the lock. A cache that fails (SQLite reports
    /// damage or an I/O error in mid-run) is deleted, rebuilt from the healthy targets'
    /// index objects, and `body` runs again: a cache is never worth a backup, and must not
    /// fail every later run either.
    private func withPresence<R>(_ body: (ChunkPresence, inout State) throws(RepositoryError) -> R) throws(RepositoryError) -> R {
        try state.withLock { (state) throws(RepositoryError) -> R in
            let presence = state.presence
            do throws(RepositoryError) {
                return try body(presence, &state)
            } catch where error.code.rawValue.hasPrefix("sqlite.") {
                let rebuilt = try ChunkPresence(path: cachePath, fresh: true)
                for (target, bit) in state.bits { try rebuilt.assign(bit: bit, to: target) }
                for store in stores where state.failures[store.targetName] == nil {
                    _ = try Self.synchronize(rebuilt, store: store, keys: keys)
                }
                state.presence = rebuilt
                return try body(rebuilt, &state)
            }
        }
    }

    /// Incomplete writes older than this (seconds) are removed at the start of a backup.
    package static let staleWriteAge: Int64 = 3600

    /// A compressor for one worker thread (a zstd context is not thread-safe).
    package func makeCompressor() throws(RepositoryError) -> ChunkCompressor {
        do { return try ChunkCompressor(level: compressionLevel) } catch { throw RepositoryError(error) }
    }

    /// Stores a chunk unless every healthy target already has it. Returns its id.
    /// - Parameter compressor: this thread's compressor, or nil to store the chunk raw
    ///   (pages of an encrypted database: ciphertext never shrinks, so trying is wasted work).
    @discardableResult
    package func store(_ plaintext: [UInt8], kind: BlobKind = .data,
                      compressor: ChunkCompressor?) throws(RepositoryError) -> ChunkID {
        let id = keys.chunkID(of: plaintext)
        try store(plaintext, id: id, kind: kind, compressor: compressor)
        return id
    }

    package func store(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind,
                      compressor: ChunkCompressor?) throws(RepositoryError) {
        let claimed = try withPresence { (presence, state) throws(RepositoryError) -> Bool in
            if state.claims.contains(id) { return false }
            let held = try presence.targets(holding: id) | (state.recovered[id] ?? 0)
            if held & state.healthy == state.healthy { return false }
            state.claims.insert(id)
            state.newChunks += 1
            state.newChunkBytes += Int64(plaintext.count)
            return true
        }
        guard claimed else { return }
        // Once claimed, other files may reference this chunk: failing to store it must fail
        // the whole run (the caller does not commit), never leave a dangling reference.
        let blob = try SealedBlob(plaintext, id: id, kind: kind, keys: keys, compressor: compressor)
        let full = state.withLock { state -> PackWriter? in
            state.pack.append(blob)
            guard state.pack.size >= packSize else { return nil }
            let full = state.pack
            state.pack = PackWriter(capacity: packSize + packSize / 8)
            return full
        }
        if let full { try upload(full) }
    }

    /// Finishes the open pack (if any) and uploads it to every healthy target.
    package func flushPack() throws(RepositoryError) {
        let open = state.withLock { state -> PackWriter? in
            guard !state.pack.isEmpty else { return nil }
            let open = state.pack
            state.pack = PackWriter()
            return open
        }
        if let open { try upload(open) }
    }

    private func upload(_ pack: consuming PackWriter) throws(RepositoryError) {
        let finished = try pack.finish(keys: keys)
        for store in healthyStores { put(store, finished.objectName, finished.bytes) }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        let record = IndexObject.PackRecord(pack: finished.id, length: UInt64(finished.bytes.count),
                                            entries: finished.entries)
        // Every `indexEvery` packs an index object is written, so that memory does not grow
        // with a large first backup and a killed run leaves little to re-read.
        let batch = state.withLock { state -> [IndexObject.PackRecord]? in
            state.newRecords.append(record)
            guard state.newRecords.count >= Self.indexEvery else { return nil }
            defer { state.newRecords.removeAll() }
            return state.newRecords
        }
        if let batch { try writeIndex(IndexObject(packs: batch)) }
    }

    /// Packs per intermediate index object (64 × 16 MiB ≈ 1 GiB of new data).
    static let indexEvery = 64

    /// Writes an index object naming packs already on every healthy target, and records it
    /// in the presence cache.
    private func writeIndex(_ object: IndexObject, to stores: [any ObjectStore]? = nil) throws(RepositoryError) {
        let (name, bytes) = try object.seal(keys: keys)
        let destinations = stores ?? healthyStores
        for store in destinations { put(store, name, bytes) }
        let failed = failures
        let holders = destinations.map(\.targetName).filter { failed[$0] == nil }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        try withPresence { (presence, _) throws(RepositoryError) in
            try presence.record(indexObject: object, named: name, targets: holders)
        }
        // Every healthy target's cache entry now holds these chunks: the set can let them go.
        state.withLock { state in
            for pack in object.packs {
                for entry in pack.entries { state.claims.remove(entry.id) }
            }
        }
    }

    /// Flushes, writes the index object, then the manifest, on every healthy target.
    /// Returns the manifest's object name.
    package func commit(_ manifest: SnapshotManifest) throws(RepositoryError) -> String {
        try flushPack()
        let (records, recovered) = state.withLock { ($0.newRecords, $0.recoveredPacks) }
        // Targets without recovered packs share one index object (written and recorded in
        // the cache once); a target with recovered packs gets its own, naming them too.
        if !records.isEmpty {
            let plain = healthyStores.filter { recovered[$0.targetName]?.isEmpty ?? true }
            if !plain.isEmpty { try writeIndex(IndexObject(packs: records), to: plain) }
        }
        for store in healthyStores {
            guard let own = recovered[store.targetName], !own.isEmpty else { continue }
            try writeIndex(IndexObject(packs: records + own), to: [store])
        }
        var manifest = manifest
        manifest.statistics.storedBytes = storedBytes.values.max() ?? 0
        let (name, bytes) = try manifest.seal(keys: keys)
        for store in healthyStores { put(store, name, bytes) }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        return name
    }

    /// Each mailbox's newest entry in the manifests of this host and store that every healthy
    /// target holds, to skip unchanged files. Only such manifests may be reused: their chunks
    /// are then known to be on every target, so the new manifest never names a chunk a target
    /// lacks (after a run in which one target failed, that target's older state decides).
    package func latestEntries(host: String, storePath: String,
                              mailboxes: Set<String>) throws(RepositoryError) -> [String: SnapshotManifest.FileEntry] {
        let healthy = healthyStores
        guard !healthy.isEmpty else { return [:] }
        // A target lost packs: an unchanged file's old entry may name chunks it no longer has,
        // so this once every file is read again and whatever that target lacks is stored there.
        let lostPacks = state.withLock { state in
            healthy.contains { state.degraded[$0.targetName]?.contains { $0.code == .repositoryPackLost } ?? false }
        }
        if lostPacks { return [:] }
        var common: Set<String>?
        for store in healthy {
            let names: [String]
            do { names = try store.list(prefix: "snapshots/") } catch { throw RepositoryError(error) }
            common = common.map { $0.intersection(names) } ?? Set(names)
        }
        // Newest first, taking each mailbox's newest entry, until every mailbox of this run has
        // one (usually after the first manifest; a run limited with --mailbox does not make
        // the other mailboxes look new to the next run). Manifests' times come from the local
        // cache, so only the manifests used are decrypted.
        let keys = self.keys
        // A manifest damaged on one target is read from another; the damage is reported as
        // that target's. One no target can read is left out: its files are then read again
        // (never skipped on the word of a manifest that cannot be read).
        var damaged: [String: [RepositoryError]] = [:]
        func load(_ name: String) throws(RepositoryError) -> SnapshotManifest {
            for store in healthy {
                do throws(RepositoryError) {
                    let bytes: [UInt8]
                    do throws(TransportError) { bytes = try store.get(name) } catch { throw RepositoryError(error) }
                    return try SnapshotManifest.open(bytes, name: name, target: store.targetName, keys: keys)
                } catch {
                    var tagged = error
                    tagged.context = error.context.merged(with: ErrorContext(target: store.targetName, object: name))
                    damaged[store.targetName, default: []].append(tagged)
                }
            }
            throw RepositoryError(.repositoryManifestDamaged, message: "snapshot record \(name) cannot be read from any target")
        }
        defer {
            state.withLock { state in
                for (target, errors) in damaged { state.degraded[target, default: []] += errors }
            }
        }
        let names = (common ?? []).sorted()
        let summaries = try withPresence { (presence, _) throws(RepositoryError) -> [(name: String, time: String, host: String, store: String)] in
            try presence.manifestSummaries(names: names, load: load)
        }
        let ours = summaries.filter { $0.host == host && $0.store == storePath }
        var entries: [String: SnapshotManifest.FileEntry] = [:]
        for summary in ours.sorted(by: { $0.time > $1.time }) {
            if mailboxes.isSubset(of: Set(entries.keys)) { break }
            guard let manifest = try? load(summary.name) else { continue }
            for file in manifest.files where entries[file.path] == nil {
                entries[file.path] = file
            }
        }
        return entries
    }

    /// Write-once put; an object that exists already holds the same bytes (content address).
    private func put(_ store: any ObjectStore, _ name: String, _ bytes: [UInt8]) {
        do {
            try store.put(name, bytes, ifAbsent: true)
            state.withLock { $0.storedBytes[store.targetName, default: 0] += Int64(bytes.count) }
        } catch let error where error.kind == .exists {
            return
        } catch {
            let wrapped = RepositoryError(error)
            state.withLock { state in
                state.failures[store.targetName] = wrapped
                state.healthy &= ~(state.bits[store.targetName] ?? 0)
            }
        }
    }

    static func allFailed(_ failures: [String: RepositoryError]) -> RepositoryError {
        let details = failures.sorted { $0.key < $1.key }.map { "\($0.value.message)" }.joined(separator: "; ")
        // The first target's code (say transport.no-space) keeps the exit status that its
        // cause deserves; the message names every target's failure.
        let first = failures.sorted { $0.key < $1.key }.first?.value
        return RepositoryError(first?.code ?? .repositoryAllTargetsFailed,
                               message: "no target could be written: \(details)",
                               context: first?.context ?? ErrorContext(), underlying: first?.underlying)
    }

    /// The packs that no index names (left by an interrupted run, or named only by a damaged
    /// index object), each trusted only once every byte of it is authenticated: its header
    /// hashes to its name, its blobs tile it, and every blob opens and hashes to its id. A
    /// header alone would let a pack with damaged blobs be believed, and every later backup
    /// would dedupe against chunks that cannot be read back.
    /// - Parameter sizes: the target's `data/` listing (pack id → size; -1: not a file).
    static func recoverUnindexedPacks(store: any ObjectStore, indexedPacks: Set<String>, sizes: [String: Int64],
                                      keys: RepositoryKeys) throws(RepositoryError) -> [IndexObject.PackRecord] {
        var records: [IndexObject.PackRecord] = []
        for (id, size) in sizes.sorted(by: { $0.key < $1.key }) where size >= 0 && !indexedPacks.contains(id) {
            let name = PackNaming.objectName(id)
            do {
                let bytes = try store.get(name)
                guard PackReader.id(of: bytes) == id else { continue }
                let entries = try PackReader.header(of: bytes, name: name, target: store.targetName, keys: keys)
                try PackReader.checkTiling(entries, pack: bytes, name: name, target: store.targetName)
                for entry in entries {
                    let start = Int(entry.offset)
                    _ = try PackReader.openBlob(bytes[start..<(start + Int(entry.length))], entry: entry, pack: name,
                                                target: store.targetName, keys: keys)
                }
                records.append(IndexObject.PackRecord(pack: id, length: UInt64(bytes.count), entries: entries))
            } catch {
                // A damaged leftover is only garbage; `check` reports it, prune removes it.
                continue
            }
        }
        return records
    }
}

extension Repository {
    /// The subkeys for reading and writing content.
    package func derivedKeys() throws(RepositoryError) -> RepositoryKeys {
        try RepositoryKeys(master: masterKey)
    }

    /// Every snapshot manifest of one target.
    package func manifests(on store: any ObjectStore, keys: RepositoryKeys) throws(RepositoryError) -> [(name: String, manifest: SnapshotManifest)] {
        var result: [(String, SnapshotManifest)] = []
        do {
            for name in try store.list(prefix: "snapshots/") {
                result.append((name, try SnapshotManifest.open(try store.get(name), name: name,
                                                               target: store.targetName, keys: keys)))
            }
        } catch {
            throw RepositoryError(error)
        }
        return result.sorted { $0.1.time < $1.1.time }
    }
}

extension Repository {
    /// Opens one index object (for `check`, which reads them one by one).
    package func openIndexObject(_ bytes: [UInt8], name: String, store: any ObjectStore,
                                keys: RepositoryKeys) throws(RepositoryError) -> IndexObject {
        try IndexObject.open(bytes, name: name, target: store.targetName, keys: keys)
    }

    /// Opens one manifest (for `check`).
    package func openManifest(_ bytes: [UInt8], name: String, store: any ObjectStore,
                             keys: RepositoryKeys) throws(RepositoryError) -> SnapshotManifest {
        try SnapshotManifest.open(bytes, name: name, target: store.targetName, keys: keys)
    }
}
