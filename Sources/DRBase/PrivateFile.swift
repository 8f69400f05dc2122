#if canImport(Glibc)
import Glibc
#endif

/// Checks for files that hold secrets (passphrase files, key files, credentials).
///
/// A secret file readable by the group or by others is refused, as ssh does for private
/// keys: on a shared mail server any local account could otherwise read the repository key.
package enum PrivateFile {
    /// Throws unless `path` is a regular file without group or other permission bits.
    /// - Parameter purpose: what the file is for, used in the message ("repository key file").
    package static func checkMode(_ path: String, purpose: String) throws(BaseError) {
        var info = stat()
        if stat(path, &info) != 0 {
            let err = errno
            throw BaseError(code: err == ENOENT ? "file.missing" : "file.stat",
                            exitStatus: err == ENOENT ? .noInput : .ioError,
                            message: "\(purpose) \(path): \(errnoDescription(err))")
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            throw BaseError(code: "file.not-regular", exitStatus: .configuration,
                            message: "\(purpose) \(path) is not a regular file")
        }
        let loose = info.st_mode & 0o077
        if loose != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw BaseError(
                code: "file.mode-too-open", exitStatus: .configuration,
                message: "\(purpose) \(path) has mode 0\(mode): it is readable or writable by group or others, so it is refused. Run: chmod 600 \(path)")
        }
    }
}
