import DRBase
package import DRRepository
package import DRTransport

/// Reads the mailbox entries of catalogued snapshots (their lists live in packs, not in the
/// manifests): the catalogue's selection asks through this, so that it can be tested on
/// entries in memory and run on targets.
package protocol SnapshotEntries {
    /// Every entry of the snapshot, in path order. `visit` gets each list node's id before it
    /// is read; false skips that subtree (one already seen in another snapshot).
    func forEach(_ item: SnapshotCatalogue.Item, visit: (ChunkID) -> Bool,
                 _ body: (SnapshotManifest.FileEntry) -> Void) throws(CoreError)
    /// One mailbox's entry in the snapshot, or nil.
    func find(_ path: String, in item: SnapshotCatalogue.Item) throws(CoreError) -> SnapshotManifest.FileEntry?
}

/// Entries read from the targets that hold each snapshot, in configuration order: a list
/// node damaged on one target is read from the next. Nodes come from this host's cache when
/// it has them (checked against their ids), and are never added to it.
package final class TargetEntries: SnapshotEntries {
    private let stores: [any ObjectStore]
    private let keys: RepositoryKeys
    private let cache: NodeCache?
    private var readers: [String: TargetBlobReader] = [:]

    package init(stores: [any ObjectStore], keys: RepositoryKeys, cache: NodeCache?) {
        self.stores = stores
        self.keys = keys
        self.cache = cache
    }

    private func holders(of item: SnapshotCatalogue.Item) -> [any ObjectStore] {
        let named = stores.filter { item.targets.contains($0.targetName) }
        return named.isEmpty ? stores : named
    }

    package func reader(for store: any ObjectStore) -> TargetBlobReader {
        if let known = readers[store.targetName] { return known }
        let made = TargetBlobReader(store: store, keys: keys, cache: cache)
        readers[store.targetName] = made
        return made
    }

    /// Runs `body` against each holder in turn until one succeeds; the last failure is thrown.
    private func fromHolders<R>(_ item: SnapshotCatalogue.Item,
                                _ body: (any ObjectStore) throws(RepositoryError) -> R) throws(CoreError) -> R {
        var last: RepositoryError?
        for store in holders(of: item) {
            do throws(RepositoryError) {
                return try body(store)
            } catch {
                last = error
            }
        }
        throw CoreError(last ?? RepositoryError(.restoreNoTarget, message: "no target holds snapshot \(item.id)"))
    }

    package func forEach(_ item: SnapshotCatalogue.Item, visit: (ChunkID) -> Bool,
                         _ body: (SnapshotManifest.FileEntry) -> Void) throws(CoreError) {
        // Collected per attempt, handed on only when the whole list was read: a target that
        // fails half-way must not leave half a list behind it.
        let keys = self.keys
        func walk() throws(CoreError) -> [SnapshotManifest.FileEntry] {
            try fromHolders(item) { (store) throws(RepositoryError) in
                var files: [SnapshotManifest.FileEntry] = []
                try item.manifest.forEachEntry(reader: reader(for: store), keys: keys, name: "snapshots/\(item.id)",
                                               target: store.targetName,
                                               visit: { ref, _ in visit(ref.id) }) { files.append($0) }
                return files
            }
        }
        // One read transaction on the cache for the whole list, not one per node.
        let files: [SnapshotManifest.FileEntry]
        if let cache { files = try cache.reading(walk) } else { files = try walk() }
        for file in files { body(file) }
    }

    package func find(_ path: String, in item: SnapshotCatalogue.Item) throws(CoreError) -> SnapshotManifest.FileEntry? {
        let keys = self.keys
        return try fromHolders(item) { (store) throws(RepositoryError) in
            try item.manifest.entry(path, reader: reader(for: store), keys: keys, name: "snapshots/\(item.id)",
                                    target: store.targetName)
        }
    }
}

/// Entries held in memory (tests, and manifests read elsewhere).
package struct MemoryEntries: SnapshotEntries {
    package var lists: [String: [SnapshotManifest.FileEntry]]
    package init(_ lists: [String: [SnapshotManifest.FileEntry]]) { self.lists = lists }

    package func forEach(_ item: SnapshotCatalogue.Item, visit: (ChunkID) -> Bool,
                         _ body: (SnapshotManifest.FileEntry) -> Void) throws(CoreError) {
        for file in lists[item.id] ?? [] { body(file) }
    }

    package func find(_ path: String, in item: SnapshotCatalogue.Item) throws(CoreError) -> SnapshotManifest.FileEntry? {
        lists[item.id]?.first { $0.path == path }
    }
}
