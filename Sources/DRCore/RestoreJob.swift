import DRBase
import DRConfig
import DRCrypto
import DRRepository
import DRTransport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Which snapshot of which mailbox to restore.
public enum RestoreSelection: Sendable {
    /// For each mailbox, the newest image consistent at or before this moment.
    case pointInTime(Date)
    /// Exactly this snapshot (a full id or a unique prefix).
    case snapshot(String)
    /// The newest image of each mailbox.
    case latest
}

/// `drctl restore`: writes mailboxes back, byte-identical to the images that were stored.
public enum RestoreJob {
    public struct Options: Sendable {
        public var selection: RestoreSelection = .latest
        public var mailboxes: [String] = []
        public var destination: String = ""
        public var force = false
        /// Read from this target only (default: the first target that has what is needed).
        public var target: String?
        public init() {}
    }

    public struct Report: Sendable, Codable {
        public struct Restored: Sendable, Codable {
            public var mailbox: String
            public var snapshot: String
            public var consistentAt: String
            public var size: Int64
            public var path: String
            public var target: String
        }
        public struct Failure: Sendable, Codable {
            public var mailbox: String
            public var code: String
            public var error: String
        }
        public var restored: [Restored]
        public var failures: [Failure]
        public var durationSeconds: Double
    }

    public static func run(_ configuration: Configuration, secrets: SecretSources,
                           options: Options) throws(CoreError) -> Report {
        let clock = ContinuousClock.now
        let repository = try KeyJobs.open(configuration, secrets: secrets)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw SecretSources.rewrap(error) }
        var stores = repository.stores
        if let wanted = options.target {
            stores = stores.filter { $0.targetName == wanted }
            if stores.isEmpty {
                throw CoreError(code: "restore.unknown-target", exitStatus: .usage,
                                message: "no target named \(wanted) in the configuration (targets: \(repository.stores.map(\.targetName).joined(separator: ", ")))")
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
            throw SecretSources.rewrap(lastError ?? CoreError(code: "restore.no-target", exitStatus: .failure, message: "no target could be read"))
        }
        let chosen = try catalogue.select(options.selection, mailboxes: options.mailboxes)
        try prepareDestination(options.destination)

        var restored: [Report.Restored] = []
        var failures: [Report.Failure] = []
        var readers: [String: ContentReader] = [:]
        for (snapshot, entry) in chosen {
            let target = options.destination + "/" + entry.path
            if !options.force && FileManager.default.fileExists(atPath: target) {
                failures.append(.init(mailbox: entry.path, code: "restore.exists",
                                      error: "\(target) exists; refusing to overwrite it (use --force, or restore to another folder)"))
                continue
            }
            // Try each target in turn: a damaged or missing object on one is read from another.
            var lastFailure: (any DRError)?
            var done = false
            for store in stores where !done {
                do {
                    if readers[store.targetName] == nil {
                        readers[store.targetName] = ContentReader(store: store, index: try repository.loadIndex(from: store, keys: keys), keys: keys)
                    }
                    guard let reader = readers[store.targetName] else { continue }
                    try restoreFile(entry, from: reader, to: target)
                    restored.append(.init(mailbox: entry.path, snapshot: snapshot, consistentAt: entry.consistentAt,
                                          size: entry.size, path: target, target: store.targetName))
                    done = true
                } catch {
                    lastFailure = CoreError.wrap(error)
                }
            }
            if !done, let lastFailure {
                failures.append(.init(mailbox: entry.path, code: lastFailure.code, error: lastFailure.message))
            }
        }
        return Report(restored: restored, failures: failures, durationSeconds: BackupJob.seconds(since: clock))
    }

    static func prepareDestination(_ path: String) throws(CoreError) {
        guard !path.isEmpty else {
            throw CoreError(code: "restore.no-destination", exitStatus: .usage, message: "give a destination folder with --to DIR")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CoreError(code: "restore.destination", exitStatus: .cannotCreate,
                            message: "cannot create the destination folder \(path): \(error.localizedDescription)")
        }
    }

