package import DRBase

/// One target's object storage: a flat namespace of immutable objects under the target's
/// prefix (`config`, `keys/<id>`, `data/<xx>/<id>`, …).
///
/// Every target of a repository is complete on its own; the repository layer writes the same
/// objects to each. Implementations: `FileObjectStore` (a local or NFS folder) and, later,
/// the S3 client. Calls block; callers run them on their own tasks or threads.
package protocol ObjectStore: Sendable {
    /// The target's name from the configuration, used in every message.
    var targetName: String { get }
    /// A human-readable location (`file:///…`, `s3://…`) for messages.
    var location: String { get }

    /// Stores an object durably. With `ifAbsent`, fails with `transport.exists` instead of
    /// replacing an existing object (the write-once rule of config and keys).
    func put(_ key: String, _ bytes: [UInt8], ifAbsent: Bool) throws(TransportError)
    /// Reads a whole object of at most `maxBytes`; `transport.not-found` when it does not
    /// exist, `transport.too-large` when it is larger (nothing is allocated for it then).
    func get(_ key: String, maxBytes: Int64) throws(TransportError) -> [UInt8]
    /// Reads `length` bytes from `offset` (fewer at the object's end).
    func get(_ key: String, offset: Int64, length: Int) throws(TransportError) -> [UInt8]
    /// Reads up to `buffer.count` bytes from `offset` into `buffer` (fewer at the object's
    /// end) and returns how many: a reader that keeps one buffer for every request (restore)
    /// then maps and faults in no fresh memory per request, as `get` would.
    func read(_ key: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int
    /// Whether an object exists.
    func exists(_ key: String) throws(TransportError) -> Bool
    /// Keys of all objects whose key starts with `prefix`, sorted.
    func list(prefix: String) throws(TransportError) -> [String]
    /// The same, with each object's size in bytes (one listing, no object read).
    func listSizes(prefix: String) throws(TransportError) -> [String: Int64]
    /// Deletes an object; deleting a missing object is not an error (idempotent retries).
    func delete(_ key: String) throws(TransportError)

    /// Leftovers of writes that never completed (the writer was killed): temporary files of a
    /// folder target, incomplete multipart uploads of S3. Never visible as objects.
    func incompleteWrites() throws(TransportError) -> [IncompleteWrite]
    /// Removes one leftover found by `incompleteWrites()`.
    func removeIncompleteWrite(_ write: IncompleteWrite) throws(TransportError)

    /// Uploads worth having in flight at once to this target (its `concurrency` for S3: a
    /// distant target needs several to fill its link; a folder needs one or two).
    var uploadConcurrency: Int { get }

    /// Starts a write-once object that arrives in pieces, or nil when this target takes only
    /// whole objects (S3: a PUT needs its body's length and hash up front). A folder target
    /// writes each piece as it comes, so a backup never holds a whole pack in memory for it.
    /// The object appears under `key` only at `commit`, whole, exactly as `put(ifAbsent:)`
    /// would store it; an upload dropped uncommitted leaves nothing but what
    /// `incompleteWrites()` finds after a kill.
    func beginPut(_ key: String) throws(TransportError) -> (any ObjectUpload)?
    /// Whether `beginPut` gives uploads (asked before a backup chooses how to write packs).
    var takesPieces: Bool { get }

    /// A hint that `length` bytes of `key` from `offset` on (`nil`: to the end) will be read
    /// soon. A folder starts reading them into the page cache now (POSIX_FADV_WILLNEED), so
    /// that the disk works while the caller is still busy with the bytes before; stores with
    /// nothing to gain ignore it. Never fails: a missing object is reported by the read.
    func prefetch(_ key: String, offset: Int64, length: Int64?)
}

/// A write-once object arriving in pieces (`ObjectStore.beginPut`). Used by one thread at a
/// time; `commit` or `abandon` ends it (dropping it uncommitted abandons it).
package protocol ObjectUpload: AnyObject {
    /// Bytes appended so far.
    var size: Int64 { get }
    /// Appends `bytes`. Whole blocks of the file system's direct-I/O alignment, in memory
    /// aligned to it (a backup's 4 MiB pieces), go to a folder on a block device with no copy
    /// (`AtomicFile`'s direct writes).
    func append(_ bytes: UnsafeRawBufferPointer) throws(TransportError)
    /// Makes the object durable and visible under its key; `transport.exists` if the key is
    /// taken (the existing object is left as it was).
    func commit() throws(TransportError)
    /// Drops what was written; the key is untouched.
    func abandon()
}

extension ObjectStore {
    package var uploadConcurrency: Int { 1 }

    /// Whole objects only, unless the store says otherwise.
    package func beginPut(_ key: String) throws(TransportError) -> (any ObjectUpload)? { nil }
    package var takesPieces: Bool { false }

    /// Nothing to start early, unless the store says otherwise (S3: a GET is the read).
    package func prefetch(_ key: String, offset: Int64, length: Int64?) {}

    /// For stores with no read of their own (UnavailableStore, which throws anyway): `get`,
    /// copied. Folders read with pread and S3 writes the response body into the buffer.
    package func read(_ key: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        let bytes = try get(key, offset: offset, length: buffer.count)
        let count = min(bytes.count, buffer.count)
        bytes.withUnsafeBytes { source in
            if count > 0 { buffer.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: count) }
        }
        return count
    }

    /// Reads a whole object, bounded by what its kind may hold (`ObjectSizeLimit`).
    package func get(_ key: String) throws(TransportError) -> [UInt8] {
        try get(key, maxBytes: ObjectSizeLimit.maximum(for: key))
    }
}

