import DRBase
import DRTransport

extension BackupWriter {
    /// What a run reuses from the snapshots before it.
    package struct Previous: Sendable {
        /// Each mailbox's newest entry, to skip unchanged files and to compare changed ones
        /// with their previous version (held coded: `PreviousEntries`).
        package var entries = PreviousEntries()
        /// The nodes of the newest snapshot's mailbox list, by id: the new list reuses those
        /// that did not change.
        package var listNodes: [ChunkID: BlobRef] = [:]
        /// The manifest they come from.
        package var manifest: String?
        /// The newest list's root, when that list holds only mailboxes looked for (none gone
        /// since): a run whose every entry is its entry again reuses it whole (`sameList`).
        package var list: SnapshotManifest.ListRoot?
        /// The snapshots of this host and store that every healthy target listed (name, start
        /// time), and whether every healthy target listed the same snapshots: with them, a run
        /// that ends whole knows the status `drctl status` would measure after it
        /// (`StatusJob.Known`), without reading the lists again.
        package var ours: [(name: String, time: String)] = []
        package var listingsAgree = false

        package init() {}
    }

    /// How many snapshots back a mailbox missing from the newest one is looked for.
    static let lookBack = 64

    /// Each mailbox's newest entry in the snapshots of this host and store that every healthy
    /// target holds. Only such snapshots may be reused: their blobs are then known to be on
    /// every target (after a run in which one target failed, that target's older state
    /// decides). The newest one's list is read whole (from this host's node cache, usually:
    /// nothing is downloaded); a mailbox it lacks is looked up in older ones (O(log n) each)
    /// only while it may still have existed — a whole-store run that neither saved nor failed
    /// it says it did not.
    package func previous(host: String, storePath: String, mailboxes: Set<String>) throws(RepositoryError) -> Previous {
        let healthy = healthyStores
        guard !healthy.isEmpty else { return Previous() }
        var common: Set<String>?
        var agree = true
        for store in healthy {
            let names: [String]
            do { names = try store.list(prefix: "snapshots/") } catch { throw RepositoryError(error) }
            let listed = Set(names)
            if let common, common != listed { agree = false }
            common = common.map { $0.intersection(listed) } ?? listed
        }
        var damaged: [String: [RepositoryError]] = [:]
        defer { noteDegraded(damaged) }
        let keys = self.keys
        // A manifest damaged on one target is read from another; the damage is reported as
        // that target's. One no target can read is left out: its files are then read again.
        func load(_ name: String) -> (manifest: SnapshotManifest, store: any ObjectStore)? {
            for store in healthy {
                do throws(RepositoryError) {
                    let bytes: [UInt8]
                    do throws(TransportError) { bytes = try store.get(name) } catch { throw RepositoryError(error) }
                    return (try SnapshotManifest.open(bytes, name: name, target: store.targetName, keys: keys), store)
                } catch {
                    var tagged = error
                    tagged.context = error.context.merged(with: ErrorContext(target: store.targetName, object: name))
                    damaged[store.targetName, default: []].append(tagged)
                }
            }
            return nil
        }
        // Times, hosts and stores come from the cache: only the manifests used are decrypted.
        var ours: [(name: String, time: String)] = []
        for name in (common ?? []).sorted() {
            if let known = cache.manifestSummary(name) {
                if known.host == host && known.store == storePath { ours.append((name, known.time)) }
                continue
            }
            guard let opened = load(name)?.manifest else { continue }
            cache.recordManifest(name, time: opened.time, host: opened.host, store: opened.storePath)
            if opened.host == host && opened.storePath == storePath { ours.append((name, opened.time)) }
        }
        var result = Previous()
        result.ours = ours
        result.listingsAgree = agree
        var missing = mailboxes
        var first = true
        for summary in ours.sorted(by: { ($0.time, $0.name) > ($1.time, $1.name) }).prefix(Self.lookBack) {
            if missing.isEmpty { break }
            guard let (manifest, _) = load(summary.name) else { continue }
            // Taken for ours on the cache's word: a damaged row must not make another host's
            // or store's list this run's previous one.
            guard manifest.host == host && manifest.storePath == storePath else {
                cache.recordManifest(summary.name, time: manifest.time, host: manifest.host, store: manifest.storePath)
                continue
            }
            // The list is read from the first target that gives it whole (a node damaged on
            // one target is read from another; the damage is reported as that target's).
            var read = false
            for store in healthy where !read {
                let reader = self.reader(store)
                do throws(RepositoryError) {
                    if first {
                        var nodes: [ChunkID: BlobRef] = [:]
                        var entries = PreviousEntries()
                        // One read transaction on the cache for the whole list, not one per node.
                        try cache.reading { () throws(RepositoryError) in
                            try entries.inserting(newest: true) { (insert) throws(RepositoryError) in
                                try manifest.forEachEntry(reader: reader, keys: keys, name: summary.name, target: store.targetName,
                                                          visit: { ref, _ in nodes[ref.id] = ref; return true }) { entry in
                                    if missing.contains(entry.path) { insert(entry) }
                                }
                            }
                        }
                        entries.forEachPath { missing.remove($0) }
                        result.entries = entries
                        result.listNodes = nodes
                        result.manifest = summary.name
                        if result.entries.count == manifest.mailboxes.count { result.list = manifest.mailboxes }
                    } else {
                        var found: [SnapshotManifest.FileEntry] = []
                        for path in missing.sorted() {
                            if let entry = try manifest.entry(path, reader: reader, keys: keys, name: summary.name,
                                                              target: store.targetName) {
                                found.append(entry)
                            }
                        }
                        try result.entries.inserting(newest: false) { insert in found.forEach(insert) }
                        for entry in found { missing.remove(entry.path) }
                    }
                    read = true
                } catch {
                    var tagged = error
                    tagged.context = error.context.merged(with: ErrorContext(target: store.targetName, object: summary.name))
                    damaged[store.targetName, default: []].append(tagged)
                }
            }
            // A list no target can read is not trusted for anything: its files are read
            // again (never skipped on the word of a list that cannot be read).
            guard read else { continue }
            first = false
            if manifest.wholeStore { missing.formIntersection(manifest.failed.map(\.path)) }
        }
        return result
    }

    /// The previous list, when the run's entries are exactly its entries (every mailbox
    /// found unchanged, none added, none gone): the new list would be the same nodes, so its
    /// root is reused without encoding and hashing every entry again.
    /// - Parameters:
    ///   - reusedFromNewest: the run's entries that are the newest list's, unchanged (an entry
    ///     reused unchanged is the previous entry byte for byte).
    ///   - others: every other entry of the run (new versions, or reused from older snapshots).
    package static func sameList(reusedFromNewest: Int, others: Int, previous: Previous) -> SnapshotManifest.ListRoot? {
        // Paths are distinct, and every entry of the newest list is one of `entries` when
        // `list` is set: as many reused from it as it holds, and nothing else, is that list.
        guard let list = previous.list, others == 0, list.count == reusedFromNewest else { return nil }
        return list
    }
}