    /// Writes one file: to a temporary name beside it, every chunk verified against its id
    /// (and every tree node against its own, so the root in the manifest vouches for every
    /// byte), its size checked, fsynced, then renamed into place. On any failure the temporary file is removed and
    /// nothing else is touched.
    static func restoreFile(_ entry: SnapshotManifest.FileEntry, from reader: ContentReader, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = "\(folder)/.drctl-restore-\(UUID().uuidString)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CoreError(code: "restore.create", exitStatus: .cannotCreate,
                            message: "cannot create \(temporary): \(errnoDescription(errno))")
        }
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        var written: Int64 = 0
        do {
            defer { close(fd) }
            // Chunks are small (one page); gather them into 1 MiB writes.
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            try reader.forEachChunk(of: entry) { chunk in
                buffer.append(contentsOf: chunk)
                written += Int64(chunk.count)
                if buffer.count >= 1 << 20 {
                    try writeAll(fd, buffer, path: temporary)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try writeAll(fd, buffer, path: temporary)
            guard written == entry.size else {
                throw CoreError(code: "restore.size-mismatch", exitStatus: .integrity,
                                message: "\(entry.path): restored \(written) bytes, the snapshot recorded \(entry.size); nothing was written")
            }
            if fchmod(fd, mode_t(entry.mode & 0o7777)) != 0 || fsync(fd) != 0 {
                throw CoreError(code: "restore.io", exitStatus: .ioError,
                                message: "cannot finish \(temporary): \(errnoDescription(errno))")
            }
        }
        if rename(temporary, path) != 0 {
            throw CoreError(code: "restore.rename", exitStatus: .ioError,
                            message: "cannot move the restored file to \(path): \(errnoDescription(errno))")
        }
        renamed = true
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError(code: "restore.io", exitStatus: .ioError,
                                message: "cannot write \(path): \(errnoDescription(errno))")
            }
            offset += n
        }
    }
}

/// Reads a file's content back from one target: walks its chunk tree, fetches each blob's
/// byte range from its pack, authenticates and checks it.
final class ContentReader {
    let store: any ObjectStore
    let index: BlobIndex
    let keys: RepositoryKeys
    /// The last pack read whole, since consecutive blobs usually share a pack.
    private var cachedPack: (name: String, bytes: [UInt8])?

    init(store: any ObjectStore, index: BlobIndex, keys: RepositoryKeys) {
        self.store = store
        self.index = index
        self.keys = keys
    }

    func forEachChunk(of entry: SnapshotManifest.FileEntry, _ body: ([UInt8]) throws -> Void) throws {
        guard let root = ChunkID(hex: entry.root) else {
            throw CoreError(code: "restore.bad-manifest", exitStatus: .dataError, message: "\(entry.path): invalid root id in the manifest")
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
            throw CoreError(code: "restore.bad-tree", exitStatus: .integrity,
                            message: "\(file): tree node \(id) is not a valid node")
        }
        for child in node.children {
            try walk(child, kind: node.level == 1 ? .data : .tree, file: file, body)
        }
    }

    func blob(_ id: ChunkID, file: String) throws -> [UInt8] {
        guard let location = index[id] else {
            throw CoreError(code: "restore.missing-blob", exitStatus: .integrity,
                            message: "\(file): chunk \(id) is in no index of target \(store.targetName); run drctl check")
        }
        let name = PackNaming.objectName(location.pack)
        let pack: [UInt8]
        if let cached = cachedPack, cached.name == name {
            pack = cached.bytes
        } else {
            pack = try store.get(name)
            cachedPack = (name, pack)
        }
        let start = Int(location.entry.offset), end = start + Int(location.entry.length)
        guard end <= pack.count else {
            throw CoreError(code: "restore.pack-truncated", exitStatus: .integrity,
                            message: "target \(store.targetName): pack \(name) is shorter than its index says; run drctl check")
        }
        return try PackReader.openBlob(pack[start..<end], entry: location.entry, pack: name,
                                       target: store.targetName, keys: keys)
    }
}
