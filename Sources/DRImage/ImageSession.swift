import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// How one snapshot attempt keeps its image consistent (docs/IMAGE.md, "Modes").
///
/// Each case owns exactly the locks, descriptors and page map its mode uses, so that a lock
/// exists only in the mode that takes it, and each gives them back in its own `release()`.
enum Pin {
    case walLive(WalLivePin)
    case walOffline(WalOfflinePin)
    case rollback(RollbackPin)
    case plainFile(PlainFilePin)

    var overlay: PageOverlay? {
        switch self {
        case .walLive(let pin): pin.overlay
        case .walOffline(let pin): pin.overlay
        case .rollback(let pin): pin.overlay
        case .plainFile: nil
        }
    }

    /// Checks what the mode could not lock; the file's identity is checked by the session.
    func checkUnchanged(database: SystemFile, initialStamp: FileStamp, folder: StoreFolder, name: String,
                        path: String) throws(ImageError) {
        switch self {
        case .walLive:
            break
        case .walOffline(let pin):
            try pin.checkUnchanged(folder: folder, name: name, path: path)
        case .rollback(let pin):
            try pin.checkUnchanged(database: database, initialStamp: initialStamp, folder: folder, name: name, path: path)
        case .plainFile(let pin):
            try pin.checkUnchanged(database: database, initialStamp: initialStamp, path: path)
        }
    }

    func release() {
        switch self {
        case .walLive(let pin): pin.release()
        case .walOffline(let pin): pin.release()
        case .rollback(let pin): pin.release()
        case .plainFile: break
        }
    }
}

/// Image pages that come from another file than the database: the last committed WAL frame
/// of each page, or the original page images of a hot journal.
struct PageOverlay {
    let file: SystemFile
    /// Page number → offset of the page image in `file`.
    let offsets: [UInt32: Int64]
}

/// The database descriptor, the pin and the metadata of one snapshot attempt.
///
/// Every lock is an OFD lock on the one descriptor drctl holds for its file; `release()`
/// gives back the pin's locks and closes every descriptor, and runs on every path (`deinit`
/// too). A preparation that fails drops what it had taken, and each lock owner releases
/// itself then.
final class ImageSession {
    /// The mailbox's folder, held open so the final check looks at the same folder.
    private let folder: StoreFolder
    private let name: String
    let database: SystemFile
    let metadata: ImageMetadata
    private let initialStamp: FileStamp
    private let pin: Pin
    private var released = false
    private var finished = false

    private init(folder: StoreFolder, name: String, database: SystemFile, metadata: ImageMetadata,
                 initialStamp: FileStamp, pin: Pin) {
        self.folder = folder
        self.name = name
        self.database = database
        self.metadata = metadata
        self.initialStamp = initialStamp
        self.pin = pin
    }

    deinit {
        release()
    }

    // MARK: opening

    static func open(path: String, options: ImageOptions) throws(ImageError) -> ImageSession {
        let (folder, name) = try StoreFolder.open(containing: path, root: options.storeRoot)
        let database = try SystemFile.open(name, in: folder)
        let stamp = try database.stamp()
        if let expected = options.expectedIdentity,
           expected.device != stamp.device || expected.inode != stamp.inode {
            throw ImageError(.imageReplaced, message: "\(path): this is not the file that was listed (another one was put in its place since); it is not backed up in this run. Check who replaces mailboxes; the next run lists the store again",
                             context: ErrorContext(file: path))
        }
        let header = DatabaseHeader(try database.readBytes(count: 100, at: 0))
        let metadata = ImageMetadata(
            path: path, mode: .notSQLite, cipher: header.cipher, pageSize: options.otherFileBlockSize,
            pageCount: 0, imageSize: 0, reservedBytes: header.reservedBytes,
            consistency: ConsistencyPoint(hotJournalApplied: false), overlaidPages: 0, pageSizeSource: "default")
        var preparation = ImagePreparation(folder: folder, name: name, database: database, header: header,
                                           initialStamp: stamp, options: options, metadata: metadata)
        let pin: Pin
        if header.looksLikeOtherFormat {
            try preparation.stampSource()
            pin = .plainFile(PlainFilePin.prepare(&preparation))
        } else if try isWal(header, preparation) {
            pin = try walPin(&preparation)
        } else {
            pin = .rollback(try RollbackPin.prepare(&preparation))
        }
        return ImageSession(folder: folder, name: name, database: database, metadata: preparation.metadata,
                            initialStamp: stamp, pin: pin)
    }

