import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// SQLite's lock bytes on the database file (os.h): PENDING at 1 GiB, RESERVED after it,
/// then the 510-byte SHARED range.
enum DatabaseLocks {
    static let pending: Int64 = 0x4000_0000
    static let reserved: Int64 = pending + 1
    static let sharedFirst: Int64 = pending + 2
    static let sharedSize: Int64 = 510
}

/// The files, locks and page map of one snapshot attempt.
///
/// Every lock is an OFD lock on the one descriptor drctl holds for its file; `release()`
/// unlocks and closes them all and runs on every path (and `deinit` closes whatever is left).
final class SnapshotSession {
    let database: SystemFile
    private(set) var metadata: SnapshotMetadata
    private var wal: SystemFile?
    private var journal: SystemFile?
    private var walIndex: WalIndex?
    private var pinnedSlot: Int?
    private var holdsDeadManSwitchExclusive = false
    private var holdsShared = false
    private var pageOffsets: [UInt32: Int64] = [:]
    private var overlayFromJournal = false
    private var initialStamp: FileStamp
    private var walStampBefore: FileStamp?
    private var shmExistedBefore = true
    private var lockDeadline: UInt64?
    private var released = false
    private var finished = false

    private init(database: SystemFile, metadata: SnapshotMetadata, stamp: FileStamp) {
        self.database = database
        self.metadata = metadata
        self.initialStamp = stamp
    }

    deinit {
        release()
    }

    // MARK: opening

    static func open(path: String, options: SnapshotOptions) throws(SnapshotError) -> SnapshotSession {
        let database = try SystemFile.open(path)
        let stamp = try database.stamp()
        var info = stat()
        if fstat(database.fd, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            throw SnapshotError(.imageNotRegular, message: "\(path) is not a regular file; give the path of a mailbox database file")
        }
        let header = DatabaseHeader(try database.readBytes(count: 100, at: 0))
        let metadata = SnapshotMetadata(
            path: path, mode: .notSQLite, cipher: header.cipher, pageSize: options.otherFileBlockSize,
            pageCount: 0, imageSize: 0, reservedBytes: header.reservedBytes,
            consistency: ConsistencyPoint(hotJournalApplied: false), overlaidPages: 0, pageSizeSource: "default")
        let session = SnapshotSession(database: database, metadata: metadata, stamp: stamp)
        if header.looksLikeOtherFormat {
            try session.prepareOtherFile(options: options)
            return session
        }
        let walPath = path + "-wal"
        let shmPath = path + "-shm"
        let isWal: Bool
        if let walMode = header.walMode {
            isWal = walMode
        } else {
            let walExists = try stampOfPath(walPath) != nil
            let shmExists = try stampOfPath(shmPath) != nil
            isWal = walExists || shmExists
        }
        if isWal {
            try session.prepareWal(header: header, options: options)
        } else {
            try session.prepareRollback(header: header, options: options)
        }
        return session
    }

    private var path: String { metadata.path }

    // MARK: locks on the database file

    /// Takes SQLite's SHARED lock the way the unix VFS does (PENDING read lock first, so a
    /// writer waiting for EXCLUSIVE is not starved); transient error while a writer commits.
    private func takeSharedLock() throws(SnapshotError) {
        guard try database.tryLock(.shared, start: DatabaseLocks.pending) else {
            throw busy("a writer is committing (PENDING lock held)")
        }
        defer { database.unlock(start: DatabaseLocks.pending) }
        guard try database.tryLock(.shared, start: DatabaseLocks.sharedFirst, length: DatabaseLocks.sharedSize) else {
            throw busy("a writer holds the EXCLUSIVE lock")
        }
        holdsShared = true
    }

    private func busy(_ why: String) -> SnapshotError {
        SnapshotError(.imageBusy, message: "\(path): \(why); retry later, or raise the retry timeout", isTransient: true)
    }

    // MARK: WAL mode

