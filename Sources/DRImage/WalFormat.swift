import DRBase
/// SQLite's cumulative WAL checksum (wal.c, walChecksumBytes), over 8-byte steps.
///
/// `bigEndianWords` is the WAL magic's low bit: 0x377f0682 reads the words little-endian,
/// 0x377f0683 big-endian. The checksum of a frame continues from the previous frame's, so one
/// flipped bit anywhere in the prefix breaks every later frame: this is what lets drctl check a
/// WAL prefix without the key (both SQLite3MultipleCiphers and SQLCipher checksum ciphertext).
struct WalChecksum: Equatable {
    var s1: UInt32
    var s2: UInt32

    static let zero = WalChecksum(s1: 0, s2: 0)

    func adding(_ bytes: UnsafeRawBufferPointer, bigEndianWords: Bool) -> WalChecksum {
        var s1 = self.s1
        var s2 = self.s2
        let words = bytes.count / 4
        var i = 0
        if bigEndianWords {
            while i < words {
                let x0 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                let x1 = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i * 4 + 4, as: UInt32.self))
                s1 = s1 &+ x0 &+ s2
                s2 = s2 &+ x1 &+ s1
                i += 2
            }
        } else {
            while i < words {
                let x0 = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                let x1 = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4 + 4, as: UInt32.self))
                s1 = s1 &+ x0 &+ s2
                s2 = s2 &+ x1 &+ s1
                i += 2
            }
        }
        return WalChecksum(s1: s1, s2: s2)
    }
}

/// The 32-byte WAL file header (walformat.html).
struct WalHeader: Equatable {
    static let size = 32
    static let frameHeaderSize = 24

    var bigEndianChecksums: Bool
    var version: UInt32
    var pageSize: Int
    var checkpointSequence: UInt32
    var salt1: UInt32
    var salt2: UInt32
    var checksum: WalChecksum

    /// Parses and checks magic, page size and header checksum; nil when the header is not
    /// a valid WAL header (an empty or reset WAL, or garbage).
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= WalHeader.size else { return nil }
        let magic = bigEndianUInt32(bytes, 0)
        guard magic == 0x377f_0682 || magic == 0x377f_0683 else { return nil }
        bigEndianChecksums = (magic & 1) == 1
        version = bigEndianUInt32(bytes, 4)
        let rawPageSize = Int(bigEndianUInt32(bytes, 8))
        guard rawPageSize >= 512, rawPageSize <= 65536, rawPageSize & (rawPageSize - 1) == 0 else { return nil }
        pageSize = rawPageSize
        checkpointSequence = bigEndianUInt32(bytes, 12)
        salt1 = bigEndianUInt32(bytes, 16)
        salt2 = bigEndianUInt32(bytes, 20)
        checksum = WalChecksum(s1: bigEndianUInt32(bytes, 24), s2: bigEndianUInt32(bytes, 28))
        let computed = bytes.withUnsafeBytes { raw in
            WalChecksum.zero.adding(UnsafeRawBufferPointer(rebasing: raw[0..<24]), bigEndianWords: bigEndianChecksums)
        }
        guard computed == checksum else { return nil }
    }

    var frameSize: Int { WalHeader.frameHeaderSize + pageSize }

    func frameOffset(_ frame: UInt32) -> Int64 {
        Int64(WalHeader.size) + Int64(frame - 1) * Int64(frameSize)
    }
}

/// The result of walking a WAL prefix: where the last committed version of each page is.
struct WalScan {
    /// Page number → offset of that page's data (after the frame header) in the WAL file,
    /// for the last frame of each page up to `lastCommitFrame`.
    var pageOffsets: [UInt32: Int64] = [:]
    /// The last commit frame (0: none), the database size in pages it records, and the
    /// cumulative checksum after it.
    var lastCommitFrame: UInt32 = 0
    var databasePages: UInt32 = 0
    var checksumAtCommit = WalChecksum.zero
    /// Why the walk stopped before the end of the file (offline scans), for the report.
    var stopReason: String?
}

enum WalScanner {
    /// How a walk treats a frame that fails its checks.
    enum Mode {
        /// A live snapshot: frames 1...mxFrame are committed and pinned; every one must be
        /// valid and the last must be a commit frame.
        case pinned(mxFrame: UInt32)
        /// Nobody connected: take frames while they are valid, as SQLite's recovery does.
        case recovery
    }

