import DRBase
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

    @Test("a pack's blobs read back by ref, a renamed pack is refused, and any flipped byte is detected")
    func packRoundTrip() throws {
        let scratch = try ScratchRepository()
        let compressor = try ChunkCompressor()
        var writer = PackWriter()
        let plains = [Self.bytes(4096, seed: 1), SecureRandom.bytes(4096), Self.bytes(10, seed: 3)]
        var refs: [BlobRef] = []
        for plain in plains {
            refs.append(writer.append(try SealedBlob(plain, id: scratch.keys.chunkID(of: plain), kind: .data,
                                                     keys: scratch.keys, compressor: compressor)))
        }
        let id = writer.id
        let pack = try writer.finish(keys: scratch.keys)
        #expect(pack.id == id)
        let entries = try PackReader.header(of: pack.bytes, id: pack.id, target: "t", keys: scratch.keys)
        #expect(entries.map { $0.ref(in: pack.id) } == refs, "the refs handed out while filling are where the header puts the blobs")
        #expect(entries[0].compressed)          // regular text-like bytes shrink
        #expect(!entries[1].compressed)         // random bytes are stored raw
        for (ref, plain) in zip(refs, plains) {
            let start = Int(ref.offset)
            #expect(try PackReader.openBlob(pack.bytes[start..<(start + Int(ref.length))], ref: ref, target: "t",
                                            keys: scratch.keys) == plain)
        }
        // The header's associated data is the pack's name: the same bytes under another name
        // do not open.
        #expect(throws: RepositoryError.self) {
            try PackReader.header(of: pack.bytes, id: PackID.random(), target: "t", keys: scratch.keys)
        }
        // Flip one byte at a time across the blobs and the header: always detected.
        for position in stride(from: 0, to: pack.bytes.count, by: 97) {
            var damaged = pack.bytes
            damaged[position] ^= 0x40
            var detected = false
            do {
                let entries = try PackReader.header(of: damaged, id: pack.id, target: "t", keys: scratch.keys)
                for entry in entries {
                    let start = Int(entry.offset)
                    _ = try PackReader.openBlob(damaged[start..<(start + Int(entry.length))], ref: entry.ref(in: pack.id),
                                                target: "t", keys: scratch.keys)
                }
            } catch {
                detected = true
            }
            #expect(detected, "flipping byte \(position) went unnoticed")
        }
    }

    /// Nodes kept in memory by a fake pack position: a unit-test double for the storage
    /// interfaces (the end-to-end tests go through the binary and real targets).
    final class MemoryNodes: NodeStoring, BlobReading {
        var plains: [BlobRef: [UInt8]] = [:]
        var offset: UInt32 = 0
        let pack = PackID.random()
        var reads = 0

        /// A node stored before is reused, as the backup reuses its previous version's nodes.
        var byID: [ChunkID: BlobRef] = [:]

        func storeNode(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind) throws(RepositoryError) -> BlobRef {
            if let known = byID[id] { return known }
            let ref = BlobRef(id: id, kind: kind, compressed: false, pack: pack, offset: offset,
                              length: UInt32(plaintext.count + 40), rawLength: UInt32(plaintext.count))
            offset += ref.length
            plains[ref] = plaintext
            byID[id] = ref
            return ref
        }

        func read(_ refs: [BlobRef], context: String) throws(RepositoryError) -> [[UInt8]] {
            reads += refs.count
            var out: [[UInt8]] = []
            for ref in refs {
                guard let plain = plains[ref] else { throw RepositoryError(.repositoryPackMissing, message: "no \(ref.id)") }
                out.append(plain)
            }
            return out
        }
    }

    static func leaf(_ n: Int, keys: RepositoryKeys, pack: PackID) -> BlobRef {
        BlobRef(id: keys.chunkID(of: Array("leaf \(n)".utf8)), kind: .data, compressed: false, pack: pack,
                offset: UInt32(n) * 4136, length: 4136, rawLength: 4096)
    }

    /// Builds a tree over `leaves` and walks it back.
    static func roundTrip(_ leaves: [BlobRef], keys: RepositoryKeys, nodes: MemoryNodes) throws -> (root: BlobRef, walked: [BlobRef]) {
        var builder = ChunkTreeBuilder(keys: keys, store: nodes)
        for leaf in leaves { try builder.add(leaf) }
        let root = try builder.finish()
        var walked: [BlobRef] = []
        try FileTree.forEachRef(root: root, reader: nodes, context: "test", node: { _ in true }) { walked.append($0) }
        return (root, walked)
    }

    /// Checks the tree against the rule as docs/REPOSITORY.md states it, level by level: each
    /// level's children are cut by position into nodes of 16, only a level's last node may
    /// hold fewer, and levels are built until one node remains.
    static func followsRule(_ root: BlobRef, nodes: MemoryNodes) throws -> String? {
        var level = [root]
        var depth = 0
        while true {
            let parsed = try level.map { try ChunkTreeNode.parse(try #require(nodes.plains[$0])) }
            if depth > 0 && level.count == 1 { return "level \(depth) below the root holds a single node" }
            for (index, node) in parsed.enumerated() {
                let last = index == parsed.count - 1
                if node.children.count > 16 { return "a node has more than 16 children" }
                if !last && node.children.count != 16 { return "a node other than its level's last holds \(node.children.count) children" }
                if node.children.isEmpty && !(depth == 0 && node.level == 1) { return "an empty node below a root" }
            }
            guard parsed[0].level > 1 else { return nil }
            level = parsed.flatMap(\.children)
            depth += 1
        }
    }

    @Test("chunk trees give back their refs in order, with the root the whole-level rule gives",
          arguments: [0, 1, 15, 16, 17, 256, 257, 1000, 4096, 4097, 20000])
    func treeRoundTrip(count: Int) throws {
        let scratch = try ScratchRepository()
        let nodes = MemoryNodes()
        let leaves = (0..<count).map { Self.leaf($0, keys: scratch.keys, pack: nodes.pack) }
        let result = try Self.roundTrip(leaves, keys: scratch.keys, nodes: nodes)
        #expect(result.walked == leaves)
        let plainRoot = try #require(nodes.plains[result.root])
        #expect(scratch.keys.chunkID(of: plainRoot) == result.root.id)
        #expect(try Self.followsRule(result.root, nodes: nodes) == nil)
        var cursor: [BlobRef] = []
        let walker = TreeCursor(root: result.root, reader: nodes, context: "test")
        while let next = walker.next() { cursor.append(next) }
        #expect(cursor == leaves, "the cursor a backup compares with walks the same refs")
    }

    @Test("changing one chunk of a large file changes one node per level only")
    func treeChangeIsLocal() throws {
        let scratch = try ScratchRepository()
        let nodes = MemoryNodes()
        var leaves = (0..<20000).map { Self.leaf($0, keys: scratch.keys, pack: nodes.pack) }
        let before = try Self.roundTrip(leaves, keys: scratch.keys, nodes: nodes)
        let stored = nodes.plains.count
        leaves[12345].id = scratch.keys.chunkID(of: Array("changed".utf8))
        let after = try Self.roundTrip(leaves, keys: scratch.keys, nodes: nodes)
        let added = nodes.byID.count - stored
        // 20000 leaves with fan-out 16 give 4 levels (16³ < 20000 ≤ 16⁴): one new node each.
        #expect(added == 4, "\(added) new nodes")
        #expect(after.walked == leaves)
        #expect(before.root.id != after.root.id)
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
