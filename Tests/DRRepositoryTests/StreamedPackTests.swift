import DRBase
import DRCompression
import DRCrypto
import DRTransport
import Foundation
import Testing

@testable import DRRepository

/// Packs written to folder targets piece by piece (`StreamedPack`): the pieces tile the pack,
/// and what lands on the target is the pack a whole-pack writer makes of the same blobs.
@Suite("packs streamed in pieces")
struct StreamedPackTests {
    /// Sealed blobs of the given plaintext sizes (random bytes: stored as they are, so that a
    /// sealed blob is its plaintext + 40 bytes and sizes can be aimed at piece boundaries).
    static func blobs(_ sizes: [Int], keys: RepositoryKeys) throws -> [SealedBlob] {
        try sizes.map { size in
            let plain = SecureRandom.bytes(size)
            return try SealedBlob(plain, id: keys.chunkID(of: plain), kind: .data, keys: keys, compressor: nil)
        }
    }

    /// Streams `blobs` into one pack; returns its pieces, in order, and the refs.
    static func stream(_ blobs: [SealedBlob], id: PackID, keys: RepositoryKeys) throws -> ([PackPiece], [BlobRef]) {
        let pack = StreamedPack(id: id)
        var pieces: [PackPiece] = []
        var refs: [BlobRef] = []
        for blob in blobs {
            refs.append(try pack.append(blob) { pieces.append($0) })
        }
        _ = try pack.finish(keys: keys) { pieces.append($0) }
        return (pieces, refs)
    }

    /// Checks the pieces tile `0..<size` in order, every one full but the last, which alone
    /// carries the pack's size; returns the pack's bytes.
    static func assembled(_ pieces: [PackPiece]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, piece) in pieces.enumerated() {
            #expect(piece.offset == bytes.count, "piece \(index) starts at \(piece.offset), after \(bytes.count) bytes")
            let last = index == pieces.count - 1
            #expect(last || piece.isFull, "piece \(index) of \(pieces.count) is not full (\(piece.count) bytes)")
            #expect((piece.packSize != nil) == last)
            bytes.append(contentsOf: piece.bytes)
        }
        #expect(pieces.last?.packSize == bytes.count)
        return bytes
    }

    @Test("blobs across piece boundaries: the pieces tile the pack, whose blobs and header are a whole-pack writer's")
    func sameAsWholePack() throws {
        let scratch = try ScratchRepository()
        let capacity = PackPiece.capacity
        // A blob straddling the first boundary, one larger than a piece, small ones around.
        let sealed = try Self.blobs([4096, capacity - 10_000, 20_000, capacity + 12_345, 1, 4096], keys: scratch.keys)
        let id = PackID.random()
        let (pieces, refs) = try Self.stream(sealed, id: id, keys: scratch.keys)
        let streamed = Self.assembled(pieces)
        #expect(pieces.count >= 3)

        var whole = PackWriter(id: id)
        let wholeRefs = sealed.map { whole.append($0) }
        let finished = try whole.finish(keys: scratch.keys)
        #expect(refs == wholeRefs)
        // The blob area is byte for byte the same; the headers differ only in their nonce.
        let blobArea = sealed.reduce(0) { $0 + $1.bytes.count }
        #expect(Array(streamed[..<blobArea]) == Array(finished.bytes[..<blobArea]))
        #expect(streamed.count == finished.bytes.count)
        let entries = try PackReader.header(of: streamed, id: id, target: "scratch", keys: scratch.keys)
        #expect(entries == finished.entries)
    }

    @Test("blobs that end exactly on a piece boundary, and a pack whose tail does too")
    func boundaries() throws {
        let scratch = try ScratchRepository()
        let capacity = PackPiece.capacity
        // Blobs filling exactly one piece: the tail starts the next.
        let exact = try Self.blobs([capacity / 2 - 40, capacity / 2 - 40], keys: scratch.keys)
        let (pieces, _) = try Self.stream(exact, id: .random(), keys: scratch.keys)
        _ = Self.assembled(pieces)
        #expect(pieces.count == 2)
        #expect(pieces.first?.count == capacity)

        // A pack whose blobs and tail together end exactly on the boundary: the last piece is
        // full, and then an empty one carries the end. The tail's length depends a little on the
        // entries (its header is compressed), so aim until it lands.
        var first = capacity - 8192
        var hit = false
        for _ in 0..<64 where !hit {
            let id = PackID.random()
            let sealed = try Self.blobs([first, 4096], keys: scratch.keys)
            let (pieces, _) = try Self.stream(sealed, id: id, keys: scratch.keys)
            let total = pieces.last!.packSize!
            if total == capacity {
                let bytes = Self.assembled(pieces)
                #expect(pieces.last?.count == 0)
                #expect(try PackReader.header(of: bytes, id: id, target: "scratch", keys: scratch.keys).count == 2)
                hit = true
            } else {
                first += capacity - total
            }
        }
        #expect(hit, "no pack landed exactly on the piece boundary")
    }

    @Test("a folder target writes the pieces as they come and publishes the pack only at commit")
    func folderUpload() throws {
        let scratch = try ScratchRepository()
        let store = FileObjectStore(targetName: "scratch", root: scratch.folder)
        #expect(store.takesPieces)
        let id = PackID.random()
        let sealed = try Self.blobs([PackPiece.capacity + 777, 5000], keys: scratch.keys)
        let (pieces, refs) = try Self.stream(sealed, id: id, keys: scratch.keys)
        let expected = Self.assembled(pieces)

        let upload = try #require(try store.beginPut(id.objectName))
        for piece in pieces.dropLast() { try upload.append(piece.bytes) }
        #expect(!(try store.exists(id.objectName)), "the pack is visible before its commit")
        #expect(!(try store.incompleteWrites()).isEmpty)
        try upload.append(pieces.last!.bytes)
        try upload.commit()
        #expect(try store.get(id.objectName) == expected)
        #expect(try store.incompleteWrites().isEmpty)
        let reader = TargetBlobReader(store: store, keys: scratch.keys, cache: nil)
        var opened = 0
        try reader.forEachPlaintext(refs, context: "test") { _ in opened += 1 }
        #expect(opened == refs.count)

        // Write-once, as put(ifAbsent:): a second upload under the same name is refused and
        // leaves the first alone; an abandoned one leaves nothing.
        let again = try #require(try store.beginPut(id.objectName))
        try again.append(pieces.last!.bytes)
        #expect(throws: TransportError.self) { try again.commit() }
        #expect(try store.get(id.objectName) == expected)
        let dropped = try #require(try store.beginPut(PackID.random().objectName))
        try dropped.append(pieces.first!.bytes)
        dropped.abandon()
        #expect(try store.incompleteWrites().isEmpty)
        #expect(try store.list(prefix: "data/").count == 1)
    }
}
