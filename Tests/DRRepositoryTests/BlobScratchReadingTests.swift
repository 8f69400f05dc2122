import DRBase
import DRCompression
import DRCrypto
import DRTransport
import Foundation
import Testing

@testable import DRRepository

/// Restore's and `check --read-data`'s way to the blobs: opened where they lie into a reader's
/// reused buffers (`BlobScratch`), handed out in the order asked for.
@Suite("blobs opened into reused buffers")
struct BlobScratchReadingTests {
    /// Two packs on a `file://` target: pages that compress and pages that do not, of several
    /// sizes (one larger than the scratch buffers' first size, one of 3 MiB).
    struct Fixture {
        let scratch: ScratchRepository
        let store: FileObjectStore
        let refs: [BlobRef]
        let plains: [[UInt8]]
        let packs: [FinishedPack]

        init() throws {
            scratch = try ScratchRepository()
            store = FileObjectStore(targetName: "scratch", root: scratch.folder)
            let compressor = try ChunkCompressor()
            let contents: [[[UInt8]]] = [
                [RepositoryFormatTests.bytes(4096, seed: 1), SecureRandom.bytes(4096), RepositoryFormatTests.bytes(10, seed: 3),
                 SecureRandom.bytes(100_000)],
                [RepositoryFormatTests.bytes(4096, seed: 9), SecureRandom.bytes(3 << 20), RepositoryFormatTests.bytes(70_000, seed: 4),
                 SecureRandom.bytes(1)],
            ]
            var refs: [BlobRef] = []
            var plains: [[UInt8]] = []
            var packs: [FinishedPack] = []
            for pack in contents {
                var writer = PackWriter()
                for plain in pack {
                    refs.append(writer.append(try SealedBlob(plain, id: scratch.keys.chunkID(of: plain), kind: .data,
                                                             keys: scratch.keys, compressor: compressor)))
                    plains.append(plain)
                }
                let finished = try writer.finish(keys: scratch.keys)
                try store.put(finished.objectName, finished.bytes, ifAbsent: true)
                packs.append(finished)
            }
            self.refs = refs
            self.plains = plains
            self.packs = packs
        }