    private func prepareWal(header: DatabaseHeader, options: SnapshotOptions) throws(SnapshotError) {
        let shmPath = path + "-shm"
        try takeSharedLock()
        let shm: SystemFile?
        do {
            shm = try SystemFile.openIfPresent(shmPath, writable: true)
        } catch {
            if error.code == .imagePermission {
                throw SnapshotError(.imagePermission, message: "\(shmPath): cannot open for reading and writing (\(errnoDescription(error.errnoValue ?? EACCES))); drctl places a read mark in the -shm as every SQLite reader does, so it needs the same access as the mail server (run it as that user)",
                                    context: ErrorContext(file: shmPath), underlying: error.underlying)
            }
            throw error
        }
        guard let shm else {
            shmExistedBefore = false
            try prepareWalOffline(header: header, options: options)
            return
        }
        guard try shm.tryLock(.shared, start: WalIndexLayout.deadManSwitch) else {
            throw busy("a connection is opening the database and rebuilding its wal-index (\(shmPath))")
        }
        if try shm.isLockedByOthers(.exclusive, start: WalIndexLayout.deadManSwitch) {
            walIndex = try WalIndex(file: shm)
            try prepareWalLive(header: header, options: options)
        } else {
            // Nobody connected: the -shm may be stale. Lock it as the first connection would,
            // so no connection can start (and trust it, or rebuild it) while we read.
            shm.unlock(start: WalIndexLayout.deadManSwitch)
            guard try shm.tryLock(.exclusive, start: WalIndexLayout.deadManSwitch) else {
                throw busy("a connection opened the database just now")
            }
            holdsDeadManSwitchExclusive = true
            walIndex = nil
            self.shmFile = shm
            try prepareWalOffline(header: header, options: options)
        }
    }

    private var shmFile: SystemFile?

    private func prepareWalLive(header: DatabaseHeader, options: SnapshotOptions) throws(SnapshotError) {
        guard let index = walIndex else { return }
        let shmPath = index.file.path
        // Pin: find or install a read mark equal to mxFrame, hold READ(i) shared, re-check.
        var pinned: (slot: Int, header: WalIndexHeader)?
        for _ in 0..<200 {
            guard let current = index.readHeader() else {
                sleepMicroseconds(200)
                continue
            }
            var slot: Int?
            for i in 1..<WalIndexLayout.readerSlots where index.readMark(i) == current.mxFrame {
                slot = i
                break
            }
            if slot == nil {
                for i in 1..<WalIndexLayout.readerSlots {
                    if try index.file.tryLock(.exclusive, start: WalIndexLayout.readLock(i)) {
                        index.setReadMark(i, current.mxFrame)
                        index.file.unlock(start: WalIndexLayout.readLock(i))
                        slot = i
                        break
                    }
                }
            }
            guard let chosen = slot else {
                sleepMicroseconds(1_000)
                continue
            }
            guard try index.file.tryLock(.shared, start: WalIndexLayout.readLock(chosen)) else {
                continue
            }
            if index.readMark(chosen) == current.mxFrame, let again = index.readHeader(), again == current {
                pinned = (chosen, current)
                break
            }
            index.file.unlock(start: WalIndexLayout.readLock(chosen))
        }
        guard let pinned else {
            throw SnapshotError(.imageBusy, message: "\(shmPath): could not pin a read mark (all reader slots busy, or the wal-index header keeps changing); retry later",
                                isTransient: true)
        }
        pinnedSlot = pinned.slot
        let indexHeader = pinned.header
        if let headerPageSize = header.pageSize, headerPageSize != indexHeader.pageSize {
            throw inconsistentShm(shmPath, "page size \(indexHeader.pageSize) differs from the database header's \(headerPageSize)")
        }
        metadata.mode = .walLive
        metadata.pageSize = indexHeader.pageSize
        metadata.pageSizeSource = header.pageSize != nil ? "header" : "shm"
        let databasePages = try database.size() / Int64(indexHeader.pageSize)
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        consistency.walFrame = indexHeader.mxFrame
        if indexHeader.mxFrame == 0 {
            try checkWholePages(pageSize: indexHeader.pageSize)
            metadata.pageCount = Int(databasePages)
        } else {
            let walPath = path + "-wal"
            guard let wal = try SystemFile.openIfPresent(walPath) else {
                throw inconsistentShm(shmPath, "it names \(indexHeader.mxFrame) committed WAL frames, but \(walPath) does not exist")
            }
            self.wal = wal
            guard let walHeader = WalHeader(try wal.readBytes(count: WalHeader.size, at: 0)) else {
                throw inconsistentShm(shmPath, "it names \(indexHeader.mxFrame) committed WAL frames, but \(walPath) has no valid header")
            }
            let shmSalt1 = UInt32(bigEndian: indexHeader.salt1Raw)
            let shmSalt2 = UInt32(bigEndian: indexHeader.salt2Raw)
            guard walHeader.salt1 == shmSalt1, walHeader.salt2 == shmSalt2,
                  walHeader.pageSize == indexHeader.pageSize else {
                throw inconsistentShm(shmPath, "its salts or page size do not match the header of \(walPath)")
            }
            let scan = try WalScanner.scan(wal: wal, header: walHeader, mode: .pinned(mxFrame: indexHeader.mxFrame))
            guard scan.checksumAtCommit == indexHeader.frameChecksum else {
                throw inconsistentShm(shmPath, "the checksum it records for frame \(indexHeader.mxFrame) differs from the one computed over \(walPath)")
            }
            pageOffsets = scan.pageOffsets
            metadata.pageCount = Int(scan.databasePages)
            consistency.walSalt1 = walHeader.salt1
            consistency.walSalt2 = walHeader.salt2
            consistency.checkpointSequence = walHeader.checkpointSequence
            try checkCoverage(databasePages: databasePages)
        }
        metadata.consistency = consistency
        finishMetadata()
    }

