import DRBase
package import DRTransport

/// Reads blobs from one target by their refs: the restore's, check's and backup's way to the
/// bytes, with no index.
///
/// The refs of one call are sorted by pack and offset and read with as few ranged requests
/// as touch them: blobs that lie back to back (a file's chunks, written in order; a node's
/// children) come in one request of up to `maximumRequest` bytes, and nothing that no ref
/// asks for is read (so a restore of one mailbox reads its own bytes, not a window of others').
/// Nodes are looked up in this host's `NodeCache` first. Not thread-safe: one per worker.
package final class TargetBlobReader: BlobReading {
    package let store: any ObjectStore
    private let keys: RepositoryKeys
    private let cache: NodeCache?
    /// Whether nodes read from the target are added to the cache (backup: yes, so the next run
    /// needs no download; restore and check: no, they leave this host's state as it was).
    private let fillsCache: Bool
    package static let maximumRequest = 8 << 20

    package init(store: any ObjectStore, keys: RepositoryKeys, cache: NodeCache?, fillsCache: Bool = false) {
        self.store = store
        self.keys = keys
        self.cache = cache
        self.fillsCache = fillsCache
    }

    package func read(_ refs: [BlobRef], context: String) throws(RepositoryError) -> [[UInt8]] {
        var results = [[UInt8]](repeating: [], count: refs.count)
        var wanted: [Int] = []
        for (index, ref) in refs.enumerated() {
            if ref.kind != .data, let cache, let plain = cache.node(ref.id) {
                results[index] = plain
            } else {
                wanted.append(index)
            }
        }
        let order = wanted.sorted { (refs[$0].pack, refs[$0].offset) < (refs[$1].pack, refs[$1].offset) }
        var start = 0
        while start < order.count {
            let first = refs[order[start]]
            var end = first.range.upperBound
            var next = start + 1
            while next < order.count {
                let ref = refs[order[next]]
                guard ref.pack == first.pack, ref.range.lowerBound <= end,
                      max(end, ref.range.upperBound) - first.range.lowerBound <= Int64(Self.maximumRequest) else { break }
                end = max(end, ref.range.upperBound)
                next += 1
            }
            let bytes = try fetch(first.pack, from: first.range.lowerBound, to: end, context: context)
            for position in start..<next {
                let index = order[position]
                let ref = refs[index]
                let low = Int(ref.range.lowerBound - first.range.lowerBound)
                let plain = try PackReader.openBlob(bytes[low..<(low + Int(ref.length))], ref: ref,
                                                    target: store.targetName, keys: keys)
                if ref.kind != .data, fillsCache { cache?.insert(ref.id, plain) }
                results[index] = plain
            }
            start = next
        }
        return results
    }

    private func fetch(_ pack: PackID, from start: Int64, to end: Int64, context: String) throws(RepositoryError) -> [UInt8] {
        let name = pack.objectName
        let bytes: [UInt8]
        do {
            bytes = try store.get(name, offset: start, length: Int(end - start))
        } catch where error.kind == .notFound {
            throw RepositoryError(.repositoryPackMissing, message: "target \(store.targetName): \(context): pack \(name) is missing; run drctl check to see what else it affects",
                                  context: ErrorContext(target: store.targetName, object: name))
        } catch {
            throw RepositoryError(error)
        }
        guard bytes.count == Int(end - start) else {
            throw RepositoryError(.repositoryPackMissing, message: "target \(store.targetName): \(context): pack \(name) ends before byte \(end) that a ref names: it is truncated; run drctl check",
                                  context: ErrorContext(target: store.targetName, object: name))
        }
        return bytes
    }
}