        /// What `forEachPlaintext` hands out for `order` (positions in `refs`), copied.
        func chunks(_ order: [Int], reader: TargetBlobReader) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            try reader.forEachPlaintext(order.map { refs[$0] }, context: "test") { out.append(Array($0)) }
            return out
        }
    }

    @Test("chunks come in the order asked, across packs, repeated and out of the packs' order, each its own plaintext")
    func fileOrder() throws {
        let fixture = try Fixture()
        #expect(fixture.refs.contains { $0.compressed } && fixture.refs.contains { !$0.compressed })
        let reader = TargetBlobReader(store: fixture.store, keys: fixture.scratch.keys, cache: nil)
        // Out of order, with repeats (a file with identical pages names one blob several times),
        // and more than one request's worth (the 3 MiB chunk four times: two groups).
        let orders: [[Int]] = [
            Array(0..<8),
            [7, 0, 4, 2, 2, 1, 6, 3, 0, 5],
            [5, 2, 5, 0, 5, 7, 5, 3, 1],
            [2],
        ]
        for order in orders {
            let chunks = try fixture.chunks(order, reader: reader)
            #expect(chunks.count == order.count)
            for (got, index) in zip(chunks, order) {
                #expect(got == fixture.plains[index], "chunk \(index) of order \(order)")
            }
        }
        // The same bytes as `read` gives for them.
        let order = [6, 1, 0, 3]
        #expect(try reader.read(order.map { fixture.refs[$0] }, context: "test") == order.map { fixture.plains[$0] })
    }

    @Test("a damaged blob, a truncated pack and a forged length are refused with the errors read gives")
    func hostile() throws {
        let fixture = try Fixture()
        let reader = TargetBlobReader(store: fixture.store, keys: fixture.scratch.keys, cache: nil)
        func errorCode(_ refs: [BlobRef]) -> ErrorCode? {
            do {
                try reader.forEachPlaintext(refs, context: "test") { _ in }
                return nil
            } catch let error as RepositoryError {
                return error.code
            } catch {
                return .repositoryInternal
            }
        }
        // A ref whose length or size was changed: authentication fails (the associated data
        // binds the size) or the blob is cut short of what it names.
        var forged = fixture.refs[0]
        forged.rawLength += 1
        #expect(errorCode([fixture.refs[1], forged]) == .repositoryBlobDamaged)
        forged = fixture.refs[0]
        forged.length -= 1
        #expect(errorCode([forged]) == .repositoryBlobDamaged)
        // Past the pack's end: truncated.
        forged = fixture.refs[7]
        forged.offset = UInt32(fixture.packs[1].bytes.count)
        #expect(errorCode([fixture.refs[0], forged]) == .repositoryPackMissing)

        // One byte flipped inside blob 2 of the first pack on the target.
        let path = "\(fixture.scratch.folder)/\(fixture.packs[0].objectName)"
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Int(fixture.refs[2].offset) + 30] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(errorCode([fixture.refs[0], fixture.refs[2]]) == .repositoryBlobDamaged)
        #expect(throws: RepositoryError.self) { try reader.read([fixture.refs[2]], context: "test") }
        // The others still read, through the same scratch buffers.
        #expect(try fixture.chunks([3, 0, 1], reader: reader) == [3, 0, 1].map { fixture.plains[$0] })
        // Damage is found in the pack as a whole too, with the blobs before it counted.
        var verified = 0
        let scratch = BlobScratch()
        let damaged = #expect(throws: RepositoryError.self) {
            try bytes.withUnsafeBytes { raw in
                try PackReader.authenticate(raw, id: fixture.packs[0].id, target: "t", keys: fixture.scratch.keys,
                                            scratch: scratch, verified: &verified)
            }
        }
        #expect(damaged?.code == .repositoryBlobDamaged)
        #expect(verified == 2)

        // Cut short on the target: a pack missing its tail is named truncated.
        try Data(bytes.prefix(Int(fixture.refs[3].offset) + 5)).write(to: URL(fileURLWithPath: path))
        #expect(errorCode([fixture.refs[3]]) == .repositoryPackMissing)
    }

    @Test("a whole pack authenticates from a reused buffer, blob by blob, like from an array")
    func authenticateReused() throws {
        let fixture = try Fixture()
        let scratch = BlobScratch()
        for pack in fixture.packs + fixture.packs {
            var fromBuffer = 0
            try pack.bytes.withUnsafeBytes { raw in
                try PackReader.authenticate(raw, id: pack.id, target: "t", keys: fixture.scratch.keys, scratch: scratch,
                                            verified: &fromBuffer)
            }
            var fromArray = 0
            try PackReader.authenticate(pack.bytes, id: pack.id, target: "t", keys: fixture.scratch.keys, verified: &fromArray)
            #expect(fromBuffer == pack.entries.count && fromArray == pack.entries.count)
        }
        // Under another pack's name, the header does not open.
        let renamed = #expect(throws: RepositoryError.self) {
            try fixture.packs[0].bytes.withUnsafeBytes { raw in
                var count = 0
                try PackReader.authenticate(raw, id: fixture.packs[1].id, target: "t", keys: fixture.scratch.keys,
                                            scratch: scratch, verified: &count)
            }
        }
        #expect(renamed?.code == .repositoryPackDamaged)
    }

    @Test("the associated data built on the stack is the bytes the writer seals with")
    func associatedData() {
        for kind in [BlobKind.data, .tree, .list] {
            for compressed in [false, true] {
                let id = ChunkID(bytes: SecureRandom.bytes(32))
                let rawLength = UInt32.random(in: 0...UInt32.max)
                let expected = BlobEntry.associatedData(kind: kind, compressed: compressed, id: id, rawLength: rawLength)
                let built = BlobEntry.withAssociatedData(kind: kind, compressed: compressed, id: id, rawLength: rawLength) { Array($0) }
                #expect(built == expected)
            }
        }
    }
}
