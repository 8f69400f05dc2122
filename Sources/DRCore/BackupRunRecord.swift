import DRBase
import DRRepository
import DRTransport
import Foundation

/// A backup's `locks/run-<id>` on every target it writes to: written before the backup looks
/// at any snapshot or pack, deleted when it ends. A prune that marks packs while the record
/// exists waits for the backup (or for the record's expiry) before it deletes any of them,
/// and a backup that starts after a mark sees the mark and reuses none of its packs
/// (docs/ARCHITECTURE.md, "Prune").
final class BackupRunRecord {
    let name: String
    let started: Date
    let expires: Date
    /// The targets that hold the record (the backup writes only to those).
    private(set) var holders: [any ObjectStore] = []
    /// Targets where it could not be written, with why.
    private(set) var failures: [String: RepositoryError] = [:]

    init(stores: [any ObjectStore], host: String, storePath: String, lifetime: TimeInterval) {
        name = PruneRecords.runPrefix + PruneRecords.uniqueSuffix()
        started = Date()
        expires = started.addingTimeInterval(lifetime)
        let record = LockRecord(job: "backup", host: host, storePath: storePath, started: started, lifetime: lifetime)
        let bytes = record.encoded()
        for store in stores {
            do {
                try store.put(name, bytes, ifAbsent: true)
                holders.append(store)
            } catch {
                failures[store.targetName] = RepositoryError(error)
            }
        }
    }

    /// Whether a commit now is still covered: the record has not expired (less a margin, so
    /// that the manifest lands before any prune could think the backup dead).
    var stillCovered: Bool { Date().addingTimeInterval(PruneRecords.clockSkewAllowance) < expires }

    /// Removes the record (after the manifest is written, or when the backup failed). A
    /// record that cannot be removed expires on its own; prune then stops waiting for it.
    func end() {
        for store in holders { try? store.delete(name) }
        holders = []
    }

    deinit { end() }
}