    private func prepareWalOffline(header: DatabaseHeader, options: SnapshotOptions) throws(SnapshotError) {
        let walPath = path + "-wal"
        metadata.mode = .walOffline
        walStampBefore = try stampOfPath(walPath)
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        var walHeader: WalHeader?
        if let wal = try SystemFile.openIfPresent(walPath) {
            self.wal = wal
            walHeader = WalHeader(try wal.readBytes(count: WalHeader.size, at: 0))
        }
        let pageSize: Int
        if let headerPageSize = header.pageSize {
            pageSize = headerPageSize
            metadata.pageSizeSource = "header"
            if let walHeader, walHeader.pageSize != headerPageSize {
                throw SnapshotError(.imageWalPageSize, message: "\(walPath): WAL page size \(walHeader.pageSize) differs from the database's \(headerPageSize); the WAL does not belong to this database. Open the mailbox with its key or restore it from a backup")
            }
        } else if let walHeader {
            pageSize = walHeader.pageSize
            metadata.pageSizeSource = "wal"
        } else {
            (pageSize, metadata.pageSizeSource) = Self.fallbackPageSize(header, options)
        }
        metadata.pageSize = pageSize
        try checkWholePages(pageSize: pageSize)
        let databasePages = try database.size() / Int64(pageSize)
        metadata.pageCount = Int(databasePages)
        if let wal, let walHeader {
            let scan = try WalScanner.scan(wal: wal, header: walHeader, mode: .recovery)
            if scan.lastCommitFrame > 0 {
                pageOffsets = scan.pageOffsets
                metadata.pageCount = Int(scan.databasePages)
                consistency.walFrame = scan.lastCommitFrame
                consistency.walSalt1 = walHeader.salt1
                consistency.walSalt2 = walHeader.salt2
                consistency.checkpointSequence = walHeader.checkpointSequence
                try checkCoverage(databasePages: databasePages)
            } else {
                consistency.walFrame = 0
            }
        }
        metadata.consistency = consistency
        finishMetadata()
    }

    // MARK: rollback-journal mode

    private func prepareRollback(header: DatabaseHeader, options: SnapshotOptions) throws(SnapshotError) {
        try takeSharedLock()
        lockDeadline = monotonicNanoseconds() + UInt64(max(0, options.maxSharedLockMilliseconds)) * 1_000_000
        metadata.mode = .rollback
        walStampBefore = try stampOfPath(path + "-wal")
        let fileSize = try database.size()
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        consistency.changeCounter = header.changeCounter
        consistency.fileSize = fileSize
        consistency.modificationTimeNanoseconds = Int64(initialStamp.mtimeSeconds) * 1_000_000_000 + Int64(initialStamp.mtimeNanoseconds)

        var pageSize: Int
        if let headerPageSize = header.pageSize {
            pageSize = headerPageSize
            metadata.pageSizeSource = "header"
        } else {
            (pageSize, metadata.pageSizeSource) = Self.fallbackPageSize(header, options)
        }

        // A hot journal: left by a writer that died mid-transaction. SQLite would roll it back
        // on the next open with the key; drctl applies its original pages to the image only.
        let journalPath = path + "-journal"
        if let journal = try SystemFile.openIfPresent(journalPath), fileSize > 0 {
            let journalSize = try journal.size()
            let first = try journal.readBytes(count: 28, at: 0)
            let reservedHeld = try database.isLockedByOthers(.exclusive, start: DatabaseLocks.reserved)
            if journalSize > 0, !reservedHeld, let firstByte = first.first, firstByte != 0 {
                if let journalHeader = JournalHeader(first) {
                    if header.pageSize != nil && journalHeader.pageSize != pageSize {
                        throw SnapshotError(.imageJournalPageSize, message: "\(journalPath): hot journal page size \(journalHeader.pageSize) differs from the database's \(pageSize); open the mailbox with its key or restore it from a backup")
                    }
                    if header.pageSize == nil {
                        pageSize = journalHeader.pageSize
                        metadata.pageSizeSource = "journal"
                    }
                    metadata.pageSize = pageSize
                    try applyHotJournal(journal, first: journalHeader, size: journalSize)
                    consistency.hotJournalApplied = true
                    consistency.changeCounter = nil
                    self.journal = journal
                }
            }
        }
        metadata.pageSize = pageSize
        try checkWholePages(pageSize: pageSize)
        let databasePages = fileSize / Int64(pageSize)
        if consistency.hotJournalApplied {
            try checkCoverage(databasePages: databasePages)
        } else {
            metadata.pageCount = Int(databasePages)
            if let headerPages = header.headerPageCount, Int64(headerPages) > databasePages {
                throw truncated("its header records \(headerPages) pages but the file holds \(databasePages)")
            }
        }
        metadata.consistency = consistency
        finishMetadata()
    }

