import DRBase
package import DRCompression
import DRCrypto

/// One blob's entry in a pack header.
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

    /// kind (1) ‖ compressed (1) ‖ id (32) ‖ length (4) ‖ rawLength (4), little-endian. The
    /// offset is not stored: the blobs tile the pack, so each starts where the previous ends.
    static let encodedSize = 42

    func encode(into out: inout [UInt8]) {
        out.append(kind.rawValue)
        out.append(compressed ? 1 : 0)
        out.append(contentsOf: id.bytes)
        LittleEndian.append(length, to: &out)
        LittleEndian.append(rawLength, to: &out)
    }

    /// Decodes one entry; `offset` is where the previous entry ended.
    static func decode(_ bytes: ArraySlice<UInt8>, offset: UInt32) -> BlobEntry? {
        guard bytes.count >= encodedSize, let kind = BlobKind(rawValue: bytes[bytes.startIndex]),
              bytes[bytes.startIndex + 1] <= 1 else { return nil }
        // Read from memory, not byte by byte through the generic collection path: a check
        // with --read-data decodes one entry per blob (~1 % of its instructions that way).
        return bytes.withUnsafeBytes { raw in
            BlobEntry(kind: kind, compressed: raw[1] == 1,
                      id: ChunkID(bytes: UnsafeRawBufferPointer(rebasing: raw[2..<34])),
                      offset: offset,
                      length: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 34, as: UInt32.self)),
                      rawLength: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 38, as: UInt32.self)))
        }
    }

    /// Where this blob lies in `pack`.
    package func ref(in pack: PackID) -> BlobRef {
        BlobRef(id: id, kind: kind, compressed: compressed, pack: pack, offset: offset, length: length,
                rawLength: rawLength)
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
/// blob₁ ‖ … ‖ blobₙ ‖ sealed header ‖ u32 LE length of sealed header ‖ "DRP2"
/// header plaintext: zstd("DRH2" ‖ u32 LE n ‖ n × BlobEntry (42 bytes))
/// ```
/// The pack's id is chosen at random when it is opened, so that a blob's ref (pack and
/// offset) is known the moment it is appended, before the pack is finished.
package struct PackWriter {
    package let id: PackID
    package private(set) var bytes: [UInt8] = []
    package private(set) var entries: [BlobEntry] = []
    package var isEmpty: Bool { entries.isEmpty }
    package var size: Int { bytes.count }

    /// - Parameter capacity: the expected size, reserved at once so that filling the pack
    ///   never copies it while it grows.
    package init(capacity: Int = 0, id: PackID = .random()) {
        self.id = id
        if capacity > 0 {
            bytes.reserveCapacity(capacity)
            HugePages.advise(&bytes)
        }
    }

    /// Appends a blob sealed beforehand (sealing is the expensive part and runs outside any
    /// lock) and returns where it lies.
    @discardableResult
    package mutating func append(_ blob: SealedBlob) -> BlobRef {
        var entry = blob.entry
        entry.offset = UInt32(bytes.count)
        entries.append(entry)
        bytes.append(contentsOf: blob.bytes)
        return entry.ref(in: id)
    }

    /// Seals the header and returns the finished pack.
    package consuming func finish(keys: RepositoryKeys) throws(RepositoryError) -> FinishedPack {
        let tail = try Self.tail(entries: entries, id: id, keys: keys)
        var out = bytes
        bytes = []
        out.append(contentsOf: tail)
        return FinishedPack(id: id, bytes: out, entries: entries, headerBytes: tail.count)
    }

    /// What follows the blobs of pack `id`: its sealed header, the header's length and the
    /// magic.
    static func tail(entries: [BlobEntry], id: PackID, keys: RepositoryKeys) throws(RepositoryError) -> [UInt8] {
        var header = Array("DRH2".utf8)
        LittleEndian.append(UInt32(entries.count), to: &header)
        for entry in entries { entry.encode(into: &header) }
        let compressed: [UInt8]
        do { compressed = try Zstd.compress(header, level: 3) } catch { throw RepositoryError(error) }
        var out = try ObjectEnvelope.seal(compressed, kind: .packHeader, name: id.hex, key: keys.pack)
        LittleEndian.append(UInt32(out.count), to: &out)
        out.append(contentsOf: PackReader.magic)
        return out
    }
}

/// One blob, compressed when that helps and sealed, not yet placed in a pack.
package struct SealedBlob: Sendable {
    package let bytes: [UInt8]
    /// Its entry, with offset 0 until it is appended to a pack.
    package let entry: BlobEntry

    package init(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind, keys: RepositoryKeys,
                compressor: ChunkCompressor?) throws(RepositoryError) {
        self = try plaintext.withBytes { (raw) throws(RepositoryError) in
            try SealedBlob(raw, id: id, kind: kind, keys: keys, compressor: compressor)
        }
    }

    /// Seals a chunk where it lies (a page inside the block a backup read), without copying
    /// it into an array of its own first.
    package init(_ plaintext: UnsafeRawBufferPointer, id: ChunkID, kind: BlobKind, keys: RepositoryKeys,
                compressor: ChunkCompressor?) throws(RepositoryError) {
        var payload: [UInt8]?
        if let compressor {
            do {
                payload = try compressor.compressed(plaintext)
            } catch {
                throw RepositoryError(error)
            }
        }
        let compressed = payload != nil
        let rawLength = UInt32(plaintext.count)
        let ad = BlobEntry.associatedData(kind: kind, compressed: compressed, id: id, rawLength: rawLength)
        do {
            if let payload {
                bytes = try XChaCha20Poly1305.seal(payload, key: keys.data, associatedData: ad)
            } else {
                bytes = try XChaCha20Poly1305.seal(plaintext, key: keys.data, associatedData: ad)
            }
        } catch {
            throw RepositoryError(error)
        }
        entry = BlobEntry(kind: kind, compressed: compressed, id: id, offset: 0,
                          length: UInt32(bytes.count), rawLength: rawLength)
    }
}

package struct FinishedPack: Sendable {
    package var id: PackID
    package var bytes: [UInt8]
    package var entries: [BlobEntry]
    /// The sealed header, its length and the magic.
    package var headerBytes: Int
    package var objectName: String { id.objectName }
}

package enum PackNaming {
    /// `data/<first two hex digits>/<id>`: spreads packs over 256 folders.
    package static func objectName(_ id: String) -> String { "data/\(id.prefix(2))/\(id)" }
    package static func id(fromObjectName name: String) -> PackID? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "data", parts[2].count == 64, parts[2].hasPrefix(parts[1]),
              parts[1].count == 2, parts[2] == parts[2].lowercased() else { return nil }
        return PackID(hex: String(parts[2]))
    }
}

