import CDRSystem
#if canImport(Glibc)
package import Glibc
#endif

/// A file that appears under its name whole or not at all, and stays there after a crash.
///
/// The bytes go to a temporary file beside the destination (`.tmp-<random>`, created with
/// O_EXCL so two writers never share one, O_CLOEXEC so no child inherits it), which is
/// fsynced and then published: rename(2) replaces the destination, link(2) refuses an
/// existing one atomically (also over NFS, where O_EXCL on the final name is not reliable) —
/// the write-once rule of repository config and keys. The folder is then fsynced, so that the
/// new name itself survives a power cut; so is the parent of every folder created on the way.
///
/// Writes stream: open, `write` any number of pieces, then `commit` or `abandon`. A file that
/// is dropped uncommitted is abandoned: its temporary file is removed, nothing else touched.
///
/// Big files written once and not read back soon (packs on a folder target, restored
/// mailboxes) are opened with `bulk: true`: writes of any size are gathered in a reused,
/// aligned staging buffer (`DirectWriteBuffers`) and go out 4 MiB at a time. Where the file
/// system supports direct I/O (statx reports its alignment: ext4, xfs, btrfs on a block
/// device) they are written with O_DIRECT, from the buffer to the device, with no copy into
/// the page cache: that copy into pages nobody reads again was the largest part of a backup's
/// and a restore's system time (docs/PROFILES.md), and it evicted the mail server's own cached
/// pages. The last piece is then padded to the alignment and the file cut back to its size
/// before the fsync. Elsewhere (tmpfs, NFS, FUSE), or if the file system refuses a direct
/// write, the staged pieces go through the page cache as any other write.
///
/// Errors are `BaseError`s whose code says what a caller may want to tell apart:
/// `file.exists` (write-once and the destination exists), `file.no-space` (ENOSPC, EDQUOT),
/// `file.permission` (EACCES, EPERM, EROFS), `file.io` (anything else). Messages name the
/// file and the operation; callers add what the file is for.
package final class AtomicFile {
    /// How a finished file takes its name.
    package enum Publication: Sendable {
        /// rename(2): an existing file of that name is replaced.
        case replace
        /// link(2): fails with `file.exists` if the name exists (even as a dangling symbolic
        /// link), and the existing file is left as it was.
        case writeOnce
    }

    /// The destination.
    package let path: String
    /// The temporary file, until the file is committed or abandoned.
    package let temporaryPath: String
    /// Bytes written since the file was opened (or restarted).
    package private(set) var size: Int64 = 0
    /// Where the bytes not yet handed to the disk (`write`) begin.
    private var writebackStarted: Int64 = 0

    private let folder: String
    private let mode: mode_t
    private var fd: Int32
    private var finished = false
    /// The folder's descriptor for the `*at` calls (AT_FDCWD for a path), and the names
    /// relative to it.
    private let folderFD: Int32
    private let name: String
    private let temporaryName: String
    /// Owner and group given to the file at commit (before its mode, since chown clears
    /// set-id bits); nil keeps the writer's.
    package var owner: (uid: uid_t, gid: gid_t)?

    /// Bulk writes: whether they are staged, the file offset alignment of direct I/O (0:
    /// through the page cache), the staging buffer (taken at the first write) and how much of
    /// it is filled. `size - staged` bytes are in the file.
    private var bulk: Bool
    private var directAlignment = 0
    /// Whether writes go past the page cache now (false once the file system refused one).
    package var writesDirectly: Bool { directAlignment > 0 }
    /// Tests only: this file's direct writes fail with EINVAL, as on a file system that needs an
    /// alignment it did not report (no file system on a test machine can be made to): the
    /// fallback through the page cache is then what writes the file.
    package var refusesDirectWritesForTesting = false
    private var staging: UnsafeMutableRawPointer?
    private var staged = 0

    /// Opens a temporary file for `path`.
    /// - Parameters:
    ///   - mode: the permission bits of the finished file, applied exactly (whatever the
    ///     umask) when it is committed; until then the file is private to its owner.
    ///   - folderMode: create missing parent folders with this mode (each new folder's parent
    ///     is fsynced); nil when the folder must already exist.
    ///   - bulk: a big file: staged, and written with direct I/O where the file system
    ///     supports it (see above).
    package init(path: String, mode: mode_t, creatingFoldersWithMode folderMode: mode_t? = nil,
                 bulk: Bool = false) throws(BaseError) {
        self.path = path
        self.bulk = bulk
        self.mode = mode
        folder = Folders.parent(of: path)
        temporaryPath = (folder == "/" ? "" : folder) + "/.tmp-" + TemporaryName.make()
        folderFD = AT_FDCWD
        name = path
        temporaryName = temporaryPath
        fd = Self.openTemporary(AT_FDCWD, temporaryPath)
        // Folders are made only when missing, so that the usual write costs no mkdir(2)s.
        if fd < 0 && errno == ENOENT, let folderMode {
            let err = Folders.create(folder, mode: folderMode)
            if err != 0 { throw Self.failure("create the folder", folder, errno: err) }
            fd = Self.openTemporary(AT_FDCWD, temporaryPath)
        }
        if fd < 0 { throw Self.failure("create the temporary file", temporaryPath, errno: errno) }
        if bulk { startDirectIO() }
    }

    /// Opens a temporary file for `name` inside the open folder `descriptor` (which the
    /// caller keeps open until the file is committed or abandoned). Nothing is resolved by
    /// path: a symbolic link put in place of the folder, or of the file, is never followed.
    /// - Parameters:
    ///   - displayPath: the file's full path, for messages.
    ///   - bulk: a big file: staged, and written with direct I/O where the file system
    ///     supports it (see above).
    package init(folder descriptor: Int32, name: String, displayPath: String, mode: mode_t,
                 bulk: Bool = false) throws(BaseError) {
        precondition(!name.contains("/"), "AtomicFile(folder:name:) takes a name, not a path")
        path = displayPath
        self.bulk = bulk
        self.mode = mode
        folder = Folders.parent(of: displayPath)
        folderFD = descriptor
        self.name = name
        temporaryName = ".tmp-" + TemporaryName.make()
        temporaryPath = (folder == "/" ? "" : folder) + "/" + temporaryName
        fd = Self.openTemporary(descriptor, temporaryName)
        if fd < 0 { throw Self.failure("create the temporary file", temporaryPath, errno: errno) }
        if bulk { startDirectIO() }
    }

    /// Turns on O_DIRECT where the file system says it supports it. The alignment used is at
    /// least 4096, a multiple of every logical block size it may report.
    private func startDirectIO() {
        let alignment = Int(CDRSystem_direct_io_alignment(fd))
        guard alignment > 0, DirectWriteBuffers.size % max(alignment, 4096) == 0,
              CDRSystem_set_direct_io(fd, 1) == 0 else { return }
        directAlignment = max(alignment, 4096)
    }

    /// Back to the page cache for the rest of this file (the file system refused a direct
    /// write, or there is no staging buffer to be had).
    private func stopDirectIO() {
        if directAlignment > 0 { _ = CDRSystem_set_direct_io(fd, 0) }
        directAlignment = 0
    }

    private func releaseStaging() {
        if let staging { DirectWriteBuffers.give(staging) }
        staging = nil
    }

    private static func openTemporary(_ folder: Int32, _ name: String) -> Int32 {
        // 0600 while it is written: a half-written file is nobody else's business, and a
        // set-id bit would be cleared by the writes anyway (the mode is applied at commit).
        openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    }

    deinit { abandon() }

    /// Appends `bytes`.
    ///
    /// Written in pieces of `writebackPiece`, and the disk is asked to start writing each
    /// piece as soon as it is in the page cache (sync_file_range, which does not wait): the
    /// fsync at commit then finds most of the file written already, instead of starting
    /// all of it then. Durability is unchanged: nothing is published before that fsync.
    package func write(_ bytes: UnsafeRawBufferPointer) throws(BaseError) {
        precondition(!finished, "write to a committed or abandoned AtomicFile")
        var done = 0
        if bulk {
            if try writeDirectly(bytes) { return }
            done = try stage(bytes)
            if done == bytes.count { return }
        }
        while done < bytes.count {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[done..<min(bytes.count, done + Self.writebackPiece)])
            // At an explicit offset, so that `restart` needs no seek.
            let err = FileIO.writeAll(fd, piece, at: size)
            if err != 0 { throw Self.failure("write", temporaryPath, errno: err) }
            size += Int64(piece.count)
            done += piece.count
            if size - writebackStarted >= Int64(Self.writebackPiece) {
                // A hint: a file system that does not support it (or fails it) is left to
                // the fsync at commit, which reports any real write error.
                _ = CDRSystem_start_writeback(fd, writebackStarted, size - writebackStarted)
                writebackStarted = size
            }
        }
    }

    /// Bulk writes of whole aligned blocks from aligned memory, when nothing is staged (a
    /// backup's pack pieces, `DirectWriteBuffers` filled by the caller): written from the
    /// caller's memory with no copy into the staging buffer. Returns false when `bytes` is not
    /// such a write (it is then staged as any other).
    private func writeDirectly(_ bytes: UnsafeRawBufferPointer) throws(BaseError) -> Bool {
        let alignment = directAlignment
        guard alignment > 0, staged == 0, let base = bytes.baseAddress, !bytes.isEmpty,
              Int(bitPattern: base) % alignment == 0, bytes.count % alignment == 0,
              size % Int64(alignment) == 0 else { return false }
        var err = refusesDirectWritesForTesting ? EINVAL : FileIO.writeAll(fd, bytes, at: size)
        if err == EINVAL {
            // Refused as a direct write after all: through the page cache, as in flushStaged.
            stopDirectIO()
            err = FileIO.writeAll(fd, bytes, at: size)
        }
        if err != 0 { throw Self.failure("write", temporaryPath, errno: err) }
        size += Int64(bytes.count)
        return true
    }

    /// Bulk writes: copies `bytes` into the staging buffer, writing each full buffer out.
    /// Returns how many bytes it took (fewer than all only if no staging buffer could be had:
    /// the rest then goes out as it comes).
    private func stage(_ bytes: UnsafeRawBufferPointer) throws(BaseError) -> Int {
        var done = 0
        while done < bytes.count {
            if staging == nil {
                staging = DirectWriteBuffers.take()
                if staging == nil {
                    stopDirectIO()
                    bulk = false
                    break
                }
            }
            let count = min(bytes.count - done, DirectWriteBuffers.size - staged)
            (staging! + staged).copyMemory(from: bytes.baseAddress! + done, byteCount: count)
            staged += count
            size += Int64(count)
            done += count
            if staged == DirectWriteBuffers.size { try flushStaged() }
        }
        return done
    }

    /// Writes the staged bytes at their place in the file. With direct I/O, the last piece of
    /// a file (`final`) is padded with zeros to the alignment and the file cut back to `size`
    /// afterwards.
    private func flushStaged(final: Bool = false) throws(BaseError) {
        guard staged > 0, let staging else { return }
        let offset = size - Int64(staged)
        var length = staged
        if final && directAlignment > 0 {
            length = (staged + directAlignment - 1) / directAlignment * directAlignment
            (staging + staged).initializeMemory(as: UInt8.self, repeating: 0, count: length - staged)
        }
        let padded = length != staged
        var err = refusesDirectWritesForTesting && directAlignment > 0
            ? EINVAL : FileIO.writeAll(fd, UnsafeRawBufferPointer(start: staging, count: length), at: offset)
        if err == EINVAL && directAlignment > 0 {
            // Refused as a direct write after all (an alignment the file system did not
            // report): the same bytes through the page cache, and so is the rest of the file.
            stopDirectIO()
            err = FileIO.writeAll(fd, UnsafeRawBufferPointer(start: staging, count: staged), at: offset)
        }
        if err != 0 { throw Self.failure("write", temporaryPath, errno: err) }
        if padded && ftruncate(fd, off_t(size)) != 0 {
            throw Self.failure("truncate", temporaryPath, errno: errno)
        }
        if directAlignment == 0 {
            // Through the page cache: start this piece's writeback now, as `write` does.
            _ = CDRSystem_start_writeback(fd, offset, Int64(staged))
            writebackStarted = size
        }
        self.staged = 0
    }

    /// How much is written before the disk is asked to start on it (see `write`).
    static let writebackPiece = 1 << 20

    /// Appends `bytes`.
    package func write(_ bytes: [UInt8]) throws(BaseError) {
        try bytes.withBytes { (raw) throws(BaseError) in try write(raw) }
    }

    /// Empties the temporary file, for a writer that must start over (a snapshot retried
    /// after its source changed).
    package func restart() throws(BaseError) {
        precondition(!finished, "restart of a committed or abandoned AtomicFile")
        if ftruncate(fd, 0) != 0 { throw Self.failure("truncate", temporaryPath, errno: errno) }
        size = 0
        staged = 0
        writebackStarted = 0
    }

    /// Applies the mode, fsyncs, publishes under `path`, fsyncs the folder. On failure the
    /// temporary file is removed and the destination is as it was (except after a failed
    /// fsync of the folder: the file is then in place but may not survive a crash).
    package func commit(_ publication: Publication) throws(BaseError) {
        precondition(!finished, "commit of a committed or abandoned AtomicFile")
        defer { abandon() }
        try flushStaged(final: true)
        releaseStaging()
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 {
            throw Self.failure("set the owner of", temporaryPath, errno: errno)
        }
        if fchmod(fd, mode) != 0 { throw Self.failure("set the mode of", temporaryPath, errno: errno) }
        if fsync(fd) != 0 { throw Self.failure("fsync", temporaryPath, errno: errno) }
        // close(2) can report a delayed write error (NFS); after fsync it should not, but
        // a failure here still means the bytes are in doubt. (EINTR: Linux has closed it,
        // and fsync already succeeded.)
        let closed = close(fd)
        fd = -1
        if closed != 0 && errno != EINTR { throw Self.failure("close", temporaryPath, errno: errno) }
        switch publication {
        case .replace:
            if renameat(folderFD, temporaryName, folderFD, name) != 0 { throw Self.failure("rename into place", path, errno: errno) }
        case .writeOnce:
            if linkat(folderFD, temporaryName, folderFD, name, 0) != 0 {
                let err = errno
                if err == EEXIST {
                    throw BaseError(.fileExists, message: "\(path) already exists",
                                    context: ErrorContext(file: path), underlying: .errno(err))
                }
                throw Self.failure("link into place", path, errno: err)
            }
            // The file now has two names; the temporary one goes.
            unlinkat(folderFD, temporaryName, 0)
        }
        finished = true
        let err = folderFD == AT_FDCWD ? Folders.sync(folder) : Self.syncFolder(folderFD)
        if err != 0 {
            throw Self.failure("fsync the folder of", path, errno: err, after: "the file is in place but may not survive a crash")
        }
    }

    /// Drops the temporary file (idempotent; nothing else is touched).
    package func abandon() {
        releaseStaging()
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            finished = true
            unlinkat(folderFD, temporaryName, 0)
        }
    }

    /// fsyncs an open folder; the errors that `Folders.sync` forgives are forgiven.
    private static func syncFolder(_ fd: Int32) -> Int32 {
        if fsync(fd) != 0 {
            let err = errno
            return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP ? 0 : err
        }
        return 0
    }

    /// Writes `bytes` to `path` atomically in one call.
    package static func write(_ bytes: UnsafeRawBufferPointer, to path: String, mode: mode_t,
                              _ publication: Publication,
                              creatingFoldersWithMode folderMode: mode_t? = nil,
                              bulk: Bool = false) throws(BaseError) {
        let file = try AtomicFile(path: path, mode: mode, creatingFoldersWithMode: folderMode, bulk: bulk)
        try file.write(bytes)
        try file.commit(publication)
    }

    /// Writes `bytes` to `path` atomically in one call.
    package static func write(_ bytes: [UInt8], to path: String, mode: mode_t, _ publication: Publication,
                              creatingFoldersWithMode folderMode: mode_t? = nil,
                              bulk: Bool = false) throws(BaseError) {
        try bytes.withBytes { (raw) throws(BaseError) in
            try write(raw, to: path, mode: mode, publication, creatingFoldersWithMode: folderMode, bulk: bulk)
        }
    }

    private static func failure(_ operation: String, _ path: String, errno err: Int32,
                                after note: String? = nil) -> BaseError {
        let code: ErrorCode
        switch err {
        case ENOSPC, EDQUOT: code = .fileNoSpace
        case EACCES, EPERM, EROFS: code = .filePermission
        default: code = .fileIo
        }
        return BaseError(code, message: "cannot \(operation) \(path): \(errnoDescription(err))" + (note.map { "; \($0)" } ?? ""),
                         context: ErrorContext(file: path), underlying: .errno(err))
    }
}

/// Random names for temporary files (not secret; only unique). The standard library's
/// generator reads the kernel's getrandom(2).
package enum TemporaryName {
    package static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next()
        let low = generator.next() as UInt32
        return String(high, radix: 16) + String(low, radix: 16)
    }
}
