import DRBase
/// rollback: SQLite's SHARED lock is held while the image is read, so no writer can commit.
///
/// Writers wait meanwhile, so the hold is bounded (`maxSharedLockMilliseconds`). A crashed
/// writer's hot journal is laid over the image, never rolled back in the mailbox.
final class RollbackPin {
    private let shared: SharedLock
    /// Monotonic time after which reading is refused (`snapshot.lock-hold-exceeded`).
    private let lockDeadline: UInt64
    /// The `-wal` before the copy: one that appears means a WAL-mode connection started.
    private let walStampBefore: FileStamp?
    /// The hot journal's original pages; nil when there was no hot journal.
    let overlay: PageOverlay?

    private init(shared: SharedLock, lockDeadline: UInt64, walStampBefore: FileStamp?, overlay: PageOverlay?) {
        self.shared = shared
        self.lockDeadline = lockDeadline
        self.walStampBefore = walStampBefore
        self.overlay = overlay
    }

    static func prepare(_ preparation: inout ImagePreparation) throws(ImageError) -> RollbackPin {
        let database = preparation.database
        let header = preparation.header
        let path = preparation.path
        let shared = try SharedLock.take(on: database)
        try preparation.stampSource()
        let lockDeadline = monotonicNanoseconds() + UInt64(max(0, preparation.options.maxSharedLockMilliseconds)) * 1_000_000
        preparation.metadata.mode = .rollback
        let walStampBefore = try preparation.folder.stamp(preparation.companion("-wal"))?.stamp
        let fileSize = try database.size()
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        consistency.changeCounter = header.changeCounter
        consistency.fileSize = fileSize
        consistency.modificationTimeNanoseconds = preparation.initialModificationTimeNanoseconds

        var pageSize: Int
        if let headerPageSize = header.pageSize {
            pageSize = headerPageSize
            preparation.metadata.pageSizeSource = "header"
        } else {
            (pageSize, preparation.metadata.pageSizeSource) = preparation.fallbackPageSize()
        }

        // A hot journal: left by a writer that died mid-transaction. SQLite would roll it back
        // on the next open with the key; drctl applies its original pages to the image only.
        var hotJournal: PageOverlay?
        let journalPath = preparation.companionPath("-journal")
        if let journal = try SystemFile.openIfPresent(preparation.companion("-journal"), in: preparation.folder), fileSize > 0 {
            let journalSize = try journal.size()
            let first = try journal.readBytes(count: 28, at: 0)
            let reservedHeld = try database.isLockedByOthers(.exclusive, start: DatabaseLocks.reserved)
            if journalSize > 0, !reservedHeld, let firstByte = first.first, firstByte != 0 {
                if let journalHeader = JournalHeader(first) {
                    if header.pageSize != nil && journalHeader.pageSize != pageSize {
                        throw ImageError(.imageJournalPageSize, message: "\(journalPath): hot journal page size \(journalHeader.pageSize) differs from the database's \(pageSize); open the mailbox with its key or restore it from a backup")
                    }
                    if header.pageSize == nil {
                        pageSize = journalHeader.pageSize
                        preparation.metadata.pageSizeSource = "journal"
                    }
                    preparation.metadata.pageSize = pageSize
                    // SQLite3MultipleCiphers encrypts a record's page image below the pager,
                    // after the checksum was taken over the plaintext: without the key its
                    // records cannot be checked. Plain SQLite and SQLCipher sum what is stored.
                    let offsets = try originalPages(in: journal, first: journalHeader, size: journalSize,
                                                    checksummed: header.cipher != .sqlite3mc)
                    preparation.metadata.pageCount = Int(journalHeader.originalPages)
                    hotJournal = PageOverlay(file: journal, offsets: offsets)
                    consistency.hotJournalApplied = true
                    consistency.changeCounter = nil
                }
            }
        }
        preparation.metadata.pageSize = pageSize
        try preparation.checkWholePages(pageSize: pageSize)
        let databasePages = fileSize / Int64(pageSize)
        if let hotJournal {
            try preparation.checkCoverage(databasePages: databasePages, overlay: hotJournal.offsets, from: "journal")
        } else {
            preparation.metadata.pageCount = Int(databasePages)
            if let headerPages = header.headerPageCount, Int64(headerPages) > databasePages {
                throw ImageError.truncated(path, "its header records \(headerPages) pages but the file holds \(databasePages)")
            }
        }
        preparation.metadata.consistency = consistency
        preparation.finishMetadata(overlay: hotJournal?.offsets ?? [:])
        return RollbackPin(shared: shared, lockDeadline: lockDeadline, walStampBefore: walStampBefore, overlay: hotJournal)
    }

    /// Where the original page images of a hot journal are (first record of each page wins),
    /// across all journal segments; only whole records within each header's record count are
    /// used, because SQLite writes the count only after the records are synced.
    private static func originalPages(in journal: SystemFile, first: JournalHeader, size: Int64,
                                      checksummed: Bool) throws(ImageError) -> [UInt32: Int64] {
        let pageSize = first.pageSize
        let recordSize = Int64(4 + pageSize + 4)
        let sector = Int64(first.sectorSize)
        var headerOffset: Int64 = 0
        var header = first
        let lockPage = UInt32(DatabaseLocks.pending / Int64(pageSize) + 1)
        var offsets: [UInt32: Int64] = [:]
        while true {
            let recordsStart = headerOffset + sector
            let available = max(0, (size - recordsStart) / recordSize)
            let count = header.recordCount == 0xffff_ffff ? available : min(Int64(header.recordCount), available)
            var record: Int64 = 0
            while record < count {
                let at = recordsStart + record * recordSize
                let bytes = try journal.readBytes(count: Int(recordSize), at: at)
                guard bytes.count == Int(recordSize) else { break }
                let page = bigEndianUInt32(bytes, 0)
                // pager_playback_one_page: a record whose checksum fails (a writer stopped
                // while syncing it, or a hostile file) or that names page 0 or the lock page
                // ends the playback, and no later record counts: as SQLite's rollback would.
                if page == 0 || page == lockPage
                    || (checksummed && bigEndianUInt32(bytes, 4 + pageSize) != header.checksum(bytes, pageSize: pageSize)) {
                    return offsets
                }
                if page <= first.originalPages && offsets[page] == nil {
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
        return offsets
    }

    func checkLockHold(path: String) throws(ImageError) {
        if monotonicNanoseconds() > lockDeadline {
            throw ImageError(.imageLockHoldExceeded, message: "\(path): the image was not read within the SHARED-lock bound, so the lock was given up to let writers commit; raise the bound (--max-lock-hold-ms) or consume the image faster")
        }
    }

    /// Under SHARED no rollback writer can commit. A change means a WAL-mode connection (not
    /// visible in an encrypted header) wrote it: the retry will see the WAL.
    func checkUnchanged(database: SystemFile, initialStamp: FileStamp, folder: StoreFolder, name: String,
                        path: String) throws(ImageError) {
        let current = try database.stamp()
        let walAppeared = try folder.exists(name + "-wal") && walStampBefore == nil
        if current.size != initialStamp.size || current.mtimeSeconds != initialStamp.mtimeSeconds
            || current.mtimeNanoseconds != initialStamp.mtimeNanoseconds || walAppeared {
            throw ImageError.unstable(path, "it changed under the SHARED lock (a WAL-mode connection started)")
        }
    }

    func release() {
        shared.release()
        overlay?.file.close()
    }
}
