import DRBase
package import DRCompression
import DRCrypto

/// One blob's entry in a pack header and in the index.
package struct BlobEntry: Sendable, Equatable {
    package var kind: BlobKind
    package var compressed: Bool
    package var id: ChunkID
    /// Offset of the sealed blob in its pack.
    package var offset: UInt32
    /// Length of the sealed blob (nonce ‖ ciphertext ‖ tag).
    package var length: UInt32
    /// Length of the plaintext.
    package var rawLength: UInt32

    /// kind (1) ‖ flags (1) ‖ id (32) ‖ offset (4) ‖ length (4) ‖ rawLength (4), little-endian.
    static let encodedSize = 46

    func encode(into out: inout [UInt8]) {
        out.append(kind.rawValue)
        out.append(compressed ? 1 : 0)
        out.append(contentsOf: id.bytes)
        LittleEndian.append(offset, to: &out)
        LittleEndian.append(length, to: &out)
        LittleEndian.append(rawLength, to: &out)
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> BlobEntry? {
        guard bytes.count >= encodedSize, let kind = BlobKind(rawValue: bytes[bytes.startIndex]),
              bytes[bytes.startIndex + 1] <= 1 else { return nil }
        let start = bytes.startIndex
        return BlobEntry(kind: kind, compressed: bytes[start + 1] == 1,
                         id: ChunkID(bytes: bytes[(start + 2)..<(start + 34)]),
                         offset: LittleEndian.uint32(bytes, at: 34),
                         length: LittleEndian.uint32(bytes, at: 38),
                         rawLength: LittleEndian.uint32(bytes, at: 42))
    }

    /// Associated data of a sealed blob: binds its id, kind, compression and size.
    static func associatedData(kind: BlobKind, compressed: Bool, id: ChunkID, rawLength: UInt32) -> [UInt8] {
        var ad = Array("DRB1".utf8)
        ad.append(kind.rawValue)
        ad.append(compressed ? 1 : 0)
        ad.append(contentsOf: id.bytes)
        LittleEndian.append(rawLength, to: &ad)
        return ad
    }
}

/// Builds one pack: sealed blobs back to back, then the sealed header, its length and a magic.
///
/// ```
/// blob₁ ‖ … ‖ blobₙ ‖ sealed header ‖ u32 LE length of sealed header ‖ "DRP1"
/// header plaintext: "DRH1" ‖ u32 LE n ‖ n × BlobEntry (46 bytes)
/// ```
package struct PackWriter {
    package private(set) var bytes: [UInt8] = []
    package private(set) var entries: [BlobEntry] = []
    package var isEmpty: Bool { entries.isEmpty }
    package var size: Int { bytes.count }

    /// - Parameter capacity: the expected size, reserved at once so that filling the pack
    ///   never copies it while it grows.
    package init(capacity: Int = 0) {
        if capacity > 0 { bytes.reserveCapacity(capacity) }
    }

    /// Compresses (when it shrinks), seals and appends one blob.
    package mutating func add(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind, keys: RepositoryKeys,
                             compressor: ChunkCompressor) throws(RepositoryError) {
        append(try SealedBlob(plaintext, id: id, kind: kind, keys: keys, compressor: compressor))
    }

    /// Appends a blob sealed beforehand (sealing is the expensive part and runs outside any lock).
    package mutating func append(_ blob: SealedBlob) {
        var entry = blob.entry
        entry.offset = UInt32(bytes.count)
        entries.append(entry)
        bytes.append(contentsOf: blob.bytes)
    }

    /// Seals the header and returns the finished pack with its id.
    ///
    /// The id is the hex BLAKE2b-256 of the sealed header: unique (the header's nonce is
    /// random) and cheap (the blob bytes are not hashed a second time; each blob is
    /// authenticated by its own AEAD tag, and the header fixes where every blob lies).
    package consuming func finish(keys: RepositoryKeys) throws(RepositoryError) -> FinishedPack {
        var header = Array("DRH1".utf8)
        LittleEndian.append(UInt32(entries.count), to: &header)
        for entry in entries { entry.encode(into: &header) }
        let sealed = try ObjectEnvelope.seal(header, kind: .packHeader, name: "", key: keys.pack)
        var out = bytes
        bytes = []
        out.append(contentsOf: sealed)
        LittleEndian.append(UInt32(sealed.count), to: &out)
        out.append(contentsOf: Array("DRP1".utf8))
        return FinishedPack(id: ContentAddress.of(sealed), bytes: out, entries: entries)
    }
}

/// One blob, compressed when that helps and sealed, not yet placed in a pack.
package struct SealedBlob: Sendable {
    package let bytes: [UInt8]
    /// Its entry, with offset 0 until it is appended to a pack.
    package let entry: BlobEntry

    package init(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind, keys: RepositoryKeys,
                compressor: ChunkCompressor?) throws(RepositoryError) {
        var encoded: (payload: [UInt8], compressed: Bool) = (plaintext, false)
        if let compressor {
            do {
                encoded = try compressor.encode(plaintext)
            } catch {
                throw RepositoryError(error)
            }
        }
        let rawLength = UInt32(plaintext.count)
        let ad = BlobEntry.associatedData(kind: kind, compressed: encoded.compressed, id: id, rawLength: rawLength)
        do {
            bytes = try XChaCha20Poly1305.seal(encoded.payload, key: keys.data, associatedData: ad)
        } catch {
            throw RepositoryError(error)
        }
        entry = BlobEntry(kind: kind, compressed: encoded.compressed, id: id, offset: 0,
                          length: UInt32(bytes.count), rawLength: rawLength)
    }
}

package struct FinishedPack: Sendable {
    package var id: String
    package var bytes: [UInt8]
    package var entries: [BlobEntry]
    package var objectName: String { PackNaming.objectName(id) }
}

package enum PackNaming {
    /// `data/<first two hex digits>/<id>`: spreads packs over 256 folders.
    package static func objectName(_ id: String) -> String { "data/\(id.prefix(2))/\(id)" }
    package static func id(fromObjectName name: String) -> String? {
        let parts = name.split(separator: "/")
        guard parts.count == 3, parts[0] == "data", parts[2].count == 64, parts[2].hasPrefix(parts[1]) else { return nil }
        return String(parts[2])
    }
}

/// Reading packs: the header (for index recovery and check) and single blobs.
package enum PackReader {
    /// The id a pack's bytes give (hex BLAKE2b-256 of its sealed header), or nil when the
    /// trailer is unreadable.
    package static func id(of pack: [UInt8]) -> String? {
        guard let range = sealedHeaderRange(of: pack) else { return nil }
        return pack.withUnsafeBytes { raw in ContentAddress.of(UnsafeRawBufferPointer(rebasing: raw[range])) }
    }

    static func sealedHeaderRange(of pack: [UInt8]) -> Range<Int>? {
        guard pack.count >= 8, Array(pack[(pack.count - 4)...]) == Array("DRP1".utf8) else { return nil }
        let length = Int(LittleEndian.uint32(pack[...], at: pack.count - 8))
        guard length <= pack.count - 8 else { return nil }
        return (pack.count - 8 - length)..<(pack.count - 8)
    }

    /// Checks that the header's blobs tile the data area exactly, so that no byte of the pack
    /// escapes authentication (every blob byte is under an AEAD tag, the rest is the header).
    package static func checkTiling(_ entries: [BlobEntry], pack: [UInt8], name: String, target: String) throws(RepositoryError) {
        guard let range = sealedHeaderRange(of: pack) else {
            throw RepositoryError(.repositoryPackDamaged, message: "target \(target): pack \(name) is damaged: no DRP1 trailer")
        }
        var expected = 0
        for entry in entries.sorted(by: { $0.offset < $1.offset }) {
            guard Int(entry.offset) == expected else {
                throw RepositoryError(.repositoryPackDamaged, message: "target \(target): pack \(name) is damaged: bytes \(expected)..<\(entry.offset) belong to no blob")
            }
            expected += Int(entry.length)
        }
        guard expected == range.lowerBound else {
            throw RepositoryError(.repositoryPackDamaged, message: "target \(target): pack \(name) is damaged: its blobs end at \(expected), its header starts at \(range.lowerBound)")
        }
    }

    /// Parses and opens a whole pack's header. Checks the trailer and that entries lie inside
    /// the pack.
    package static func header(of pack: [UInt8], name: String, target: String,
                              keys: RepositoryKeys) throws(RepositoryError) -> [BlobEntry] {
        let damaged = { (why: String) in
            RepositoryError(.repositoryPackDamaged, message: "target \(target): pack \(name) is damaged: \(why)")
        }
        guard pack.count >= 8, Array(pack[(pack.count - 4)...]) == Array("DRP1".utf8) else {
            throw damaged("no DRP1 trailer (truncated?)")
        }
        let headerLength = Int(LittleEndian.uint32(pack[...], at: pack.count - 8))
        guard headerLength <= pack.count - 8 else { throw damaged("header length out of range") }
        let headerStart = pack.count - 8 - headerLength
        let plain: [UInt8]
        do {
            plain = try ObjectEnvelope.open(Array(pack[headerStart..<(pack.count - 8)]), kind: .packHeader,
                                            name: "", target: target, key: keys.pack)
        } catch {
            throw damaged("its header fails authentication")
        }
        guard plain.count >= 8, Array(plain[0..<4]) == Array("DRH1".utf8) else { throw damaged("bad header magic") }
        let count = Int(LittleEndian.uint32(plain[...], at: 4))
        guard plain.count == 8 + count * BlobEntry.encodedSize else { throw damaged("header size does not match its count") }
        var entries: [BlobEntry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let start = 8 + index * BlobEntry.encodedSize
            guard let entry = BlobEntry.decode(plain[start..<(start + BlobEntry.encodedSize)]),
                  Int(entry.offset) + Int(entry.length) <= headerStart else {
                throw damaged("header entry \(index) is invalid")
            }
            entries.append(entry)
        }
        return entries
    }

    /// Opens one sealed blob, decompresses it and checks that its plaintext hashes to its id.
    package static func openBlob(_ sealed: ArraySlice<UInt8>, entry: BlobEntry, pack: String, target: String,
                                keys: RepositoryKeys) throws(RepositoryError) -> [UInt8] {
        let ad = BlobEntry.associatedData(kind: entry.kind, compressed: entry.compressed, id: entry.id,
                                          rawLength: entry.rawLength)
        let payload: [UInt8]
        do {
            // Opened in place: no copy of the blob on the restore and check path.
            payload = try sealed.withUnsafeBytes { raw in
                try XChaCha20Poly1305.open(raw, key: keys.data, associatedData: ad)
            }
        } catch {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) fails authentication: the pack is damaged")
        }
        let plain: [UInt8]
        do {
            plain = try ChunkCompression.decode(payload: payload, compressed: entry.compressed,
                                                originalLength: Int(entry.rawLength))
        } catch {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) does not decompress: \(error)")
        }
        guard plain.count == Int(entry.rawLength), keys.chunkID(of: plain) == entry.id else {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) does not hash to its id")
        }
        return plain
    }
}
