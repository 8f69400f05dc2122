package import DRBase
import DRCrypto
import DRCompression
package import Foundation

/// `snapshots/<id>`: one backup run — what was saved, from where, consistent when.
///
/// JSON (sorted keys), compressed with zstd, sealed in a DRC1 envelope of kind `M` with the "manifest" subkey; the
/// name is `snapshots/` + hex BLAKE2b-256 of the stored bytes. Written last, after every pack
/// and index object it relies on is durable on that target.
package struct SnapshotManifest: Codable, Sendable, Equatable {
    package static let currentFormat = 1
    /// Largest manifest JSON a reader accepts (a bound against decompression bombs).
    static let maximumSize = 1 << 30

    package var format: Int
    /// When the run started (RFC 3339, UTC, microseconds).
    package var time: String
    package var host: String
    /// The mail store's folder on that host.
    package var storePath: String
    package var files: [FileEntry]
    package var statistics: Statistics
    /// Whether the run covered the whole store (no `--mailbox`): then the mailboxes it holds,
    /// with those in `failed`, are every mailbox the store had, and one it lacks was deleted.
    /// Absent in manifests written before it existed (read as a partial run: such a run adds
    /// mailboxes to the set a point-in-time restore brings back, never removes any).
    package var wholeStore: Bool?
    /// Mailboxes of the run that could not be read: they still existed.
    package var failed: [String]?

    package init(format: Int, time: String, host: String, storePath: String, files: [FileEntry],
                statistics: Statistics, wholeStore: Bool? = nil, failed: [String]? = nil) {
        self.format = format
        self.time = time
        self.host = host
        self.storePath = storePath
        self.files = files
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

    /// Checks what a restore relies on: every path safe (and unique), every time readable,
    /// no image consistent later than the manifest was made. Run when a manifest is written
    /// and when it is read.
    /// - Parameter name: the object, for the message.
    package func validate(name: String, target: String?) throws(RepositoryError) {
        let place = (target.map { "target \($0): " } ?? "") + "snapshot manifest \(name)"
        func invalid(_ what: String) -> RepositoryError {
            RepositoryError(.repositoryManifestInvalid,
                            message: "\(place) \(what)" + (target == nil
                                ? "; it is not written, since a restore would refuse it: if the system clock stepped forward during the run, run the backup again"
                                : ": a faulty or hostile key holder wrote it; restore and snapshots skip it. Find the host that wrote it, rotate the repository key, and delete \(name) from every target"),
                            context: ErrorContext(target: target, object: name))
        }
        guard let created = createdAt else {
            throw invalid("has an unreadable time \(time.debugDescription) or duration \(statistics.durationSeconds)")
        }
        var seen = Set<String>()
        for path in files.map(\.path) + (failed ?? []) {
            if let problem = Self.pathProblem(path) { throw invalid("names a mailbox path that \(problem): \(path.debugDescription)") }
            guard seen.insert(path).inserted else { throw invalid("names mailbox \(path) twice") }
        }
        for file in files {
            guard let at = Timestamps.parse(file.consistentAt) else {
                throw invalid("gives \(file.path) an unreadable consistentAt \(file.consistentAt.debugDescription)")
            }
            if at.timeIntervalSince(created) > Self.clockTolerance {
                throw invalid("says \(file.path) is consistent at \(file.consistentAt), later than the manifest was made (\(Timestamps.format(created)))")
            }
        }
    }

    package struct FileEntry: Codable, Sendable, Equatable {
        /// Path relative to `storePath`; it is also the mailbox id.
        package var path: String
        /// "sqlite" (an image made by the snapshot module) or "file" (a plain stable copy).
        package var kind: String
        /// Size of the stored image in bytes.
        package var size: Int64
        package var mode: UInt32
        /// How the consistent image was obtained: wal-live, wal-offline, rollback, not-sqlite.
        package var snapshotMode: String
        package var pageSize: Int
        package var pageCount: Int
        /// When the image's state was pinned (RFC 3339, microseconds): point-in-time restore
        /// compares with this.
        package var consistentAt: String
        /// A human-readable consistency point (WAL salts and frame, or change counter).
        package var consistency: String
        /// Root of the chunk tree (hex).
        package var root: String
        package var chunks: Int
        /// The files' state when read, to skip unchanged files on the next run.
        package var sourceState: SourceState
        /// Whether this run reused the previous snapshot's content without reading the file.
        package var unchanged: Bool

        package init(path: String, kind: String, size: Int64, mode: UInt32, snapshotMode: String,
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

    /// The files' lstat facts when read (`FileState`, shared with DRImage's stamp).
    package typealias SourceState = FileState

    package struct Statistics: Codable, Sendable, Equatable {
        package var files: Int
        package var filesUnchanged: Int
        package var bytesRead: Int64
        package var imageBytes: Int64
        package var newChunks: Int
        package var newChunkBytes: Int64
        /// Bytes written to one target for this run (packs + index + manifest), before this manifest.
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