/// The largest object drctl reads whole, by kind. Anything that can write to a target can
/// plant an object, and every command reads `config` and `keys/`: a 100 GiB or endless
/// "key object" must be refused before memory is allocated for it, not after.
package enum ObjectSizeLimit {
    /// `config` and key objects are a few hundred bytes.
    package static let small: Int64 = 1 << 20
    /// Pack offsets are 32-bit (docs/REPOSITORY.md), so no honest pack is larger.
    package static let pack: Int64 = 1 << 32
    /// Manifests no longer grow with the store (the list is in packs); 1 GiB is far beyond them.
    package static let large: Int64 = 1 << 30

    package static func maximum(for key: String) -> Int64 {
        if key == "config" || key.hasPrefix("keys/") { return small }
        if key.hasPrefix("data/") { return pack }
        return large
    }
}

/// A write that was started and never published.
package struct IncompleteWrite: Sendable, Equatable {
    /// Where it is, for messages and for removal.
    package var name: String
    package var size: Int64
    /// Seconds since it was last written to.
    package var ageSeconds: Int64

    package init(name: String, size: Int64, ageSeconds: Int64) {
        self.name = name
        self.size = size
        self.ageSeconds = ageSeconds
    }
}

/// Errors talking to a target. Messages name the target and the object; so does `context`.
package enum TransportDomain: ErrorDomain {}
package typealias TransportError = DomainError<TransportDomain>

/// What kind of failure a transport error was, for callers that decide by it (an object that
/// exists already is the write-once rule working; a missing one may be expected). Derived from
/// the code, so it cannot disagree with it.
package enum TransportErrorKind: Sendable, Equatable {
    case notFound, exists, io, permission, noSpace, invalidKey, notAFile, tooLarge
}

extension DomainError where Domain == TransportDomain {
    package var kind: TransportErrorKind {
        switch code {
        case .transportNotFound: .notFound
        case .transportExists: .exists
        case .transportPermission: .permission
        case .transportNoSpace: .noSpace
        case .transportInvalidKey: .invalidKey
        case .transportNotAFile: .notAFile
        case .transportTooLarge: .tooLarge
        default: .io
        }
    }
}
