import DRBase
import DRRepository
import DRTransport

/// Whole mailbox lists of many snapshots, for forget, each list node read at most once per run
/// (while memory allows): consecutive runs share most of their list nodes (an unchanged
/// mailbox's leaf is the same node), so reading every snapshot's list through `TargetEntries`
/// fetched the same nodes again for each snapshot — 7,825 reads for 30 snapshots of 1,000
/// mailboxes on a host without the node cache, where this makes it one read per distinct
/// node. Nodes come from this host's node cache first, as there; targets are tried in the
/// order `TargetEntries` tries them.
final class MemoizedEntries: SnapshotEntries {
    private let stores: [any ObjectStore]
    private let keys: RepositoryKeys
    private let memo: NodeMemo
    private var readers: [String: TargetBlobReader] = [:]
    private let cache: NodeCache?

    /// - Parameter budget: plaintext bytes kept; beyond it, nodes are read as they come.
    init(stores: [any ObjectStore], keys: RepositoryKeys, cache: NodeCache?, budget: Int = 64 << 20) {
        self.stores = stores
        self.keys = keys
        self.cache = cache
        memo = NodeMemo(budget: budget)
    }

    private func reader(for store: any ObjectStore) -> any BlobReading {
        let made = readers[store.targetName] ?? TargetBlobReader(store: store, keys: keys, cache: cache)
        readers[store.targetName] = made
        return MemoReader(memo: memo, underlying: made)
    }

    /// Runs `body` against each target that lists the snapshot (all, if none is known) until
    /// one succeeds; the last failure is thrown.
    private func fromHolders<R>(_ item: SnapshotCatalogue.Item,
                                _ body: (any ObjectStore) throws(RepositoryError) -> R) throws(CoreError) -> R {
        let named = stores.filter { item.targets.contains($0.targetName) }
        var last: RepositoryError?
        for store in named.isEmpty ? stores : named {
            do throws(RepositoryError) {
                return try body(store)
            } catch {
                last = error
            }
        }
        throw CoreError(last ?? RepositoryError(.restoreNoTarget, message: "no target holds snapshot \(item.id)"))
    }

    func forEach(_ item: SnapshotCatalogue.Item, visit: (ChunkID) -> Bool,
                 _ body: (SnapshotManifest.FileEntry) -> Void) throws(CoreError) {
        let keys = self.keys
        // Handed on only when the whole list was read (a target failing half-way leaves nothing).
        let files: [SnapshotManifest.FileEntry] = try fromHolders(item) { (store) throws(RepositoryError) in
            var files: [SnapshotManifest.FileEntry] = []
            try item.manifest.forEachEntry(reader: reader(for: store), keys: keys, name: "snapshots/\(item.id)",
                                           target: store.targetName, visit: { ref, _ in visit(ref.id) }) { files.append($0) }
            return files
        }
        for file in files { body(file) }
    }

    func find(_ path: String, in item: SnapshotCatalogue.Item) throws(CoreError) -> SnapshotManifest.FileEntry? {
        let keys = self.keys
        return try fromHolders(item) { (store) throws(RepositoryError) in
            try item.manifest.entry(path, reader: reader(for: store), keys: keys, name: "snapshots/\(item.id)",
                                    target: store.targetName)
        }
    }
}

/// Node plaintexts already read and checked in this run, by id. A keyed id names one
/// plaintext whatever the target it came from, so a node checked once is good for all.
private final class NodeMemo {
    private var plaintexts: [ChunkID: [UInt8]] = [:]
    private var bytes = 0
    private let budget: Int

    init(budget: Int) { self.budget = budget }

    subscript(id: ChunkID) -> [UInt8]? { plaintexts[id] }

    func remember(_ id: ChunkID, _ plaintext: [UInt8]) {
        guard bytes + plaintext.count <= budget, plaintexts[id] == nil else { return }
        plaintexts[id] = plaintext
        bytes += plaintext.count
    }
}

private struct MemoReader: BlobReading {
    let memo: NodeMemo
    let underlying: any BlobReading

    func read(_ refs: [BlobRef], context: String) throws(RepositoryError) -> [[UInt8]] {
        var results = [[UInt8]](repeating: [], count: refs.count)
        var missing: [Int] = []
        for (index, ref) in refs.enumerated() {
            if let known = memo[ref.id] { results[index] = known } else { missing.append(index) }
        }
        guard !missing.isEmpty else { return results }
        let read = try underlying.read(missing.map { refs[$0] }, context: context)
        for (position, index) in missing.enumerated() {
            results[index] = read[position]
            memo.remember(refs[index].id, read[position])
        }
        return results
    }
}
