import DRBase
/// wal-offline: nobody is connected, so a `-shm` may be stale and is not read; the WAL is
/// scanned as SQLite's recovery does (the header's salts, a valid checksum chain, up to the
/// last commit frame).
///
/// Holding the dead-man switch exclusively, as the first connection would, keeps any
/// connection from starting (and trusting or rebuilding the `-shm`) while the image is read.
final class WalOfflinePin {
    private let shared: SharedLock
    /// nil when there was no `-shm`: nothing could be locked in it, so the copy is refused if
    /// one appeared meanwhile (`checkUnchanged`).
    private let deadManSwitch: DeadManSwitch?
    /// The WAL, when it exists; its offsets are empty when it holds no committed frame.
    let overlay: PageOverlay?

    private init(shared: SharedLock, deadManSwitch: DeadManSwitch?, overlay: PageOverlay?) {
        self.shared = shared
        self.deadManSwitch = deadManSwitch
        self.overlay = overlay
    }

    /// The caller holds SHARED on the database and, when a `-shm` exists, DMS exclusively.
    static func prepare(shared: SharedLock, deadManSwitch: DeadManSwitch?,
                        _ preparation: inout ImagePreparation) throws(ImageError) -> WalOfflinePin {
        let header = preparation.header
        let walPath = preparation.companionPath("-wal")
        preparation.metadata.mode = .walOffline
        var consistency = ConsistencyPoint(hotJournalApplied: false)
        var walHeader: WalHeader?
        let wal = try SystemFile.openIfPresent(preparation.companion("-wal"), in: preparation.folder)
        if let wal {
            walHeader = WalHeader(try wal.readBytes(count: WalHeader.size, at: 0))
        }
        let pageSize: Int
        if let headerPageSize = header.pageSize {
            pageSize = headerPageSize
            preparation.metadata.pageSizeSource = "header"
            if let walHeader, walHeader.pageSize != headerPageSize {
                throw ImageError(.imageWalPageSize, message: "\(walPath): WAL page size \(walHeader.pageSize) differs from the database's \(headerPageSize); the WAL does not belong to this database. Open the mailbox with its key or restore it from a backup")
            }
        } else if let walHeader {
            pageSize = walHeader.pageSize
            preparation.metadata.pageSizeSource = "wal"
        } else {
            (pageSize, preparation.metadata.pageSizeSource) = preparation.fallbackPageSize()
        }
        preparation.metadata.pageSize = pageSize
        try preparation.checkWholePages(pageSize: pageSize)
        let databasePages = try preparation.database.size() / Int64(pageSize)
        preparation.metadata.pageCount = Int(databasePages)
        var offsets: [UInt32: Int64] = [:]
        if let wal, let walHeader {
            let scan = try WalScanner.scan(wal: wal, header: walHeader, mode: .recovery)
            if scan.lastCommitFrame > 0 {
                offsets = scan.pageOffsets
                preparation.metadata.pageCount = Int(scan.databasePages)
                consistency.walFrame = scan.lastCommitFrame
                consistency.walSalt1 = walHeader.salt1
                consistency.walSalt2 = walHeader.salt2
                consistency.checkpointSequence = walHeader.checkpointSequence
                try preparation.checkCoverage(databasePages: databasePages, overlay: offsets, from: "WAL")
            } else {
                consistency.walFrame = 0
            }
        }
        preparation.metadata.consistency = consistency
        preparation.finishMetadata(overlay: offsets)
        return WalOfflinePin(shared: shared, deadManSwitch: deadManSwitch,
                             overlay: wal.map { PageOverlay(file: $0, offsets: offsets) })
    }

    /// Without a `-shm` to lock, a connection could have started during the copy: it creates
    /// the `-shm` first, so its appearance is the sign.
    func checkUnchanged(folder: StoreFolder, name: String, path: String) throws(ImageError) {
        if deadManSwitch == nil, try folder.exists(name + "-shm") {
            throw ImageError.unstable(path, "a connection opened it while the WAL was being read")
        }
    }

    /// DMS with the `-shm` descriptor, then SHARED.
    func release() {
        deadManSwitch?.release()
        shared.release()
        overlay?.file.close()
    }
}
