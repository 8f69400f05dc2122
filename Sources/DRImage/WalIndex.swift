import DRBase
#if canImport(Glibc)
import Glibc
#endif

/// Offsets in the wal-index (`-shm`) and the lock bytes SQLite's unix VFS uses on it.
enum WalIndexLayout {
    static let headerSize = 48
    static let nBackfillOffset = 96
    static let readMarksOffset = 100
    static let readerSlots = 5
    /// Lock bytes: WRITE 120, CKPT 121, RECOVER 122, READ(i) 123+i, DMS 128.
    static let lockBase: Int64 = 120
    static let checkpointLock: Int64 = 121
    static func readLock(_ slot: Int) -> Int64 { lockBase + 3 + Int64(slot) }
    static let deadManSwitch: Int64 = 128
    /// WALINDEX_MAX_VERSION: the only iVersion SQLite accepts.
    static let version: UInt32 = 3_007_000

    static func validPageSize(_ size: Int) -> Bool {
        size >= 512 && size <= 65536 && size & (size - 1) == 0
    }
}

/// A decoded, validated wal-index header (wal.c, WalIndexHdr).
struct WalIndexHeader: Equatable {
    var raw: [UInt8]
    var change: UInt32
    var pageSize: Int
    var mxFrame: UInt32
    var nPage: UInt32
    var frameChecksum: WalChecksum
    var salt1Raw: UInt32
    var salt2Raw: UInt32
}

/// The `-shm` file, read and written through its descriptor.
///
/// SQLite's connections map it shared; on Linux `pread`/`pwrite` go through the same page
/// cache, so they see and make the same bytes. drctl does not map it: the file belongs to the
/// mail server's account, which can truncate it at any moment, and touching a mapped page
/// past the end of the file kills the process with SIGBUS. A read that comes up short is an
/// error of this mailbox instead.
///
/// drctl reads the header and the read marks, and writes only what a reader writes: one read
/// mark, under the exclusive lock of its slot.
final class WalIndex {
    let file: SystemFile

    init(file: SystemFile) throws(ImageError) {
        self.file = file
        let size = try file.size()
        if size < Int64(WalIndexLayout.nBackfillOffset + 40) {
            throw Self.short(file.path, size: size)
        }
    }

    private static func short(_ path: String, size: Int64) -> ImageError {
        ImageError(.imageShmShort, message: "\(path): the wal-index is only \(size) bytes although a connection holds it; it is being initialised (or was cut short). Retry", isTransient: true)
    }

    private func bytes(_ offset: Int, _ count: Int) throws(ImageError) -> [UInt8] {
        let got = try file.readBytes(count: count, at: Int64(offset))
        guard got.count == count else {
            throw Self.short(file.path, size: Int64(offset + got.count))
        }
        return got
    }

    /// Reads the header the way walIndexTryHdr does: both copies equal, initialised, and its
    /// native-order checksum right; nil when a writer is in the middle of updating it.
    ///
    /// The checksum only shows the header was written whole, not that SQLite wrote it: the
    /// `-shm` belongs to the mail server's account, so a well-summed header with an impossible
    /// value (a page size of 0, another version) is refused before anything divides by it.
    func readHeader() throws(ImageError) -> WalIndexHeader? {
        // Copy 0 before copy 1, as walIndexTryHdr reads them (a writer updates 1 first).
        let first = try bytes(0, WalIndexLayout.headerSize)
        let second = try bytes(WalIndexLayout.headerSize, WalIndexLayout.headerSize)
        guard first == second else { return nil }
        let decoded = first.withUnsafeBytes { raw -> (WalIndexHeader, UInt32, Int)? in
            guard raw[12] != 0 else { return nil }  // isInit
            let computed = WalChecksum.zero.adding(UnsafeRawBufferPointer(rebasing: raw[0..<40]),
                                                   bigEndianWords: hostIsBigEndian)
            let stored = WalChecksum(s1: raw.loadUnaligned(fromByteOffset: 40, as: UInt32.self),
                                     s2: raw.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
            guard computed == stored else { return nil }
            let rawPageSize = Int(raw.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
            // wal.c: the low bit stands for 65536, which does not fit in 16 bits.
            let pageSize = (rawPageSize & 0xfe00) + ((rawPageSize & 1) << 16)
            let header = WalIndexHeader(
                raw: first,
                change: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self),
                pageSize: pageSize,
                mxFrame: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self),
                nPage: raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self),
                frameChecksum: WalChecksum(s1: raw.loadUnaligned(fromByteOffset: 24, as: UInt32.self),
                                           s2: raw.loadUnaligned(fromByteOffset: 28, as: UInt32.self)),
                salt1Raw: raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self),
                salt2Raw: raw.loadUnaligned(fromByteOffset: 36, as: UInt32.self))
            return (header, raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self), rawPageSize)
        }
        guard let (header, version, rawPageSize) = decoded else { return nil }
        if version != WalIndexLayout.version {
            throw ImageError.invalidHeader(file.path, "the wal-index header says version \(version), where SQLite writes \(WalIndexLayout.version)")
        }
        if !WalIndexLayout.validPageSize(header.pageSize) || rawPageSize & 0x01fe != 0 {
            throw ImageError.invalidHeader(file.path, "the wal-index header gives the page size as \(rawPageSize), which is no power of two from 512 to 65536")
        }
        return header
    }

    func readMark(_ slot: Int) throws(ImageError) -> UInt32 {
        let raw = try bytes(WalIndexLayout.readMarksOffset + 4 * slot, 4)
        return raw.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }

    /// Stores a read mark (native order, as SQLite's connections read it); only called while
    /// holding the slot's exclusive lock.
    func setReadMark(_ slot: Int, _ value: UInt32) throws(ImageError) {
        try file.write(withUnsafeBytes(of: value) { Array($0) }, at: Int64(WalIndexLayout.readMarksOffset + 4 * slot))
    }
}

/// The byte order SQLite calls "native" for wal-index checksums on this machine.
let hostIsBigEndian = 1.bigEndian == 1
