import DRBase
package import DRCompression
import DRCrypto
package import DRTransport
import Synchronization

/// Stores new content in a repository on every target (format 2, docs/REPOSITORY.md).
///
/// Each worker thread fills packs of its own (`BackupWorker`): one for data chunks and one for
/// tree nodes, so that a file's chunks lie together and its tree lies together, never
/// interleaved with the other workers' files (a restore of one mailbox reads its own bytes).
/// A full pack is uploaded to every healthy target by the worker that filled it. At commit the
/// open packs are flushed, the mailbox list is written (reusing every node of the previous
/// list that did not change), then the snapshot manifest: packs, then metadata that names
/// them, then the record — the write order that keeps a crash harmless.
///
/// There is no global chunk index: a changed file is compared with its own previous version
/// (encrypted pages never repeat across files: every page write takes a fresh nonce), and a
/// ref of that version is reused only if its pack is held, at the size seen, by every target
/// that takes this backup. A target that fails is skipped from then on; the run goes on for
/// the others and reports the failure.
package final class BackupWriter: Sendable {
    package let keys: RepositoryKeys
    private let stores: [any ObjectStore]
    package let packSize: Int
    private let compressionLevel: Int
    package let cache: NodeCache
    /// The packs every healthy target holds at the same size when the run started: a ref into
    /// one of them may be reused by this run.
    private let shared: Set<PackID>
    /// Each reachable target's packs as listed when the run began: with this run's uploads,
    /// this host's record of the target once the run commits.
    private let listings: [String: [PackID: Int64]]
    /// Whether a target lost packs since this host's last run: then no file is skipped as
    /// unchanged (its old refs might point into a lost pack); every file is read and compared,
    /// and whatever a lost pack held is stored again.
    package let lostPacks: Bool
    /// Whether data packs go to the targets piece by piece as they fill (`StreamedPack`):
    /// when every target takes objects in pieces (folders) through one uploader each.
    let streamsPacks: Bool

    /// Bytes of one target's share of this run, by what they hold.
    package struct Stored: Sendable, Codable, Equatable {
        package var dataBytes: Int64 = 0
        package var treeBytes: Int64 = 0
        package var listBytes: Int64 = 0
        package var packHeaderBytes: Int64 = 0
        package var manifestBytes: Int64 = 0
        package var packs = 0
        package init() {}
        package var metadataBytes: Int64 { treeBytes + listBytes + packHeaderBytes + manifestBytes }
    }

    private struct State {
        var failures: [String: RepositoryError] = [:]
        var degraded: [String: [RepositoryError]] = [:]
        var storedBytes: [String: Int64] = [:]
        var stored = Stored()
        var newChunks = 0
        var newChunkBytes: Int64 = 0
        /// Every worker's packs, flushed at commit.
        var slots: [PackSlot] = []
        /// Packs this run put on each target (id → size).
        var uploaded: [String: [PackID: Int64]] = [:]
    }
    private let state: Mutex<State>
    /// Each target's upload lane (queue and uploaders), by target name.
    private let lanes = Mutex<[String: UploadLane]>([:])

    package var failures: [String: RepositoryError] { state.withLock { $0.failures } }
    /// Damage found on targets that still received this run's backup: each error names the
    /// target and the object, and says what this run did about it.
    package var degraded: [String: [RepositoryError]] { state.withLock { $0.degraded } }
    /// Bytes written per target by this run.
    package var storedBytes: [String: Int64] { state.withLock { $0.storedBytes } }
    /// What one target received, by kind (every healthy target receives the same).
    package var stored: Stored { state.withLock { $0.stored } }
    package var newChunks: Int { state.withLock { $0.newChunks } }
    package var newChunkBytes: Int64 { state.withLock { $0.newChunkBytes } }

    package var healthyStores: [any ObjectStore] {
        let failed = state.withLock { $0.failures }
        return stores.filter { failed[$0.targetName] == nil }
    }

    /// Incomplete writes older than this (seconds) are removed at the start of a backup.
    package static let staleWriteAge: Int64 = 3600

    /// - Parameter cacheFolder: where the node cache lives (the state folder's
    ///   `cache/<repository id>`); nil keeps it in memory (tests).
    /// - Parameters:
    ///   - condemned: packs of prune marks (`PruneMarks.condemned`): never reused (a prune may
    ///     delete them once the backups it waits for have ended) and never counted as lost.
    ///   - failedAtStart: targets that already failed this run (their run record could not be
    ///     written, so a prune there would not wait for this run): they take none of it.
    package init(repository: Repository, cacheFolder: String?, compressionLevel: Int = 3,
                packSize: Int = 16 << 20, condemned: Set<PackID> = [],
                failedAtStart: [String: RepositoryError] = [:]) throws(RepositoryError) {
        self.stores = repository.stores
        self.keys = try repository.derivedKeys()
        self.compressionLevel = compressionLevel
        self.packSize = packSize
        var cachePath = ":memory:"
        if let cacheFolder {
            let created = Folders.create(cacheFolder)
            if created != 0 {
                throw RepositoryError(.repositoryCache, message: "cannot create the cache folder \(cacheFolder) (in the [state] folder): \(errnoDescription(created))")
            }
            cachePath = cacheFolder + "/nodes.sqlite"
        }
        cache = NodeCache(path: cachePath, keys: keys)
        var initial = State()
        initial.failures = failedAtStart
        var listings: [String: [PackID: Int64]] = [:]
        var lost = false
        var known = Set<String>()
        for store in repository.stores where failedAtStart[store.targetName] == nil {
            do throws(RepositoryError) {
                // Leftovers of killed runs. Only old ones: a fresh one may be another host's
                // backup writing to the same target right now.
                do throws(TransportError) {
                    for write in try store.incompleteWrites() where write.ageSeconds > Self.staleWriteAge {
                        try store.removeIncompleteWrite(write)
                    }
                } catch {
                    throw RepositoryError(error)
                }
                let held = try Self.packs(of: store)
                // A pack a prune marked may be gone: pruned, not lost; and this host forgets it.
                let recorded = cache.packs(of: store.targetName)?.filter { !condemned.contains($0.key) }
                if recorded != nil { known.insert(store.targetName) }
                let losses = Self.losses(known: recorded, now: held, target: store.targetName)
                if !losses.isEmpty {
                    lost = true
                    initial.degraded[store.targetName, default: []] += losses
                }
                // Recorded now (so a killed run's uploads are known, and a pack it left on one
                // target only is not taken for a loss), but lost packs stay in the record until
                // a run commits (commit drops them): a run killed after it saw a loss leaves
                // the loss for the next.
                var record = held
                for (pack, size) in recorded ?? [:] where held[pack] != size { record[pack] = size }
                cache.record(packs: record, of: store.targetName)
                listings[store.targetName] = held
            } catch {
                initial.failures[store.targetName] = error
            }
        }
        let healthy = repository.stores.filter { initial.failures[$0.targetName] == nil }
        // A target this host has no record of (a new host, a cache rebuilt): a pack that
        // another target holds and it lacks may have been lost there. Backups write every
        // pack to every target, so this is the only sign left; reading every mailbox again
        // once is the price of not trusting it (a killed run's leftover looks the same).
        for store in healthy where !known.contains(store.targetName) {
            let held = listings[store.targetName] ?? [:]
            var absent: [PackID] = []
            for other in healthy where other.targetName != store.targetName {
                for (pack, size) in listings[other.targetName] ?? [:] where size >= 0 && held[pack] == nil && !condemned.contains(pack) { absent.append(pack) }
            }
            if let example = Set(absent).sorted().first {
                lost = true
                initial.degraded[store.targetName, default: []].append(RepositoryError(.repositoryPackLost, message: "target \(store.targetName) lacks \(Set(absent).count) pack(s) that another target holds, e.g. \(example.objectName) (lost there, or left by an interrupted backup); this backup reads every mailbox again and stores what \(store.targetName) lacks there; run drctl check --read-data to see what older snapshots are affected",
                                                                                   context: ErrorContext(target: store.targetName, object: example.objectName)))
            }
        }
        var common: [PackID: Int64]?
        for store in healthy {
            let held = listings[store.targetName] ?? [:]
            common = common.map { $0.filter { held[$0.key] == $0.value } } ?? held
        }
        // A name in data/ that is not a regular file (size -1) is no pack to reuse, even if
        // every target shows it so.
        common = common?.filter { $0.value >= 0 && !condemned.contains($0.key) }
        shared = Set((common ?? [:]).keys)
        streamsPacks = !healthy.isEmpty && healthy.allSatisfy { $0.takesPieces && $0.uploadConcurrency == 1 }
        self.listings = listings
        lostPacks = lost
        let failures = initial.failures
        state = Mutex(initial)
        if failures.count == stores.count { throw Self.allFailed(failures) }
    }

    /// One target's packs as listed (id → size; -1 for what is not a regular file).
    static func packs(of store: any ObjectStore) throws(RepositoryError) -> [PackID: Int64] {
        var held: [PackID: Int64] = [:]
        do {
            for (name, size) in try store.listSizes(prefix: "data/") {
                if let id = PackNaming.id(fromObjectName: name) { held[id] = size }
            }
        } catch {
            throw RepositoryError(error)
        }
        return held
    }

    /// Packs this host saw on `target` at its last run that are gone or changed now.
    static func losses(known: [PackID: Int64]?, now: [PackID: Int64], target: String) -> [RepositoryError] {
        guard let known else { return [] }
        var errors: [RepositoryError] = []
        for (pack, size) in known.sorted(by: { $0.key < $1.key }) where now[pack] != size {
            let why = now[pack].map { $0 < 0 ? "no longer a regular file" : "\($0) bytes where it held \(size)" } ?? "missing"
            errors.append(RepositoryError(.repositoryPackLost, message: "target \(target): pack \(pack.objectName), which it held at this host's last backup, is \(why); this backup reads every mailbox again and stores what that pack held on \(target) again, but older snapshots that use it are damaged there: run drctl check --read-data to see which",
                                          context: ErrorContext(target: target, object: pack.objectName)))
        }
        return errors
    }

    /// Records damage found on a target that still takes this backup.
    func noteDegraded(_ errors: [String: [RepositoryError]]) {
        state.withLock { state in
            for (target, list) in errors { state.degraded[target, default: []] += list }
        }
    }

    /// Whether a ref of an earlier snapshot may be reused by this run.
    package func isShared(_ ref: BlobRef) -> Bool { shared.contains(ref.pack) }

    /// A worker's own packs and compressor, for one thread.
    package func makeWorker() throws(RepositoryError) -> BackupWorker {
        let compressor: ChunkCompressor
        do { compressor = try ChunkCompressor(level: compressionLevel) } catch { throw RepositoryError(error) }
        let slot = PackSlot(packSize: packSize, streamed: streamsPacks)
        state.withLock { $0.slots.append(slot) }
        return BackupWorker(writer: self, slot: slot, compressor: compressor)
    }

    /// A reader of `store` that fills this host's node cache.
    package func reader(_ store: any ObjectStore) -> TargetBlobReader {
        TargetBlobReader(store: store, keys: keys, cache: cache, fillsCache: true)
    }

    // MARK: - Counting and uploading

    func counted(_ ref: BlobRef) {
        state.withLock { state in
            switch ref.kind {
            case .data:
                state.stored.dataBytes += Int64(ref.length)
                state.newChunks += 1
                state.newChunkBytes += Int64(ref.rawLength)
            case .tree: state.stored.treeBytes += Int64(ref.length)
            case .list: state.stored.listBytes += Int64(ref.length)
            }
        }
    }

    /// Seals the pack and queues it for every healthy target. Returns once every target's
    /// queue took it: a worker goes on chunking while its packs travel, and waits only when a
    /// target's queue is full (what bounds the memory a slow target can hold).
    func upload(_ pack: consuming PackWriter) throws(RepositoryError) {
        let finished = try pack.finish(keys: keys)
        let pending = PendingPack(id: finished.id, name: finished.objectName, bytes: finished.bytes)
        for store in healthyStores { _ = lane(for: store).queue.push(.pack(pending)) }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        state.withLock { state in
            state.stored.packHeaderBytes += Int64(finished.headerBytes)
            state.stored.packs += 1
        }
    }

    /// Hands a filled piece of a streamed pack to every healthy target's lane (waiting while
    /// a lane's queue is full, as `upload` does).
    func ship(_ piece: PackPiece) throws(RepositoryError) {
        let stores = healthyStores
        if stores.isEmpty { throw Self.allFailed(failures) }
        for store in stores { _ = lane(for: store).queue.push(.piece(piece)) }
    }

    /// Ends a streamed pack: its tail goes out with its last piece, after which each target's
    /// uploader commits it.
    func finish(_ pack: StreamedPack) throws(RepositoryError) {
        let tailBytes = try pack.finish(keys: keys) { (piece) throws(RepositoryError) in try ship(piece) }
        state.withLock { state in
            state.stored.packHeaderBytes += Int64(tailBytes)
            state.stored.packs += 1
        }
    }

    /// Write-once put; an object that exists already holds the same bytes (content address,
    /// or a random pack name). Returns whether the target holds it now.
    @discardableResult
    private func put(_ store: any ObjectStore, _ name: String, _ bytes: [UInt8]) -> Bool {
        do {
            try store.put(name, bytes, ifAbsent: true)
            state.withLock { $0.storedBytes[store.targetName, default: 0] += Int64(bytes.count) }
            return true
        } catch let error where error.kind == .exists {
            return true
        } catch {
            let wrapped = RepositoryError(error)
            state.withLock { $0.failures[store.targetName] = wrapped }
            return false
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

    /// One target's upload lane, started on first use.
    private func lane(for store: any ObjectStore) -> UploadLane {
        lanes.withLock { lanes in
            if let lane = lanes[store.targetName] { return lane }
            let lane = UploadLane(store: store, writer: self)
            lanes[store.targetName] = lane
            return lane
        }
    }

    /// Called by a lane's uploader for each pack: puts it, and records it for this host.
    fileprivate func deliver(_ pending: PendingPack, to store: any ObjectStore) {
        guard failures[store.targetName] == nil else { return }
        if put(store, pending.name, pending.bytes) {
            state.withLock { $0.uploaded[store.targetName, default: [:]][pending.id] = Int64(pending.bytes.count) }
            cache.add(packs: [pending.id: Int64(pending.bytes.count)], of: store.targetName)
        }
    }

    /// Called by a lane's uploader for each piece of a streamed pack, in the order they were
    /// shipped: the pack's first piece starts its object on the target, the last commits it.
    /// `uploads` holds the uploader's objects in progress (one per worker); whatever is left
    /// there when the lane ends (a run that failed) is abandoned with it.
    fileprivate func deliver(_ piece: PackPiece, to store: any ObjectStore, uploads: inout [PackID: any ObjectUpload]) {
        let target = store.targetName
        guard failures[target] == nil else {
            uploads.removeValue(forKey: piece.pack)?.abandon()
            return
        }
        let name = piece.pack.objectName
        do throws(TransportError) {
            let upload: any ObjectUpload
            if let open = uploads[piece.pack] {
                upload = open
            } else if piece.offset == 0, let started = try store.beginPut(name) {
                upload = started
                uploads[piece.pack] = started
            } else {
                throw TransportError(.transportIo, message: "target \(target): \(name) could not be written in pieces (a piece at offset \(piece.offset) came with no object open)",
                                     context: ErrorContext(target: target, object: name))
            }
            // Pieces arrive in order (one uploader per lane); a gap would be a torn pack.
            guard upload.size == Int64(piece.offset) else {
                throw TransportError(.transportIo, message: "target \(target): \(name) received a piece at offset \(piece.offset) after \(upload.size) bytes",
                                     context: ErrorContext(target: target, object: name))
            }
            try upload.append(piece.bytes)
            guard let size = piece.packSize else { return }
            uploads[piece.pack] = nil
            do {
                try upload.commit()
            } catch let error where error.kind == .exists {
                // A random name taken already holds this pack (write-once, as `put`).
            }
            state.withLock { state in
                state.storedBytes[target, default: 0] += Int64(size)
                state.uploaded[target, default: [:]][piece.pack] = Int64(size)
            }
            cache.add(packs: [piece.pack: Int64(size)], of: target)
        } catch {
            uploads.removeValue(forKey: piece.pack)?.abandon()
            let wrapped = RepositoryError(error)
            state.withLock { $0.failures[target] = wrapped }
        }
    }

    /// Waits until every queued pack has reached its target (or its target failed).
    private func finishUploads() {
        let all = lanes.withLock { lanes in
            defer { lanes.removeAll() }
            return Array(lanes.values)
        }
        for lane in all { lane.finish() }
    }

    // MARK: - Committing

    /// Flushes every worker's packs, writes the mailbox list (reusing `previousList` nodes
    /// whose packs every target holds) and then the manifest, on every healthy target.
    /// - Parameters:
    ///   - inPathOrder: calls `add` with each of the run's entries in byte-wise path order; it
    ///     is called at most once, and the list is built as the entries come, never held whole.
    ///   - sameList: the previous list's root when the run's entries are exactly its entries
    ///     (`sameList(reusedFromNewest:others:previous:)`): reused when every node of it is on
    ///     every target, as the builder would reuse each of them.
    /// - Returns: the manifest's object name, and the manifest as sealed.
    package func commit(_ draft: SnapshotManifest,
                       inPathOrder: (_ add: (SnapshotManifest.FileEntry) throws(RepositoryError) -> Void) throws(RepositoryError) -> Void,
                       previousList: [ChunkID: BlobRef],
                       sameList: SnapshotManifest.ListRoot? = nil) throws(RepositoryError) -> (name: String, manifest: SnapshotManifest) {
        let slots = state.withLock { $0.slots }
        for slot in slots { try slot.flush(self) }
        let reusable = previousList.filter { isShared($0.value) }
        let listRoot: SnapshotManifest.ListRoot
        if let sameList, reusable.count == previousList.count, !previousList.isEmpty {
            listRoot = sameList
        } else {
            let listSlot = PackSlot(packSize: packSize)
            let compressor: ChunkCompressor
            do { compressor = try ChunkCompressor(level: compressionLevel) } catch { throw RepositoryError(error) }
            let listStore = BackupWorker(writer: self, slot: listSlot, compressor: compressor)
            var builder = MailboxListBuilder(keys: keys, reusable: reusable, store: listStore)
            try inPathOrder { (entry) throws(RepositoryError) in try builder.add(entry) }
            let list = try builder.finish()
            try listSlot.flush(self)
            listRoot = SnapshotManifest.ListRoot(count: list.count, root: list.root)
        }
        // A target's manifest names what it holds only once all of it is there.
        finishUploads()
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        var manifest = draft
        manifest.mailboxes = listRoot
        manifest.statistics.storedBytes = storedBytes.values.max() ?? 0
        let (name, bytes) = try manifest.seal(keys: keys)
        for store in healthyStores { put(store, name, bytes) }
        if healthyStores.isEmpty { throw Self.allFailed(failures) }
        state.withLock { $0.stored.manifestBytes += Int64(bytes.count) }
        // The run's last nodes (its list's among them) into the cache file now, with the run
        // committed, rather than whenever the writer is released.
        cache.flush()
        // This host's record of each target's packs becomes what it listed at the start plus
        // what this run put there: the lost packs this run healed drop out of it.
        let uploaded = state.withLock { $0.uploaded }
        for store in healthyStores {
            let target = store.targetName
            cache.record(packs: (listings[target] ?? [:]).merging(uploaded[target] ?? [:]) { _, new in new }, of: target)
        }
        cache.recordManifest(name, time: manifest.time, host: manifest.host, store: manifest.storePath)
        cache.clearJournal(store: manifest.storePath)
        return (name, manifest)
    }
}

/// A sealed pack on its way to the targets; its bytes are shared by every target's queue.
private struct PendingPack: Sendable {
    let id: PackID
    let name: String
    let bytes: [UInt8]
}

/// What a lane's uploader takes: a whole pack, or a piece of a streamed one.
private enum LaneItem: Sendable {
    case pack(PendingPack)
    case piece(PackPiece)
}

/// One target's uploads: a queue of one pack (or two pieces of streamed packs) in front of
/// `uploadConcurrency` uploader threads of its own. A slow or distant target holds at most that
/// many packs (plus the one queued) and slows only the workers that wait to queue for it; the
/// other targets' lanes go on. After a failure the target is skipped, its queued packs dropped.
private final class UploadLane: Sendable {
    let queue: BoundedQueue<LaneItem>
    private let running: WorkerPool.Running<Void, Never>

    init(store: any ObjectStore, writer: BackupWriter) {
        // One whole pack, or two 4 MiB pieces (a piece is written in a few milliseconds, and
        // filled in tens: two keep the uploader busy without holding memory for it).
        let queue = BoundedQueue<LaneItem>(capacity: writer.streamsPacks ? 2 : 1)
        self.queue = queue
        running = WorkerPool(parallelism: store.uploadConcurrency).start(consuming: queue, worker: { () -> [PackID: any ObjectUpload] in [:] }) {
            [weak writer] (uploads: inout [PackID: any ObjectUpload], item: LaneItem, _) in
            switch item {
            case .pack(let pending): writer?.deliver(pending, to: store)
            case .piece(let piece): writer?.deliver(piece, to: store, uploads: &uploads)
            }
        }
    }

    func finish() {
        queue.close()
        _ = running.wait()
    }
}

/// A worker's open packs: one for data, one for nodes. Used by one thread at a time (its
/// worker's, then the committing thread's once the workers are done).
final class PackSlot: @unchecked Sendable {
    var data: PackWriter
    /// The data pack when the run streams packs (then `data` stays empty).
    var streamed: StreamedPack?
    var nodes: PackWriter
    let packSize: Int
    /// Node packs are a quarter of data packs, reserved whole: tree nodes are ~1.2 % of the
    /// data, so a pack of them fills only on large stores, and one that grew by doubling to
    /// 16 MiB held up to 32 MiB per worker there and a few KiB on small ones (full-backup
    /// memory 1.35× at 10× the store, `scripts/bench --scale`). Reserved pages cost nothing
    /// until written (the buffer is mapped, not touched).
    let nodePackSize: Int

    init(packSize: Int, streamed: Bool = false) {
        self.packSize = packSize
        nodePackSize = max(256 << 10, packSize / 4)
        data = PackWriter(capacity: streamed ? 0 : packSize + packSize / 8)
        self.streamed = streamed ? StreamedPack() : nil
        nodes = PackWriter(capacity: nodePackSize + nodePackSize / 8)
    }

    func flush(_ writer: BackupWriter) throws(RepositoryError) {
        if let streamed, !streamed.isEmpty {
            self.streamed = StreamedPack()
            try writer.finish(streamed)
        }
        if !data.isEmpty {
            let full = data
            data = PackWriter()
            try writer.upload(full)
        }
        if !nodes.isEmpty {
            let full = nodes
            nodes = PackWriter()
            try writer.upload(full)
        }
    }
}

/// One worker thread's way into the writer: seals blobs into its own packs, uploads them when
/// full. Not thread-safe (one per thread).
package final class BackupWorker: NodeStoring {
    private let writer: BackupWriter
    private let slot: PackSlot
    package let compressor: ChunkCompressor

    init(writer: BackupWriter, slot: PackSlot, compressor: ChunkCompressor) {
        self.writer = writer
        self.slot = slot
        self.compressor = compressor
    }

    package var keys: RepositoryKeys { writer.keys }

    /// Stores a data chunk and returns its ref.
    /// - Parameter compress: false for pages of an encrypted database (ciphertext never
    ///   shrinks, so trying is wasted work).
    package func storeData(_ plaintext: [UInt8], id: ChunkID, compress: Bool) throws(RepositoryError) -> BlobRef {
        try plaintext.withBytes { (raw) throws(RepositoryError) in try storeData(raw, id: id, compress: compress) }
    }

    /// Stores a data chunk that lies in a larger buffer (a page of the block just read).
    package func storeData(_ plaintext: UnsafeRawBufferPointer, id: ChunkID, compress: Bool) throws(RepositoryError) -> BlobRef {
        let blob = try SealedBlob(plaintext, id: id, kind: .data, keys: writer.keys, compressor: compress ? compressor : nil)
        if let streamed = slot.streamed {
            let ref = try streamed.append(blob) { (piece) throws(RepositoryError) in try writer.ship(piece) }
            writer.counted(ref)
            if streamed.size >= slot.packSize {
                slot.streamed = StreamedPack()
                try writer.finish(streamed)
            }
            return ref
        }
        let ref = slot.data.append(blob)
        writer.counted(ref)
        if slot.data.size >= slot.packSize {
            let full = slot.data
            slot.data = PackWriter(capacity: slot.packSize + slot.packSize / 8)
            try writer.upload(full)
        }
        return ref
    }

    /// Stores a tree or list node (compressed when that helps: a node's refs repeat their
    /// pack index and lengths) and keeps a copy in the node cache.
    package func storeNode(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind) throws(RepositoryError) -> BlobRef {
        let blob = try SealedBlob(plaintext, id: id, kind: kind, keys: writer.keys, compressor: compressor)
        let ref = slot.nodes.append(blob)
        writer.counted(ref)
        writer.cache.insert(id, plaintext)
        if slot.nodes.size >= slot.nodePackSize {
            let full = slot.nodes
            slot.nodes = PackWriter(capacity: slot.nodePackSize + slot.nodePackSize / 8)
            try writer.upload(full)
        }
        return ref
    }
}
