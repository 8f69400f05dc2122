import DRBase
package import DRConfig
import DRRepository
package import Logging

/// `drctl snapshots`: what exists, when, how large, what it added, and on which targets.
package enum SnapshotsJob {
    package struct Row: Sendable, Codable {
        package var id: String
        package var time: String
        package var host: String
        package var storePath: String
        package var files: Int
        package var filesUnchanged: Int
        package var imageBytes: Int64
        package var newChunkBytes: Int64
        package var storedBytes: Int64
        package var targets: [String]
        /// With `--mailbox`: that mailbox's image in this snapshot.
        package var mailbox: MailboxImage?
    }

    package struct MailboxImage: Sendable, Codable {
        package var path: String
        package var consistentAt: String
        package var size: Int64
        package var snapshotMode: String
        package var consistency: String
        package var unchanged: Bool
    }

    /// The rows, and what the catalogue noticed on the way (for warnings).
    package struct Listing: Sendable {
        package var rows: [Row]
        package var gaps: [SnapshotCatalogue.Gap]
        package var unreadable: [SnapshotCatalogue.Unreadable]
        package var rejected: [SnapshotCatalogue.Rejected]
    }

    /// - Parameters:
    ///   - host: whose snapshots (default: this host's, of the configured store).
    ///   - allHosts: every host's and store's.
    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           mailbox: String?, host: String? = nil, allHosts: Bool = false,
                           logger: Logger) throws(CoreError) -> Listing {
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, use: .read, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        // The catalogue restore uses: every reachable target's manifests, each read once.
        let catalogue = try SnapshotCatalogue.gather(repository, stores: repository.stores, keys: keys)
        let entries = TargetEntries(stores: repository.stores, keys: keys,
                                    cache: NodeCache.forReading(configuration.stateDirectory, repository: repository.id, keys: keys))
        var rows: [Row] = []
        var rejected = catalogue.rejected
        let scope = catalogue.scope(host: host, configuredStore: configuration.store.path, thisHost: configuration.hostName)
        for item in allHosts ? catalogue.items : catalogue.scoped(to: scope) {
            let manifest = item.manifest
            var image: MailboxImage?
            if let mailbox {
                // A list that cannot be read (or holds an invalid entry) leaves the snapshot out,
                // named among the rejected ones.
                let found: SnapshotManifest.FileEntry?
                do { found = try entries.find(mailbox, in: item) } catch {
                    rejected.append(.init(snapshot: item.id, code: error.code, error: error.message))
                    continue
                }
                guard let file = found else { continue }
                image = MailboxImage(path: file.path, consistentAt: file.consistentAt, size: file.size,
                                     snapshotMode: file.snapshotMode, consistency: file.consistency,
                                     unchanged: file.consistentAt < manifest.time)
            }
            rows.append(Row(id: item.id, time: manifest.time, host: manifest.host, storePath: manifest.storePath,
                            files: manifest.mailboxes.count,
                            filesUnchanged: manifest.statistics.filesUnchanged,
                            imageBytes: manifest.statistics.imageBytes,
                            newChunkBytes: manifest.statistics.newChunkBytes,
                            storedBytes: manifest.statistics.storedBytes,
                            targets: item.targets, mailbox: image))
        }
        return Listing(rows: rows.sorted { ($0.time, $0.id) < ($1.time, $1.id) }, gaps: catalogue.gaps,
                       unreadable: catalogue.unreadable, rejected: rejected)
    }
}
