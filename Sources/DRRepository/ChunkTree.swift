import DRBase

/// A file's content as a tree of refs, so that a small change to a large file stores only the
/// chunks that changed plus one short node per level, and a restore finds every chunk from
/// the tree itself (each child's pack, offset and length), with no index.
///
/// Leaves are data chunks. A level's children are cut by position into nodes of 16 (the
/// last node of a level may hold fewer). Each node is a blob of kind `tree`:
/// ```
/// "DRT2" ‖ u8 level (1 = children are data chunks) ‖ pack table ‖ u32 LE n ‖ n × ref
/// ```
/// (`RefCoding`), identified like any chunk (keyed BLAKE2b-256 of that plaintext). Levels are
/// built until one node remains: the root, whose ref the mailbox list records. A file with no
/// chunks has a root node of level 1 with no children.
///
/// Why by position and not by content: a SQLite file changes in place and grows or shrinks
/// at its end, so page i stays at position i and a changed page rewrites exactly one node of
/// 16 per level. A content-defined cut (after a child whose id has 4 low zero bits, as format
/// 2 first had) gives nodes of geometric size, and a changed page lands in a node of twice
/// the mean size on average: measured on the incremental test store, 22,235 bytes of tree
/// for 17 changed pages, against 15,851 with this rule (`BackupIncrementalTests`). Nodes of
/// 8 gave 13,872 there, for about 10 % more tree bytes in every full backup: not worth it. A
/// content-chunked file with bytes inserted rewrites its tree after the insertion, which
/// costs 47 bytes per chunk of about 1 MiB: nothing next to the data.
package struct ChunkTreeBuilder {
    package static let fanout = 16
    static let magic = Array("DRT2".utf8)

    private var pendingLeaves: [BlobRef] = []
    /// The open node of each level above the leaves (index 0: level 2).
    private var levels: [[BlobRef]] = []
    /// How many nodes each level has received.
    private var pushed: [Int] = []
    package private(set) var leafCount = 0
    private let keys: RepositoryKeys
    private let store: any NodeStoring

    package init(keys: RepositoryKeys, store: any NodeStoring) {
        self.keys = keys
        self.store = store
    }

    /// Adds the next data chunk of the file.
    package mutating func add(_ leaf: BlobRef) throws(RepositoryError) {
        pendingLeaves.append(leaf)
        leafCount += 1
        if pendingLeaves.count == Self.fanout {
            let node = try emit(level: 1, children: pendingLeaves)
            pendingLeaves.removeAll(keepingCapacity: true)
            try push(node, into: 0)
        }
    }

    /// Adds a finished node to the open node of the level above it, closing that one when it
    /// is full (streaming: memory holds one open node per level, not the file's list).
    private mutating func push(_ node: BlobRef, into level: Int) throws(RepositoryError) {
        if levels.count == level {
            levels.append([])
            pushed.append(0)
        }
        levels[level].append(node)
        pushed[level] += 1
        if levels[level].count == Self.fanout {
            let parent = try emit(level: UInt8(level + 2), children: levels[level])
            levels[level].removeAll(keepingCapacity: true)
            try push(parent, into: level + 1)
        }
    }

    /// Closes every level and returns the root: the first level, from the bottom, that has
    /// received a single node. (A node is closed upward only when full, so no parent is ever
    /// made above a lone node.)
    package mutating func finish() throws(RepositoryError) -> BlobRef {
        var carry: BlobRef?
        if !pendingLeaves.isEmpty || levels.isEmpty {
            carry = try emit(level: 1, children: pendingLeaves)
            pendingLeaves.removeAll()
        }
        var level = 0
        while true {
            let open = level < levels.count ? levels[level] : []
            let received = (level < levels.count ? pushed[level] : 0) + (carry == nil ? 0 : 1)
            if received == 1, let root = carry ?? open.first { return root }
            guard received > 1 else {
                throw RepositoryError(.repositoryInternal, message: "a chunk tree closed without a root")
            }
            var children = open
            if let carried = carry { children.append(carried) }
            carry = children.isEmpty ? nil : try emit(level: UInt8(level + 2), children: children)
            if level < levels.count { levels[level].removeAll() }
            level += 1
        }
    }

    private func emit(level: UInt8, children: [BlobRef]) throws(RepositoryError) -> BlobRef {
        let plain = ChunkTreeNode.encode(level: level, children: children)
        return try store.storeNode(plain, id: keys.chunkID(of: plain), kind: .tree)
    }
}

/// A decoded tree node.
package struct ChunkTreeNode: Sendable, Equatable {
    package var level: UInt8
    package var children: [BlobRef]

    static func encode(level: UInt8, children: [BlobRef]) -> [UInt8] {
        let table = RefCoding.packTable(children)
        var out = ChunkTreeBuilder.magic
        out.append(level)
        RefCoding.appendTable(table.packs, to: &out)
        LittleEndian.append(UInt32(children.count), to: &out)
        out.reserveCapacity(out.count + RefCoding.refSize * children.count)
        for child in children { RefCoding.append(child, packIndex: table.index[child.pack] ?? 0, to: &out) }
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
        var reader = RefCoding.Reader(bytes)
        guard let magic = reader.take(4), Array(magic) == ChunkTreeBuilder.magic, let level = reader.u8(), level >= 1,
              let packs = reader.packTable(), let count = reader.u32(),
              Int(count) <= ChunkTreeBuilder.fanout, reader.remaining == Int(count) * RefCoding.refSize else { return nil }
        let kind: BlobKind = level == 1 ? .data : .tree
        var children: [BlobRef] = []
        children.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let ref = reader.ref(kind: kind, packs: packs) else { return nil }
            children.append(ref)
        }
        return ChunkTreeNode(level: level, children: children)
    }
}
