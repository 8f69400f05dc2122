import DRCompression
import DRCrypto
import DRTransport
import Foundation
import Testing

@testable import DRRepository

/// A fresh repository on a temporary folder, opened with a generated key file.
final class ScratchRepository {
    let folder: String
    let repository: Repository
    let keys: RepositoryKeys

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-repo-\(UUID().uuidString)").path
        let store = FileObjectStore(targetName: "scratch", root: folder)
        let text = try KeyFileFormat.generate()
        let secret = try UnlockSecret(keyFileContents: text, origin: "test")
        repository = try Repository.create(on: [store], secret: secret,
                                           cost: Argon2Cost(opsLimit: 1, memLimit: 8 << 20), createdBy: "test")
        keys = try repository.derivedKeys()
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }
}

@Suite("repository format")
struct RepositoryFormatTests {
    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test("a pack's blobs read back, and any flipped byte is detected")
    func packRoundTrip() throws {
        let scratch = try ScratchRepository()
        let compressor = try ChunkCompressor()
        var writer = PackWriter()
        let plains = [Self.bytes(4096, seed: 1), SecureRandom.bytes(4096), Self.bytes(10, seed: 3)]
        for plain in plains {
            try writer.add(plain, id: scratch.keys.chunkID(of: plain), kind: .data, keys: scratch.keys, compressor: compressor)
        }
        let pack = try writer.finish(keys: scratch.keys)
        let entries = try PackReader.header(of: pack.bytes, name: pack.objectName, target: "t", keys: scratch.keys)
        #expect(entries.count == 3)
        #expect(entries[0].compressed)          // regular text-like bytes shrink
        #expect(!entries[1].compressed)         // random bytes are stored raw
        for (entry, plain) in zip(entries, plains) {
            let start = Int(entry.offset)
            let read = try PackReader.openBlob(pack.bytes[start..<(start + Int(entry.length))], entry: entry,
                                               pack: pack.objectName, target: "t", keys: scratch.keys)
            #expect(read == plain)
        }
        // Flip one byte at a time across the first blob and the header: always detected.
        for position in stride(from: 0, to: pack.bytes.count, by: 97) {
            var damaged = pack.bytes
            damaged[position] ^= 0x40
            var detected = false
            do {
                let entries = try PackReader.header(of: damaged, name: pack.objectName, target: "t", keys: scratch.keys)
                for entry in entries {
                    let start = Int(entry.offset)
                    _ = try PackReader.openBlob(damaged[start..<(start + Int(entry.length))], entry: entry,
                                                pack: pack.objectName, target: "t", keys: scratch.keys)
                }
            } catch {
                detected = true
            }
            #expect(detected, "flipping byte \(position) went unnoticed")
        }
    }

    @Test("index objects round-trip and are bound to their name")
    func indexRoundTrip() throws {
        let scratch = try ScratchRepository()
        let entry = BlobEntry(kind: .data, compressed: true, id: scratch.keys.chunkID(of: [1, 2, 3]),
                              offset: 10, length: 60, rawLength: 3)
        let object = IndexObject(packs: [.init(pack: String(repeating: "ab", count: 32), length: 1234, entries: [entry])])
        let (name, bytes) = try object.seal(keys: scratch.keys)
        #expect(try IndexObject.open(bytes, name: name, target: "t", keys: scratch.keys) == object)
        #expect(throws: RepositoryError.self) {
            try IndexObject.open(bytes, name: "index/" + String(repeating: "0", count: 64), target: "t", keys: scratch.keys)
        }
    }

    /// Builds a tree over `leaves`, keeping the nodes, and walks it back.
    static func roundTrip(_ leaves: [ChunkID], keys: RepositoryKeys) throws -> (root: ChunkID, nodes: [ChunkID: [UInt8]], walked: [ChunkID]) {
        var nodes: [ChunkID: [UInt8]] = [:]
        var builder = ChunkTreeBuilder(keys: keys)
        let sink: ChunkTreeBuilder.NodeSink = { id, plain in nodes[id] = plain }
        for leaf in leaves { try builder.add(leaf, sink: sink) }
        let root = try builder.finish(sink: sink)
        var walked: [ChunkID] = []
        func walk(_ id: ChunkID) throws {
            let node = try ChunkTreeNode.parse(try #require(nodes[id]))
            for child in node.children {
                if node.level == 1 { walked.append(child) } else { try walk(child) }
            }
        }
        try walk(root)
        return (root, nodes, walked)
    }

    @Test("chunk trees give back their leaves in order", arguments: [0, 1, 15, 64, 65, 1000, 20000])
    func treeRoundTrip(count: Int) throws {
        let scratch = try ScratchRepository()
        let leaves = (0..<count).map { scratch.keys.chunkID(of: Array("leaf \($0)".utf8)) }
        let result = try Self.roundTrip(leaves, keys: scratch.keys)
        #expect(result.walked == leaves)
    }

    @Test("changing one leaf of a large file changes one node per level only")
    func treeChangeIsLocal() throws {
        let scratch = try ScratchRepository()
        var leaves = (0..<20000).map { scratch.keys.chunkID(of: Array("leaf \($0)".utf8)) }
        let before = try Self.roundTrip(leaves, keys: scratch.keys)
        leaves[12345] = scratch.keys.chunkID(of: Array("changed".utf8))
        let after = try Self.roundTrip(leaves, keys: scratch.keys)
        let newNodes = Set(after.nodes.keys).subtracting(before.nodes.keys)
        // 20000 leaves with fan-out ~16 give 4 levels; allow a boundary shift per level.
        #expect(newNodes.count <= 8, "\(newNodes.count) new nodes")
        #expect(after.walked == leaves)
    }

    static func secure(_ text: String) throws -> SecureBytes {
        var bytes = try SecureBytes(count: text.utf8.count)
        bytes.withUnsafeMutableBytes { raw in
            for (index, byte) in text.utf8.enumerated() { raw[index] = byte }
        }
        return bytes
    }

    static func opens(_ text: String) throws -> Bool {
        let secret = try secure(text)
        do {
            _ = try UnlockSecret(keyFileContents: secret, origin: "t")
            return true
        } catch {
            return false
        }
    }

    @Test("a key file must hold exactly 64 hex digits")
    func keyFileFormat() throws {
        for bad in ["", "abc", String(repeating: "g", count: 64), String(repeating: "a", count: 63) + "\n\n"] {
            #expect(try !Self.opens(bad), "accepted \(bad.debugDescription)")
        }
        #expect(try Self.opens(String(repeating: "0f", count: 32) + "\n"))
        #expect(try Self.opens(String(repeating: "A9", count: 32)))
    }
}
