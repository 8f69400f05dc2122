package import DRBase
package import DRConfig
package import DRRepository
package import DRTransport
package import Logging
import Foundation

/// `drctl forget`: applies `[retention]` to one host's snapshot records of one store and
/// deletes the records it does not keep from every target (docs/RETENTION.md).
///
/// Only records go: the packs they used stay (prune removes what no record uses), so until
/// prune a forgotten snapshot's data is still on the targets, and a forget is never more
/// than its records. Each deletion is independent of the others (nothing names a snapshot
/// record), so any order is safe if the run is killed; records go oldest first, each from
/// every target before the next, so that a kill leaves at most one record on some targets and
/// not on others (a backup's catch-up would copy it back; the next forget deletes it again).
package enum ForgetJob {
    package struct Options: Sendable {
        /// Say what would go; delete nothing.
        package var dryRun = false
        /// Another host's snapshots (default: this host's).
        package var host: String?
        /// Take this host's backup lock while deleting; false when the caller holds it already
        /// (a job that runs backup and forget in one process: a second flock of the same file
        /// from the same process would fail).
        package var takeLock = true
        package init() {}
    }

    /// One snapshot record of the host and store, and what becomes of it.
    package struct Snapshot: Sendable, Codable {
        package var id: String
        package var time: String
        /// Entries in its list (the manifest's count).
        package var mailboxes: Int
        package var wholeStore: Bool
        package var keep: Bool
        /// Why it is kept (empty when it goes).
        package var reasons: [RetentionPolicy.Reason]
        /// The targets whose listing holds it.
        package var targets: [String]
    }

    package struct Plan: Sendable, Codable {
        package var host: String
        package var storePath: String
        package var rules: RetentionRules
        /// Oldest first.
        package var snapshots: [Snapshot]
        package var keep: Int
        package var forget: Int
        /// Kept because their list could not be read on any target that holds them.
        package var unreadableLists: [SnapshotCatalogue.Rejected]
        /// Records no target could open (damaged everywhere, or invalid): their host is
        /// unknown, so they are not judged, and left where they are (check names them).
        package var rejected: [SnapshotCatalogue.Rejected]
        /// Targets that were open but whose `snapshots/` could not be listed.
        package var unlisted: [SnapshotCatalogue.Unreadable]
        /// The other hosts and stores with snapshots in the repository (not judged).
        package var otherScopes: [SnapshotScope]

        /// The records that go, oldest first.
        package var forgotten: [Snapshot] { snapshots.filter { !$0.keep } }
    }

    /// One object that could not be deleted, or one target that could not be used.
    package struct Problem: Sendable, Codable, Equatable {
        package var object: String
        package var code: ErrorCode
        package var message: String
    }

    package struct TargetResult: Sendable, Codable {
        package var name: String
        package var location: String
        package var reachable: Bool
        /// Records deleted here.
        package var deleted = 0
        /// Records S3 Object Lock keeps here until their retention ends (`transport.locked`):
        /// not a failure of the target; the first forget after that date deletes them.
        package var locked: [Problem] = []
        /// Why it is not done: unreachable, not listed, or a deletion that failed (the rest
        /// were not tried on this target; the next forget deletes them).
        package var failures: [Problem] = []
        package var transfer: TargetTransfer?
        package var complete: Bool { reachable && failures.isEmpty }

        init(name: String, location: String, reachable: Bool) {
            self.name = name
            self.location = location
            self.reachable = reachable
        }

        private enum CodingKeys: String, CodingKey {
            case name, location, reachable, deleted, locked, failures, transfer, complete
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(location, forKey: .location)
            try container.encode(reachable, forKey: .reachable)
            try container.encode(deleted, forKey: .deleted)
            try container.encode(locked, forKey: .locked)
            try container.encode(failures, forKey: .failures)
            try container.encodeIfPresent(transfer, forKey: .transfer)
            try container.encode(complete, forKey: .complete)
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            location = try container.decode(String.self, forKey: .location)
            reachable = try container.decode(Bool.self, forKey: .reachable)
            deleted = try container.decode(Int.self, forKey: .deleted)
            locked = try container.decode([Problem].self, forKey: .locked)
            failures = try container.decode([Problem].self, forKey: .failures)
            transfer = try container.decodeIfPresent(TargetTransfer.self, forKey: .transfer)
        }
    }

    package struct Report: Sendable, Codable {
        package var dryRun: Bool
        package var plan: Plan
        package var targets: [TargetResult]
        /// Every target reachable, listed, and (unless a dry run) rid of every forgotten
        /// record that Object Lock does not hold.
        package var complete: Bool
        package var durationSeconds: Double

        /// 0 when complete; 2 (degraded) when a target was unreachable, could not be listed
        /// or failed a deletion: the records it still holds go at the next forget.
        package var exitStatus: ExitStatus { complete ? .success : .degraded }
    }

    // MARK: - Planning

    /// The plan for one host and store of an open repository: every reachable target's
    /// records (the catalogue), each one's list read whole (from this host's node cache where
    /// it has the nodes), the rules applied per mailbox.
    ///
    /// - Parameters:
    ///   - host: whose records (nil: this host's).
    ///   - storePath: the configured store (for another host with records of one other store
    ///     only, that one: `SnapshotCatalogue.scope`).
    ///   - protected: records kept whatever the rules say: ids, or names `snapshots/<id>`.
    ///   - thisHost: this machine's host name (`Configuration.hostName`).
    ///   - pendingMarks: prune marks of the targets forget deletes on: every record written
    ///     after a pending mark's use was read is protected (`PruneJob.protectedSnapshots`).
    package static func plan(_ repository: Repository, keys: RepositoryKeys, stateDirectory: String,
                             host: String?, thisHost: String, storePath: String, retention: Configuration.Retention,
                             protected: Set<String> = [], pendingMarks: [MarkState] = []) throws(CoreError) -> Plan {
        let catalogue = try SnapshotCatalogue.gather(repository, stores: repository.stores, keys: keys)
        let entries = MemoizedEntries(stores: repository.stores, keys: keys,
                                      cache: NodeCache.forReading(stateDirectory, repository: repository.id, keys: keys))
        let scope = catalogue.scope(host: host, configuredStore: storePath, thisHost: thisHost)
        let guarded = protected.union(PruneJob.protectedSnapshots(current: Set(catalogue.items.map(\.id)), marks: pendingMarks))
        return plan(catalogue, entries: entries, scope: scope, rules: RetentionRules(retention), protected: guarded)
    }

    /// The plan from a catalogue and a way to read its lists (tests give both in memory).
    package static func plan(_ catalogue: SnapshotCatalogue, entries: any SnapshotEntries, scope: SnapshotScope,
                             rules: RetentionRules, protected: Set<String> = []) -> Plan {
        let items = catalogue.scoped(to: scope)
        let protectedIDs = Set(protected.map { $0.hasPrefix("snapshots/") ? String($0.dropFirst("snapshots/".count)) : $0 })
        var histories = MailboxHistories()
        var facts: [RetentionPolicy.Snapshot] = []
        var unreadable: [SnapshotCatalogue.Rejected] = []
        for (index, item) in items.enumerated() {
            var why: String?
            var paths: [String] = []
            do {
                // Whole lists: a subtree shared with another snapshot holds the same
                // mailboxes, but each snapshot needs its own set (docs/RETENTION.md, "Cost").
                try entries.forEach(item, visit: { _ in true }) { paths.append($0.path) }
            } catch {
                why = "\(error.code.rawValue): \(error.message)"
                unreadable.append(SnapshotCatalogue.Rejected(snapshot: item.id, code: error.code, error: error.message))
            }
            if why == nil {
                histories.add(snapshot: index, paths: paths.isEmpty ? [RetentionPolicy.noMailbox] : paths)
            }
            facts.append(RetentionPolicy.Snapshot(id: item.id, time: Timestamps.parse(item.manifest.time) ?? .distantPast,
                                                  unreadable: why, protected: protectedIDs.contains(item.id)))
        }
        let decisions = RetentionPolicy.decide(facts, histories: histories, rules: rules)
        let snapshots = zip(items, decisions).map { item, decision in
            Snapshot(id: item.id, time: item.manifest.time, mailboxes: item.manifest.mailboxes.count,
                     wholeStore: item.manifest.wholeStore, keep: decision.keep, reasons: decision.reasons,
                     targets: item.targets)
        }
        let kept = snapshots.filter(\.keep).count
        return Plan(host: scope.host, storePath: scope.storePath, rules: rules, snapshots: snapshots,
                    keep: kept, forget: snapshots.count - kept, unreadableLists: unreadable,
                    rejected: catalogue.rejected, unlisted: catalogue.unreadable,
                    otherScopes: catalogue.scopes().filter { $0 != scope })
    }

    // MARK: - Deleting

    /// Deletes the plan's forgotten records from every open target that lists them, oldest
    /// first, each from every target before the next. A target whose listing failed, or that
    /// fails a deletion, is left for the next forget (the rest are not tried on it: its next
    /// request would most likely fail as well, after the whole retry budget). A record under
    /// S3 Object Lock (`transport.locked`) is named and passed over.
    /// - Returns: per open target (configuration order is the caller's): what was deleted.
    package static func delete(_ plan: Plan, stores: [any ObjectStore]) -> [TargetResult] {
        var results = untouched(plan, stores: stores)
        for snapshot in plan.forgotten {
            let name = "snapshots/\(snapshot.id)"
            for (index, store) in stores.enumerated() where snapshot.targets.contains(store.targetName) {
                guard results[index].failures.isEmpty else { continue }
                do throws(TransportError) {
                    try store.delete(name)
                    results[index].deleted += 1
                } catch where error.code == .transportLocked {
                    results[index].locked.append(Problem(object: name, code: error.code, message: error.message))
                } catch {
                    results[index].failures.append(Problem(object: name, code: error.code, message: error.message))
                }
            }
        }
        return results
    }

    /// The open targets before any deletion: reachable, and failed where their listing did.
    static func untouched(_ plan: Plan, stores: [any ObjectStore]) -> [TargetResult] {
        var results = stores.map { TargetResult(name: $0.targetName, location: TargetRules.masked($0.location), reachable: true) }
        for unlisted in plan.unlisted {
            if let index = results.firstIndex(where: { $0.name == unlisted.target }) {
                results[index].failures.append(Problem(object: "snapshots/", code: unlisted.code, message: unlisted.error))
            }
        }
        return results
    }

    // MARK: - The command

    /// Deletes records only under each target's prune lease (`PruneLease`), so that it never
    /// runs beside a prune's mark and sweep; a target another prune holds is left (degraded,
    /// named), and the next forget deletes there.
    package static func run(_ configuration: Configuration, secrets: SecretSources,
                            options: Options, protected: Set<String> = [], logger: Logger) throws(CoreError) -> Report {
        let clock = ContinuousClock.now
        // Not beside this host's backup, which lists its records and then reads them: one
        // deleted in between would be reported as damaged. A dry run deletes nothing.
        let lock = options.dryRun || !options.takeLock
            ? nil : try RunLock(stateDirectory: configuration.stateDirectory, job: "backup")
        defer { withExtendedLifetime(lock) {} }
        // Forget deletes: the targets are opened as for any write (a public bucket is refused).
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, use: .write, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        // The leases (not for a dry run), then the marks under them.
        var leases: [PruneLease] = []
        var busy: [String: CoreError] = [:]
        defer { for lease in leases { lease.release() } }
        var marks: [MarkState] = []
        if !options.dryRun {
            for store in repository.stores {
                do throws(CoreError) {
                    leases.append(try PruneLease.acquire(on: store, host: configuration.hostName,
                                                         storePath: configuration.store.path, lifetime: PruneJob.leaseLifetime))
                    marks += try PruneJob.loadMarks(store, keys: keys)
                } catch {
                    busy[store.targetName] = error
                }
            }
        }
        let plan = try plan(repository, keys: keys, stateDirectory: configuration.stateDirectory, host: options.host,
                            thisHost: configuration.hostName, storePath: configuration.store.path,
                            retention: configuration.retention, protected: protected, pendingMarks: marks)
        var opened = options.dryRun ? untouched(plan, stores: repository.stores)
            : delete(plan, stores: repository.stores.filter { busy[$0.targetName] == nil })
        for (target, error) in busy.sorted(by: { $0.key < $1.key }) {
            var result = TargetResult(name: target, location: repository.stores.first { $0.targetName == target }.map { TargetRules.masked($0.location) } ?? "",
                                      reachable: true)
            result.failures.append(Problem(object: "locks/", code: error.code, message: error.message))
            opened.append(result)
        }
        let transfers = TargetTransfer.of(repository.stores)
        var results: [TargetResult] = []
        for target in configuration.targets {
            if var result = opened.first(where: { $0.name == target.name }) {
                result.transfer = transfers.first { $0.target == target.name }
                results.append(result)
            } else if let unavailable = repository.unavailable.first(where: { $0.target == target.name }) {
                var result = TargetResult(name: target.name, location: TargetRules.masked(unavailable.location), reachable: false)
                result.failures.append(Problem(object: unavailable.location, code: unavailable.error.code,
                                               message: unavailable.error.message))
                results.append(result)
            }
        }
        return Report(dryRun: options.dryRun, plan: plan, targets: results, complete: results.allSatisfy(\.complete),
                      durationSeconds: Elapsed.seconds(since: clock))
    }
}
