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

    var mtimeTotal: Int64 { Int64(mtimeSeconds) * 1_000_000_000 + Int64(mtimeNanoseconds) }
    var ctimeTotal: Int64 { Int64(ctimeSeconds) * 1_000_000_000 + Int64(ctimeNanoseconds) }

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

    /// Opens `name` in `folder` read-only (or read-write for `-shm`) if it exists; nil when it
    /// does not. Never creates anything.
    ///
    /// Everything in a mail store is written by the mail server's account, so a name may be a
    /// symbolic link (to a file drctl can read and the account cannot) or a FIFO (whose open
    /// would block forever, while SHARED is held). The entry is `lstat`ed relative to the
    /// folder's descriptor and refused unless it is a regular file; it is then opened with
    /// `O_NOFOLLOW | O_NONBLOCK`, so neither a link nor a FIFO swapped in meanwhile can be
    /// followed or block, and `fstat` must show the same regular file before any byte is read.
    static func openIfPresent(_ name: String, in folder: StoreFolder, writable: Bool = false) throws(ImageError) -> SystemFile? {
        let path = folder.pathOf(name)
        guard let listed = try folder.stamp(name) else { return nil }
        try StoreFolder.requireRegular(listed.type, path: path)
        let flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK
        var fd: Int32 = -1
        while true {
            fd = openat(folder.fd, name, flags)
            if fd >= 0 { break }
            let err = errno
            if err == EINTR { continue }
            if err == ENOENT { return nil }
            if err == ELOOP {
                throw StoreFolder.notRegular(path, what: "a symbolic link")
            }
            throw ImageError.system(writable ? "open for reading and writing" : "open", path: path, errno: err)
        }
        let file = SystemFile(path: path, fd: fd, writable: writable)
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw ImageError.system("fstat", path: path, errno: errno)
        }
        try StoreFolder.requireRegular(info.st_mode & S_IFMT, path: path)
        let opened = FileStamp(info)
        if !opened.sameFile(as: listed.stamp) {
            throw ImageError(.imageReplaced, message: "\(path): the file was replaced by another one while it was being opened; retrying with the new file",
                             context: ErrorContext(file: path), isTransient: true)
        }
        return file
    }

    /// Opens a file by path, with the same checks (its folder opened as given).
    static func open(_ path: String, writable: Bool = false) throws(ImageError) -> SystemFile {
        let (folder, name) = try StoreFolder.open(containing: path, root: nil)
        return try open(name, in: folder, writable: writable)
    }

    /// Opens `name` in `folder`; a missing file is an error (`image.missing`).
    static func open(_ name: String, in folder: StoreFolder, writable: Bool = false) throws(ImageError) -> SystemFile {
        guard let file = try openIfPresent(name, in: folder, writable: writable) else {
            throw ImageError.system(writable ? "open for reading and writing" : "open", path: folder.pathOf(name), errno: ENOENT)
        }
        return file
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

    /// Writes all of `bytes` at `offset` (the `-shm` read mark only).
    func write(_ bytes: [UInt8], at offset: Int64) throws(ImageError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            }
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                throw ImageError.system("write at offset \(offset + Int64(done))", path: path, errno: err)
            }
            done += n
        }
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

/// The folder a mailbox lives in, held open for the whole snapshot: the database and its
/// `-wal`, `-shm` and `-journal` are all examined and opened relative to this descriptor, by
/// name, never through a path that something in the store could redirect.
final class StoreFolder {
    /// For messages: the folder as the caller named it.
    let path: String
    private(set) var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// The folder of `file`: below `root` (the configured mail store) every folder is opened
    /// relative to its parent with `O_NOFOLLOW`, so a folder the mail server's account
    /// replaced by a link is refused; a path outside `root` (or without one, `drctl image`)
    /// is the operator's own and its folder is opened as given.
    /// - Returns: the folder and the file's name in it.
    static func open(containing file: String, root: String?) throws(ImageError) -> (StoreFolder, String) {
        var components = file.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let name = components.popLast(), name != ".", name != ".." else {
            throw ImageError(.imageNotRegular, message: "\(file) is not a file name; give the path of a mailbox database file")
        }
        var start = (file.hasPrefix("/") ? "/" : "") + components.joined(separator: "/")
        if start.isEmpty { start = "." }
        var below: [String] = []
        if let root {
            let rootComponents = root.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            if root.hasPrefix("/") == file.hasPrefix("/"), components.count >= rootComponents.count,
               Array(components.prefix(rootComponents.count)) == rootComponents {
                start = root
                below = Array(components.dropFirst(rootComponents.count))
            }
        }
        var fd = Glibc.open(start, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw ImageError.system("open the folder", path: start, errno: errno)
        }
        var shown = start.hasSuffix("/") && start.count > 1 ? String(start.dropLast()) : start
        for component in below {
            shown += "/" + component
            let child = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            let err = errno
            _ = Glibc.close(fd)
            if child < 0 {
                if err == ELOOP || err == ENOTDIR {
                    throw notRegular(shown, what: err == ELOOP ? "a symbolic link" : "not a folder", folder: true)
                }
                throw ImageError.system("open the folder", path: shown, errno: err)
            }
            fd = child
        }
        return (StoreFolder(path: shown, fd: fd), name)
    }

    func pathOf(_ name: String) -> String {
        path == "/" ? "/" + name : path + "/" + name
    }

    /// `lstat` of `name` in this folder (a link is not followed); nil when it does not exist.
    func stamp(_ name: String) throws(ImageError) -> (stamp: FileStamp, type: mode_t)? {
        var info = stat()
        if fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            let err = errno
            if err == ENOENT { return nil }
            throw ImageError.system("stat", path: pathOf(name), errno: err)
        }
        return (FileStamp(info), info.st_mode & S_IFMT)
    }

    /// Whether `name` exists in this folder, whatever it is.
    func exists(_ name: String) throws(ImageError) -> Bool {
        try stamp(name) != nil
    }

    static func requireRegular(_ type: mode_t, path: String) throws(ImageError) {
        switch type {
        case S_IFREG: return
        case S_IFLNK: throw notRegular(path, what: "a symbolic link")
        case S_IFDIR: throw notRegular(path, what: "a folder")
        default: throw notRegular(path, what: "a FIFO, socket or device")
        }
    }

    static func notRegular(_ path: String, what: String, folder: Bool = false) -> ImageError {
        ImageError(.imageNotRegular, message: "\(path) is \(what), not a regular \(folder ? "folder" : "file"): drctl never follows links nor opens special files in a mail store (one could point anywhere drctl can read, or block it forever), so this mailbox is not backed up. Replace it with the real file, or remove it",
                   context: ErrorContext(file: path))
    }
}

/// Monotonic clock in nanoseconds.
func monotonicNanoseconds() -> UInt64 { MonotonicClock.nanoseconds() }

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