    /// Records the original pages of a hot journal (first record of each page wins), across
    /// all journal segments; only whole records within each header's record count are used.
    private func applyHotJournal(_ journal: SystemFile, first: JournalHeader, size: Int64) throws(SnapshotError) {
        let pageSize = first.pageSize
        let recordSize = Int64(4 + pageSize + 4)
        let sector = Int64(first.sectorSize)
        var headerOffset: Int64 = 0
        var header = first
        var offsets: [UInt32: Int64] = [:]
        while true {
            let recordsStart = headerOffset + sector
            let available = max(0, (size - recordsStart) / recordSize)
            let count = header.recordCount == 0xffff_ffff ? available : min(Int64(header.recordCount), available)
            var record: Int64 = 0
            while record < count {
                let at = recordsStart + record * recordSize
                let number = try journal.readBytes(count: 4, at: at)
                guard number.count == 4 else { break }
                let page = bigEndianUInt32(number, 0)
                if page != 0 && page <= first.originalPages && offsets[page] == nil {
                    offsets[page] = at + 4
                }
                record += 1
            }
            if header.recordCount == 0 || header.recordCount == 0xffff_ffff { break }
            let end = recordsStart + count * recordSize
            headerOffset = (end + sector - 1) / sector * sector
            guard headerOffset < size,
                  let next = JournalHeader(try journal.readBytes(count: 28, at: headerOffset)),
                  next.pageSize == pageSize else { break }
            header = next
        }
        pageOffsets = offsets
        overlayFromJournal = true
        metadata.pageCount = Int(first.originalPages)
    }

    // MARK: other files

    private func prepareOtherFile(options: SnapshotOptions) throws(SnapshotError) {
        let size = initialStamp.size
        let block = max(512, options.otherFileBlockSize)
        metadata.mode = .notSQLite
        metadata.pageSize = block
        metadata.pageSizeSource = "default"
        metadata.pageCount = Int((size + Int64(block) - 1) / Int64(block))
        metadata.imageSize = size
        metadata.reservedBytes = nil
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        consistency.fileSize = size
        consistency.modificationTimeNanoseconds = Int64(initialStamp.mtimeSeconds) * 1_000_000_000 + Int64(initialStamp.mtimeNanoseconds)
        metadata.consistency = consistency
    }

    // MARK: shared checks

    private static func fallbackPageSize(_ header: DatabaseHeader, _ options: SnapshotOptions) -> (Int, String) {
        if let configured = options.pageSize { return (configured, "configuration") }
        return (1024, "default")
    }

    private func finishMetadata() {
        metadata.imageSize = Int64(metadata.pageCount) * Int64(metadata.pageSize)
        metadata.overlaidPages = pageOffsets.keys.filter { Int($0) <= metadata.pageCount }.count
    }

    private func checkWholePages(pageSize: Int) throws(SnapshotError) {
        let size = try database.size()
        if size % Int64(pageSize) != 0 {
            throw truncated("its size (\(size) bytes) is not a whole number of \(pageSize)-byte pages")
        }
    }

    /// Every page of the image that is not overlaid must be in the database file.
    private func checkCoverage(databasePages: Int64) throws(SnapshotError) {
        guard Int64(metadata.pageCount) > databasePages else { return }
        var page = databasePages + 1
        while page <= Int64(metadata.pageCount) {
            if pageOffsets[UInt32(page)] == nil {
                throw truncated("page \(page) of the committed state is neither in the file (\(databasePages) pages) nor in the \(overlayFromJournal ? "journal" : "WAL")")
            }
            page += 1
        }
    }

