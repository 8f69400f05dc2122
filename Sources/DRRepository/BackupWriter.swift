import DRBase
import DRCrypto
import DRTransport

/// Stores new content in a repository on every target: deduplicates chunks, fills packs,
/// uploads each pack to every healthy target, and at the end writes the index object and
/// then the snapshot manifest (the write order that keeps a crash harmless).
///
/// A target that fails is marked failed and skipped from then on; the run goes on for the
/// others and reports the failure (every target is complete on its own, so one broken
/// target must not cost the others their backup).
public final class BackupWriter {
    public let keys: RepositoryKeys
    private let repository: Repository
    private let compressionLevel: Int
    private let packSize: Int
    private var indexes: [String: BlobIndex] = [:]
    private var addedThisRun: Set<ChunkID> = []
    private var pack = PackWriter()
    private var newRecords: [IndexObject.PackRecord] = []
    /// Packs found on a target but named by no index (left by an interrupted run): indexed
    /// again by this run so their chunks are reused.
    public private(set) var recoveredPacks: [String: [IndexObject.PackRecord]] = [:]
    public private(set) var failures: [String: RepositoryError] = [:]
    /// Bytes written per target by this run.
    public private(set) var storedBytes: [String: Int64] = [:]
    public private(set) var newChunks = 0
    public private(set) var newChunkBytes: Int64 = 0

    public var healthyStores: [any ObjectStore] { repository.stores.filter { failures[$0.targetName] == nil } }

    public init(repository: Repository, compressionLevel: Int = 3, packSize: Int = 16 << 20) throws(RepositoryError) {
        self.repository = repository
        self.keys = try repository.derivedKeys()
        self.compressionLevel = compressionLevel
        self.packSize = packSize
        for store in repository.stores {
            do {
                var index = try repository.loadIndex(from: store, keys: keys)
                let recovered = try Self.recoverUnindexedPacks(store: store, index: index, keys: keys)
                for record in recovered { index.add(IndexObject(packs: [record]), name: nil) }
                recoveredPacks[store.targetName] = recovered
                indexes[store.targetName] = index
            } catch {
                failures[store.targetName] = error
            }
        }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
    }

    /// Stores a chunk unless every healthy target already has it. Returns its id.
    @discardableResult
    public func store(_ plaintext: [UInt8], kind: BlobKind = .data) throws(RepositoryError) -> ChunkID {
        let id = keys.chunkID(of: plaintext)
        try store(plaintext, id: id, kind: kind)
        return id
    }

    public func store(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind) throws(RepositoryError) {
        if addedThisRun.contains(id) { return }
        if healthyStores.allSatisfy({ indexes[$0.targetName]?.contains(id) == true }) { return }
        try pack.add(plaintext, id: id, kind: kind, keys: keys, compressionLevel: compressionLevel)
        addedThisRun.insert(id)
        newChunks += 1
        newChunkBytes += Int64(plaintext.count)
        if pack.size >= packSize { try flushPack() }
    }

    /// Finishes the current pack and uploads it to every healthy target.
    public func flushPack() throws(RepositoryError) {
        guard !pack.isEmpty else { return }
        let finished = try pack.finish(keys: keys)
        pack = PackWriter()
        try upload(finished.objectName, finished.bytes, ifAbsent: true)
        newRecords.append(IndexObject.PackRecord(pack: finished.id, length: UInt64(finished.bytes.count),
                                                 entries: finished.entries))
    }

    /// Flushes, writes the index object, then the manifest, on every healthy target.
    /// Returns the manifest's object name.
    public func commit(_ manifest: SnapshotManifest) throws(RepositoryError) -> String {
        try flushPack()
        for store in healthyStores {
            let records = newRecords + (recoveredPacks[store.targetName] ?? [])
            guard !records.isEmpty else { continue }
            let (name, bytes) = try IndexObject(packs: records).seal(keys: keys)
            put(store, name, bytes, ifAbsent: true)
        }
        var manifest = manifest
        manifest.statistics.storedBytes = storedBytes.values.max() ?? 0
        let (name, bytes) = try manifest.seal(keys: keys)
        for store in healthyStores {
            put(store, name, bytes, ifAbsent: true)
        }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        return name
    }

