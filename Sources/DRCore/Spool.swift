import DRBase
import DRImage

#if canImport(Glibc)
import Glibc
#endif

/// Where the chunker reads an image from: straight from the snapshot, or from a spool.
protocol BlockSource: AnyObject {
    /// Up to `maxBytes` (whole pages for SQLite images); empty at the end.
    func readBlock(maxBytes: Int) throws -> [UInt8]
    /// Fills `buffer` with the next whole pages (as many as fit; at least one page must fit)
    /// and returns the bytes written, 0 at the end: the chunker reads into one buffer of its
    /// own, so no array is allocated (and, at 1 MiB, mapped and faulted in) per block.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ImageReader: BlockSource {}

/// A private, nameless temporary file holding one image.
///
/// Used for rollback-journal databases: while their image is read, SQLite's SHARED lock keeps
/// every writer out, so the image is copied here at disk speed under the lock, the lock is
/// released, and only then is it hashed, sealed and uploaded. The file is opened with
/// O_TMPFILE (it never has a name, so nothing else can open it, and it vanishes when closed,
/// also if drctl is killed) in the state folder (mode 0700).
final class Spool: BlockSource {
    private let fd: Int32
    private var readOffset: Int64 = 0
    private(set) var size: Int64 = 0
    let pageSize: Int

    init(directory: String, pageSize: Int) throws(CoreError) {
        self.pageSize = pageSize
        let created = Folders.create(directory)
        if created != 0 {
            throw CoreError(.backupSpool, message: "cannot create \(directory) (the [state] folder) for a spool file: \(errnoDescription(created))")
        }
        var descriptor = open(directory, O_RDWR | Self.openTemporaryFile | O_CLOEXEC, 0o600)
        if descriptor < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
            // A filesystem without O_TMPFILE: a named file, unlinked at once.
            var template = Array("\(directory)/.spool-XXXXXX".utf8CString)
            descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if descriptor >= 0 {
                template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            }
        }
        guard descriptor >= 0 else {
            throw CoreError(.backupSpool, message: "cannot create a spool file in \(directory) (the [state] folder): \(errnoDescription(errno))")
        }
        fd = descriptor
    }

    deinit { close(fd) }

    /// O_TMPFILE, a macro Swift does not import: __O_TMPFILE (020000000, the same on every
    /// Linux architecture drctl builds for) with O_DIRECTORY.
    private static let openTemporaryFile: Int32 = 0o20_000_000 | O_DIRECTORY

    func append(_ bytes: [UInt8]) throws(CoreError) {
        let err = FileIO.writeAll(fd, bytes, at: size)
        if err != 0 {
            throw CoreError(.backupSpool, message: "cannot write the spool file in the [state] folder: \(errnoDescription(err)) (is the disk full?)")
        }
        size += Int64(bytes.count)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let wanted = Int(min(Int64(buffer.count / pageSize * pageSize), size - readOffset))
        guard wanted > 0 else { return 0 }
        switch FileIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]), at: readOffset) {
        case .success(let done):
            readOffset += Int64(done)
            return done
        case .failure(let error):
            throw CoreError(.backupSpool, message: "cannot read the spool file: \(errnoDescription(error.errno))")
        }
    }

    func readBlock(maxBytes: Int) throws -> [UInt8] {
        let wanted = Int(min(Int64(max(pageSize, maxBytes / pageSize * pageSize)), size - readOffset))
        guard wanted > 0 else { return [] }
        // Not zero-filled first: the read overwrites it, and the array keeps what was read.
        var outcome: Result<Int, FileIOError> = .success(0)
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialised in
            outcome = FileIO.read(fd, into: UnsafeMutableRawBufferPointer(buffer), at: readOffset)
            if case .success(let done) = outcome { initialised = done } else { initialised = 0 }
        }
        switch outcome {
        case .success(let done):
            readOffset += Int64(done)
            return bytes
        case .failure(let error):
            throw CoreError(.backupSpool, message: "cannot read the spool file: \(errnoDescription(error.errno))")
        }
    }
}
