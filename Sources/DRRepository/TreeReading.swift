import DRBase

/// Walking a file's chunk tree from its root ref: for restore (every chunk, in order), for
/// check (every ref, without the data), and for a backup comparing a file with its previous
/// version (`TreeCursor`).
package enum FileTree {
    /// Data chunks read per request batch while restoring (bounded memory).
    static let batchBytes = 8 << 20

    /// Calls `body` with every data chunk of the file, in order, each authenticated and checked
    /// against its id (so the root vouches for every byte). The bytes are valid only during the
    /// call: the reader opens every chunk into one reused buffer (no array per chunk). Chunks are asked for in batches of
    /// about `batchBytes` that run across leaf nodes (a leaf holds 16 chunks, 64 KiB of 4 KiB
    /// pages), so that chunks written back to back come in few requests: one ranged GET per
    /// ~8 MiB of a mailbox on S3, not one per leaf.
    package static func forEachChunk(root: BlobRef, reader: any BlobReading, context: String,
                                    _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let node = try parse(try reader.read(root, context: context), id: root.id, context: context)
        var batch = Batch()
        try walk(node, reader: reader, context: context, batch: &batch, body)
        try batch.flush(reader: reader, context: context, body)
    }

    /// Data refs waiting to be read together.
    private struct Batch {
        var refs: [BlobRef] = []
        var bytes = 0

        mutating func add(_ ref: BlobRef, reader: any BlobReading, context: String,
                          _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            refs.append(ref)
            bytes += Int(ref.length)
            if bytes >= FileTree.batchBytes { try flush(reader: reader, context: context, body) }
        }

        mutating func flush(reader: any BlobReading, context: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            guard !refs.isEmpty else { return }
            try reader.forEachPlaintext(refs, context: context, body)
            refs.removeAll(keepingCapacity: true)
            bytes = 0
        }
    }

    private static func walk(_ node: ChunkTreeNode, reader: any BlobReading, context: String,
                             batch: inout Batch, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if node.level == 1 {
            for child in node.children { try batch.add(child, reader: reader, context: context, body) }
            return
        }
        let plains = try reader.read(node.children, context: context)
        for (child, plain) in zip(node.children, plains) {
            let sub = try parse(plain, id: child.id, context: context)
            guard sub.level == node.level - 1 else {
                throw RepositoryError(.repositoryBadTree, message: "\(context): tree node \(child.id) has level \(sub.level) under a node of level \(node.level)")
            }
            try walk(sub, reader: reader, context: context, batch: &batch, body)
        }
    }

    /// Visits every node of the tree (`node`, before it is read; return false to skip what is
    /// below it, as check does for a subtree it has judged already) and every data ref
    /// (`data`), in file order, reading no data chunk.
    package static func forEachRef(root: BlobRef, reader: any BlobReading, context: String,
                                  node visit: (BlobRef) throws(RepositoryError) -> Bool,
                                  data: (BlobRef) throws(RepositoryError) -> Void) throws(RepositoryError) {
        guard try visit(root) else { return }
        let node = try parse(try reader.read(root, context: context), id: root.id, context: context)
        try forEachRef(in: node, reader: reader, context: context, node: visit, data: data)
    }

    private static func forEachRef(in node: ChunkTreeNode, reader: any BlobReading, context: String,
                                   node visit: (BlobRef) throws(RepositoryError) -> Bool,
                                   data: (BlobRef) throws(RepositoryError) -> Void) throws(RepositoryError) {
        if node.level == 1 {
            for child in node.children { try data(child) }
            return
        }
        var wanted: [BlobRef] = []
        for child in node.children where try visit(child) { wanted.append(child) }
        let plains = try reader.read(wanted, context: context)
        for (child, plain) in zip(wanted, plains) {
            let sub = try parse(plain, id: child.id, context: context)
            guard sub.level == node.level - 1 else {
                throw RepositoryError(.repositoryBadTree, message: "\(context): tree node \(child.id) has level \(sub.level) under a node of level \(node.level)")
            }
            try forEachRef(in: sub, reader: reader, context: context, node: visit, data: data)
        }
    }

    package static func parse(_ plain: [UInt8], id: ChunkID, context: String) throws(RepositoryError) -> ChunkTreeNode {
        guard let node = ChunkTreeNode.decode(plain) else {
            throw RepositoryError(.repositoryBadTree, message: "\(context): tree node \(id) is not a valid node")
        }
        return node
    }
}

/// The data refs of a file's previous version, in order, read as they are asked for: a
/// backup compares the new image with it position by position (SQLite rewrites a page where
/// it lies), so memory holds one node per level, whatever the file's size. Every node passed
/// on the way is reported (`nodes`), so that the new tree can reuse the ones that did not
/// change.
package final class TreeCursor {
    private let reader: any BlobReading
    private let context: String
    /// Open nodes, top first: children and the next position in them.
    private var stack: [(children: [BlobRef], level: UInt8, next: Int)] = []
    /// Every node read so far, by id.
    package private(set) var nodes: [ChunkID: BlobRef] = [:]
    private var failed = false

    package init(root: BlobRef, reader: any BlobReading, context: String) {
        self.reader = reader
        self.context = context
        descend(into: [root], level: 0)
    }

    /// Pushes nodes read from `refs` (all of one level); a node that cannot be read ends the
    /// cursor (the new version is then stored without comparing: never wrong, only larger).
    private func descend(into refs: [BlobRef], level: UInt8) {
        guard let plains = try? reader.read(refs, context: context) else {
            failed = true
            return
        }
        for (ref, plain) in zip(refs, plains).reversed() {
            guard let node = ChunkTreeNode.decode(plain), level == 0 || node.level == level - 1 else {
                failed = true
                return
            }
            nodes[ref.id] = ref
            stack.append((node.children, node.level, 0))
        }
    }

    /// The next data ref of the previous version, or nil at its end.
    package func next() -> BlobRef? {
        while !failed, let top = stack.last {
            if top.next >= top.children.count {
                stack.removeLast()
                continue
            }
            stack[stack.count - 1].next += 1
            let child = top.children[top.next]
            if top.level == 1 { return child }
            // Read the rest of this node's children at once (coalesced), deepest first.
            let rest = Array(top.children[top.next...])
            stack[stack.count - 1].next = top.children.count
            descend(into: rest, level: top.level)
        }
        return nil
    }
}
