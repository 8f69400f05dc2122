import DRBase
package import DRTransport

extension Repository {
    /// The subkeys for reading and writing content.
    package func derivedKeys() throws(RepositoryError) -> RepositoryKeys {
        try RepositoryKeys(master: masterKey)
    }

    /// Every snapshot manifest of one target, oldest first.
    package func manifests(on store: any ObjectStore, keys: RepositoryKeys) throws(RepositoryError) -> [(name: String, manifest: SnapshotManifest)] {
        var result: [(String, SnapshotManifest)] = []
        do {
            for name in try store.list(prefix: "snapshots/") {
                result.append((name, try SnapshotManifest.open(try store.get(name), name: name,
                                                               target: store.targetName, keys: keys)))
            }
        } catch {
            throw RepositoryError(error)
        }
        return result.sorted { $0.1.time < $1.1.time }
    }

    /// Opens one manifest. Static: it needs only the keys, so that work on a thread of its own
    /// (`check`'s walk) can use it (`Repository` is not `Sendable`; the keys are).
    package static func openManifest(_ bytes: [UInt8], name: String, store: any ObjectStore,
                                     keys: RepositoryKeys) throws(RepositoryError) -> SnapshotManifest {
        try SnapshotManifest.open(bytes, name: name, target: store.targetName, keys: keys)
    }
}

extension SnapshotManifest {
    /// Every entry of this snapshot's list, in path order, each checked (`entryProblem`):
    /// an entry that fails, or a list whose count differs from the manifest's, makes the
    /// whole snapshot invalid (a faulty or hostile writer).
    package func forEachEntry(reader: any BlobReading, keys: RepositoryKeys, name: String, target: String,
                              visit: (BlobRef, Int?) throws(RepositoryError) -> Bool = { _, _ in true },
                              _ body: (FileEntry) throws(RepositoryError) -> Void) throws(RepositoryError) {
        guard let root = listRoot else { throw invalid("has an invalid mailbox list root", name: name, target: target) }
        let count = try MailboxList.forEach(root: root, reader: reader, keys: keys, context: "snapshot \(name)", visit: visit) { (entry) throws(RepositoryError) in
            if let problem = entryProblem(entry) { throw invalid(problem, name: name, target: target) }
            try body(entry)
        }
        // The manifest's count and the list's must agree (the root was read: the count is
        // known even where subtrees were skipped).
        if let count, count != UInt64(mailboxes.count) {
            throw invalid("says it holds \(mailboxes.count) mailboxes, but its list holds \(count)", name: name, target: target)
        }
    }

    /// One mailbox's entry in this snapshot (O(log n) list nodes read), checked like every
    /// entry read.
    package func entry(_ path: String, reader: any BlobReading, keys: RepositoryKeys, name: String,
                       target: String) throws(RepositoryError) -> FileEntry? {
        guard let root = listRoot else { throw invalid("has an invalid mailbox list root", name: name, target: target) }
        guard let entry = try MailboxList.find(path, root: root, reader: reader, keys: keys, context: "snapshot \(name)") else {
            return nil
        }
        if let problem = entryProblem(entry) { throw invalid(problem, name: name, target: target) }
        return entry
    }
}
