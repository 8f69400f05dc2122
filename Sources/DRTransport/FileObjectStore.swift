import DRBase

#if canImport(Glibc)
import Glibc
#endif

/// A target that is a folder: local disk or a mounted network share.
///
/// Writes go through `AtomicFile`: a temporary name in the destination folder, fsynced, then
/// published with link(2) (write-once: fails if the name exists, atomically, also over NFS)
/// or rename(2) (replace), and the folder fsynced, so that a crash leaves either the whole
/// object or none of it.
package struct FileObjectStore: ObjectStore {
    package let targetName: String
    package let root: String
    package var location: String { "file://\(root)" }

    /// Objects at least this large are written as bulk files (`AtomicFile(bulk:)`: direct
    /// I/O where the file system supports it).
    static let bulkWriteThreshold = 1 << 20

    package init(targetName: String, root: String) {
        self.targetName = targetName
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    package func put(_ key: String, _ bytes: [UInt8], ifAbsent: Bool) throws(TransportError) {
        let path = try self.path(for: key)
        do {
            // Packs (megabytes, never read back by this run) go past the page cache where
            // the file system allows; small objects (keys, manifests) are read again soon.
            try AtomicFile.write(bytes, to: path, mode: 0o600, ifAbsent ? .writeOnce : .replace,
                                 creatingFoldersWithMode: 0o700, bulk: bytes.count >= Self.bulkWriteThreshold)
        } catch {
            throw failure(storing: key, error)
        }
    }

    package var takesPieces: Bool { true }

    /// A pack written piece by piece as a backup fills it (`AtomicFile(bulk: true)`: direct
    /// I/O where the file system supports it, published with link(2) like `put(ifAbsent:)`).
    package func beginPut(_ key: String) throws(TransportError) -> (any ObjectUpload)? {
        let path = try self.path(for: key)
        do {
            let file = try AtomicFile(path: path, mode: 0o600, creatingFoldersWithMode: 0o700, bulk: true)
            return FileObjectUpload(file: file, key: key, store: self)
        } catch {
            throw failure(storing: key, error)
        }
    }

    /// The error for a failed write of `key`, worded as `put`'s (for `FileObjectUpload`).
    fileprivate func uploadFailure(_ key: String, _ error: BaseError) -> TransportError {
        failure(storing: key, error)
    }

    package func get(_ key: String, maxBytes: Int64) throws(TransportError) -> [UInt8] {
        let (fd, size) = try openForReading(key)
        defer { close(fd) }
        guard size <= maxBytes else {
            throw TransportError(.transportTooLarge, message: "target \(targetName): \(key) at \(location) holds \(size) bytes, more than an object of its kind ever does (\(maxBytes)): it was planted or damaged; remove it, then run drctl check", context: ErrorContext(target: targetName, object: key))
        }
        let (bytes, outcome) = Self.read(fd, count: Int(size), at: nil)
        let offset: Int
        switch outcome {
        case .success(let count): offset = count
        case .failure(let error): throw failure("read", key: key, errno: error.errno)
        }
        if offset != Int(size) {
            throw TransportError(.transportShortRead, message: "target \(targetName): \(key) shrank while being read (\(offset) of \(size) bytes)", context: ErrorContext(target: targetName, object: key))
        }
        return bytes
    }

    package func get(_ key: String, offset: Int64, length: Int) throws(TransportError) -> [UInt8] {
        let (fd, size) = try openForReading(key)
        defer { close(fd) }
        // No more than the file holds past `offset`: a forged ref's length must not make us
        // allocate gigabytes for a short file (a range past the end reads short, as on S3).
        let available = max(0, min(Int64(max(0, length)), size - offset))
        let (bytes, outcome) = Self.read(fd, count: Int(available), at: offset)
        if case .failure(let error) = outcome { throw failure("read", key: key, errno: error.errno) }
        return bytes
    }

    /// Asks the kernel to read the range now, asynchronously: a cold `check --read-data` or
    /// restore otherwise waits for each read in turn with the CPU idle, then verifies with the
    /// disk idle. The pages go to the page cache, not to this process's memory.
    package func prefetch(_ key: String, offset: Int64, length: Int64?) {
        guard let path = try? self.path(for: key) else { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = stat()
        // A FIFO or device planted under the key is left to the read to refuse.
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
        _ = posix_fadvise(fd, off_t(max(0, offset)), off_t(max(0, length ?? 0)), POSIX_FADV_WILLNEED)
    }

    package func read(_ key: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        let (fd, _) = try openForReading(key)
        defer { close(fd) }
        switch FileIO.read(fd, into: buffer, at: offset) {
        case .success(let count): return count
        case .failure(let error): throw failure("read", key: key, errno: error.errno)
        }
    }

    /// Reads up to `count` bytes into a new array that is not zero-filled first (the read
    /// overwrites it: zeroing 8 MiB per ranged read was 8 % of a restore's profile). The
    /// array holds exactly the bytes read: a short read gives a shorter array.
    private static func read(_ fd: Int32, count: Int, at offset: Int64?) -> ([UInt8], Result<Int, FileIOError>) {
        var outcome: Result<Int, FileIOError> = .success(0)
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            outcome = FileIO.read(fd, into: UnsafeMutableRawBufferPointer(buffer), at: offset)
            if case .success(let done) = outcome { initialised = done } else { initialised = 0 }
        }
        return (bytes, outcome)
    }

    package func exists(_ key: String) throws(TransportError) -> Bool {
        let path = try self.path(for: key)
        var info = stat()
        if stat(path, &info) == 0 { return true }
        let err = errno
        if err == ENOENT || err == ENOTDIR { return false }
        throw failure("stat", key: key, errno: err)
    }

    package func list(prefix: String) throws(TransportError) -> [String] {
        var found: [String] = []
        try walk(relative: "", into: &found, prefix: prefix)
        return found.sorted()
    }

    package func listSizes(prefix: String) throws(TransportError) -> [String: Int64] {
        var sizes: [String: Int64] = [:]
        for key in try list(prefix: prefix) {
            var info = stat()
            // lstat: a symlink's own size, never its target's (get refuses it anyway).
            if lstat("\(root)/\(key)", &info) == 0 {
                sizes[key] = info.st_mode & S_IFMT == S_IFREG ? Int64(info.st_size) : -1
            } else if errno != ENOENT {
                throw failure("stat", key: key, errno: errno)
            }
        }
        return sizes
    }

    package func delete(_ key: String) throws(TransportError) {
        let path = try self.path(for: key)
        if unlink(path) != 0 {
            let err = errno
            if err == ENOENT { return }
            throw failure("delete", key: key, errno: err)
        }
        // Best effort: the name is gone either way, and a delete that reappears after a
        // crash is retried by the next run.
        _ = Folders.sync(Folders.parent(of: path))
    }

    package func incompleteWrites() throws(TransportError) -> [IncompleteWrite] {
        var found: [IncompleteWrite] = []
        try walkTemporary(relative: "", into: &found)
        return found.sorted { $0.name < $1.name }
    }

    package func removeIncompleteWrite(_ write: IncompleteWrite) throws(TransportError) {
        guard write.name.split(separator: "/").last?.hasPrefix(".tmp-") == true, !write.name.contains("..") else {
            throw TransportError(.transportInvalidKey, message: "target \(targetName): \(write.name) is not a temporary file", context: ErrorContext(target: targetName, object: write.name))
        }
        if unlink("\(root)/\(write.name)") != 0 && errno != ENOENT {
            throw failure("delete", key: write.name, errno: errno)
        }
    }

    private func walkTemporary(relative: String, into found: inout [IncompleteWrite]) throws(TransportError) {
        let folder = relative.isEmpty ? root : "\(root)/\(relative)"
        guard let dir = opendir(folder) else {
            if errno == ENOENT { return }
            throw failure("list \(folder)", key: relative, errno: errno)
        }
        defer { closedir(dir) }
        var names: [(String, Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append((name, entry.pointee.d_type == UInt8(DT_DIR)))
        }
        let now = time(nil)
        for (name, isFolder) in names {
            let path = relative.isEmpty ? name : "\(relative)/\(name)"
            if isFolder {
                try walkTemporary(relative: path, into: &found)
            } else if name.hasPrefix(".tmp-") {
                var info = stat()
                if stat("\(root)/\(path)", &info) == 0 {
                    found.append(IncompleteWrite(name: path, size: Int64(info.st_size),
                                                 ageSeconds: Int64(now - info.st_mtim.tv_sec)))
                }
            }
        }
    }

    // MARK: - Helpers

    /// Opens an object for reading: never through a symlink (O_NOFOLLOW), never blocking on a
    /// FIFO (O_NONBLOCK), and only a regular file, so that nothing placed on a target can
    /// send a read elsewhere or hang it. Returns the descriptor and the file's size.
    private func openForReading(_ key: String) throws(TransportError) -> (Int32, Int64) {
        let path = try self.path(for: key)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            let err = errno
            if err == ENOENT {
                throw TransportError(.transportNotFound, message: "target \(targetName): \(key) does not exist at \(location)", context: ErrorContext(target: targetName, object: key))
            }
            if err == ELOOP {
                throw notAFile(key, what: "a symbolic link")
            }
            throw failure("open", key: key, errno: err)
        }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let err = errno
            close(fd)
            throw failure("stat", key: key, errno: err)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw notAFile(key, what: Self.describe(mode: info.st_mode))
        }
        // Regular files never block; reads are plain blocking reads again.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int64(info.st_size))
    }

    private func notAFile(_ key: String, what: String) -> TransportError {
        TransportError(.transportNotAFile, message: "target \(targetName): \(key) at \(location) is \(what), not a regular file: drctl writes only regular files, so it was placed there by someone else and is not read; remove it, then run drctl check", context: ErrorContext(target: targetName, object: key))
    }

    private static func describe(mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    /// Object keys are relative slash-separated names; anything that could escape the
    /// target's folder is refused.
    private func path(for key: String) throws(TransportError) -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        if key.isEmpty || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.hasPrefix(".tmp-") }) {
            throw TransportError(.transportInvalidKey, message: "target \(targetName): invalid object name \"\(key)\"")
        }
        return "\(root)/\(key)"
    }

    private func walk(relative: String, into found: inout [String], prefix: String) throws(TransportError) {
        let folder = relative.isEmpty ? root : "\(root)/\(relative)"
        guard let dir = opendir(folder) else {
            let err = errno
            if err == ENOENT { return }
            throw failure("list \(folder)", key: relative, errno: err)
        }
        defer { closedir(dir) }
        var entries: [(String, Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." || name.hasPrefix(".tmp-") { continue }
            var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                // Some file systems (older XFS, some NFS servers) leave the type to lstat; a
                // folder taken for a file would hide every pack below it.
                var info = stat()
                isFolder = lstat("\(folder)/\(name)", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            }
            entries.append((name, isFolder))
        }
        for (name, isFolder) in entries {
            let key = relative.isEmpty ? name : "\(relative)/\(name)"
            if isFolder {
                // Descend only where the prefix can still match.
                if key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") {
                    try walk(relative: key, into: &found, prefix: prefix)
                }
            } else if key.hasPrefix(prefix) {
                found.append(key)
            }
        }
    }

    /// A failed `AtomicFile` write as this target's error, classified as `failure` does.
    private func failure(storing key: String, _ error: BaseError) -> TransportError {
        let context = ErrorContext(target: targetName, object: key)
        switch error.code {
        case .fileExists:
            return TransportError(.transportExists, message: "target \(targetName): \(key) already exists at \(location)",
                                  context: context, underlying: error.underlying)
        case .fileNoSpace:
            return TransportError(.transportNoSpace, message: "target \(targetName): storing \(key) at \(location) failed: \(error.message)\(Self.noSpaceHint)",
                                  context: context, underlying: error.underlying)
        case .filePermission:
            return TransportError(.transportPermission, message: "target \(targetName): storing \(key) at \(location) failed: \(error.message)\(permissionHint)",
                                  context: context, underlying: error.underlying)
        default:
            return TransportError(.transportIo, message: "target \(targetName): storing \(key) at \(location) failed: \(error.message)",
                                  context: context, underlying: error.underlying)
        }
    }

    private static let noSpaceHint = " — the target's disk is full; free space or add capacity, then run the command again (nothing was published)"
    private var permissionHint: String { " — check that drctl's user may write to \(root)" }

    private func failure(_ operation: String, key: String, errno code: Int32) -> TransportError {
        let kind: ErrorCode
        let hint: String
        switch code {
        case ENOSPC, EDQUOT:
            kind = .transportNoSpace
            hint = Self.noSpaceHint
        case EACCES, EPERM, EROFS:
            kind = .transportPermission
            hint = permissionHint
        default:
            kind = .transportIo
            hint = ""
        }
        return TransportError(kind, message: "target \(targetName): \(operation) for \(key) at \(location) failed: \(errnoDescription(code))\(hint)",
                              context: ErrorContext(target: targetName, object: key), underlying: .errno(code))
    }
}

/// One object of a folder target written in pieces (`FileObjectStore.beginPut`).
private final class FileObjectUpload: ObjectUpload {
    private let file: AtomicFile
    private let key: String
    private let store: FileObjectStore

    init(file: AtomicFile, key: String, store: FileObjectStore) {
        self.file = file
        self.key = key
        self.store = store
    }

    var size: Int64 { file.size }

    func append(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        do { try file.write(bytes) } catch { throw store.uploadFailure(key, error) }
    }

    func commit() throws(TransportError) {
        do { try file.commit(.writeOnce) } catch { throw store.uploadFailure(key, error) }
    }

    func abandon() { file.abandon() }
}
