import DRCompression
import DRConfig
import DRCore
import DRCrypto
@testable import DRRepository
import DRTransport
import Foundation
import Logging
import Testing

/// A key holder that writes what drctl never writes: every backup host holds the repository
/// key (several hosts may share one repository), so any of them can seal a manifest that says
/// anything. This rewrites a real manifest's JSON with drctl's own crypto and stores the
/// result under its content address on every target, as a hostile host would.
struct ManifestForger {
    let repository: Repository
    let keys: RepositoryKeys

    init(config: String) throws {
        let configuration = try ConfigurationLoader.load(file: config)
        // A forger's own warnings (none are expected of file targets) would only clutter the
        // test's output.
        let quiet = Logger(label: "forger") { _ in SwiftLogNoOpLogHandler() }
        repository = try KeyJobs.open(configuration, secrets: SecretSources(), requireAll: false, logger: quiet)
        keys = try repository.derivedKeys()
    }

    /// Every manifest name on the first target, oldest run first.
    func names() throws -> [String] {
        let store = try #require(repository.stores.first)
        return try repository.manifests(on: store, keys: keys).map(\.name)
    }

    /// The manifest's JSON as a dictionary.
    func json(_ name: String) throws -> [String: Any] {
        let store = try #require(repository.stores.first)
        let compressed = try ObjectEnvelope.open(try store.get(name), kind: .manifest, name: "",
                                                 target: store.targetName, key: keys.manifest)
        let plain = try Zstd.decompress(compressed, maxOutput: 1 << 26)
        return try #require(try JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any])
    }

    /// A manifest, opened.
    func manifest(_ name: String) throws -> SnapshotManifest {
        let store = try #require(repository.stores.first)
        return try Repository.openManifest(try store.get(name), name: name, store: store, keys: keys)
    }

    /// The entries of a manifest's mailbox list (read from the first target).
    func entries(_ name: String) throws -> [SnapshotManifest.FileEntry] {
        let store = try #require(repository.stores.first)
        let manifest = try Repository.openManifest(try store.get(name), name: name, store: store, keys: keys)
        var entries: [SnapshotManifest.FileEntry] = []
        try manifest.forEachEntry(reader: TargetBlobReader(store: store, keys: keys, cache: nil), keys: keys,
                                  name: name, target: store.targetName) { entries.append($0) }
        return entries
    }

    /// Writes `entries` as a one-leaf mailbox list in a pack of its own on every target, as a
    /// key holder could (paths and times unchecked), and returns the list's root for the
    /// manifest's JSON.
    func writeList(_ entries: [SnapshotManifest.FileEntry]) throws -> [String: Any] {
        let plain = ListCoding.encodeLeaf(entries)
        var pack = PackWriter()
        let ref = pack.append(try SealedBlob(plain, id: keys.chunkID(of: plain), kind: .list, keys: keys,
                                             compressor: nil))
        let finished = try pack.finish(keys: keys)
        for store in repository.stores { try store.put(finished.objectName, finished.bytes, ifAbsent: true) }
        let root = SnapshotManifest.RefJSON(ref)
        return ["count": entries.count,
                "root": ["id": root.id, "pack": root.pack, "offset": root.offset, "length": root.length,
                         "rawLength": root.rawLength, "compressed": root.compressed]]
    }

    /// Seals `json` as a manifest and puts it on every target; removes `replacing` when given.
    /// - Returns: the new snapshot id.
    @discardableResult
    func write(_ json: [String: Any], replacing old: String? = nil) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let compressed = try Zstd.compress(Array(data), level: 3)
        let sealed = try ObjectEnvelope.seal(compressed, kind: .manifest, name: "", key: keys.manifest)
        let name = "snapshots/" + ContentAddress.of(sealed)
        for store in repository.stores {
            try store.put(name, sealed, ifAbsent: true)
            if let old { try store.delete(old) }
        }
        return String(name.dropFirst("snapshots/".count))
    }

    /// Rewrites one manifest's JSON through `edit`.
    @discardableResult
    func rewrite(_ name: String, keepOriginal: Bool = false, _ edit: (inout [String: Any]) throws -> Void) throws -> String {
        var object = try json(name)
        try edit(&object)
        return try write(object, replacing: keepOriginal ? nil : name)
    }

    /// Rewrites one manifest's mailbox entries through `edit` (a new list), and its JSON.
    @discardableResult
    func rewriteEntries(_ name: String, keepOriginal: Bool = false,
                        _ edit: (inout [SnapshotManifest.FileEntry]) throws -> Void) throws -> String {
        var entries = try self.entries(name)
        try edit(&entries)
        var object = try json(name)
        object["mailboxes"] = try writeList(entries)
        return try write(object, replacing: keepOriginal ? nil : name)
    }
}
