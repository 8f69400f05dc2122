import DRBase
import DRCrypto
import DRCompression
import Foundation

/// `snapshots/<id>`: one backup run — what was saved, from where, consistent when.
///
/// JSON (sorted keys), compressed with zstd, sealed in a DRC1 envelope of kind `M` with the "manifest" subkey; the
/// name is `snapshots/` + hex BLAKE2b-256 of the stored bytes. Written last, after every pack
/// and index object it relies on is durable on that target.
public struct SnapshotManifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1
    /// Largest manifest JSON a reader accepts (a bound against decompression bombs).
    static let maximumSize = 1 << 30

    public var format: Int
    /// When the run started (RFC 3339, UTC, microseconds).
    public var time: String
    public var host: String
    /// The mail store's folder on that host.
    public var storePath: String
    public var files: [FileEntry]
    public var statistics: Statistics

    public init(format: Int, time: String, host: String, storePath: String, files: [FileEntry],
                statistics: Statistics) {
        self.format = format
        self.time = time
        self.host = host
        self.storePath = storePath
        self.files = files
        self.statistics = statistics
    }

    public struct FileEntry: Codable, Sendable, Equatable {
        /// Path relative to `storePath`; it is also the mailbox id.
        public var path: String
        /// "sqlite" (an image made by the snapshot module) or "file" (a plain stable copy).
        public var kind: String
        /// Size of the stored image in bytes.
        public var size: Int64
        public var mode: UInt32
        /// How the consistent image was obtained: wal-live, wal-offline, rollback, not-sqlite.
        public var snapshotMode: String
        public var pageSize: Int
        public var pageCount: Int
        /// When the image's state was pinned (RFC 3339, microseconds): point-in-time restore
        /// compares with this.
        public var consistentAt: String
        /// A human-readable consistency point (WAL salts and frame, or change counter).
        public var consistency: String
        /// Root of the chunk tree (hex).
        public var root: String
        public var chunks: Int
        /// The files' state when read, to skip unchanged files on the next run.
        public var sourceState: SourceState
        /// Whether this run reused the previous snapshot's content without reading the file.
        public var unchanged: Bool

        public init(path: String, kind: String, size: Int64, mode: UInt32, snapshotMode: String,
                    pageSize: Int, pageCount: Int, consistentAt: String, consistency: String,
                    root: String, chunks: Int, sourceState: SourceState, unchanged: Bool) {
            self.path = path
            self.kind = kind
            self.size = size
            self.mode = mode
            self.snapshotMode = snapshotMode
            self.pageSize = pageSize
            self.pageCount = pageCount
            self.consistentAt = consistentAt
            self.consistency = consistency
            self.root = root
            self.chunks = chunks
            self.sourceState = sourceState
            self.unchanged = unchanged
        }
    }

    /// stat(2) facts of a mailbox and its WAL: if all are equal on the next run, the
    /// committed content cannot have changed.
    public struct SourceState: Codable, Sendable, Equatable, Hashable {
        public var size: Int64
        public var mtimeNanoseconds: Int64
        public var ctimeNanoseconds: Int64
        public var inode: UInt64
        public var device: UInt64
        public var walSize: Int64?
        public var walMtimeNanoseconds: Int64?
        public var walCtimeNanoseconds: Int64?
        public var walInode: UInt64?
        public var journalPresent: Bool

        public init(size: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: UInt64, device: UInt64,
                    walSize: Int64?, walMtimeNanoseconds: Int64?, walCtimeNanoseconds: Int64?, walInode: UInt64?,
                    journalPresent: Bool) {
            self.size = size
            self.mtimeNanoseconds = mtimeNanoseconds
            self.ctimeNanoseconds = ctimeNanoseconds
            self.inode = inode
            self.device = device
            self.walSize = walSize
            self.walMtimeNanoseconds = walMtimeNanoseconds
            self.walCtimeNanoseconds = walCtimeNanoseconds
            self.walInode = walInode
            self.journalPresent = journalPresent
        }
    }

    public struct Statistics: Codable, Sendable, Equatable {
        public var files: Int
        public var filesUnchanged: Int
        public var bytesRead: Int64
        public var imageBytes: Int64
        public var newChunks: Int
        public var newChunkBytes: Int64
        /// Bytes written to one target for this run (packs + index + manifest), before this manifest.
        public var storedBytes: Int64
        public var durationSeconds: Double
        public init() {
            files = 0; filesUnchanged = 0; bytesRead = 0; imageBytes = 0; newChunks = 0
            newChunkBytes = 0; storedBytes = 0; durationSeconds = 0
        }
    }

    func seal(keys: RepositoryKeys) throws(RepositoryError) -> (name: String, bytes: [UInt8]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: [UInt8]
        do { json = Array(try encoder.encode(self)) } catch {
            throw RepositoryError(code: "repository.encode", exitStatus: .failure, message: "cannot encode a manifest: \(error)")
        }
        // Compressed: a manifest repeats its keys for every mailbox, and it is written on every
        // run whatever changed, so its size counts against small incremental backups.
        let compressed: [UInt8]
        do { compressed = try Zstd.compress(json, level: 9) } catch { throw RepositoryError.wrap(error) }
        let sealed = try ObjectEnvelope.seal(compressed, kind: .manifest, name: "", key: keys.manifest)
        return ("snapshots/" + Hex.encode(Blake2b.hash(sealed, outputLength: 32)), sealed)
    }

    static func open(_ bytes: [UInt8], name: String, target: String,
                     keys: RepositoryKeys) throws(RepositoryError) -> SnapshotManifest {
        guard "snapshots/" + Hex.encode(Blake2b.hash(bytes, outputLength: 32)) == name else {
            throw RepositoryError(code: "repository.manifest-damaged", exitStatus: .integrity,
                                  message: "target \(target): snapshot manifest \(name) does not match its name: it is damaged")
        }
        let compressed = try ObjectEnvelope.open(bytes, kind: .manifest, name: "", target: target, key: keys.manifest)
        do {
            let json = try Zstd.decompress(compressed, maxOutput: maximumSize)
            let manifest = try JSONDecoder().decode(SnapshotManifest.self, from: Data(json))
            guard manifest.format == currentFormat else {
                throw RepositoryError(code: "repository.format", exitStatus: .dataError,
                                      message: "target \(target): \(name) has manifest format \(manifest.format); upgrade drctl")
            }
            return manifest
        } catch let error as RepositoryError {
            throw error
        } catch {
            throw RepositoryError(code: "repository.manifest-damaged", exitStatus: .integrity,
                                  message: "target \(target): \(name) decrypts but is not a valid manifest: \(error)")
        }
    }
}
