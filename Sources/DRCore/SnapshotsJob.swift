import DRBase
package import DRConfig
import DRRepository
import DRTransport

/// `drctl snapshots`: what exists, when, how large, what it added, and on which targets.
package enum SnapshotsJob {
    package struct Row: Sendable, Codable {
        package var id: String
        package var time: String
        package var host: String
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

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           mailbox: String?) throws(CoreError) -> [Row] {
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false)
        do {
            let keys = try repository.derivedKeys()
            // Which targets hold each manifest comes from listings; each manifest is then read
            // and decrypted once, from the first target that holds it.
            var presence: [String: [String]] = [:]
            var source: [String: any ObjectStore] = [:]
            for store in repository.stores {
                let names: [String]
                do { names = try store.list(prefix: "snapshots/") } catch { throw CoreError(error) }
                for name in names {
                    presence[String(name.dropFirst("snapshots/".count)), default: []].append(store.targetName)
                    if source[name] == nil { source[name] = store }
                }
            }
            var manifests: [String: SnapshotManifest] = [:]
            for (name, store) in source {
                let bytes: [UInt8]
                do { bytes = try store.get(name) } catch { throw CoreError(error) }
                manifests[String(name.dropFirst("snapshots/".count))] =
                    try repository.openManifest(bytes, name: name, store: store, keys: keys)
            }
            var rows: [Row] = []
            for (id, manifest) in manifests {
                var image: MailboxImage?
                if let mailbox {
                    guard let file = manifest.files.first(where: { $0.path == mailbox }) else { continue }
                    image = MailboxImage(path: file.path, consistentAt: file.consistentAt, size: file.size,
                                         snapshotMode: file.snapshotMode, consistency: file.consistency,
                                         unchanged: file.unchanged)
                }
                rows.append(Row(id: id, time: manifest.time, host: manifest.host, files: manifest.files.count,
                                filesUnchanged: manifest.statistics.filesUnchanged,
                                imageBytes: manifest.statistics.imageBytes,
                                newChunkBytes: manifest.statistics.newChunkBytes,
                                storedBytes: manifest.statistics.storedBytes,
                                targets: presence[id] ?? [], mailbox: image))
            }
            return rows.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        } catch {
            throw CoreError(error)
        }
    }
}
