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
            throw BaseError(err == ENOENT ? .fileMissing : .fileStat,
                            message: "\(purpose) \(path): \(errnoDescription(err))",
                            context: ErrorContext(file: path), underlying: .errno(err))
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            throw BaseError(.fileNotRegular, message: "\(purpose) \(path) is not a regular file")
        }
        let loose = info.st_mode & 0o077
        if loose != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw BaseError(
                .fileModeTooOpen, message: "\(purpose) \(path) has mode 0\(mode): it is readable or writable by group or others, so it is refused. Run: chmod 600 \(path)")
        }
    }
}
