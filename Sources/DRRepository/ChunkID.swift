import DRBase

/// A chunk's 32-byte id: keyed BLAKE2b-256 of its plaintext (key: the "chunk-id" subkey).
///
/// Keyed, so that the storage provider cannot confirm that a known file is stored. Held as
/// four words to keep in-memory indexes small and hashing cheap.
package struct ChunkID: Words256, Hashable, Sendable, Comparable, CustomStringConvertible {
    package let a: UInt64, b: UInt64, c: UInt64, d: UInt64
    package init(words a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) { (self.a, self.b, self.c, self.d) = (a, b, c, d) }
}

/// 32 bytes held as four big-endian words (chunk ids, pack ids): small in memory, cheap to
/// hash and compare. The coding to bytes and hex is written once, here.
package protocol Words256: Comparable, CustomStringConvertible {
    var a: UInt64 { get }
    var b: UInt64 { get }
    var c: UInt64 { get }
    var d: UInt64 { get }
    init(words a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64)
}

extension Words256 {
    package init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 32, "an id has 32 bytes")
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for (index, byte) in bytes.enumerated() {
            switch index / 8 {
            case 0: words.0 = words.0 << 8 | UInt64(byte)
            case 1: words.1 = words.1 << 8 | UInt64(byte)
            case 2: words.2 = words.2 << 8 | UInt64(byte)
            default: words.3 = words.3 << 8 | UInt64(byte)
            }
        }
        self.init(words: words.0, words.1, words.2, words.3)
    }

    /// From exactly 32 bytes in memory, without the generic path's temporary array.
    package init(bytes raw: UnsafeRawBufferPointer) {
        precondition(raw.count == 32, "an id has 32 bytes")
        func word(_ at: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        self.init(words: word(0), word(8), word(16), word(24))
    }

    package init?(hex: String) {
        guard hex.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// The 32 bytes, big-endian per word (the order they were hashed out in).
    package var bytes: [UInt8] {
        // Four stores into an uninitialised array: the byte-by-byte append took ~800
        // instructions per id, and every sealed blob's associated data holds one.
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, initialised in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: a.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: b.bigEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: c.bigEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: d.bigEndian, toByteOffset: 24, as: UInt64.self)
            initialised = 32
        }
    }

    package var hex: String { Hex.encode(bytes) }
    package var description: String { String(hex.prefix(16)) }

    package static func < (l: Self, r: Self) -> Bool { (l.a, l.b, l.c, l.d) < (r.a, r.b, r.c, r.d) }
}

/// What a blob in a pack holds.
package enum BlobKind: UInt8, Sendable, Codable {
    /// A chunk of a file's content.
    case data = 0
    /// A node of a file's chunk tree: refs to its children (docs/REPOSITORY.md, "Chunk trees").
    case tree = 1
    /// A node of a snapshot's mailbox list (docs/REPOSITORY.md, "Mailbox lists").
    case list = 2
}

/// Little-endian integer coding for the binary formats.
enum LittleEndian {
    static func append(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    static func uint32(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[bytes.startIndex + offset + index]) << UInt32(8 * index) }
        return value
    }
    static func uint64(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[bytes.startIndex + offset + index]) << UInt64(8 * index) }
        return value
    }
}
