import DRBase
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whole reads of drctl's own small local files (metrics state, the drill summary), telling
/// "not there yet" (nil) from "there but unreadable" (an error naming the file), which
/// `FileManager.contents(atPath:)` does not.
enum SmallFile {
    /// The file's bytes, or nil when it does not exist.
    /// - Parameters:
    ///   - limit: larger files are refused (a file of the wrong kind put there by mistake).
    ///   - what: what the file is, for messages ("the metrics state file").
    static func read(_ path: String, limit: Int, what: String) throws(CoreError) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            let err = errno
            if err == ENOENT { return nil }
            throw CoreError(err == EACCES || err == EPERM ? .filePermission : .fileIo,
                            message: "cannot open \(what) \(path): \(errnoDescription(err))",
                            context: ErrorContext(file: path), underlying: .errno(err))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw CoreError(.fileNotRegular, message: "\(what) \(path) is not a regular file; remove it",
                            context: ErrorContext(file: path))
        }
        guard Int(info.st_size) <= limit else {
            throw CoreError(.fileIo, message: "\(what) \(path) is \(info.st_size) bytes, more than such a file ever holds (\(limit)); remove it",
                            context: ErrorContext(file: path))
        }
        var buffer = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        let result = buffer.withUnsafeMutableBytes { FileIO.read(fd, into: $0) }
        switch result {
        case .success(let count): return Data(buffer.prefix(min(count, limit)))
        case .failure(let error):
            throw CoreError(.fileIo, message: "cannot read \(what) \(path): \(errnoDescription(error.errno))",
                            context: ErrorContext(file: path), underlying: .errno(error.errno))
        }
    }
}