    private func truncated(_ why: String) -> SnapshotError {
        SnapshotError(.imageDbTruncated, message: "\(path): the database is truncated: \(why). Restore this mailbox from a backup (drctl did not change it)")
    }

    private func inconsistentShm(_ shmPath: String, _ why: String) -> SnapshotError {
        SnapshotError(.imageShmInconsistent, message: "\(shmPath): the wal-index does not match the WAL: \(why). Nothing was changed; open the mailbox with its key so SQLite rebuilds the index, or restore it from a backup")
    }

    // MARK: reading

    func overlay(_ page: UInt32) -> (SystemFile, Int64)? {
        guard let offset = pageOffsets[page] else { return nil }
        guard let file = overlayFromJournal ? journal : wal else { return nil }
        return (file, offset)
    }

    func checkReadable() throws(SnapshotError) {
        if released {
            throw SnapshotError(.imageReleased, message: "\(path): the image was read after its snapshot was released (outside the withConsistentImage closure)")
        }
        if let lockDeadline, monotonicNanoseconds() > lockDeadline {
            throw SnapshotError(.imageLockHoldExceeded, message: "\(path): the image was not read within the \(metadata.mode == .rollback ? "SHARED-lock" : "lock") bound, so the lock was given up to let writers commit; raise the bound (--max-lock-hold-ms) or consume the image faster")
        }
    }

    func shortRead(file: SystemFile, page: Int) -> SnapshotError {
        if metadata.mode == .notSQLite {
            return unstable("it shrank while being copied")
        }
        return SnapshotError(.imageDbTruncated, message: "\(file.path): page \(page) is missing (the file ends early) although the snapshot pins it; the file was truncated by something other than SQLite. Restore this mailbox from a backup")
    }

    private func unstable(_ why: String) -> SnapshotError {
        SnapshotError(.imageUnstable, message: "\(path): \(why), so the copy may be torn; retry when the file is quiet", isTransient: true)
    }

    /// Checks that what could not be locked did not change, then releases everything.
    /// Runs at the end of the image and after the closure; idempotent.
    func finish() throws(SnapshotError) {
        guard !finished else { return }
        defer { release() }
        guard let now = try stampOfPath(path) else {
            finished = true
            throw SnapshotError(.imageVanished, message: "\(path): the file was removed or renamed while it was being copied; the copy was discarded. Check who removes mailboxes, then retry")
        }
        if !now.sameFile(as: initialStamp) {
            throw SnapshotError(.imageReplaced, message: "\(path): the file was replaced by another one while it was being copied; retrying with the new file",
                                isTransient: true)
        }
        switch metadata.mode {
        case .notSQLite:
            let current = try database.stamp()
            if current != initialStamp {
                throw unstable("it changed (size, modification time or inode) while being copied")
            }
        case .rollback:
            // Under SHARED no rollback writer can commit. A change means a WAL-mode connection
            // (not visible in an encrypted header) wrote it: retry, which will see the WAL.
            let current = try database.stamp()
            let walAppeared = try stampOfPath(path + "-wal") != nil && walStampBefore == nil
            if current.size != initialStamp.size || current.mtimeSeconds != initialStamp.mtimeSeconds
                || current.mtimeNanoseconds != initialStamp.mtimeNanoseconds || walAppeared {
                throw unstable("it changed under the SHARED lock (a WAL-mode connection started)")
            }
        case .walOffline:
            if !shmExistedBefore, try stampOfPath(path + "-shm") != nil {
                throw unstable("a connection opened it while the WAL was being read")
            }
        case .walLive:
            break
        }
        finished = true
    }

    /// Unlocks and closes everything (the read mark value itself stays, as a reader leaves it).
    func release() {
        guard !released else { return }
        released = true
        if let walIndex {
            if let pinnedSlot {
                walIndex.file.unlock(start: WalIndexLayout.readLock(pinnedSlot))
            }
            walIndex.file.unlock(start: WalIndexLayout.deadManSwitch)
            walIndex.file.close()
        }
        if let shmFile {
            if holdsDeadManSwitchExclusive {
                shmFile.unlock(start: WalIndexLayout.deadManSwitch)
            }
            shmFile.close()
        }
        if holdsShared {
            database.unlock(start: DatabaseLocks.sharedFirst, length: DatabaseLocks.sharedSize)
        }
        database.close()
        wal?.close()
        journal?.close()
        walIndex = nil
        shmFile = nil
    }
}