    /// Walks the WAL frames after `header`, validating salts and the checksum chain.
    static func scan(wal: SystemFile, header: WalHeader, mode: Mode) throws(ImageError) -> WalScan {
        let frameSize = header.frameSize
        let walSize = try wal.size()
        var scan = WalScan()
        var pending: [(UInt32, Int64)] = []
        var checksum = header.checksum
        var buffer = [UInt8](repeating: 0, count: frameSize)
        let limit: UInt32
        switch mode {
        case .pinned(let mxFrame):
            let needed = header.frameOffset(mxFrame) + Int64(frameSize)
            if mxFrame > 0 && walSize < needed {
                throw ImageError(
                    .imageShmInconsistent, message: "\(String(wal.path.dropLast(4)))-shm: the wal-index does not match the WAL: it says \(mxFrame) frames are committed, but \(wal.path) holds only \(max(0, (walSize - Int64(WalHeader.size)) / Int64(frameSize))). Nothing was changed; open the mailbox with its key so SQLite rebuilds the index, or restore it from a backup")
            }
            limit = mxFrame
        case .recovery:
            limit = UInt32(clamping: max(0, (walSize - Int64(WalHeader.size)) / Int64(frameSize)))
        }
        var frame: UInt32 = 1
        var brokenAt: UInt32?
        while frame <= limit {
            let offset = header.frameOffset(frame)
            let got = try withMutableBytes(&buffer) { (raw) throws(ImageError) -> Int in
                try wal.read(into: raw.baseAddress!, count: frameSize, at: offset)
            }
            if got < frameSize {
                if case .pinned = mode {
                    throw ImageError(.imageWalShort, message: "\(wal.path): WAL frame \(frame) is cut short; the WAL was truncated while pinned, which SQLite never does: the file is damaged or was changed by something other than SQLite")
                }
                scan.stopReason = "frame \(frame) is incomplete (a writer stopped mid-frame)"
                break
            }
            let pageNumber = bigEndianUInt32(buffer, 0)
            let commitSize = bigEndianUInt32(buffer, 4)
            let salt1 = bigEndianUInt32(buffer, 8)
            let salt2 = bigEndianUInt32(buffer, 12)
            let stored = WalChecksum(s1: bigEndianUInt32(buffer, 16), s2: bigEndianUInt32(buffer, 20))
            if salt1 != header.salt1 || salt2 != header.salt2 {
                if case .pinned = mode {
                    throw ImageError(.imageWalSalt, message: "\(wal.path): WAL frame \(frame) carries salts that differ from the WAL header, inside the committed prefix the -shm names; the WAL or the -shm is damaged. Open the mailbox with its key (SQLite recovery) or restore it from a backup")
                }
                scan.stopReason = "frame \(frame) belongs to an earlier WAL generation"
                break
            }
            let next = buffer.withUnsafeBytes { raw in
                checksum
                    .adding(UnsafeRawBufferPointer(rebasing: raw[0..<8]), bigEndianWords: header.bigEndianChecksums)
                    .adding(UnsafeRawBufferPointer(rebasing: raw[WalHeader.frameHeaderSize..<frameSize]),
                            bigEndianWords: header.bigEndianChecksums)
            }
            if next != stored || pageNumber == 0 {
                if case .pinned = mode {
                    throw ImageError(.imageWalChecksum, message: "\(wal.path): WAL frame \(frame) fails its cumulative checksum inside the committed prefix (\(limit) frames); the WAL is damaged. Do not delete it: open the mailbox with its key to let SQLite decide, or restore it from a backup")
                }
                brokenAt = frame
                scan.stopReason = "frame \(frame) fails its checksum (not part of a committed transaction)"
                break
            }
            checksum = next
            pending.append((pageNumber, offset + Int64(WalHeader.frameHeaderSize)))
            if commitSize != 0 {
                for (page, dataOffset) in pending {
                    scan.pageOffsets[page] = dataOffset
                }
                pending.removeAll(keepingCapacity: true)
                scan.lastCommitFrame = frame
                scan.databasePages = commitSize
                scan.checksumAtCommit = checksum
            }
            frame += 1
        }
        if case .pinned(let mxFrame) = mode, mxFrame > 0, scan.lastCommitFrame != mxFrame {
            throw ImageError(.imageWalNoCommit, message: "\(wal.path): the -shm names frame \(mxFrame) as the last committed frame, but it is not a commit frame; the -shm lies or the WAL is damaged. Open the mailbox with its key so SQLite rebuilds the index, or restore it from a backup")
        }
        if let brokenAt {
            // A torn tail after a crash is normal. Frames after the break that carry this
            // WAL's salts and a commit mark are not: SQLite's recovery would silently drop
            // committed transactions, so refuse rather than back up a truncated history.
            var probe = brokenAt + 1
            while probe <= limit {
                let head = try wal.readBytes(count: WalHeader.frameHeaderSize, at: header.frameOffset(probe))
                if head.count < WalHeader.frameHeaderSize { break }
                if bigEndianUInt32(head, 8) == header.salt1 && bigEndianUInt32(head, 12) == header.salt2
                    && bigEndianUInt32(head, 4) != 0 {
                    throw ImageError(
                        .imageWalChecksum, message: "\(wal.path): WAL frame \(brokenAt) fails its cumulative checksum, yet frame \(probe) after it carries this WAL's salts and a commit mark: committed transactions would be lost. The WAL is damaged; keep it, open the mailbox with its key (SQLite recovery) or restore it from a backup")
                }
                probe += 1
            }
        }
        return scan
    }
}
