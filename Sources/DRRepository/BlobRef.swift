import DRBase
import DRCrypto

/// A pack's name: 32 random bytes, chosen when the pack is opened (format 2).
///
/// Random rather than a hash of the pack, because the trees written while a pack is still
/// being filled must already name it (a file's tree records where each of its chunks lies).
/// The name is bound to the pack by the header's associated data, so a pack cannot be
/// renamed; every blob in it is still content-addressed and authenticated on its own.
package struct PackID: Words256, Hashable, Sendable, Comparable, CustomStringConvertible {
    package let a: UInt64, b: UInt64, c: UInt64, d: UInt64
    package init(words a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) { (self.a, self.b, self.c, self.d) = (a, b, c, d) }

    package static func random() -> PackID { PackID(bytes: SecureRandom.bytes(32)) }
    package var objectName: String { PackNaming.objectName(hex) }
}

/// Where one blob lies and what it holds: enough to read and authenticate it with no index.
///
/// Trees carry a ref for every child, and the mailbox list one for every file's root, so a
/// restore goes from the snapshot record to the bytes it needs and reads nothing else.
package struct BlobRef: Sendable, Hashable {
    package var id: ChunkID
    package var kind: BlobKind
    package var compressed: Bool
    package var pack: PackID
    /// Offset of the sealed blob in its pack.
    package var offset: UInt32
    /// Length of the sealed blob (nonce ‖ ciphertext ‖ tag).
    package var length: UInt32
    /// Length of the plaintext.
    package var rawLength: UInt32

    package init(id: ChunkID, kind: BlobKind, compressed: Bool, pack: PackID, offset: UInt32,
                 length: UInt32, rawLength: UInt32) {
        self.id = id
        self.kind = kind
        self.compressed = compressed
        self.pack = pack
        self.offset = offset
        self.length = length
        self.rawLength = rawLength
    }

    /// The byte range of the sealed blob in its pack.
    package var range: Range<Int64> { Int64(offset)..<(Int64(offset) + Int64(length)) }
}

/// The binary coding of refs inside tree and list nodes (docs/REPOSITORY.md, "Refs").
///
/// A node names the packs its refs use once, in a table, and each ref by its index:
/// ```
/// pack table = u16 LE p ‖ p × pack id (32)
/// ref        = id (32) ‖ u16 LE pack index ‖ u32 LE offset ‖ u32 LE length ‖ u32 LE rawLength ‖ u8 flags
/// ```
/// flags bit 0: compressed; other bits are zero. The kind is implied by where the ref stands.
package enum RefCoding {
    package static let refSize = 47
    package static let maximumPacks = Int(UInt16.max)

    /// Builds the pack table for `refs` (in order of first use).
    package static func packTable(_ refs: some Sequence<BlobRef>) -> (packs: [PackID], index: [PackID: UInt16]) {
        var packs: [PackID] = []
        var index: [PackID: UInt16] = [:]
        for ref in refs where index[ref.pack] == nil {
            index[ref.pack] = UInt16(packs.count)
            packs.append(ref.pack)
        }
        return (packs, index)
    }

    package static func appendTable(_ packs: [PackID], to out: inout [UInt8]) {
        precondition(packs.count <= maximumPacks, "a node names at most 65535 packs")
        appendU16(UInt16(packs.count), to: &out)
        for pack in packs { out.append(contentsOf: pack.bytes) }
    }

    package static func append(_ ref: BlobRef, packIndex: UInt16, to out: inout [UInt8]) {
        out.append(contentsOf: ref.id.bytes)
        appendU16(packIndex, to: &out)
        LittleEndian.append(ref.offset, to: &out)
        LittleEndian.append(ref.length, to: &out)
        LittleEndian.append(ref.rawLength, to: &out)
        out.append(ref.compressed ? 1 : 0)
    }

    static func appendU16(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    /// A cursor over a node's bytes that fails (returns nil) instead of reading past the end.
    package struct Reader {
        package let bytes: [UInt8]
        package private(set) var offset: Int
        package init(_ bytes: [UInt8], offset: Int = 0) {
            self.bytes = bytes
            self.offset = offset
        }
        package var remaining: Int { bytes.count - offset }
        package var atEnd: Bool { offset == bytes.count }

        package mutating func u8() -> UInt8? {
            guard remaining >= 1 else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }
        package mutating func u16() -> UInt16? {
            guard remaining >= 2 else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
        }
        package mutating func u32() -> UInt32? {
            guard remaining >= 4 else { return nil }
            defer { offset += 4 }
            return LittleEndian.uint32(bytes[...], at: offset)
        }
        package mutating func u64() -> UInt64? {
            guard remaining >= 8 else { return nil }
            defer { offset += 8 }
            return LittleEndian.uint64(bytes[...], at: offset)
        }
        package mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, remaining >= count else { return nil }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }
        package mutating func packTable() -> [PackID]? {
            guard let count = u16() else { return nil }
            var packs: [PackID] = []
            packs.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let raw = take(32) else { return nil }
                packs.append(PackID(bytes: raw))
            }
            return packs
        }
        /// One ref; `kind` is what the ref's position implies.
        package mutating func ref(kind: BlobKind, packs: [PackID]) -> BlobRef? {
            guard let raw = take(32), let pack = u16(), Int(pack) < packs.count, let offset = u32(),
                  let length = u32(), let rawLength = u32(), let flags = u8(), flags <= 1 else { return nil }
            return BlobRef(id: ChunkID(bytes: raw), kind: kind, compressed: flags == 1, pack: packs[Int(pack)],
                           offset: offset, length: length, rawLength: rawLength)
        }
    }
}

/// Reads blobs by ref and hands back their authenticated plaintexts (the restore's and
/// check's view of a target, with whatever caching and request coalescing it does).
package protocol BlobReading {
    /// The plaintexts of `refs`, in order; each is authenticated, decompressed and checked
    /// against its id. `context` names what they belong to (a mailbox), for messages.
    func read(_ refs: [BlobRef], context: String) throws(RepositoryError) -> [[UInt8]]

    /// Calls `body` with the plaintext of each of `refs`, in order, each authenticated,
    /// decompressed and checked against its id like `read`'s; the bytes are valid only during
    /// the call. For data chunks (restore): a reader may hand out its own reused buffer instead
    /// of an array per chunk.
    func forEachPlaintext(_ refs: [BlobRef], context: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
}

extension BlobReading {
    package func forEachPlaintext(_ refs: [BlobRef], context: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        for plain in try read(refs, context: context) { try plain.withUnsafeBytes(body) }
    }

    package func read(_ ref: BlobRef, context: String) throws(RepositoryError) -> [UInt8] {
        try read([ref], context: context)[0]
    }
}

/// Stores a node blob (tree or list) and says where it went: used by the tree and list
/// builders, which stay ignorant of packs and targets.
package protocol NodeStoring {
    /// Stores `plaintext` (whose keyed id is `id`) as a blob of `kind` and returns its ref.
    func storeNode(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind) throws(RepositoryError) -> BlobRef
}

extension BlobRef {
    /// Stands in for a ref not known yet (a manifest's list root before commit fills it in).
    package static let placeholder = BlobRef(id: ChunkID(bytes: [UInt8](repeating: 0, count: 32)), kind: .list,
                                             compressed: false, pack: PackID(bytes: [UInt8](repeating: 0, count: 32)),
                                             offset: 0, length: 0, rawLength: 0)
}
