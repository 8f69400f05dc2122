package import DRBase
import DRCrypto
import DRCompression
package import Foundation

/// `snapshots/<id>`: one backup run — what was saved, from where, consistent when.
///
/// JSON (sorted keys), compressed with zstd, sealed in a DRC1 envelope of kind `M` with the "manifest" subkey; the
/// name is `snapshots/` + hex BLAKE2b-256 of the stored bytes. Written last, after every pack
/// it relies on (data, tree and list nodes) is durable on that target.
package struct SnapshotManifest: Codable, Sendable, Equatable {
    package static let currentFormat = 2
    /// Largest manifest JSON a reader accepts (a bound against decompression bombs; a
    /// manifest no longer grows with the store: its mailboxes are in the list).
    static let maximumSize = 64 << 20

    package var format: Int
    /// When the run started (RFC 3339, UTC, milliseconds).
    package var time: String
    package var host: String
    /// The mail store's folder on that host.
    package var storePath: String
    /// The run's mailboxes: the root of a `MailboxList` and how many entries it holds.
    package var mailboxes: ListRoot
    package var statistics: Statistics
    /// Whether the run covered the whole store (no `--mailbox`): then the mailboxes it holds,
    /// with those in `failed`, are every mailbox the store had, and one it lacks was deleted.
    package var wholeStore: Bool
    /// Mailboxes of the run that could not be read (they still existed), with why.
    package var failed: [Failure]

    package struct Failure: Codable, Sendable, Equatable {
        package var path: String
        /// The drctl error code (docs/EXIT-CODES.md).
        package var code: String
        package var error: String
        package init(path: String, code: String, error: String) {
            self.path = path
            self.code = code
            self.error = error
        }
    }

    /// The root of a snapshot's mailbox list.
    package struct ListRoot: Codable, Sendable, Equatable {
        /// Entries in the list.
        package var count: Int
        package var root: RefJSON
        package init(count: Int, root: BlobRef) {
            self.count = count
            self.root = RefJSON(root)
        }
    }

    /// A ref as the manifest's JSON writes it.
    package struct RefJSON: Codable, Sendable, Equatable {
        package var id: String
        package var pack: String
        package var offset: UInt32
        package var length: UInt32
        package var rawLength: UInt32
        package var compressed: Bool
        package init(_ ref: BlobRef) {
            id = ref.id.hex
            pack = ref.pack.hex
            offset = ref.offset
            length = ref.length
            rawLength = ref.rawLength
            compressed = ref.compressed
        }
        package func ref(kind: BlobKind) -> BlobRef? {
            guard let id = ChunkID(hex: id), let pack = PackID(hex: pack) else { return nil }
            return BlobRef(id: id, kind: kind, compressed: compressed, pack: pack, offset: offset,
                           length: length, rawLength: rawLength)
        }
    }

    /// The list's root ref (nil when the manifest's JSON holds an invalid one).
    package var listRoot: BlobRef? { mailboxes.root.ref(kind: .list) }

    package init(format: Int = currentFormat, time: String, host: String, storePath: String,
                 mailboxes: ListRoot, statistics: Statistics, wholeStore: Bool, failed: [Failure]) {
        self.format = format
        self.time = time
        self.host = host
        self.storePath = storePath
        self.mailboxes = mailboxes
        self.statistics = statistics
        self.wholeStore = wholeStore
        self.failed = failed
    }

    /// Longest mailbox path accepted (PATH_MAX), and longest component (NAME_MAX).
    static let maximumPathBytes = 4096
    static let maximumComponentBytes = 255
    /// How far a clock may step forward during a run before an image's consistentAt counts as
    /// later than the manifest's own creation.
    package static let clockTolerance: Double = 60
    /// Longest run accepted (a longer duration would let any consistentAt pass).
    static let maximumDuration: Double = 30 * 86_400

    /// Whether `path` is safe to join to a destination folder: relative, no empty, `.` or
    /// `..` component, no NUL, within PATH_MAX and NAME_MAX. Every key holder can write a
    /// manifest (several hosts may share a repository), so a restore must never trust one.
    package static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.count > maximumPathBytes { return "is longer than \(maximumPathBytes) bytes" }
        if path.utf8.contains(0) { return "contains a NUL byte" }
        if path.hasPrefix("/") { return "is absolute" }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { return "has an empty component" }
            if component == "." || component == ".." { return "has a \"\(component)\" component" }
            if component.utf8.count > maximumComponentBytes { return "has a component longer than \(maximumComponentBytes) bytes" }
        }
        return nil
    }

    /// When the run ended: its start plus its duration.
    package var createdAt: Date? {
        guard let start = Timestamps.parse(time), statistics.durationSeconds.isFinite,
              statistics.durationSeconds >= 0, statistics.durationSeconds <= Self.maximumDuration else { return nil }
        return start.addingTimeInterval(statistics.durationSeconds)
    }

    /// Checks what a restore relies on in the manifest itself: a readable time and duration,
    /// safe and unique `failed` paths, a list root that parses. Run when a manifest is written
    /// and when it is read. Entries are checked as the list is read (`entryProblem`).
    /// - Parameter name: the object, for the message.
    package func validate(name: String, target: String?) throws(RepositoryError) {
        guard createdAt != nil else {
            throw invalid("has an unreadable time \(time.debugDescription) or duration \(statistics.durationSeconds)", name: name, target: target)
        }
        var seen = Set<String>()
        for path in failed.map(\.path) {
            if let problem = Self.pathProblem(path) { throw invalid("names a mailbox path that \(problem): \(path.debugDescription)", name: name, target: target) }
            guard seen.insert(path).inserted else { throw invalid("names mailbox \(path) twice", name: name, target: target) }
        }
        guard listRoot != nil, mailboxes.count >= 0 else {
            throw invalid("has an invalid mailbox list root", name: name, target: target)
        }
    }

    /// What is wrong with one entry of this snapshot's list, if anything: an unsafe path, an
    /// unreadable time, an image consistent later than the manifest was made.
    package func entryProblem(_ file: FileEntry) -> String? {
        if let problem = Self.pathProblem(file.path) { return "names a mailbox path that \(problem): \(file.path.debugDescription)" }
        guard let at = Timestamps.parse(file.consistentAt) else {
            return "gives \(file.path) an unreadable consistentAt \(file.consistentAt.debugDescription)"
        }
        if let created = createdAt, at.timeIntervalSince(created) > Self.clockTolerance {
            return "says \(file.path) is consistent at \(file.consistentAt), later than the manifest was made (\(Timestamps.format(created)))"
        }
        return nil
    }

    /// The error for a manifest (or one of its entries) that fails validation.
    package func invalid(_ what: String, name: String, target: String?) -> RepositoryError {
        let place = (target.map { "target \($0): " } ?? "") + "snapshot manifest \(name)"
        return RepositoryError(.repositoryManifestInvalid,
                               message: "\(place) \(what)" + (target == nil
                                   ? "; it is not written, since a restore would refuse it: if the system clock stepped forward during the run, run the backup again"
                                   : ": a faulty or hostile key holder wrote it; restore and snapshots skip it. Find the host that wrote it, rotate the repository key, and delete \(name) from every target"),
                               context: ErrorContext(target: target, object: name))
    }

    /// One mailbox of a snapshot: stored in the snapshot's mailbox list (`MailboxList`, binary;
    /// docs/REPOSITORY.md "Mailbox lists"), never in the manifest's JSON.
    package struct FileEntry: Sendable, Equatable {
        /// Path relative to `storePath`; it is also the mailbox id.
        package var path: String
        /// "sqlite" (an image made by the snapshot module) or "file" (a plain stable copy).
        package var kind: String
        /// Size of the stored image in bytes.
        package var size: Int64
        /// Permission bits (st_mode & 0o7777).
        package var mode: UInt32
        /// How the consistent image was obtained: wal-live, wal-offline, rollback, not-sqlite.
        package var snapshotMode: String
        /// The image's page size, and its pages; for a file that is not SQLite both are 0.
        package var pageSize: Int
        package var pageCount: Int
        /// When the image's state was pinned (RFC 3339): point-in-time restore compares with
        /// this. A run that finds the file unchanged keeps the entry, this time included, byte
        /// for byte (so that unchanged parts of the list are shared between runs).
        package var consistentAt: String
        /// A human-readable consistency point (WAL salts and frame, or change counter).
        package var consistency: String
        /// Where the root of the file's chunk tree lies.
        package var root: BlobRef
        /// The number of data chunks.
        package var chunks: Int
        /// The files' state when read, to skip unchanged files on the next run.
        package var sourceState: SourceState
        /// Whether this run reused the previous snapshot's entry without reading the file.
        /// Not stored: known to the run that made the snapshot, and to a reader as
        /// `consistentAt` earlier than the snapshot's `time`.
        package var unchanged: Bool

        package init(path: String, kind: String, size: Int64, mode: UInt32, snapshotMode: String,
                    pageSize: Int, pageCount: Int, consistentAt: String, consistency: String,
                    root: BlobRef, chunks: Int, sourceState: SourceState, unchanged: Bool) {
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

        /// Equal as stored (`unchanged` is not).
        package func sameStored(as other: FileEntry) -> Bool {
            var a = self, b = other
            a.unchanged = false
            b.unchanged = false
            return a == b
        }
    }

    /// The files' lstat facts when read (`FileState`, shared with DRImage's stamp).
    package typealias SourceState = FileState

    package struct Statistics: Codable, Sendable, Equatable {
        package var files: Int
        package var filesUnchanged: Int
        package var bytesRead: Int64
        package var imageBytes: Int64
        package var newChunks: Int
        package var newChunkBytes: Int64
        /// Bytes of packs written to one target by this run (the manifest itself not included).
        package var storedBytes: Int64
        package var durationSeconds: Double
        package init() {
            files = 0; filesUnchanged = 0; bytesRead = 0; imageBytes = 0; newChunks = 0
            newChunkBytes = 0; storedBytes = 0; durationSeconds = 0
        }
    }

    func seal(keys: RepositoryKeys) throws(RepositoryError) -> (name: String, bytes: [UInt8]) {
        try validate(name: "of this run", target: nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: [UInt8]
        do { json = Array(try encoder.encode(self)) } catch {
            throw RepositoryError(.repositoryEncode, message: "cannot encode a manifest: \(error)")
        }
        // Compressed: a manifest repeats its keys for every mailbox, and it is written on every
        // run whatever changed, so its size counts against small incremental backups.
        let compressed: [UInt8]
        do { compressed = try Zstd.compress(json, level: 9) } catch { throw RepositoryError(error) }
        let sealed = try ObjectEnvelope.seal(compressed, kind: .manifest, name: "", key: keys.manifest)
        return ("snapshots/" + ContentAddress.of(sealed), sealed)
    }

    static func open(_ bytes: [UInt8], name: String, target: String,
                     keys: RepositoryKeys) throws(RepositoryError) -> SnapshotManifest {
        guard "snapshots/" + ContentAddress.of(bytes) == name else {
            throw RepositoryError(.repositoryManifestDamaged, message: "target \(target): snapshot manifest \(name) does not match its name: it is damaged")
        }
        let compressed = try ObjectEnvelope.open(bytes, kind: .manifest, name: "", target: target, key: keys.manifest)
        do {
            let json = try Zstd.decompress(compressed, maxOutput: maximumSize)
            let manifest = try JSONDecoder().decode(SnapshotManifest.self, from: Data(json))
            guard manifest.format == currentFormat else {
                throw RepositoryError(.repositoryFormat, message: "target \(target): \(name) has manifest format \(manifest.format); upgrade drctl")
            }
            try manifest.validate(name: name, target: target)
            return manifest
        } catch let error as RepositoryError {
            throw error
        } catch {
            throw RepositoryError(.repositoryManifestDamaged, message: "target \(target): \(name) decrypts but is not a valid manifest: \(error)")
        }
    }
}
