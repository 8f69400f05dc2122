import DRBase
/// The messages several modes share, so that each condition reads the same whichever mode met it.
extension ImageError {
    /// A lock SQLite's writers or connections hold right now: retried until the retry timeout.
    static func busy(_ path: String, _ why: String) -> ImageError {
        ImageError(.imageBusy, message: "\(path): \(why); retry later, or raise the retry timeout", isTransient: true)
    }

    /// The committed state needs bytes the database file does not have.
    static func truncated(_ path: String, _ why: String) -> ImageError {
        ImageError(.imageDbTruncated, message: "\(path): the database is truncated: \(why). Restore this mailbox from a backup (drctl did not change it)")
    }

    static func inconsistentShm(_ shmPath: String, _ why: String) -> ImageError {
        ImageError(.imageShmInconsistent, message: "\(shmPath): the wal-index does not match the WAL: \(why). Nothing was changed; open the mailbox with its key so SQLite rebuilds the index, or restore it from a backup")
    }

    /// A value read from a header of one of the mailbox's files is impossible: refused before
    /// it is used (as a divisor, a size, a count), so a hostile file fails only its mailbox.
    static func invalidHeader(_ path: String, _ why: String) -> ImageError {
        ImageError(.imageHeaderInvalid, message: "\(path): \(why); the file is damaged or was not written by SQLite, so this mailbox is not backed up (nothing was changed). Open the mailbox with its key so SQLite repairs it, or restore it from a backup",
                   context: ErrorContext(file: path))
    }

    /// What could not be locked changed during the copy: the snapshot is made again.
    static func unstable(_ path: String, _ why: String) -> ImageError {
        ImageError(.imageUnstable, message: "\(path): \(why), so the copy may be torn; retry when the file is quiet", isTransient: true)
    }
}