    /// The newest manifest of this host and store that every healthy target holds, to skip
    /// unchanged files. (A manifest is written to a target after its chunks, so one that
    /// every target holds is backed by chunks on every target; one that a target missed, say
    /// because its disk was full, is not reused, or that target would get a manifest
    /// referencing chunks it never received.)
    public func latestManifest(host: String, storePath: String) throws(RepositoryError) -> SnapshotManifest? {
        let stores = healthyStores
        guard let store = stores.first else { return nil }
        var common: Set<String>?
        for other in stores.dropFirst() {
            let names: [String]
            do { names = try other.list(prefix: "snapshots/") } catch { throw RepositoryError.wrap(error) }
            common = common.map { $0.intersection(names) } ?? Set(names)
        }
        let all = try repository.manifests(on: store, keys: keys).filter { common?.contains($0.name) ?? true }
        return all.map(\.manifest).filter { $0.host == host && $0.storePath == storePath }.max { $0.time < $1.time }
    }

    private func upload(_ name: String, _ bytes: [UInt8], ifAbsent: Bool) throws(RepositoryError) {
        for store in healthyStores { put(store, name, bytes, ifAbsent: ifAbsent) }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
    }

    private func put(_ store: any ObjectStore, _ name: String, _ bytes: [UInt8], ifAbsent: Bool) {
        do {
            try store.put(name, bytes, ifAbsent: ifAbsent)
            storedBytes[store.targetName, default: 0] += Int64(bytes.count)
        } catch let error where error.kind == .exists {
            // Content-addressed: an object of that name already holds exactly these bytes.
        } catch {
            failures[store.targetName] = RepositoryError.wrap(error)
        }
    }

    static func allFailed(_ failures: [String: RepositoryError]) -> RepositoryError {
        let details = failures.sorted { $0.key < $1.key }.map { "\($0.value.message)" }.joined(separator: "; ")
        let status = failures.values.first?.exitStatus ?? .failure
        return RepositoryError(code: "repository.all-targets-failed", exitStatus: status,
                               message: "no target could be written: \(details)")
    }

    /// Reads the header of every pack that no index names.
    static func recoverUnindexedPacks(store: any ObjectStore, index: BlobIndex,
                                      keys: RepositoryKeys) throws(RepositoryError) -> [IndexObject.PackRecord] {
        var records: [IndexObject.PackRecord] = []
        let names: [String]
        do { names = try store.list(prefix: "data/") } catch { throw RepositoryError.wrap(error) }
        for name in names {
            guard let id = PackNaming.id(fromObjectName: name), index.packs[id] == nil else { continue }
            do {
                let bytes = try store.get(name)
                guard Hex.encode(Blake2b.hash(bytes, outputLength: 32)) == id else { continue }
                let entries = try PackReader.header(of: bytes, name: name, target: store.targetName, keys: keys)
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
    public func derivedKeys() throws(RepositoryError) -> RepositoryKeys {
        try RepositoryKeys(master: masterKey)
    }

    /// Every index object of one target, merged.
    public func loadIndex(from store: any ObjectStore, keys: RepositoryKeys) throws(RepositoryError) -> BlobIndex {
        var index = BlobIndex()
        do {
            for name in try store.list(prefix: "index/") {
                let object = try IndexObject.open(try store.get(name), name: name, target: store.targetName, keys: keys)
                index.add(object, name: name)
            }
        } catch let error as RepositoryError {
            throw error
        } catch let error as any DRError {
            throw RepositoryError.wrap(error)
        } catch {
            throw RepositoryError(code: "repository.io", exitStatus: .ioError, message: "\(error)")
        }
        return index
    }

    /// Every snapshot manifest of one target.
    public func manifests(on store: any ObjectStore, keys: RepositoryKeys) throws(RepositoryError) -> [(name: String, manifest: SnapshotManifest)] {
        var result: [(String, SnapshotManifest)] = []
        do {
            for name in try store.list(prefix: "snapshots/") {
                result.append((name, try SnapshotManifest.open(try store.get(name), name: name,
                                                               target: store.targetName, keys: keys)))
            }
        } catch let error as RepositoryError {
            throw error
        } catch let error as any DRError {
            throw RepositoryError.wrap(error)
        } catch {
            throw RepositoryError(code: "repository.io", exitStatus: .ioError, message: "\(error)")
        }
        return result.sorted { $0.1.time < $1.1.time }
    }
}

extension Repository {
    /// Opens one index object (for `check`, which reads them one by one).
    public func openIndexObject(_ bytes: [UInt8], name: String, store: any ObjectStore,
                                keys: RepositoryKeys) throws(RepositoryError) -> IndexObject {
        try IndexObject.open(bytes, name: name, target: store.targetName, keys: keys)
    }

    /// Opens one manifest (for `check`).
    public func openManifest(_ bytes: [UInt8], name: String, store: any ObjectStore,
                             keys: RepositoryKeys) throws(RepositoryError) -> SnapshotManifest {
        try SnapshotManifest.open(bytes, name: name, target: store.targetName, keys: keys)
    }
}
