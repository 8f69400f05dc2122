package import DRBase
/// How the image was made.
package enum SnapshotMode: String, Sendable, Codable {
    /// WAL database with live connections: a read mark pinned in `-shm`.
    case walLive = "wal-live"
    /// WAL database nobody had open: stale or missing `-shm`, WAL scanned like SQLite's recovery.
    case walOffline = "wal-offline"
    /// Rollback-journal database: SQLite's SHARED lock held while the image is read.
    case rollback
    /// Not an SQLite database: copied with a stability check.
    case notSQLite = "not-sqlite"
}

/// The committed state the image holds, in terms that can be checked without the key.
package struct ConsistencyPoint: Sendable, Codable, Equatable {
    /// WAL salts (big-endian values from the WAL header), when the image includes WAL frames.
    package var walSalt1: UInt32?
    package var walSalt2: UInt32?
    /// The last WAL frame included (the pinned mxFrame, or the last valid commit frame).
    package var walFrame: UInt32?
    /// The WAL header's checkpoint sequence number.
    package var checkpointSequence: UInt32?
    /// The database file change counter (plaintext databases in rollback mode).
    package var changeCounter: UInt32?
    /// Size and modification time of the file (encrypted rollback databases, other files).
    package var fileSize: Int64?
    package var modificationTimeNanoseconds: Int64?
    /// A crashed writer's hot journal was applied to the image (never to the database).
    package var hotJournalApplied: Bool

    /// One line for people.
    package var summary: String {
        var parts: [String] = []
        if let walFrame {
            parts.append("WAL frame \(walFrame)")
            if let walSalt1, let walSalt2 {
                parts.append("salts \(hex(walSalt1))/\(hex(walSalt2))")
            }
            if let checkpointSequence { parts.append("checkpoint sequence \(checkpointSequence)") }
        }
        if let changeCounter { parts.append("change counter \(changeCounter)") }
        if walFrame == nil && changeCounter == nil, let fileSize, let modificationTimeNanoseconds {
            parts.append("size \(fileSize) bytes, mtime \(modificationTimeNanoseconds) ns")
        }
        if hotJournalApplied { parts.append("hot journal applied to the image") }
        return parts.isEmpty ? "database file only (WAL empty)" : parts.joined(separator: ", ")
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// What the closure of `ImageCapture.withConsistentImage` learns about its image.
package struct ImageMetadata: Sendable {
    /// The database path as given.
    package var path: String
    package var mode: SnapshotMode
    package var cipher: CipherGuess
    /// Page size of the image; for other files the block size the reader uses.
    package var pageSize: Int
    /// Number of pages (blocks) in the image.
    package var pageCount: Int
    /// Exact size of the image in bytes (pageCount × pageSize except for other files).
    package var imageSize: Int64
    /// Reserved bytes at the end of each page, when the header says (plaintext byte 20).
    package var reservedBytes: Int?
    package var consistency: ConsistencyPoint
    /// How many pages of the image come from the WAL (or the hot journal) instead of the file.
    package var overlaidPages: Int
    /// Where the page size came from: "header", "wal", "shm", "journal", "configuration" or "default".
    package var pageSizeSource: String
    /// The files' stat facts, taken once the mode's locks were held (before its state was
    /// pinned): a backup compares them with the next run's to skip an unchanged mailbox.
    package var sourceStamp: SourceStamp? = nil
}

/// `lstat` facts of a database and its companions, and the wall-clock time they were taken.
///
/// Taken under the snapshot's lock and before the mode pins its state, so every commit the
/// image lacks came after them: such a commit changes them, unless it fell in the same tick of
/// the filesystem's clock, which `stampedAtNanoseconds` lets the caller rule out (docs/IMAGE.md,
/// "Unchanged files").
package struct SourceStamp: Sendable, Equatable {
    package var state: FileState
    /// CLOCK_REALTIME when the facts were taken.
    package var stampedAtNanoseconds: Int64
}

/// Which file a name meant when it was listed.
package struct FileIdentity: Sendable, Equatable {
    package var device: UInt64
    package var inode: UInt64
    package init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// How a snapshot behaves; defaults fit a live mail server.
package struct ImageOptions: Sendable {
    /// Page size to use when neither the plaintext header nor a WAL says (SQLCipher in
    /// rollback mode); default 1024, SQLCipher 3's.
    package var pageSize: Int?
    /// How long to keep retrying while writers hold locks or files change (milliseconds).
    package var retryTimeoutMilliseconds: Int = 10_000
    /// The longest time SQLite's SHARED lock may be held in rollback mode (milliseconds):
    /// writers cannot commit meanwhile. Reading the image past it fails with
    /// `image.lock-hold-exceeded`.
    package var maxSharedLockMilliseconds: Int = 10_000
    /// How many times a file that is not SQLite is copied again when it changes meanwhile.
    package var stabilityAttempts: Int = 3
    /// Block size for files that are not SQLite.
    package var otherFileBlockSize: Int = 65_536
    /// The mail store's folder: below it, every folder on the way to the mailbox is opened
    /// with `O_NOFOLLOW` (the store's contents are the mail server account's, not drctl's).
    package var storeRoot: String?
    /// The (device, inode) the mailbox had when the store was listed: another file found under
    /// its name is not backed up in its place.
    package var expectedIdentity: FileIdentity?

    package init() {}
}