    /// A plaintext header says; an opaque one (SQLCipher) is taken as WAL if a `-wal` or
    /// `-shm` exists.
    private static func isWal(_ header: DatabaseHeader, _ preparation: ImagePreparation) throws(ImageError) -> Bool {
        if let walMode = header.walMode {
            return walMode
        }
        if try preparation.folder.exists(preparation.companion("-wal")) { return true }
        return try preparation.folder.exists(preparation.companion("-shm"))
    }

    /// Takes SHARED, then chooses wal-live or wal-offline by whether a connection holds the
    /// dead-man switch of the `-shm`, and takes that mode's lock on it.
    private static func walPin(_ preparation: inout ImagePreparation) throws(ImageError) -> Pin {
        let path = preparation.path
        let shmPath = preparation.companionPath("-shm")
        let shared = try SharedLock.take(on: preparation.database)
        try preparation.stampSource()
        let shm: SystemFile?
        do {
            shm = try SystemFile.openIfPresent(preparation.companion("-shm"), in: preparation.folder, writable: true)
        } catch {
            if error.code == .imagePermission {
                throw ImageError(.imagePermission, message: "\(shmPath): cannot open for reading and writing (\(errnoDescription(error.errnoValue ?? EACCES))); drctl places a read mark in the -shm as every SQLite reader does, so it needs the same access as the mail server (run it as that user)",
                                    context: ErrorContext(file: shmPath), underlying: error.underlying)
            }
            throw error
        }
        guard let shm else {
            return .walOffline(try WalOfflinePin.prepare(shared: shared, deadManSwitch: nil, &preparation))
        }
        guard try shm.tryLock(.shared, start: WalIndexLayout.deadManSwitch) else {
            throw ImageError.busy(path, "a connection is opening the database and rebuilding its wal-index (\(shmPath))")
        }
        if try shm.isLockedByOthers(.exclusive, start: WalIndexLayout.deadManSwitch) {
            let deadManSwitch = DeadManSwitch(heldThrough: shm)
            let index = try WalIndex(file: shm)
            return .walLive(try WalLivePin.prepare(shared: shared, deadManSwitch: deadManSwitch, index: index, &preparation))
        }
        // Nobody connected: the -shm may be stale. Lock it as the first connection would,
        // so no connection can start (and trust it, or rebuild it) while we read.
        shm.unlock(start: WalIndexLayout.deadManSwitch)
        guard try shm.tryLock(.exclusive, start: WalIndexLayout.deadManSwitch) else {
            throw ImageError.busy(path, "a connection opened the database just now")
        }
        let deadManSwitch = DeadManSwitch(heldThrough: shm)
        return .walOffline(try WalOfflinePin.prepare(shared: shared, deadManSwitch: deadManSwitch, &preparation))
    }

    private var path: String { metadata.path }

    // MARK: reading

    func overlay(_ page: UInt32) -> (SystemFile, Int64)? {
        guard let overlay = pin.overlay, let offset = overlay.offsets[page] else { return nil }
        return (overlay.file, offset)
    }

    func checkReadable() throws(ImageError) {
        if released {
            throw ImageError(.imageReleased, message: "\(path): the image was read after its snapshot was released (outside the withConsistentImage closure)")
        }
        if case .rollback(let rollback) = pin {
            try rollback.checkLockHold(path: path)
        }
    }

    func shortRead(file: SystemFile, page: Int) -> ImageError {
        if case .plainFile = pin {
            return ImageError.unstable(path, "it shrank while being copied")
        }
        return ImageError(.imageDbTruncated, message: "\(file.path): page \(page) is missing (the file ends early) although the snapshot pins it; the file was truncated by something other than SQLite. Restore this mailbox from a backup")
    }

    /// Checks that what could not be locked did not change, then releases everything.
    /// Runs at the end of the image and after the closure; idempotent.
    func finish() throws(ImageError) {
        guard !finished else { return }
        defer { release() }
        guard let now = try folder.stamp(name)?.stamp else {
            finished = true
            throw ImageError(.imageVanished, message: "\(path): the file was removed or renamed while it was being copied; the copy was discarded. Check who removes mailboxes, then retry")
        }
        if !now.sameFile(as: initialStamp) {
            throw ImageError(.imageReplaced, message: "\(path): the file was replaced by another one while it was being copied; retrying with the new file",
                                isTransient: true)
        }
        try pin.checkUnchanged(database: database, initialStamp: initialStamp, folder: folder, name: name, path: path)
        finished = true
    }

    /// The pin's locks and descriptors first, the database descriptor last.
    func release() {
        guard !released else { return }
        released = true
        pin.release()
        database.close()
    }
}
