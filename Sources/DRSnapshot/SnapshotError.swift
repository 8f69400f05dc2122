package import DRBase

/// The one error type of the snapshot domain.
///
/// `code` is stable and documented in docs/SNAPSHOT.md (for example `snapshot.wal-checksum`);
/// `message` names the file and says what to do. Messages never contain page contents.
package struct SnapshotError: DRError {
    package let code: String
    package let exitStatus: ExitStatus
    package let message: String
    /// The operating-system error behind it, if any.
    package let errnoValue: Int32?
    /// Whether the condition is expected to go away (a writer committing, a file changing):
    /// `Snapshotter` retries these itself before giving up.
    package let isTransient: Bool

    package init(code: String, exitStatus: ExitStatus, message: String,
                errnoValue: Int32? = nil, isTransient: Bool = false) {
        self.code = code
        self.exitStatus = exitStatus
        self.message = message
        self.errnoValue = errnoValue
        self.isTransient = isTransient
    }

    /// An error from a system call on `path`, mapped to the exit status its errno deserves.
    static func system(_ operation: String, path: String, errno err: Int32) -> SnapshotError {
        switch err {
        case ENOENT:
            return SnapshotError(code: "snapshot.missing", exitStatus: .noInput,
                                 message: "\(path): \(operation) failed: \(errnoDescription(err)); check the path (the file may have been removed or renamed)",
                                 errnoValue: err)
        case EACCES, EPERM:
            return SnapshotError(code: "snapshot.permission", exitStatus: .permissionDenied,
                                 message: "\(path): \(operation) failed: \(errnoDescription(err)); run drctl as a user that can read the mailbox (and write its -shm, as any SQLite reader must)",
                                 errnoValue: err)
        default:
            return SnapshotError(code: "snapshot.io", exitStatus: .ioError,
                                 message: "\(path): \(operation) failed: \(errnoDescription(err))",
                                 errnoValue: err)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
