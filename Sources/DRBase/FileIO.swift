#if canImport(Glibc)
import Glibc
#endif

/// Whole reads and writes on file descriptors: retried on EINTR and on short counts, so that
/// no caller forgets either.
package enum FileIO {
    /// Writes every byte (at `offset` with pwrite(2), else at the current position).
    /// - Returns: 0, or the errno of the failure.
    @discardableResult
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64? = nil) -> Int32 {
        var done = 0
        while done < bytes.count {
            let pointer = bytes.baseAddress! + done
            let n = offset.map { pwrite(fd, pointer, bytes.count - done, off_t($0) + off_t(done)) }
                ?? write(fd, pointer, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += n
        }
        return 0
    }

    @discardableResult
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64? = nil) -> Int32 {
        bytes.withUnsafeBytes { writeAll(fd, $0, at: offset) }
    }

    /// Reads until `buffer` is full or the file ends (at `offset` with pread(2), else at the
    /// current position).
    /// - Returns: the bytes read, or the errno of the failure.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer,
                            at offset: Int64? = nil) -> Result<Int, FileIOError> {
        var done = 0
        while done < buffer.count {
            let pointer = buffer.baseAddress! + done
            let n = offset.map { pread(fd, pointer, buffer.count - done, off_t($0) + off_t(done)) }
                ?? Glibc.read(fd, pointer, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(FileIOError(errno: errno))
            }
            if n == 0 { break }
            done += n
        }
        return .success(done)
    }
}

/// An errno from `FileIO`.
package struct FileIOError: Error, Sendable {
    package let errno: Int32
}