/// Reading packs: the header (for check and recovery) and single blobs.
package enum PackReader {
    static let magic = Array("DRP2".utf8)
    /// Largest header plaintext accepted (a bound against decompression bombs): a pack of
    /// 4 GiB of one-byte blobs could not have more entries than this allows.
    static let maximumHeader = 256 << 20

    static func sealedHeaderRange(of pack: UnsafeRawBufferPointer) -> Range<Int>? {
        guard pack.count >= 8, pack[(pack.count - 4)...].elementsEqual(magic) else { return nil }
        let length = Int(UInt32(littleEndian: pack.loadUnaligned(fromByteOffset: pack.count - 8, as: UInt32.self)))
        guard length <= pack.count - 8 else { return nil }
        return (pack.count - 8 - length)..<(pack.count - 8)
    }

    /// Parses and opens a whole pack's header (its name bound by the associated data), and
    /// checks that its blobs tile the data area exactly, so that no byte of the pack escapes
    /// authentication (every blob byte is under an AEAD tag, the rest is the header).
    package static func header(of pack: [UInt8], id: PackID, target: String,
                              keys: RepositoryKeys) throws(RepositoryError) -> [BlobEntry] {
        let result: Result<[BlobEntry], RepositoryError> = pack.withUnsafeBytes { raw in
            Result { () throws(RepositoryError) in try header(of: raw, id: id, target: target, keys: keys) }
        }
        return try result.get()
    }

    /// `header(of:id:target:keys:)` of a pack in a reader's buffer.
    package static func header(of pack: UnsafeRawBufferPointer, id: PackID, target: String,
                              keys: RepositoryKeys) throws(RepositoryError) -> [BlobEntry] {
        let name = id.objectName
        let damaged = { (why: String) in
            RepositoryError(.repositoryPackDamaged, message: "target \(target): pack \(name) is damaged: \(why)",
                            context: ErrorContext(target: target, object: name))
        }
        guard let range = sealedHeaderRange(of: pack) else {
            throw damaged("no DRP2 trailer (truncated?)")
        }
        let plain: [UInt8]
        do {
            let compressed = try ObjectEnvelope.open(Array(pack[range]), kind: .packHeader, name: id.hex,
                                                     target: target, key: keys.pack)
            plain = try Zstd.decompress(compressed, maxOutput: maximumHeader)
        } catch {
            throw damaged("its header fails authentication (or it was renamed)")
        }
        guard plain.count >= 8, Array(plain[0..<4]) == Array("DRH2".utf8) else { throw damaged("bad header magic") }
        let count = Int(LittleEndian.uint32(plain[...], at: 4))
        guard plain.count == 8 + count * BlobEntry.encodedSize else { throw damaged("header size does not match its count") }
        var entries: [BlobEntry] = []
        entries.reserveCapacity(count)
        var offset = 0
        for index in 0..<count {
            let start = 8 + index * BlobEntry.encodedSize
            guard let entry = BlobEntry.decode(plain[start..<(start + BlobEntry.encodedSize)], offset: UInt32(offset)),
                  offset + Int(entry.length) <= range.lowerBound else {
                throw damaged("header entry \(index) is invalid or lies outside the data area")
            }
            entries.append(entry)
            offset += Int(entry.length)
        }
        guard offset == range.lowerBound else {
            throw damaged("its blobs end at \(offset), its header starts at \(range.lowerBound)")
        }
        return entries
    }

    /// Authenticates a whole pack as it lies on a target: its header opens under its name and
    /// its blobs tile it, and every blob opens and hashes to its id (check `--read-data`, and
    /// sync before it copies a pack to another target).
    /// - Parameter verified: counts the blobs authenticated, also when a later one fails.
    package static func authenticate(_ pack: [UInt8], id: PackID, target: String, keys: RepositoryKeys,
                                     verified: inout Int) throws(RepositoryError) {
        let result: Result<Void, RepositoryError> = pack.withUnsafeBytes { raw in
            Result { () throws(RepositoryError) in
                try authenticate(raw, id: id, target: target, keys: keys, scratch: BlobScratch(), verified: &verified)
            }
        }
        try result.get()
    }

    /// `authenticate` for a pack read into a worker's reused buffer, its blobs opened where
    /// they lie into `scratch`: `check --read-data` allocates nothing per pack or per blob.
    package static func authenticate(_ pack: UnsafeRawBufferPointer, id: PackID, target: String, keys: RepositoryKeys,
                                     scratch: BlobScratch, verified: inout Int) throws(RepositoryError) {
        let entries = try header(of: pack, id: id, target: target, keys: keys)
        for entry in entries {
            let start = Int(entry.offset)
            _ = try openBlob(UnsafeRawBufferPointer(rebasing: pack[start..<(start + Int(entry.length))]),
                             ref: entry.ref(in: id), target: target, keys: keys, scratch: scratch)
            verified += 1
        }
    }

    /// Opens one sealed blob, decompresses it and checks that its plaintext hashes to its id.
    package static func openBlob(_ sealed: ArraySlice<UInt8>, ref entry: BlobRef, target: String,
                                keys: RepositoryKeys) throws(RepositoryError) -> [UInt8] {
        // Opened in place: no copy of the blob on the restore and check path.
        let opened: Result<[UInt8], RepositoryError> = sealed.withUnsafeBytes { raw in
            Result { () throws(RepositoryError) -> [UInt8] in try openBlob(raw, ref: entry, target: target, keys: keys) }
        }
        return try opened.get()
    }

    /// Opens one sealed blob where it lies (in a reader's reused buffer).
    package static func openBlob(_ sealed: UnsafeRawBufferPointer, ref entry: BlobRef, target: String,
                                keys: RepositoryKeys) throws(RepositoryError) -> [UInt8] {
        let scratch = BlobScratch()
        return Array(try openBlob(sealed, ref: entry, target: target, keys: keys, scratch: scratch))
    }

    /// Opens one sealed blob where it lies, decrypts it (and decompresses it) into `scratch`'s
    /// reused buffers, and checks that its plaintext hashes to its id: no array per blob (restore
    /// and `check --read-data` open every page this way).
    /// - Returns: the plaintext, valid until `scratch` opens the next blob.
    package static func openBlob(_ sealed: UnsafeRawBufferPointer, ref entry: BlobRef, target: String,
                                keys: RepositoryKeys, scratch: BlobScratch) throws(RepositoryError) -> UnsafeRawBufferPointer {
        // The pack's name only when an error needs it: hex-encoding it for every blob opened
        // was 15 % of a restore's instructions.
        var pack: String { entry.pack.objectName }
        guard sealed.count == Int(entry.length) else {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) is cut short: \(sealed.count) of \(entry.length) bytes",
                                  context: ErrorContext(target: target, object: pack))
        }
        let opened = max(0, sealed.count - XChaCha20Poly1305.overhead)
        // An uncompressed blob is decrypted straight into the plaintext buffer; a compressed
        // one into the payload buffer, then decompressed into the plaintext buffer.
        let payload = entry.compressed ? scratch.payload(count: opened) : scratch.plain(count: opened)
        do {
            try BlobEntry.withAssociatedData(kind: entry.kind, compressed: entry.compressed, id: entry.id,
                                             rawLength: entry.rawLength) { (ad) throws(CryptoError) in
                try XChaCha20Poly1305.open(sealed, into: payload, key: keys.data, associatedData: ad)
            }
        } catch {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) fails authentication: the pack is damaged",
                                  context: ErrorContext(target: target, object: pack))
        }
        let plain: UnsafeRawBufferPointer
        do {
            if entry.compressed {
                let output = scratch.plain(count: Int(entry.rawLength))
                try ChunkCompression.decode(compressed: UnsafeRawBufferPointer(payload), into: output)
                plain = UnsafeRawBufferPointer(output)
            } else {
                try ChunkCompression.checkStored(length: opened, originalLength: Int(entry.rawLength))
                plain = UnsafeRawBufferPointer(payload)
            }
        } catch {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) does not decompress: \(error)",
                                  context: ErrorContext(target: target, object: pack))
        }
        guard keys.chunkID(of: plain) == entry.id else {
            throw RepositoryError(.repositoryBlobDamaged, message: "target \(target): blob \(entry.id) in pack \(pack) does not hash to its id",
                                  context: ErrorContext(target: target, object: pack))
        }
        return plain
    }
}
