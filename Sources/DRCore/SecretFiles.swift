import DRBase
import DRCrypto

#if canImport(Glibc)
import Glibc
#endif

/// Creating files that hold secrets: never overwriting, mode 0600 from the first byte on,
/// written from secure memory, fsynced.
public enum SecretFiles {
    /// Creates `path` (and missing parent folders, mode 0700) holding `contents`.
    /// Fails if the file exists: a key file is never replaced behind the operator's back.
    public static func create(_ path: String, contents: borrowing SecureBytes, purpose: String) throws(CoreError) {
        makeParentFolders(of: path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 {
            let err = errno
            throw CoreError(code: err == EEXIST ? "file.exists" : "file.create",
                            exitStatus: err == EEXIST ? .cannotCreate : .ioError,
                            message: "cannot create \(purpose) \(path): \(errnoDescription(err))")
        }
        var failure: Int32 = 0
        contents.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(path)
            throw CoreError(code: "file.write", exitStatus: .ioError,
                            message: "cannot write \(purpose) \(path): \(errnoDescription(failure)); nothing was kept")
        }
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func makeParentFolders(of path: String) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        var current = ""
        for part in path[..<slash].split(separator: "/") {
            current += "/" + part
            _ = mkdir(current, 0o700)
        }
    }
}
