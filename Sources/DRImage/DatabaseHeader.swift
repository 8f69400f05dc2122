import DRBase
/// What the first 100 bytes of a database file say without the key.
package enum CipherGuess: String, Sendable, Codable {
    /// "SQLite format 3": an unencrypted database.
    case plain
    /// Bytes 0–15 a random KDF salt, bytes 16–23 a plaintext SQLite header tail: the shape
    /// SQLite3MultipleCiphers gives page 1 (chacha20 and its other ciphers).
    case sqlite3mc
    /// Everything from byte 16 on looks random: page 1 encrypted from byte 16, as SQLCipher does.
    case sqlcipher
    /// Not enough bytes to tell (an empty file).
    case unknown
}

/// The readable facts of page 1.
struct DatabaseHeader {
    var cipher: CipherGuess
    /// Page size from the plaintext header, nil when encrypted.
    var pageSize: Int?
    /// 2/2 means WAL, 1/1 rollback; nil when unreadable.
    var walMode: Bool?
    /// Reserved bytes per page (plaintext byte 20), when readable.
    var reservedBytes: Int?
    /// Only readable for plain databases.
    var changeCounter: UInt32?
    var headerPageCount: UInt32?
    /// The file looks like text or some other format, not a database.
    var looksLikeOtherFormat: Bool

    static let magic: [UInt8] = Array("SQLite format 3".utf8) + [0]

    init(_ bytes: [UInt8]) {
        cipher = .unknown
        looksLikeOtherFormat = false
        guard bytes.count >= 100 else {
            looksLikeOtherFormat = !bytes.isEmpty
            return
        }
        let tail = Array(bytes[16..<24])
        let plausibleTail = DatabaseHeader.plausibleTail(tail)
        if Array(bytes[0..<16]) == DatabaseHeader.magic {
            cipher = .plain
            if plausibleTail {
                fillTail(bytes)
                changeCounter = bigEndianUInt32(bytes, 24)
                let versionValidFor = bigEndianUInt32(bytes, 92)
                let pages = bigEndianUInt32(bytes, 28)
                if versionValidFor == changeCounter && pages > 0 {
                    headerPageCount = pages
                }
            } else {
                looksLikeOtherFormat = true
            }
        } else if plausibleTail {
            cipher = .sqlite3mc
            fillTail(bytes)
        } else if DatabaseHeader.looksLikeText(Array(bytes[0..<64])) {
            looksLikeOtherFormat = true
        } else {
            cipher = .sqlcipher
        }
    }

    private mutating func fillTail(_ bytes: [UInt8]) {
        let raw = Int(bigEndianUInt16(bytes, 16))
        pageSize = raw == 1 ? 65536 : raw
        walMode = bytes[18] == 2 && bytes[19] == 2
        reservedBytes = Int(bytes[20])
    }

    /// Page size a power of two in 512...65536 (1 = 65536), versions 1 or 2, and the fixed
    /// payload fractions 64/32/32 at bytes 21–23.
    static func plausibleTail(_ tail: [UInt8]) -> Bool {
        let raw = Int(bigEndianUInt16(tail, 0))
        let size = raw == 1 ? 65536 : raw
        guard size >= 512, size <= 65536, size & (size - 1) == 0 else { return false }
        guard (1...2).contains(tail[2]), (1...2).contains(tail[3]) else { return false }
        return tail[5] == 64 && tail[6] == 32 && tail[7] == 32
    }

    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { ($0 >= 0x20 && $0 < 0x7f) || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
    }
}

/// The rollback journal header (pager.c): magic, record count, checksum nonce, original
/// database size in pages, sector size, page size.
struct JournalHeader {
    static let magic: [UInt8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]
    var recordCount: UInt32
    /// The checksum's starting value (pager.c, cksumInit).
    var nonce: UInt32
    var originalPages: UInt32
    var sectorSize: Int
    var pageSize: Int

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 28, Array(bytes[0..<8]) == JournalHeader.magic else { return nil }
        recordCount = bigEndianUInt32(bytes, 8)
        nonce = bigEndianUInt32(bytes, 12)
        originalPages = bigEndianUInt32(bytes, 16)
        sectorSize = Int(bigEndianUInt32(bytes, 20))
        pageSize = Int(bigEndianUInt32(bytes, 24))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0,
              sectorSize >= 32, sectorSize <= 65536, sectorSize & (sectorSize - 1) == 0 else { return nil }
    }

    /// pager_cksum: the nonce plus every 200th byte of the page image, counted from its end.
    /// `record` holds the page number (4 bytes), then the page image.
    func checksum(_ record: [UInt8], pageSize: Int) -> UInt32 {
        var sum = nonce
        var i = pageSize - 200
        while i > 0 {
            sum = sum &+ UInt32(record[4 + i])
            i -= 200
        }
        return sum
    }
}
