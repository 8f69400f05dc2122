package import DRConfig
import DRRepository
package import Foundation

extension StatusJob {
    /// What a backup that ended whole knows of the status `drctl status` would measure right
    /// after it, so that the metrics textfile (`drctl backup` with `[metrics] textfile`,
    /// `drctl run`) need not measure it again: every mailbox of the store is in this run's
    /// snapshot, so each one's newest restorable point is this snapshot's end, and the worst
    /// mailbox is the least path. The full measure reads every node of the newest list again
    /// and checks every entry (0.39 of 0.89 CPU s of a nothing-changed backup of 10,000
    /// mailboxes; docs/BENCHMARKS.md, "The frequent timer"); `drctl status` still does it.
    ///
    /// Only made (`init?`) when the run's snapshot is whole-store, no mailbox failed, every
    /// configured target took it, every target listed the same snapshots before it, it is the
    /// newest of this host's store, and every entry is one the full measure would count (its
    /// time readable, not after now, not after the snapshot's end beyond the tolerance a
    /// reader allows). One difference is accepted: a manifest of this store that was sound
    /// when this host first read it and has since been damaged on every target is counted
    /// here, and rejected by the full measure (`drctl check` reports it).
    package struct Known: Sendable {
        let snapshot: SnapshotCatalogue.Item
        /// Usable snapshots of this host's store, this one included.
        let snapshots: Int
        let mailboxes: Int
        /// The least path among them (every one has the same restorable point).
        let worstMailbox: String?
        let scope: SnapshotScope

        /// - Parameters:
        ///   - name: the manifest's object name (`snapshots/<id>`); `manifest`: as sealed.
        ///   - tookIt: the targets that took the snapshot (`failures`: mailboxes not saved).
        ///   - previous: what the run found before it (`ours`, `listingsAgree`).
        init?(name: String, manifest: SnapshotManifest, entries: EntryFacts, failures: Int,
              tookIt: [String], configuration: Configuration, previous: BackupWriter.Previous, now: Date) {
            let configured = configuration.targets.map(\.name)
            guard manifest.wholeStore, failures == 0, manifest.failed.isEmpty, Set(tookIt) == Set(configured),
                  previous.listingsAgree, manifest.host == configuration.hostName,
                  manifest.storePath == configuration.store.path,
                  let start = Timestamps.parse(manifest.time), let end = manifest.createdAt, end <= now else { return nil }
            let id = String(name.dropFirst("snapshots/".count))
            // The newest: the catalogue sorts by start instant, then id.
            for other in previous.ours where other.name != name {
                let instant = Timestamps.parse(other.time) ?? .distantPast
                guard (instant, String(other.name.dropFirst("snapshots/".count))) < (start, id) else { return nil }
            }
            let latest = min(now, end.addingTimeInterval(SnapshotManifest.clockTolerance))
            guard !entries.unreadableTime, entries.latest.map({ $0 <= latest }) ?? true else { return nil }
            snapshot = SnapshotCatalogue.Item(id: id, manifest: manifest, targets: configured)
            snapshots = previous.ours.filter { $0.name != name }.count + 1
            mailboxes = entries.count
            worstMailbox = entries.least
            scope = SnapshotScope(host: manifest.host, storePath: manifest.storePath)
        }
    }

    /// What `Known` needs of a run's entries, gathered as the run tallies them (the entries
    /// themselves are not held: `BackupTally`).
    struct EntryFacts: Sendable {
        var count = 0
        /// The latest `consistentAt` (every entry must be at or before the snapshot's end).
        var latest: Date?
        /// Some entry's `consistentAt` does not parse (then nothing is known).
        var unreadableTime = false
        /// The least path (String order, as the full measure picks the worst mailbox).
        var least: String?

        mutating func add(path: String, consistentAt: Date?) {
            count += 1
            if let consistentAt {
                if latest.map({ consistentAt > $0 }) ?? true { latest = consistentAt }
            } else {
                unreadableTime = true
            }
            if least.map({ path < $0 }) ?? true { least = path }
        }
    }

    /// The report `run` would give right after the backup that made `known`, without reading
    /// the targets: every target available and holding the snapshot, no mailbox unprotected.
    package static func afterBackup(_ known: Known, configuration: Configuration, now: Date = Date()) -> Report {
        let exposure = exposure(mailboxes: known.mailboxes, never: [],
                                worst: known.worstMailbox.map { ($0, known.snapshot) }, newest: known.snapshot,
                                objective: configuration.objectives.rpo, now: now)
        return assemble(configuration, scope: known.scope, snapshots: known.snapshots, newest: known.snapshot,
                        newestOn: { _ in known.snapshot }, exposure: exposure, unavailable: [:], missing: [:],
                        rejected: [], now: now)
    }
}
