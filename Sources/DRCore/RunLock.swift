import DRBase

#if canImport(Glibc)
import Glibc
#endif

/// One backup at a time per state folder (the nightly timer and an operator's manual run
/// must not interleave their local caches): an exclusive flock(2) on `<state>/backup.lock`,
/// dropped by the kernel when the process ends, also if it is killed.
final class RunLock {
    private let fd: Int32

    /// - Parameter wait: seconds to wait for another holder to finish (polled once a
    ///   second); 0 fails at once with `lock.busy`.
    init(stateDirectory: String, job: String, wait: Double = 0) throws(CoreError) {
        let created = Folders.create(stateDirectory)
        if created != 0 {
            throw CoreError(.lockOpen, message: "cannot create the state folder \(stateDirectory): \(errnoDescription(created)); check the [state] folder")
        }
        let path = "\(stateDirectory)/\(job).lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw CoreError(.lockOpen, message: "cannot open \(path): \(errnoDescription(errno)); check the [state] folder")
        }
        let deadline = MonotonicClock.milliseconds() + Int64(wait * 1000)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && MonotonicClock.milliseconds() < deadline {
            MonotonicClock.sleep(nanoseconds: 1_000_000_000)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw CoreError(.lockBusy, message: "another drctl \(job) is running with this state folder (\(stateDirectory)); wait for it to finish, or stop it, then run again")
            }
            throw CoreError(.lockOpen, message: "cannot lock \(path): \(errnoDescription(err))")
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
