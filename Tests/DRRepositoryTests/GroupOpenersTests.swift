import DRBase
import DRCompression
import DRCrypto
import DRTransport
import Foundation
import Testing

@testable import DRRepository

/// A reader that opens each group's blobs on several threads (`openers`) hands the same
/// plaintexts to its caller, in the same order, as one that opens them alone; and damage in any
/// part of a group is reported, never skipped.
@Suite("blobs of a group opened on several threads")
struct GroupOpenersTests {
    /// Two packs of 4 KiB pages, compressible and random ones mixed; returns the refs in file
    /// order (interleaving the packs, as an incremental's tree does) and the plaintexts.
    static func packs(_ scratch: ScratchRepository, store: FileObjectStore, pages: Int) throws -> ([BlobRef], [[UInt8]]) {
        let compressor = try ChunkCompressor(level: 1)
        var writers = [PackWriter(id: .random()), PackWriter(id: .random())]
        var refs: [BlobRef] = []
        var plains: [[UInt8]] = []
        for index in 0..<pages {
            let plain = index % 3 == 0 ? SecureRandom.bytes(4096)
                : Array("page \(index): Subject: hello from the mail store, again and again. ".utf8.prefix(64))
                    .repeated(toCount: 4096)
            let blob = try SealedBlob(plain, id: scratch.keys.chunkID(of: plain), kind: .data, keys: scratch.keys,
                                      compressor: compressor)
            refs.append(writers[index % 2].append(blob))
            plains.append(plain)
        }
        for writer in writers {
            let finished = try writer.finish(keys: scratch.keys)
            try store.put(finished.id.objectName, finished.bytes, ifAbsent: true)
        }
        return (refs, plains)
    }

    static func read(_ refs: [BlobRef], store: FileObjectStore, keys: RepositoryKeys, openers: Int,
                     threads: Int? = nil) throws -> [[UInt8]] {
        let reader = TargetBlobReader(store: store, keys: keys, cache: nil, groupBytes: 1 << 20, openers: openers)
        var seen: [[UInt8]] = []
        try reader.forEachPlaintext(refs, context: "test") { seen.append(Array($0)) }
        // How many extra threads the groups were shared with.
        if let threads { #expect(reader.helpers.count == threads, "\(refs.count) blobs, \(openers) openers") }
        return seen
    }

    @Test("1, 2, 3 and 8 openers give the same plaintexts in the same order, in groups large and small", arguments: [1, 2, 3, 8])
    func sameOrder(openers: Int) throws {
        let scratch = try ScratchRepository()
        let store = FileObjectStore(targetName: "scratch", root: scratch.folder)
        let (refs, plains) = try Self.packs(scratch, store: store, pages: 900)
        #expect(refs.contains { $0.compressed } && refs.contains { !$0.compressed })
        // 900 blobs in groups of up to 1 MiB: every opener takes a part (at least 64 blobs each).
        #expect(try Self.read(refs, store: store, keys: scratch.keys, openers: openers, threads: openers - 1) == plains)
        // A group too small to share (fewer than 64 blobs per opener), and a single blob.
        #expect(try Self.read(Array(refs[..<40]), store: store, keys: scratch.keys, openers: openers, threads: 0)
                == Array(plains[..<40]))
        #expect(try Self.read([refs[7]], store: store, keys: scratch.keys, openers: openers, threads: 0) == [plains[7]])
    }

    @Test("a damaged blob in the first, a middle or the last part of a group fails the read", arguments: [5, 300, 590])
    func damageInAnyPart(victim: Int) throws {
        let scratch = try ScratchRepository()
        let store = FileObjectStore(targetName: "scratch", root: scratch.folder)
        let (refs, _) = try Self.packs(scratch, store: store, pages: 600)
        let ref = refs[victim]
        let path = "\(scratch.folder)/\(ref.pack.objectName)"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Int(ref.offset) + Int(ref.length) / 2] ^= 0x40
        try FileManager.default.removeItem(atPath: path)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for openers in [1, 3] {
            #expect(throws: RepositoryError.self, "openers \(openers), damaged blob \(victim)") {
                _ = try Self.read(refs, store: store, keys: scratch.keys, openers: openers)
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// The bytes repeated until `count` bytes (a compressible page).
    fileprivate func repeated(toCount count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count { out.append(contentsOf: prefix(count - out.count)) }
        return out
    }
}
