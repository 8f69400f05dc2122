package import DRBase
package import DRConfig
import DRRepository
import DRTransport
package import Foundation
package import Logging

/// `drctl status`: is this host's mail store recoverable within the objective, now?
///
/// Per target, the newest snapshot of this host's store and how old it is; the RPO exposure
/// (the age of the newest restorable point of the worst mailbox) against `[objectives] rpo`;
/// the last drill's verdict. The exit status is for a monitoring check: 0 within the
/// objective everywhere, 4 (`status.rpo-exceeded`, `status.no-snapshot`) when a mailbox is
/// beyond it, 2 (degraded) when only a target is unavailable or behind.
///
/// Read only: the manifests of every reachable target (`SnapshotCatalogue`), and the mailbox
/// lists of the newest snapshots, walked by the selection `restore` uses for "the whole
/// store, now" — so status and restore can never disagree about what is restorable.
package enum StatusJob {
    /// What keeps the exit status from 0, and what any other note says.
    package struct Problem: Sendable, Codable, Equatable {
        /// The catalogue code when there is one (a target's error, the objective's code).
        package var code: ErrorCode?
        package var message: String
    }

    /// The newest snapshot of this host's store.
    package struct Newest: Sendable, Codable {
        package var id: String
        /// When the run started and ended (RFC 3339).
        package var time: String
        package var end: String
        package var wholeStore: Bool
        /// Mailboxes it saved, and those it could not read.
        package var mailboxes: Int
        package var failed: Int
        package var targets: [String]
    }

    package struct TargetRow: Sendable, Codable {
        package struct Snapshot: Sendable, Codable, Equatable {
            package var id: String
            package var time: String
        }
        package var name: String
        /// Opened and listed.
        package var available: Bool
        /// Why not.
        package var error: Problem?
        /// Its newest snapshot of this host's store.
        package var newestSnapshot: Snapshot?
        /// Now minus that snapshot's (start) time; nil without one.
        package var lagSeconds: Double?
        /// Snapshots (of any host) that another target holds and this one lacks.
        package var missingSnapshots: Int
        /// Available, holding what the others hold, and its newest snapshot no older than
        /// the objective.
        package var withinObjective: Bool
    }

    /// The recovery point exposure of this host's store.
    package struct Exposure: Sendable, Codable {
        /// `[objectives] rpo` as written ("24h") and in seconds.
        package var objective: String
        package var objectiveSeconds: Int64
        /// Now minus the worst mailbox's newest restorable point; nil when a mailbox has never
        /// been backed up or there is no snapshot (unbounded: see `neverBackedUp`).
        package var exposureSeconds: Double?
        package var worstMailbox: String?
        /// When the snapshot holding the worst mailbox's newest image ended (RFC 3339).
        package var worstRestorablePoint: String?
        package var worstSnapshot: String?
        /// The mailboxes counted: those of the newest whole-store run (saved and failed) and
        /// of the partial runs after it.
        package var mailboxes: Int
        /// Mailboxes that exist by those runs but that no snapshot holds.
        package var neverBackedUp: [String]
        package var exceeded: Bool
    }

    package struct Drill: Sendable, Codable {
        /// Nil: no drill yet.
        package var latest: DrillStatus.Latest?
        /// Older than `[drill] every`.
        package var overdue: Bool
        /// `latest.json` is there but unreadable.
        package var error: Problem?
    }

    /// Encoded for `--json` with the exit status it ends in (docs/MONITORING.md).
    package struct Report: Sendable, Encodable {
        package var schema = "drctl.status/1"
        /// When this was measured (RFC 3339).
        package var time: String
        package var host: String
        package var storePath: String
        /// Usable snapshots of this host's store.
        package var snapshots: Int
        package var newestSnapshot: Newest?
        package var targets: [TargetRow]
        package var rpo: Exposure
        package var drill: Drill
        /// Manifests, or lists, that could not be used (damaged everywhere, or invalid).
        package var rejected: [SnapshotCatalogue.Rejected]
        /// Why the exit status is not 0, the one that decides it first.
        package var problems: [Problem]
        package var exitStatus: ExitStatus {
            if let code = problems.first?.code, code.exitStatus == .objectiveMissed { return .objectiveMissed }
            return problems.isEmpty ? .success : .degraded
        }

        enum CodingKeys: String, CodingKey {
            case schema, time, host, storePath, snapshots, newestSnapshot, targets, rpo, drill, rejected, problems
            case exitStatus
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(schema, forKey: .schema)
            try container.encode(time, forKey: .time)
            try container.encode(host, forKey: .host)
            try container.encode(storePath, forKey: .storePath)
            try container.encode(snapshots, forKey: .snapshots)
            try container.encode(newestSnapshot, forKey: .newestSnapshot)
            try container.encode(targets, forKey: .targets)
            try container.encode(rpo, forKey: .rpo)
            try container.encode(drill, forKey: .drill)
            try container.encode(rejected, forKey: .rejected)
            try container.encode(problems, forKey: .problems)
            try container.encode(exitStatus.rawValue, forKey: .exitStatus)
        }

        init(time: String, host: String, storePath: String, snapshots: Int, newestSnapshot: Newest?,
             targets: [TargetRow], rpo: Exposure, drill: Drill, rejected: [SnapshotCatalogue.Rejected],
             problems: [Problem]) {
            self.time = time
            self.host = host
            self.storePath = storePath
            self.snapshots = snapshots
            self.newestSnapshot = newestSnapshot
            self.targets = targets
            self.rpo = rpo
            self.drill = drill
            self.rejected = rejected
            self.problems = problems
        }

        /// The error that ends `drctl status` with exit 4, when the objective is missed.
        package var objectiveFailure: CoreError? {
            guard let first = problems.first, let code = first.code, code.exitStatus == .objectiveMissed else { return nil }
            return CoreError(code, message: first.message)
        }
    }

    /// - Parameter host: whose snapshots (default: this host's, of the configured store).
    package static func run(_ configuration: Configuration, secrets: SecretSources, host: String? = nil,
                           now: Date = Date(), logger: Logger) throws(CoreError) -> Report {
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, use: .read, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        let catalogue = try SnapshotCatalogue.gather(repository, stores: repository.stores, keys: keys)
        let scope = catalogue.scope(host: host, configuredStore: configuration.store.path, thisHost: configuration.hostName)
        let ours = catalogue.scoped(to: scope)
        let entries = TargetEntries(stores: repository.stores, keys: keys,
                                    cache: NodeCache.forReading(configuration.stateDirectory, repository: repository.id, keys: keys))
        let objective = configuration.objectives.rpo
        let points = try restorablePoints(catalogue, scope: scope, entries: entries, now: now)
        let exposure = Self.exposure(points, newest: ours.last, objective: objective, now: now)

        var unavailable: [String: Problem] = [:]
        for target in repository.unavailable {
            unavailable[target.target] = Problem(code: target.error.code, message: target.error.message)
        }
        for target in catalogue.unreadable {
            unavailable[target.target] = Problem(code: target.code, message: target.error)
        }
        var missing: [String: Int] = [:]
        for gap in catalogue.gaps where missing[gap.target] == nil { missing[gap.target] = gap.snapshots.count }
        return assemble(configuration, scope: scope, snapshots: ours.count, newest: ours.last,
                        newestOn: { name in ours.last { $0.targets.contains(name) } },
                        exposure: exposure, unavailable: unavailable, missing: missing,
                        rejected: catalogue.rejected + points.rejected, now: now)
    }

    /// The report from what was measured (or, after a backup that ended whole, known:
    /// `afterBackup`): the target rows, the drill, and the problems that decide the exit status.
    /// - Parameters:
    ///   - snapshots: usable snapshots of the scope's store.
    ///   - newest: the newest of them; `newestOn`: the newest each target holds.
    ///   - missing: per target, the snapshots other targets hold and it lacks.
    static func assemble(_ configuration: Configuration, scope: SnapshotScope, snapshots: Int,
                         newest: SnapshotCatalogue.Item?, newestOn: (String) -> SnapshotCatalogue.Item?,
                         exposure: Exposure, unavailable: [String: Problem], missing: [String: Int],
                         rejected: [SnapshotCatalogue.Rejected], now: Date) -> Report {
        let objective = configuration.objectives.rpo
        let targets = configuration.targets.map { target in
            row(target.name, newest: newestOn(target.name), unavailable: unavailable[target.name],
                missing: missing[target.name] ?? 0, objective: objective, now: now)
        }
        let drill = drillState(configuration, now: now)

        var problems: [Problem] = []
        if let problem = objectiveProblem(exposure, scope: scope, any: newest != nil) { problems.append(problem) }
        for target in targets where !target.withinObjective {
            problems.append(targetProblem(target, objective: objective))
        }
        let newestRow = newest.map { item in
            Newest(id: item.id, time: item.manifest.time, end: Timestamps.format(end(of: item)),
                   wholeStore: item.manifest.wholeStore, mailboxes: item.manifest.mailboxes.count,
                   failed: item.manifest.failed.count, targets: item.targets)
        }
        return Report(time: Timestamps.format(now), host: scope.host, storePath: scope.storePath, snapshots: snapshots,
                      newestSnapshot: newestRow, targets: targets, rpo: exposure, drill: drill,
                      rejected: rejected, problems: problems)
    }

    /// When a run ended: its start plus its duration (the manifest is valid, so both read).
    static func end(of item: SnapshotCatalogue.Item) -> Date {
        item.manifest.createdAt ?? Timestamps.parse(item.manifest.time) ?? .distantPast
    }

    /// For each mailbox the store has by its latest runs, the snapshot holding its newest
    /// image (an unchanged entry counts: that run verified the mailbox unchanged), and those
    /// that no snapshot holds. Restore's own selection of "the whole store, now".
    struct Points {
        var newest: [String: SnapshotCatalogue.Item] = [:]
        var never: [String] = []
        var rejected: [SnapshotCatalogue.Rejected] = []
    }

    static func restorablePoints(_ catalogue: SnapshotCatalogue, scope: SnapshotScope, entries: any SnapshotEntries,
                                 now: Date) throws(CoreError) -> Points {
        var points = Points()
        guard !catalogue.scoped(to: scope).isEmpty else { return points }
        do throws(CoreError) {
            let choice = try catalogue.select(.latest, mailboxes: [], scope: scope, entries: entries, now: now)
            for image in choice.images { points.newest[image.entry.path] = image.snapshot }
            points.never = choice.absent
            points.rejected = choice.rejected
        } catch where error.code == .restoreNoSnapshot {
            // Nothing restorable at all: every mailbox the runs knew of is unprotected (or the
            // store was empty when they ran).
            var rejected: [String: SnapshotCatalogue.Rejected] = [:]
            let existing = try SnapshotCatalogue.existing(at: now, in: catalogue.scoped(to: scope), entries: entries) { item, error in
                rejected[item.id] = .init(snapshot: item.id, code: error.code, error: error.message)
            }
            points.never = existing.sorted()
            points.rejected = rejected.values.sorted { $0.snapshot < $1.snapshot }
        }
        return points
    }

    static func exposure(_ points: Points, newest: SnapshotCatalogue.Item?, objective: ConfigDuration,
                         now: Date) -> Exposure {
        // The oldest newest-point; ties broken by path, so that the named mailbox is stable.
        let worst = points.newest.min { a, b in (end(of: a.value), a.key) < (end(of: b.value), b.key) }
        return exposure(mailboxes: points.newest.count + points.never.count, never: points.never,
                        worst: worst.map { ($0.key, $0.value) }, newest: newest, objective: objective, now: now)
    }

    /// - Parameter worst: the mailbox whose newest restorable point is the oldest (the least
    ///   path among equals), and the snapshot that holds that point.
    static func exposure(mailboxes: Int, never: [String], worst: (mailbox: String, snapshot: SnapshotCatalogue.Item)?,
                         newest: SnapshotCatalogue.Item?, objective: ConfigDuration, now: Date) -> Exposure {
        var result = Exposure(objective: objective.description, objectiveSeconds: objective.seconds,
                              exposureSeconds: nil, worstMailbox: nil, worstRestorablePoint: nil, worstSnapshot: nil,
                              mailboxes: mailboxes, neverBackedUp: never, exceeded: true)
        guard let newest else { return result }
        if let never = never.first {
            result.worstMailbox = never
            return result
        }
        // No mailbox at all: the newest run saw the store, empty, at its end.
        let point = worst.map { end(of: $0.snapshot) } ?? end(of: newest)
        // Milliseconds, as the times it comes from.
        let age = (max(0, now.timeIntervalSince(point)) * 1000).rounded() / 1000
        result.exposureSeconds = age
        result.worstMailbox = worst?.mailbox
        result.worstRestorablePoint = Timestamps.format(point)
        result.worstSnapshot = worst?.snapshot.id ?? newest.id
        result.exceeded = age > Double(objective.seconds)
        return result
    }

    static func row(_ name: String, newest: SnapshotCatalogue.Item?, unavailable: Problem?, missing: Int,
                    objective: ConfigDuration, now: Date) -> TargetRow {
        guard unavailable == nil else {
            return TargetRow(name: name, available: false, error: unavailable, newestSnapshot: nil, lagSeconds: nil,
                             missingSnapshots: 0, withinObjective: false)
        }
        let lag = newest.flatMap { Timestamps.parse($0.manifest.time) }.map { (max(0, now.timeIntervalSince($0)) * 1000).rounded() / 1000 }
        return TargetRow(name: name, available: true, error: nil,
                         newestSnapshot: newest.map { .init(id: $0.id, time: $0.manifest.time) },
                         lagSeconds: lag, missingSnapshots: missing,
                         withinObjective: missing == 0 && (lag.map { $0 <= Double(objective.seconds) } ?? false))
    }

    static func drillState(_ configuration: Configuration, now: Date) -> Drill {
        do {
            let latest = try DrillStatus.latest(reportDirectory: configuration.drill.reportDirectory)
            let overdue = latest?.date.map { now.timeIntervalSince($0) > Double(configuration.drill.every.seconds) } ?? true
            return Drill(latest: latest, overdue: overdue, error: nil)
        } catch {
            return Drill(latest: nil, overdue: true, error: Problem(code: error.code, message: error.message))
        }
    }

    static func objectiveProblem(_ exposure: Exposure, scope: SnapshotScope, any: Bool) -> Problem? {
        guard exposure.exceeded else { return nil }
        let whose = "host \(scope.host), store \(scope.storePath)"
        let act = "run drctl backup, and find why the scheduled backups did not keep up (journalctl -u drctl.service)"
        guard any else {
            return Problem(code: .statusNoSnapshot,
                           message: "no snapshot of \(whose) yet (objective [objectives] rpo = \(exposure.objective)): \(act); another host's snapshots: drctl snapshots --all-hosts")
        }
        if !exposure.neverBackedUp.isEmpty {
            let names = exposure.neverBackedUp.prefix(5).joined(separator: ", ")
                + (exposure.neverBackedUp.count > 5 ? " and \(exposure.neverBackedUp.count - 5) more" : "")
            return Problem(code: .statusNoSnapshot,
                           message: "\(exposure.neverBackedUp.count) mailbox(es) of \(whose) have never been backed up (every backup of them failed): \(names); objective [objectives] rpo = \(exposure.objective): \(act); the backup's summary says why each one failed")
        }
        let mailbox = exposure.worstMailbox.map { "mailbox \($0)" } ?? "the store"
        let age = TargetsJob.duration(exposure.exposureSeconds ?? 0)
        return Problem(code: .statusRpoExceeded,
                       message: "\(mailbox) of \(whose): its newest restorable point is \(age) old (\(exposure.worstRestorablePoint ?? "?"), snapshot \(exposure.worstSnapshot?.prefix(12) ?? "?")), beyond the objective [objectives] rpo = \(exposure.objective): \(act)")
    }

    static func targetProblem(_ row: TargetRow, objective: ConfigDuration) -> Problem {
        if let error = row.error {
            return Problem(code: error.code, message: "target \(row.name) is unavailable: \(error.message)")
        }
        if row.missingSnapshots > 0 {
            return Problem(code: nil, message: "target \(row.name) lacks \(row.missingSnapshots) snapshot(s) that another target holds (it missed a backup): run drctl sync")
        }
        guard let lag = row.lagSeconds else {
            return Problem(code: nil, message: "target \(row.name) holds no snapshot of this store: run drctl sync, or drctl backup")
        }
        return Problem(code: nil, message: "target \(row.name): its newest snapshot of this store is \(TargetsJob.duration(lag)) old, beyond the objective [objectives] rpo = \(objective): check that the backups reach it (drctl targets)")
    }
}
