import DRBase
/// wal-live: a connection holds the dead-man switch, so the `-shm` is current and trusted.
///
/// The read mark pinned in it keeps checkpoints from backfilling past the image's last frame
/// and the WAL from being restarted or truncated while the image is read; backfill up to it
/// only writes pages the image takes from the WAL anyway.
final class WalLivePin {
    private let shared: SharedLock
    private let deadManSwitch: DeadManSwitch
    private let readMark: ReadMarkLock
    /// The pinned frames; nil when mxFrame is 0 and the image is the database file alone.
    let overlay: PageOverlay?

    private init(shared: SharedLock, deadManSwitch: DeadManSwitch, readMark: ReadMarkLock, overlay: PageOverlay?) {
        self.shared = shared
        self.deadManSwitch = deadManSwitch
        self.readMark = readMark
        self.overlay = overlay
    }

    /// Pins a read mark, then validates the pinned WAL prefix against the `-shm` without the
    /// key. The caller holds SHARED on the database and DMS as a reader through `index.file`.
    static func prepare(shared: SharedLock, deadManSwitch: DeadManSwitch, index: WalIndex,
                        _ preparation: inout ImagePreparation) throws(ImageError) -> WalLivePin {
        let shmPath = index.file.path
        let header = preparation.header
        let readMark = try ReadMarkLock.pin(in: index)
        let indexHeader = readMark.header
        if let headerPageSize = header.pageSize, headerPageSize != indexHeader.pageSize {
            throw ImageError.inconsistentShm(shmPath, "page size \(indexHeader.pageSize) differs from the database header's \(headerPageSize)")
        }
        preparation.metadata.mode = .walLive
        preparation.metadata.pageSize = indexHeader.pageSize
        preparation.metadata.pageSizeSource = header.pageSize != nil ? "header" : "shm"
        let databasePages = try preparation.database.size() / Int64(indexHeader.pageSize)
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        consistency.walFrame = indexHeader.mxFrame
        var overlay: PageOverlay?
        if indexHeader.mxFrame == 0 {
            try preparation.checkWholePages(pageSize: indexHeader.pageSize)
            preparation.metadata.pageCount = Int(databasePages)
        } else {
            let walPath = preparation.companionPath("-wal")
            guard let wal = try SystemFile.openIfPresent(preparation.companion("-wal"), in: preparation.folder) else {
                throw ImageError.inconsistentShm(shmPath, "it names \(indexHeader.mxFrame) committed WAL frames, but \(walPath) does not exist")
            }
            guard let walHeader = WalHeader(try wal.readBytes(count: WalHeader.size, at: 0)) else {
                throw ImageError.inconsistentShm(shmPath, "it names \(indexHeader.mxFrame) committed WAL frames, but \(walPath) has no valid header")
            }
            let shmSalt1 = UInt32(bigEndian: indexHeader.salt1Raw)
            let shmSalt2 = UInt32(bigEndian: indexHeader.salt2Raw)
            guard walHeader.salt1 == shmSalt1, walHeader.salt2 == shmSalt2,
                  walHeader.pageSize == indexHeader.pageSize else {
                throw ImageError.inconsistentShm(shmPath, "its salts or page size do not match the header of \(walPath)")
            }
            let scan = try WalScanner.scan(wal: wal, header: walHeader, mode: .pinned(mxFrame: indexHeader.mxFrame))
            guard scan.checksumAtCommit == indexHeader.frameChecksum else {
                throw ImageError.inconsistentShm(shmPath, "the checksum it records for frame \(indexHeader.mxFrame) differs from the one computed over \(walPath)")
            }
            overlay = PageOverlay(file: wal, offsets: scan.pageOffsets)
            preparation.metadata.pageCount = Int(scan.databasePages)
            consistency.walSalt1 = walHeader.salt1
            consistency.walSalt2 = walHeader.salt2
            consistency.checkpointSequence = walHeader.checkpointSequence
            try preparation.checkCoverage(databasePages: databasePages, overlay: scan.pageOffsets, from: "WAL")
        }
        preparation.metadata.consistency = consistency
        preparation.finishMetadata(overlay: overlay?.offsets ?? [:])
        return WalLivePin(shared: shared, deadManSwitch: deadManSwitch, readMark: readMark, overlay: overlay)
    }

    /// READ(i), then DMS with the `-shm` descriptor, then SHARED: the reverse of taking them.
    /// The read mark's value stays, as a reader leaves it.
    func release() {
        readMark.release()
        deadManSwitch.release()
        shared.release()
        overlay?.file.close()
    }
}

/// READ(slot) in the `-shm`, held as a reader on a read mark equal to the pinned mxFrame, as
/// SQLite's walTryBeginRead leaves it.
final class ReadMarkLock {
    let slot: Int
    /// The wal-index header the mark was pinned for, re-checked once READ(slot) was held.
    let header: WalIndexHeader
    /// Dropped on release.
    private var index: WalIndex?

    private init(index: WalIndex, slot: Int, header: WalIndexHeader) {
        self.index = index
        self.slot = slot
        self.header = header
    }

    /// A preparation that fails drops its owners without calling `release()`.
    deinit {
        release()
    }

    /// Finds or installs a read mark equal to mxFrame, holds READ(i) shared, then re-checks
    /// that the mark and the header did not change meanwhile (else tries again).
    static func pin(in index: WalIndex) throws(ImageError) -> ReadMarkLock {
        for _ in 0..<200 {
            guard let current = try index.readHeader() else {
                sleepMicroseconds(200)
                continue
            }
            var slot: Int?
            for i in 1..<WalIndexLayout.readerSlots where try index.readMark(i) == current.mxFrame {
                slot = i
                break
            }
            if slot == nil {
                for i in 1..<WalIndexLayout.readerSlots {
                    if try index.file.tryLock(.exclusive, start: WalIndexLayout.readLock(i)) {
                        try index.setReadMark(i, current.mxFrame)
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
            if try index.readMark(chosen) == current.mxFrame, let again = try index.readHeader(), again == current {
                return ReadMarkLock(index: index, slot: chosen, header: current)
            }
            index.file.unlock(start: WalIndexLayout.readLock(chosen))
        }
        throw ImageError(.imageBusy, message: "\(index.file.path): could not pin a read mark (all reader slots busy, or the wal-index header keeps changing); retry later",
                            isTransient: true)
    }

    func release() {
        guard let index else { return }
        index.file.unlock(start: WalIndexLayout.readLock(slot))
        self.index = nil
    }
}
