import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// Linux open-file-description lock commands (fcntl.h, _GNU_SOURCE; not imported into Swift).
///
/// OFD locks belong to the open file description, not to the process: closing another
/// descriptor of the same file does not drop them (the POSIX-lock trap), and the kernel
/// checks them against SQLite's process-owned POSIX locks on the same bytes.
let fOFDGetLock: Int32 = 36
let fOFDSetLock: Int32 = 37

/// The kinds of byte-range lock the snapshot takes, as SQLite's unix VFS does.
enum LockKind {
    case shared
    case exclusive

    var flockType: Int16 {
        switch self {
        case .shared: Int16(F_RDLCK)
        case .exclusive: Int16(F_WRLCK)
        }
    }
}

/// Identity and change markers of a file, compared before and after a copy.
struct FileStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var mtimeSeconds: Int
    var mtimeNanoseconds: Int
    var ctimeSeconds: Int
    var ctimeNanoseconds: Int
    var links: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        mtimeSeconds = info.st_mtim.tv_sec
        mtimeNanoseconds = info.st_mtim.tv_nsec
        ctimeSeconds = info.st_ctim.tv_sec
        ctimeNanoseconds = info.st_ctim.tv_nsec
        links = UInt64(info.st_nlink)
    }

    func sameFile(as other: FileStamp) -> Bool {
        device == other.device && inode == other.inode
    }
}

/// One open descriptor of one file; closing it (in `deinit`, on every path) releases every
/// OFD lock taken through it.
///
/// drctl opens each file exactly once per snapshot and takes all its locks through that one
/// descriptor, so no close elsewhere can silently drop a lock.
final class SystemFile {
    let path: String
    private(set) var fd: Int32
    let writable: Bool

    private init(path: String, fd: Int32, writable: Bool) {
        self.path = path
        self.fd = fd
        self.writable = writable
    }

    deinit {
        close()
    }

    /// Closes the descriptor now (releasing its OFD locks); later calls do nothing.
    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// Opens an existing file read-only (or read-write for `-shm`); never creates anything.
    static func open(_ path: String, writable: Bool = false) throws(ImageError) -> SystemFile {
        let flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY
        while true {
            let fd = Glibc.open(path, flags)
            if fd >= 0 {
                return SystemFile(path: path, fd: fd, writable: writable)
            }
            let err = errno
            if err == EINTR { continue }
            throw ImageError.system(writable ? "open for reading and writing" : "open",
                                       path: path, errno: err)
        }
    }

    /// Opens `path` if it exists; nil when it does not.
    static func openIfPresent(_ path: String, writable: Bool = false) throws(ImageError) -> SystemFile? {
        do {
            return try open(path, writable: writable)
        } catch {
            if error.errnoValue == ENOENT { return nil }
            throw error
        }
    }

    func stamp() throws(ImageError) -> FileStamp {
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw ImageError.system("fstat", path: path, errno: errno)
        }
        return FileStamp(info)
    }

    func size() throws(ImageError) -> Int64 {
        try stamp().size
    }

    /// Reads exactly `count` bytes at `offset` unless the file ends first; returns the number
    /// of bytes read.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int64) throws(ImageError) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset + Int64(done)))
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                throw ImageError.system("read at offset \(offset + Int64(done))", path: path, errno: err)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads `count` bytes at `offset` into a new array, shorter if the file ends first.
    func readBytes(count: Int, at offset: Int64) throws(ImageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try withMutableBytes(&bytes) { (raw) throws(ImageError) -> Int in
            try read(into: raw.baseAddress!, count: count, at: offset)
        }
        bytes.removeLast(count - got)
        return bytes
    }

    // MARK: OFD byte-range locks

    private func lockRecord(_ type: Int16, start: Int64, length: Int64) -> flock {
        var record = flock()
        record.l_type = type
        record.l_whence = Int16(SEEK_SET)
        record.l_start = off_t(start)
        record.l_len = off_t(length)
        record.l_pid = 0  // required for OFD locks
        return record
    }

    /// Tries to take a lock without waiting; false when another owner holds a conflicting one.
    func tryLock(_ kind: LockKind, start: Int64, length: Int64 = 1) throws(ImageError) -> Bool {
        var record = lockRecord(kind.flockType, start: start, length: length)
        while true {
            if fcntl(fd, fOFDSetLock, &record) == 0 { return true }
            let err = errno
            if err == EINTR { continue }
            if err == EAGAIN || err == EACCES { return false }
            throw ImageError.system("lock bytes \(start)..<\(start + length) (F_OFD_SETLK)", path: path, errno: err)
        }
    }

    /// Releases a byte range; errors are ignored because closing the descriptor releases it anyway.
    func unlock(start: Int64, length: Int64 = 1) {
        var record = lockRecord(Int16(F_UNLCK), start: start, length: length)
        while fcntl(fd, fOFDSetLock, &record) != 0 && errno == EINTR {}
    }

    /// Whether another owner (any process, POSIX or OFD lock) holds a lock on the range that
    /// would conflict with `kind`.
    func isLockedByOthers(_ kind: LockKind, start: Int64, length: Int64 = 1) throws(ImageError) -> Bool {
        var record = lockRecord(kind.flockType, start: start, length: length)
        while fcntl(fd, fOFDGetLock, &record) != 0 {
            let err = errno
            if err == EINTR { continue }
            throw ImageError.system("test lock bytes \(start)..<\(start + length) (F_OFD_GETLK)", path: path, errno: err)
        }
        return record.l_type != Int16(F_UNLCK)
    }
}

/// Stats a path without opening it; nil when it does not exist.
func stampOfPath(_ path: String) throws(ImageError) -> FileStamp? {
    var info = stat()
    if stat(path, &info) != 0 {
        let err = errno
        if err == ENOENT { return nil }
        throw ImageError.system("stat", path: path, errno: err)
    }
    return FileStamp(info)
}

/// Monotonic clock in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Sleeps for a short back-off between attempts.
func sleepMicroseconds(_ micros: UInt32) {
    usleep(micros)
}

/// Big-endian 32-bit value at `offset`.
@inline(__always)
func bigEndianUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
        | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

@inline(__always)
func bigEndianUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
        | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

@inline(__always)
func bigEndianUInt16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

/// `Array.withUnsafeMutableBytes` with a typed error (the standard one only rethrows `any Error`).
func withMutableBytes<T>(
    _ array: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(ImageError) -> T
) throws(ImageError) -> T {
    let result: Result<T, ImageError> = array.withUnsafeMutableBytes { raw in
        do throws(ImageError) {
            return .success(try body(raw))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}
