import DRBase

/// A file's content as a tree of chunk ids, so that a small change to a large file stores only
/// the chunks that changed plus one short node per level (not the file's whole chunk list).
///
/// Leaves are data chunk ids. A level's ids are cut into nodes where an id's lowest 4 bits
/// are zero (content-defined: inserting or changing one id moves no other boundary), or after
/// 64 ids. Each node is a blob of kind `tree`:
/// ```
/// "DRT1" ‖ u8 level (1 = children are data chunks) ‖ u32 LE n ‖ n × 32-byte child id
/// ```
/// and is identified like any chunk (keyed BLAKE2b-256 of that plaintext). Levels are built
/// until one node remains: the root, recorded in the snapshot manifest. A file with no
/// chunks has a root node of level 1 with no children.
package struct ChunkTreeBuilder {
    package static let maximumFanout = 64

    /// Called for every node made: its id, plaintext and level. The caller stores it.
    package typealias NodeSink = (_ id: ChunkID, _ plaintext: [UInt8]) throws(RepositoryError) -> Void

    private var pendingLeaves: [ChunkID] = []
    private var levelOne: [ChunkID] = []
    package private(set) var leafCount = 0
    private let keys: RepositoryKeys

    package init(keys: RepositoryKeys) { self.keys = keys }

    static func isBoundary(_ id: ChunkID) -> Bool { id.d & 0xF == 0 }

    package mutating func add(_ leaf: ChunkID, sink: NodeSink) throws(RepositoryError) {
        pendingLeaves.append(leaf)
        leafCount += 1
        if Self.isBoundary(leaf) || pendingLeaves.count == Self.maximumFanout {
            levelOne.append(try emit(level: 1, children: pendingLeaves, sink: sink))
            pendingLeaves.removeAll(keepingCapacity: true)
        }
    }

    /// Closes every level and returns the root id.
    package mutating func finish(sink: NodeSink) throws(RepositoryError) -> ChunkID {
        if !pendingLeaves.isEmpty || levelOne.isEmpty {
            levelOne.append(try emit(level: 1, children: pendingLeaves, sink: sink))
            pendingLeaves.removeAll()
        }
        var level: UInt8 = 1
        var ids = levelOne
        while ids.count > 1 {
            level += 1
            var next: [ChunkID] = []
            var group: [ChunkID] = []
            for id in ids {
                group.append(id)
                if Self.isBoundary(id) || group.count == Self.maximumFanout {
                    next.append(try emit(level: level, children: group, sink: sink))
                    group.removeAll(keepingCapacity: true)
                }
            }
            if !group.isEmpty { next.append(try emit(level: level, children: group, sink: sink)) }
            ids = next
        }
        return ids[0]
    }

    private func emit(level: UInt8, children: [ChunkID], sink: NodeSink) throws(RepositoryError) -> ChunkID {
        let plain = ChunkTreeNode.encode(level: level, children: children)
        let id = keys.chunkID(of: plain)
        try sink(id, plain)
        return id
    }
}

/// A decoded tree node.
package struct ChunkTreeNode: Sendable, Equatable {
    package var level: UInt8
    package var children: [ChunkID]

    static func encode(level: UInt8, children: [ChunkID]) -> [UInt8] {
        var out = Array("DRT1".utf8)
        out.append(level)
        LittleEndian.append(UInt32(children.count), to: &out)
        out.reserveCapacity(out.count + 32 * children.count)
        for child in children { out.append(contentsOf: child.bytes) }
        return out
    }

    /// Decodes a node's plaintext; throws if it is not a valid node.
    package static func parse(_ bytes: [UInt8]) throws(RepositoryError) -> ChunkTreeNode {
        guard let node = decode(bytes) else {
            throw RepositoryError(.repositoryBadTree, message: "not a valid chunk tree node")
        }
        return node
    }

    static func decode(_ bytes: [UInt8]) -> ChunkTreeNode? {
        guard bytes.count >= 9, Array(bytes[0..<4]) == Array("DRT1".utf8), bytes[4] >= 1 else { return nil }
        let count = Int(LittleEndian.uint32(bytes[...], at: 5))
        guard bytes.count == 9 + 32 * count else { return nil }
        var children: [ChunkID] = []
        children.reserveCapacity(count)
        for index in 0..<count {
            let start = 9 + 32 * index
            children.append(ChunkID(bytes: bytes[start..<(start + 32)]))
        }
        return ChunkTreeNode(level: bytes[4], children: children)
    }
}
