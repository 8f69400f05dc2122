package import DRBase
package import DRConfig
import DRCrypto
import DRRepository
import DRTransport
package import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which snapshot of which mailbox to restore.
package enum RestoreSelection: Sendable {
    /// For each mailbox, the newest image consistent at or before this moment.
    case pointInTime(Date)
    /// Exactly this snapshot (a full id or a unique prefix).
    case snapshot(String)
    /// The newest image of each mailbox.
    case latest
}

/// `drctl restore`: writes mailboxes back, byte-identical to the images that were stored.
package enum RestoreJob {
    package struct Options: Sendable {
        package var selection: RestoreSelection = .latest
        package var mailboxes: [String] = []
        package var destination: String = ""
        package var force = false
        /// Read from this target only (default: the first target that has what is needed).
        package var target: String?
        /// Mailboxes restored at once (default: one per core).
        package var parallelism = ProcessInfo.processInfo.activeProcessorCount
        /// Show progress on standard error (when it is a terminal).
        package var progress = false
        package init() {}
    }

    package struct Report: Sendable, Codable {
        package struct Restored: Sendable, Codable {
            package var mailbox: String
            package var snapshot: String
            package var consistentAt: String
            package var size: Int64
            package var path: String
            package var target: String
        }
        package struct Failure: Sendable, Codable {
            package var mailbox: String
            package var code: ErrorCode
            package var error: String
        }
        package var restored: [Restored]
        package var failures: [Failure]
        package var durationSeconds: Double
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           options: Options) throws(CoreError) -> Report {
        let clock = ContinuousClock.now
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, only: options.target)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        var stores = repository.stores
        if let wanted = options.target {
            stores = stores.filter { $0.targetName == wanted }
            if stores.isEmpty {
                throw CoreError(.restoreUnknownTarget, message: "no target named \(wanted) in the configuration (targets: \(repository.stores.map(\.targetName).joined(separator: ", ")))")
            }
        }
        // Manifests from the first target that can be read; every target is a full copy.
        var catalogue: SnapshotCatalogue?
        var lastError: (any DRError)?
        for store in stores {
            do {
                catalogue = SnapshotCatalogue(try repository.manifests(on: store, keys: keys))
                break
            } catch {
                lastError = error
            }
        }
        guard let catalogue else {
            throw CoreError(lastError ?? CoreError(.restoreNoTarget, message: "no target could be read"))
        }
        let chosen = try catalogue.select(options.selection, mailboxes: options.mailboxes)
        try prepareDestination(options.destination)

        // Mailboxes are restored by a bounded pool of workers (one per core). Each worker has
        // its own readers (a reader caches the pack it last read); indexes are loaded once per
        // target, when first needed, and shared. A mailbox that cannot be restored is reported
        // and the others go on.
        let indexes = IndexCache(keys: keys)
        let readFrom = stores
        let progress = Progress(enabled: options.progress && StandardStreams.errorIsTerminal, total: chosen.count)
        defer { progress.finish() }
        let outcome = WorkerPool(parallelism: options.parallelism).run(
            chosen,
            progress: { step in
                progress.update(done: step.completed, current: chosen[step.index].1.path, read: step.bytes, new: 0,
                                verb: "restored")
            },
            worker: { () throws(MailboxFailure) -> [String: ContentReader] in [:] }
        ) { (readers: inout [String: ContentReader], work: (String, SnapshotManifest.FileEntry),
             context: WorkerPool.Context) throws(MailboxFailure) -> Report.Restored in
            let restored = try restoreMailbox(work.1, snapshot: work.0, from: readFrom, readers: &readers,
                                              indexes: indexes, keys: keys, options: options)
            context.count(bytes: restored.size)
            return restored
        }
        var restored: [Report.Restored] = []
        var failures: [Report.Failure] = []
        for result in outcome.results {
            switch result {
            case .success(let item): restored.append(item)
            case .failure(let failure): failures.append(failure.failure)
            case nil: break
            }
        }
        return Report(restored: restored, failures: failures, durationSeconds: Elapsed.seconds(since: clock))
    }

    /// One mailbox, from the first target that can provide it whole: a damaged or missing
    /// object on one target is read from another.
    /// - Parameter readers: this worker's reader per target (each caches a pack window).
    static func restoreMailbox(_ entry: SnapshotManifest.FileEntry, snapshot: String, from stores: [any ObjectStore],
                               readers: inout [String: ContentReader], indexes: IndexCache, keys: RepositoryKeys,
                               options: Options) throws(MailboxFailure) -> Report.Restored {
        let target = options.destination + "/" + entry.path
        if !options.force && FileManager.default.fileExists(atPath: target) {
            throw MailboxFailure(.init(mailbox: entry.path, code: .restoreExists,
                                       error: "\(target) exists; refusing to overwrite it (use --force, or restore to another folder)"))
        }
        var lastFailure: (any DRError)?
        for store in stores {
            do {
                if readers[store.targetName] == nil {
                    readers[store.targetName] = ContentReader(store: store, index: try indexes.index(for: store), keys: keys)
                }
                guard let reader = readers[store.targetName] else { continue }
                try restoreFile(entry, from: reader, to: target)
                return Report.Restored(mailbox: entry.path, snapshot: snapshot, consistentAt: entry.consistentAt,
                                       size: entry.size, path: target, target: store.targetName)
            } catch {
                lastFailure = CoreError(error)
            }
        }
        // `stores` is never empty (the catalogue was read from one of them).
        throw MailboxFailure(.init(mailbox: entry.path, code: lastFailure?.code ?? .restoreNoTarget,
                                   error: lastFailure?.message ?? "no target to read from"))
    }

    /// One mailbox that could not be restored: the pool's failure for that item (reported,
    /// the others go on).
    struct MailboxFailure: Error {
        let failure: Report.Failure
        init(_ failure: Report.Failure) { self.failure = failure }
    }

    static func prepareDestination(_ path: String) throws(CoreError) {
        guard !path.isEmpty else {
            throw CoreError(.restoreNoDestination, message: "give a destination folder with --to DIR")
        }
        // As `mkdir -p` would (the umask decides the mode), new parents fsynced.
        let err = Folders.create(path, mode: 0o777)
        if err != 0 {
            throw CoreError(.restoreDestination, message: "cannot create the destination folder \(path): \(errnoDescription(err))")
        }
    }

    /// Writes one file through `AtomicFile`: to a temporary name beside it, every chunk
    /// verified against its id (and every tree node against its own, so the root in the
    /// manifest vouches for every byte), its size checked, its mode applied, fsynced, then
    /// renamed into place. On any failure the temporary file is removed and nothing else is
    /// touched. Missing folders are created as an operator's `mkdir -p` would (the umask
    /// decides their mode).
    static func restoreFile(_ entry: SnapshotManifest.FileEntry, from reader: ContentReader, to path: String) throws {
        let file: AtomicFile
        do {
            file = try AtomicFile(path: path, mode: mode_t(entry.mode & 0o7777), creatingFoldersWithMode: 0o777)
        } catch {
            throw CoreError(.restoreCreate, message: error.message)
        }
        // Dropped uncommitted on any throw below: the temporary file goes with it.
        do {
            // Chunks are small (one page); gather them into 1 MiB writes.
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            try reader.forEachChunk(of: entry) { chunk in
                buffer.append(contentsOf: chunk)
                if buffer.count >= 1 << 20 {
                    try file.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try file.write(buffer)
            guard file.size == entry.size else {
                throw CoreError(.restoreSizeMismatch, message: "\(entry.path): restored \(file.size) bytes, the snapshot recorded \(entry.size); nothing was written")
            }
            try file.commit(.replace)
        } catch let error as BaseError {
            throw CoreError(.restoreIo, message: error.message)
        }
    }
}

/// Each target's index, loaded once when first needed, shared by the restore workers.
final class IndexCache: Sendable {
    private let keys: RepositoryKeys
    private let loaded = Mutex<[String: BlobIndex]>([:])

    init(keys: RepositoryKeys) { self.keys = keys }

    func index(for store: any ObjectStore) throws(RepositoryError) -> BlobIndex {
        // Loaded under the lock, so that two workers never hold two copies of one index.
        try loaded.withLock { (cache) throws(RepositoryError) -> BlobIndex in
            if let known = cache[store.targetName] { return known }
            let index = try BlobIndex.load(from: store, keys: keys)
            cache[store.targetName] = index
            return index
        }
    }
}

/// Reads a file's content back from one target: walks its chunk tree, fetches each blob's
/// byte range from its pack, authenticates and checks it.
final class ContentReader {
    let store: any ObjectStore
    let index: BlobIndex
    let keys: RepositoryKeys
    /// A window of the pack read last: consecutive chunks of a file usually lie next to each
    /// other in one pack, so one read serves many (and memory stays at one window per reader).
    private var window: (pack: String, start: Int, bytes: [UInt8])?
    static let windowSize = 4 << 20

    init(store: any ObjectStore, index: BlobIndex, keys: RepositoryKeys) {
        self.store = store
        self.index = index
        self.keys = keys
    }

    func forEachChunk(of entry: SnapshotManifest.FileEntry, _ body: ([UInt8]) throws -> Void) throws {
        guard let root = ChunkID(hex: entry.root) else {
            throw CoreError(.restoreBadManifest, message: "\(entry.path): invalid root id in the manifest")
        }
        try walk(root, kind: .tree, file: entry.path, body)
    }

    private func walk(_ id: ChunkID, kind: BlobKind, file: String, _ body: ([UInt8]) throws -> Void) throws {
        let plain = try blob(id, file: file)
        if kind == .data {
            try body(plain)
            return
        }
        guard let node = try? ChunkTreeNode.parse(plain) else {
            throw CoreError(.restoreBadTree, message: "\(file): tree node \(id) is not a valid node")
        }
        for child in node.children {
            try walk(child, kind: node.level == 1 ? .data : .tree, file: file, body)
        }
    }

    func blob(_ id: ChunkID, file: String) throws -> [UInt8] {
        guard let location = index[id] else {
            throw CoreError(.restoreMissingBlob, message: "\(file): chunk \(id) is in no index of target \(store.targetName); run drctl check")
        }
        let name = PackNaming.objectName(location.pack)
        let start = Int(location.entry.offset), end = start + Int(location.entry.length)
        if let current = window, current.pack == location.pack, start >= current.start,
           end <= current.start + current.bytes.count {
            return try PackReader.openBlob(current.bytes[(start - current.start)..<(end - current.start)],
                                           entry: location.entry, pack: name, target: store.targetName, keys: keys)
        }
        let bytes = try store.get(name, offset: Int64(start), length: max(end - start, Self.windowSize))
        guard bytes.count >= end - start else {
            throw CoreError(.restorePackTruncated, message: "target \(store.targetName): pack \(name) is shorter than its index says; run drctl check")
        }
        window = (location.pack, start, bytes)
        return try PackReader.openBlob(bytes[0..<(end - start)], entry: location.entry, pack: name,
                                       target: store.targetName, keys: keys)
    }
}
