package import DRBase
package import DRConfig
package import Logging
import DRRepository
import DRTransport
import Foundation

/// `drctl prune`: deletes the packs no snapshot uses, safely while other hosts back up into
/// the same repository, in two phases per target under that target's lease (`PruneLease`):
///
/// 1. **Sweep** each mark made by an earlier prune once it is ready: its grace period is over
///    and every backup that was running when it was made has ended (its `locks/run-*` is gone
///    or expired). Its packs that still no snapshot uses — snapshots written since included —
///    are deleted; the mark is then recorded done.
/// 2. **Mark** the packs no snapshot uses now (and no pending mark holds): `prune/<id>`, then
///    the list of backups running at that moment (`prune/<id>-wait`).
///
/// A backup that starts after a mark reads it and reuses none of its packs; one that started
/// before is waited for. So a pack is deleted only if no snapshot uses it and no backup can
/// still come to use it (docs/ARCHITECTURE.md, "Prune", has the argument).
package enum PruneJob {
    package struct Options: Sendable {
        package var dryRun = false
        package var progress = false
        /// Forget the records [retention] does not keep first, under the same leases (what
        /// `drctl run` does); the backup lock of this host is awaited this many seconds.
        package var forget = false
        package var lockWait: Double = 0
        package init() {}
    }

    package struct TargetReport: Sendable, Codable {
        package var name: String
        /// "held" when this run pruned the target; otherwise why not.
        package var lease: String
        package var ok: Bool
        package var error: String?
        package var errorCode: ErrorCode?
        /// Packs marked by this run, and their bytes.
        package var markedPacks = 0
        package var markedBytes: Int64 = 0
        /// Packs deleted by this run's sweeps, and the bytes reclaimed.
        package var deletedPacks = 0
        package var deletedBytes: Int64 = 0
        /// Packs a sweep would have deleted but that are under Object Lock retention still.
        package var retainedPacks = 0
        /// Marks not yet ready, each with why.
        package var waiting: [String] = []
        /// Earlier marks and records this run removed (swept marks past their lifetime,
        /// abandoned marks, expired run records and leases).
        package var cleaned = 0
        package init(name: String, lease: String, ok: Bool) {
            self.name = name
            self.lease = lease
            self.ok = ok
        }
    }

    package struct Report: Sendable, Codable {
        package var dryRun: Bool
        package var snapshots: Int
        package var referencedPacks: Int
        package var targets: [TargetReport]
        /// What forget did first, when asked (`Options.forget`).
        package var forget: ForgetSummary?
        package var durationSeconds: Double
        package var deletedBytes: Int64 { targets.reduce(0) { $0 + $1.deletedBytes } }
        package var deletedPacks: Int { targets.reduce(0) { $0 + $1.deletedPacks } }

        /// Success when every target was pruned; degraded when some could not be (busy,
        /// unreachable); failure when none could, or what snapshots use is unknown.
        package var exitStatus: ExitStatus {
            if targets.allSatisfy(\.ok) { return .success }
            if targets.contains(where: { $0.errorCode == .pruneUnreadable }) { return ErrorCode.pruneUnreadable.exitStatus }
            return targets.contains(where: \.ok) ? .degraded : (targets.first?.errorCode?.exitStatus ?? .failure)
        }
    }

    /// The forget step of a prune: records forgotten (on the targets under lease), kept, and
    /// what went wrong where.
    package struct ForgetSummary: Sendable, Codable {
        package var forgotten: Int
        package var kept: Int
        package var protected: Int
        package var failures: [String]
    }

    /// How long a lease lasts between renewals (`PruneLease.valid` renews it at half): a killed
    /// prune of another host holds the targets no longer than this, plus the clock margin.
    static let leaseLifetime: TimeInterval = 30 * 60

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                            options: Options, logger: Logger) throws(CoreError) -> Report {
        let clock = ContinuousClock.now
        let lock = try RunLock(stateDirectory: configuration.stateDirectory, job: "prune")
        defer { withExtendedLifetime(lock) {} }
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        let cache = NodeCache.forReading(configuration.stateDirectory, repository: repository.id, keys: keys)
        let host = configuration.hostName
        var reports: [String: TargetReport] = [:]
        for unavailable in repository.unavailable {
            var report = TargetReport(name: unavailable.target, lease: "not taken: target unavailable", ok: false)
            report.error = unavailable.error.message
            report.errorCode = unavailable.error.code
            reports[unavailable.target] = report
        }

        // Leases first: nothing is read for a target another prune is working on.
        var leases: [PruneLease] = []
        defer { for lease in leases { lease.release() } }
        for store in repository.stores {
            if options.dryRun {
                reports[store.targetName] = TargetReport(name: store.targetName, lease: "not taken (dry run)", ok: true)
                continue
            }
            do throws(CoreError) {
                leases.append(try PruneLease.acquire(on: store, host: host, storePath: configuration.store.path,
                                                     lifetime: leaseLifetime))
                reports[store.targetName] = TargetReport(name: store.targetName, lease: "held", ok: true)
            } catch {
                var report = TargetReport(name: store.targetName, lease: "busy", ok: false)
                report.error = error.message
                report.errorCode = error.code
                reports[store.targetName] = report
            }
        }
        // This host's run records are a killed backup's when no backup of this host runs
        // (records are written only under the backup lock): not waited for. Forget, when
        // asked, deletes records under the same lock (a backup of this host lists records and
        // then reads them) and under the leases (never beside another prune).
        var deadRuns = Set<String>()
        var forgotten: ForgetSummary?
        let backupLock: RunLock?
        if options.forget && !options.dryRun {
            backupLock = try RunLock(stateDirectory: configuration.stateDirectory, job: "backup", wait: options.lockWait)
        } else {
            backupLock = try? RunLock(stateDirectory: configuration.stateDirectory, job: "backup")
        }
        if let backupLock {
            for store in leases.map(\.store) {
                let records = (try? LockRecords.list(PruneRecords.runPrefix, on: store)) ?? [:]
                for (name, record) in records where record?.host == host { deadRuns.insert(name) }
            }
            if options.forget && !options.dryRun {
                var marks: [MarkState] = []
                for store in leases.map(\.store) { marks += try loadMarks(store, keys: keys) }
                let plan = try ForgetJob.plan(repository, keys: keys, stateDirectory: configuration.stateDirectory,
                                              host: nil, thisHost: host, storePath: configuration.store.path,
                                              retention: configuration.retention, pendingMarks: marks)
                let results = ForgetJob.delete(plan, stores: leases.map(\.store))
                forgotten = ForgetSummary(forgotten: plan.forgotten.count, kept: plan.snapshots.count - plan.forgotten.count,
                                          protected: plan.snapshots.filter { $0.reasons.contains { $0.rule == .protected } }.count,
                                          failures: results.flatMap { result in result.failures.map { "\(result.name): \($0.message)" } })
            }
            withExtendedLifetime(backupLock) {}
        }
        let worked = options.dryRun ? repository.stores : leases.map(\.store)
        let references = PackReferences(stores: repository.stores, keys: keys, cache: cache)
        var snapshots = 0
        func refresh() throws(CoreError) {
            let catalogue = try SnapshotCatalogue.gather(repository, stores: repository.stores, keys: keys)
            snapshots = catalogue.items.count
            // A walk of a large repository may outlast a lease: each snapshot renews them.
            try references.add(catalogue, progress: options.progress, keepAlive: { for lease in leases { _ = lease.valid } })
        }
        let grace = TimeInterval(configuration.prune.grace.seconds)

        for store in worked {
            let target = store.targetName
            var report = reports[target] ?? TargetReport(name: target, lease: "held", ok: true)
            let lease = leases.first { $0.store.targetName == target }
            do throws(CoreError) {
                try refresh()
                try sweep(store, lease: lease, references: references, refresh: refresh, grace: grace,
                          dryRun: options.dryRun, deadRuns: deadRuns, cache: cache, progress: options.progress,
                          report: &report, keys: keys)
                try mark(store, lease: lease, references: references, refresh: refresh, grace: grace,
                         host: host, dryRun: options.dryRun, deadRuns: deadRuns, cache: cache, progress: options.progress,
                         report: &report, keys: keys)
            } catch {
                report.ok = false
                report.error = error.message
                report.errorCode = error.code
            }
            reports[target] = report
        }
        let order = configuration.targets.map(\.name)
        let targets = reports.values.sorted { (order.firstIndex(of: $0.name) ?? .max, $0.name) < (order.firstIndex(of: $1.name) ?? .max, $1.name) }
        return Report(dryRun: options.dryRun, snapshots: snapshots, referencedPacks: references.packs.count,
                      targets: targets, forget: forgotten, durationSeconds: Elapsed.seconds(since: clock))
    }

    /// The backups live on `store` now (names of `locks/run-*` not expired).
    static func liveRuns(on store: any ObjectStore, dead: Set<String>) throws(CoreError) -> Set<String> {
        let now = Date()
        do {
            return Set(try LockRecords.list(PruneRecords.runPrefix, on: store)
                .filter { !dead.contains($0.key) && ($0.value?.live(at: now) ?? false) }.keys)
        } catch {
            throw CoreError(RepositoryError(error))
        }
    }

    static func packs(of store: any ObjectStore) throws(CoreError) -> [PackID: Int64] {
        var held: [PackID: Int64] = [:]
        do {
            for (name, size) in try store.listSizes(prefix: "data/") {
                if let id = PackNaming.id(fromObjectName: name), size >= 0 { held[id] = size }
            }
        } catch {
            throw CoreError(RepositoryError(error))
        }
        return held
    }

    static func loadMarks(_ store: any ObjectStore, keys: RepositoryKeys) throws(CoreError) -> [MarkState] {
        do {
            let loaded = try PruneMarks.load(from: store, keys: keys)
            if let damaged = loaded.damaged.first {
                // A mark that does not open was not written by a key holder, or is damaged:
                // nothing is deleted on its word, and it is left for an operator to look at.
                throw CoreError(damaged)
            }
            return loaded.marks
        } catch {
            throw CoreError(error)
        }
    }

    /// Phase 1: deletes what ready marks hold and no snapshot uses; tidies old records.
    static func sweep(_ store: any ObjectStore, lease: PruneLease?, references: PackReferences,
                      refresh: () throws(CoreError) -> Void, grace: TimeInterval, dryRun: Bool, deadRuns: Set<String>,
                      cache: NodeCache?, progress: Bool = false, report: inout TargetReport, keys: RepositoryKeys) throws(CoreError) {
        let marks = try loadMarks(store, keys: keys)
        let live = try liveRuns(on: store, dead: deadRuns)
        let now = Date()
        var ready: [MarkState] = []
        for state in marks where state.done == nil {
            guard let wait = state.wait else { continue }
            let made = Timestamps.parse(state.mark.time) ?? now
            let running = wait.runs.filter { live.contains($0) }
            if now.timeIntervalSince(made) < grace {
                report.waiting.append("mark \(state.id.prefix(8)) (\(state.mark.packs.count) packs): grace period until \(Timestamps.format(made.addingTimeInterval(grace)))")
            } else if !running.isEmpty {
                report.waiting.append("mark \(state.id.prefix(8)) (\(state.mark.packs.count) packs): waits for \(running.count) backup(s) running when it was made to end or expire")
            } else {
                ready.append(state)
            }
        }
        if !ready.isEmpty {
            // Snapshots the waited-for backups wrote are read now: what they use stays.
            try refresh()
            let present = try packs(of: store)
            for state in ready {
                let doomed = state.candidates.subtracting(references.packs).filter { present[$0] != nil }.sorted()
                if dryRun {
                    report.deletedPacks += doomed.count
                    report.deletedBytes += doomed.reduce(0) { $0 + (present[$1] ?? 0) }
                    continue
                }
                var deleted: [PackID] = []
                var bytes: Int64 = 0
                var retained = 0
                let shown = Progress(enabled: progress && StandardStreams.errorIsTerminal && !doomed.isEmpty, verb: "deleted",
                                     total: doomed.count, unit: "packs", totalBytes: doomed.reduce(0) { $0 + (present[$1] ?? 0) })
                defer { shown.finish() }
                for (index, pack) in doomed.enumerated() {
                    shown.update(done: index, bytes: bytes, current: "target \(store.targetName)")
                    guard lease?.valid ?? false else {
                        throw CoreError(.pruneLeaseLost, message: "target \(store.targetName): the prune lease is near its end; stopped after deleting \(deleted.count) pack(s) (all of them unused); prune again to finish")
                    }
                    do {
                        try store.delete(pack.objectName)
                        deleted.append(pack)
                        bytes += present[pack] ?? 0
                    } catch where error.code == .transportLocked {
                        retained += 1
                    } catch {
                        throw CoreError(RepositoryError(error))
                    }
                }
                report.deletedPacks += deleted.count
                report.deletedBytes += bytes
                report.retainedPacks += retained
                if let cache, let recorded = cache.packs(of: store.targetName) {
                    let gone = Set(deleted)
                    cache.record(packs: recorded.filter { !gone.contains($0.key) }, of: store.targetName)
                }
                if retained == 0 {
                    do {
                        try PruneMarks.write(PruneDone(time: Date(), deletedPacks: deleted.count, deletedBytes: bytes),
                                             name: PruneRecords.markPrefix + state.id + "-done", to: store, keys: keys)
                    } catch { throw CoreError(error) }
                } else {
                    report.waiting.append("mark \(state.id.prefix(8)): \(retained) pack(s) under Object Lock retention stay until it ends; a later prune deletes them")
                }
            }
        }
        guard !dryRun else { return }
        // Tidying, under the lease: swept marks past their lifetime, marks whose prune died
        // before it wrote their wait list (never swept; backups avoid their packs meanwhile),
        // run records and leases long expired.
        func remove(_ name: String) {
            if (try? store.delete(name)) != nil { report.cleaned += 1 }
        }
        for state in marks {
            let base = PruneRecords.markPrefix + state.id
            if let done = state.done, let when = Timestamps.parse(done.time),
               now.timeIntervalSince(when) > PruneMarks.doneLifetime {
                remove(base + "-done"); remove(base + "-wait"); remove(base)
            } else if state.wait == nil {
                remove(base)
            }
        }
        for prefix in [PruneRecords.runPrefix, PruneRecords.leasePrefix] {
            let records = (try? LockRecords.list(prefix, on: store)) ?? [:]
            for (name, record) in records where name != lease?.name {
                let expired = record.flatMap { Timestamps.parse($0.expires) }
                    .map { now.timeIntervalSince($0) > 86_400 } ?? false
                if expired || deadRuns.contains(name) { remove(name) }
            }
        }
    }

    /// Phase 2: marks what no snapshot uses now and no pending mark holds.
    static func mark(_ store: any ObjectStore, lease: PruneLease?, references: PackReferences,
                     refresh: () throws(CoreError) -> Void, grace: TimeInterval, host: String, dryRun: Bool,
                     deadRuns: Set<String>, cache: NodeCache?, progress: Bool = false, report: inout TargetReport, keys: RepositoryKeys) throws(CoreError) {
        let marks = try loadMarks(store, keys: keys)
        let pending = marks.filter { $0.done == nil && $0.wait != nil }.reduce(into: Set<PackID>()) { $0.formUnion($1.candidates) }
        let present = try packs(of: store)
        let unused = present.keys.filter { !references.packs.contains($0) && !pending.contains($0) }.sorted()
        report.markedPacks = unused.count
        report.markedBytes = unused.reduce(0) { $0 + (present[$1] ?? 0) }
        if dryRun && !unused.isEmpty {
            report.waiting.append(grace == 0
                ? "with grace 0 a prune would delete these \(unused.count) packs at once, unless a backup is running then"
                : "a prune would mark these \(unused.count) packs and delete them once the grace period is over")
        }
        guard !unused.isEmpty, !dryRun else { return }
        guard lease?.valid ?? false else {
            throw CoreError(.pruneLeaseLost, message: "target \(store.targetName): the prune lease is near its end; nothing new was marked; prune again")
        }
        let id = PruneRecords.uniqueSuffix()
        let name = PruneRecords.markPrefix + id
        // The snapshots whose use was read, exactly: any other (written since) may be the only
        // user of a marked pack, and must not be forgotten before the sweep (`protected`).
        let mark = PruneMark(time: Date(), host: host, target: store.targetName, packs: unused.map(\.hex),
                             snapshots: references.walkedSnapshots.sorted())
        do { try PruneMarks.write(mark, name: name, to: store, keys: keys) } catch { throw CoreError(error) }
        // Listed after the mark is written: a backup missing here starts later, and sees it.
        let running = try liveRuns(on: store, dead: deadRuns).sorted()
        guard lease?.valid ?? false else {
            throw CoreError(.pruneLeaseLost, message: "target \(store.targetName): the prune lease ran out while marking; the mark is incomplete and is removed by the next prune")
        }
        do { try PruneMarks.write(PruneWait(runs: running), name: name + "-wait", to: store, keys: keys) } catch { throw CoreError(error) }
        // No grace and nothing to wait for: the mark is ready now (what snapshots use is read
        // again first, inside sweep).
        if grace == 0 && running.isEmpty {
            try sweep(store, lease: lease, references: references, refresh: refresh, grace: grace, dryRun: false,
                      deadRuns: deadRuns, cache: cache, progress: progress, report: &report, keys: keys)
        } else if !running.isEmpty {
            report.waiting.append("mark \(id.prefix(8)) (\(unused.count) packs, new): waits for \(running.count) backup(s) running now to end or expire")
        } else {
            report.waiting.append("mark \(id.prefix(8)) (\(unused.count) packs, new): grace period until \(Timestamps.format(Date().addingTimeInterval(grace)))")
        }
    }

    /// Snapshots forget must keep on these targets whatever the retention rules say: those
    /// written after a pending mark's use was read (they may be the only user of a marked
    /// pack, reused by a backup that is still running; see `PruneMark.snapshots`).
    static func protectedSnapshots(current: Set<String>, marks: [MarkState]) -> Set<String> {
        var kept = Set<String>()
        for state in marks where state.done == nil && state.wait != nil {
            kept.formUnion(current.subtracting(state.mark.snapshots))
        }
        return kept
    }
}
