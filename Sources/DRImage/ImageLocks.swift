/// SQLite's lock bytes on the database file (os.h): PENDING at 1 GiB, RESERVED after it,
/// then the 510-byte SHARED range.
enum DatabaseLocks {
    static let pending: Int64 = 0x4000_0000
    static let reserved: Int64 = pending + 1
    static let sharedFirst: Int64 = pending + 2
    static let sharedSize: Int64 = 510
}

/// SQLite's SHARED lock on the database file, held through the session's one descriptor of it.
///
/// The three SQLite modes hold it for the whole snapshot: it keeps rollback writers from
/// committing and WAL connections from checkpointing the WAL away on close. A class, so that
/// the one lock has one owner and cannot be released twice through copies.
final class SharedLock {
    private let database: SystemFile
    private var held = true

    private init(database: SystemFile) {
        self.database = database
    }

    /// A preparation that fails drops its owners without calling `release()`.
    deinit {
        release()
    }

    /// Takes the lock the way the unix VFS does (PENDING read lock first, so a writer waiting
    /// for EXCLUSIVE is not starved); transient error while a writer commits.
    static func take(on database: SystemFile) throws(ImageError) -> SharedLock {
        guard try database.tryLock(.shared, start: DatabaseLocks.pending) else {
            throw ImageError.busy(database.path, "a writer is committing (PENDING lock held)")
        }
        defer { database.unlock(start: DatabaseLocks.pending) }
        guard try database.tryLock(.shared, start: DatabaseLocks.sharedFirst, length: DatabaseLocks.sharedSize) else {
            throw ImageError.busy(database.path, "a writer holds the EXCLUSIVE lock")
        }
        return SharedLock(database: database)
    }

    func release() {
        guard held else { return }
        held = false
        database.unlock(start: DatabaseLocks.sharedFirst, length: DatabaseLocks.sharedSize)
    }
}

/// The `-shm` descriptor and SQLite's dead-man switch (DMS, byte 128) held through it: as a
/// reader (wal-live) or as the first connection takes it (wal-offline, so that no connection
/// can start while the WAL is read).
///
/// The lock is taken by the caller, which first has to probe the byte to choose the mode;
/// this owner takes over the held lock and the descriptor, and gives both back together.
final class DeadManSwitch {
    let file: SystemFile
    private var held = true

    init(heldThrough file: SystemFile) {
        self.file = file
    }

    /// A preparation that fails drops its owners without calling `release()`.
    deinit {
        release()
    }

    /// Unlocks DMS and closes the `-shm` descriptor, which drops whatever else was still
    /// locked through it.
    func release() {
        guard held else { return }
        held = false
        file.unlock(start: WalIndexLayout.deadManSwitch)
        file.close()
    }
}
