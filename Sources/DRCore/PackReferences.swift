import DRBase
import DRRepository
import DRTransport

/// The packs that snapshots use: every list node, tree node and data chunk of every
/// mailbox, walked from each manifest (docs/REPOSITORY.md, "Reading").
///
/// Snapshots share most of their lists and trees (an unchanged mailbox keeps its entry, an
/// unchanged page its chunk), so a node already walked is not walked again: the visited
/// stored copies are kept on disk (`NodeVerdicts`), not in memory. The set only grows, so a
/// second call after new snapshots appeared walks only those.
final class PackReferences {
    private(set) var packs = Set<PackID>()
    private var walked = Set<String>()
    /// The snapshots (ids) whose use is in `packs`.
    var walkedSnapshots: Set<String> { walked }
    private let visited = NodeVerdicts()
    private let stores: [any ObjectStore]
    private let keys: RepositoryKeys
    private let cache: NodeCache?
    /// Nodes read (for the report).
    private(set) var nodes = 0

    init(stores: [any ObjectStore], keys: RepositoryKeys, cache: NodeCache?) {
        self.stores = stores
        self.keys = keys
        self.cache = cache
    }

    /// Adds what the catalogue's snapshots use. Throws when a snapshot that opened cannot be
    /// walked whole from any target that holds it: what it uses is then unknown, and nothing
    /// may be deleted.
    func add(_ catalogue: SnapshotCatalogue, progress: Bool = false, keepAlive: () -> Void = {}) throws(CoreError) {
        let pending = catalogue.items.filter { !walked.contains($0.id) }
        let shown = Progress(enabled: progress && StandardStreams.errorIsTerminal && pending.count > 1, verb: "walked",
                             total: pending.count, unit: "snapshots")
        defer { shown.finish() }
        for (index, item) in pending.enumerated() {
            keepAlive()
            shown.update(done: index, bytes: 0, current: "snapshot \(item.id.prefix(12))", detail: "\(packs.count) packs in use")
            let holders = stores.filter { item.targets.contains($0.targetName) } + stores.filter { !item.targets.contains($0.targetName) }
            var lastError: RepositoryError?
            var done = false
            for store in holders where !done {
                do throws(RepositoryError) {
                    try walk(item, store: store)
                    done = true
                } catch {
                    lastError = error
                }
            }
            guard done else {
                throw CoreError(.pruneUnreadable, message: "snapshot \(item.id.prefix(12)) cannot be read whole from any target (\(lastError?.message ?? "no target holds it")), so the packs it uses are unknown and prune deletes nothing; run drctl check --read-data to see the damage")
            }
            walked.insert(item.id)
        }
    }

    private func walk(_ item: SnapshotCatalogue.Item, store: any ObjectStore) throws(RepositoryError) {
        let reader = TargetBlobReader(store: store, keys: keys, cache: cache)
        let name = "snapshots/" + item.id
        // A stored copy walked before has the same children: what is below it is counted.
        let fresh = { (ref: BlobRef) -> Bool in
            self.packs.insert(ref.pack)
            if self.visited.verdict(ref) != nil { return false }
            return true
        }
        var finished: [BlobRef] = []
        try item.manifest.forEachEntry(reader: reader, keys: keys, name: name, target: store.targetName,
                                       visit: { ref, _ in
                                           let go = fresh(ref)
                                           if go { finished.append(ref); self.nodes += 1 }
                                           return go
                                       }) { (entry) throws(RepositoryError) in
            try FileTree.forEachRef(root: entry.root, reader: reader, context: "mailbox \(entry.path)",
                                    node: { ref in
                                        let go = fresh(ref)
                                        if go { finished.append(ref); self.nodes += 1 }
                                        return go
                                    },
                                    data: { ref in self.packs.insert(ref.pack) })
        }
        // Recorded only once the whole snapshot was walked: a walk that failed half-way must
        // not leave nodes marked as done whose subtrees were never read.
        for ref in finished { visited.record(ref, damaged: false) }
    }
}
