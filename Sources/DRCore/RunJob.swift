package import DRBase
package import DRConfig
package import Logging
import DRRepository
import Foundation

/// `drctl run`: the scheduled job a systemd timer starts, with nobody watching. Backup, then
/// retention and prune when due, then the restore drill and log retention when due; each
/// step's due time comes from the configuration and this host's record of when the step last
/// completed (`<state>/schedule.json`), so a night the timer missed is caught up by the next
/// run. One run per host at a time: a second ends at once with exit status 5.
package enum RunJob {
    package struct Options: Sendable {
        package var progress = false
        /// Run every step now, due or not.
        package var force = false
        package init() {}
    }

    /// What became of one step.
    package struct Step: Sendable, Codable {
        package enum Status: String, Sendable, Codable {
            case ok, degraded, failed
            /// Not due yet (its last completion is recent enough).
            case notDue = "not-due"
            /// Not run: a step before it failed, or it is not configured; `detail` says which.
            case skipped
        }
        package var step: String
        package var status: Status
        package var detail: String?
        package var errorCode: ErrorCode?
        package var durationSeconds: Double
        /// When it is due next (for steps that run on a schedule).
        package var nextDue: String?
    }

    /// Per target, over the steps that touched it.
    package struct TargetSummary: Sendable, Codable {
        package var name: String
        package var status: Step.Status
        package var detail: String?
        package var bytesAdded: Int64
        package var bytesReclaimed: Int64
    }

    package struct Report: Sendable, Codable {
        package var host: String
        package var started: String
        package var durationSeconds: Double
        package var steps: [Step]
        package var targets: [TargetSummary]
        package var snapshot: String?
        package var mailboxes: Int
        package var mailboxesFailed: Int
        /// The backup and prune reports, for whoever wants the details (`--json` prints them;
        /// the summary line does not).
        package var backup: BackupJob.Report?
        package var prune: PruneJob.Report?
        /// The drill's results, when one ran.
        package var drill: DrillResults?
        /// Log retention's report, when `[logs] sources` is configured.
        package var logs: LogRetainJob.Report?
        /// The recovery point objective after the run (`drctl status`'s measure): the age of
        /// the worst mailbox's newest restorable point, and which mailbox it is.
        package var rpo: RPO?
        /// Why the metrics or the status could not be written or measured (the run's own
        /// outcome is unaffected).
        package var warnings: [String] = []

        package struct RPO: Sendable, Codable {
            package var exposureSeconds: Double?
            package var objectiveSeconds: Int64
            package var worstMailbox: String?
            package var exceeded: Bool
        }

        /// Failure when a step failed; degraded when one is not complete, a target is behind,
        /// or the objective is missed after the run (a mailbox failing for days is failure
        /// enough to be heard even when tonight's other mailboxes went well).
        package var exitStatus: ExitStatus {
            if steps.contains(where: { $0.status == .failed }) { return .failure }
            if rpo?.exceeded == true { return .degraded }
            if steps.contains(where: { $0.status == .degraded })
                || targets.contains(where: { $0.status != .ok }) { return .degraded }
            return .success
        }
    }

    /// This host's record of when each scheduled step last completed.
    struct Schedule: Codable {
        var completed: [String: String] = [:]

        static func path(_ stateDirectory: String) -> String { stateDirectory + "/schedule.json" }

        static func load(_ stateDirectory: String) -> Schedule {
            // Small and ours; a damaged one only makes every step due once.
            guard let data = FileManager.default.contents(atPath: path(stateDirectory)), data.count < 1 << 20,
                  let schedule = try? JSONDecoder().decode(Schedule.self, from: data) else { return Schedule() }
            return schedule
        }

        func save(_ stateDirectory: String) {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            guard let data = try? encoder.encode(self) else { return }
            try? AtomicFile.write(Array(data), to: Self.path(stateDirectory), mode: 0o600, .replace)
        }

        /// Whether `step` is due at `now`, and when it is (or was) due.
        func due(_ step: String, every: ConfigDuration, now: Date) -> (due: Bool, at: Date) {
            guard let last = completed[step].flatMap(Timestamps.parse) else { return (true, now) }
            let at = last.addingTimeInterval(TimeInterval(every.seconds))
            return (at <= now, at)
        }
    }

    /// How long a run waits for another backup of this host to end.
    static let backupLockWait: Double = 3600

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                            options: Options, logger: Logger) throws(CoreError) -> Report {
        let started = Date()
        let clock = ContinuousClock.now
        let lock: RunLock
        do {
            lock = try RunLock(stateDirectory: configuration.stateDirectory, job: "run")
        } catch where error.code == .lockBusy {
            throw CoreError(.runBusy, message: "another drctl run is in progress on this host (state folder \(configuration.stateDirectory)); this one did nothing. If that run is stuck, see journalctl -u drctl.service, and stop it with systemctl stop drctl.service")
        }
        defer { withExtendedLifetime(lock) {} }
        var schedule = Schedule.load(configuration.stateDirectory)
        var steps: [Step] = []
        var report = Report(host: configuration.hostName, started: Timestamps.format(started), durationSeconds: 0,
                            steps: [], targets: [], snapshot: nil, mailboxes: 0, mailboxesFailed: 0)

        // 1. Backup, every run.
        let backupClock = ContinuousClock.now
        var backupOptions = BackupJob.Options()
        backupOptions.progress = options.progress
        // A frequent backup (drctl-backup.timer) may be under way: the nightly run waits for it
        // rather than fail and page someone.
        backupOptions.waitForLock = Self.backupLockWait
        var known: StatusJob.Known?
        do {
            let backup: BackupJob.Report
            (backup, known) = try BackupJob.runKnowing(configuration, secrets: secrets, options: backupOptions, logger: logger)
            report.backup = backup
            report.snapshot = backup.snapshot
            report.mailboxes = backup.files
            report.mailboxesFailed = backup.failures.count + backup.skipped.count
            let status: Step.Status = switch backup.exitStatus {
            case .success: .ok
            case .degraded: .degraded
            default: .failed
            }
            let failing = backup.failures.count + backup.skipped.count
            steps.append(Step(step: "backup", status: status,
                              detail: "\(backup.files) mailboxes, \(backup.filesUnchanged) unchanged; \(ByteSize.format(backup.newChunkBytes)) new"
                                  + (failing > 0 ? "; \(failing) not backed up" : ""),
                              durationSeconds: Elapsed.seconds(since: backupClock)))
        } catch {
            steps.append(Step(step: "backup", status: .failed, detail: error.message, errorCode: error.code,
                              durationSeconds: Elapsed.seconds(since: backupClock)))
        }
        let backupFailedWhole = report.backup == nil

        // 2. Retention and prune, when due. Skipped when the backup could not run at all:
        // whatever broke it (a key, every target) would break these too, and the failure
        // must be what the operator sees first.
        let now = Date()
        let pruneDue = schedule.due("prune", every: configuration.prune.every, now: now)
        if backupFailedWhole {
            steps.append(Step(step: "prune", status: .skipped, detail: "the backup failed", durationSeconds: 0,
                              nextDue: Timestamps.format(pruneDue.at)))
        } else if !pruneDue.due && !options.force {
            steps.append(Step(step: "prune", status: .notDue, durationSeconds: 0, nextDue: Timestamps.format(pruneDue.at)))
        } else {
            let pruneClock = ContinuousClock.now
            var pruneOptions = PruneJob.Options()
            pruneOptions.progress = options.progress
            pruneOptions.forget = true
            pruneOptions.lockWait = Self.backupLockWait
            do {
                let prune = try PruneJob.run(configuration, secrets: secrets, options: pruneOptions, logger: logger)
                report.prune = prune
                let forgetFailed = !(prune.forget?.failures.isEmpty ?? true)
                let status: Step.Status = switch prune.exitStatus {
                case .success where forgetFailed: .degraded
                case .success: .ok
                case .degraded, .temporaryFailure: .degraded
                default: .failed
                }
                if status == .ok {
                    schedule.completed["prune"] = Timestamps.format(now)
                    schedule.save(configuration.stateDirectory)
                }
                let busy = prune.targets.filter { !$0.ok }.map { "\($0.name): \($0.error ?? $0.lease)" }
                let forgot = prune.forget.map { "forgot \($0.forgotten) records (\($0.kept) kept); " } ?? ""
                steps.append(Step(step: "prune", status: status,
                                  detail: forgot + "reclaimed \(ByteSize.format(prune.deletedBytes)) in \(prune.deletedPacks) packs"
                                      + (busy.isEmpty ? "" : "; not pruned: " + busy.joined(separator: "; ")),
                                  durationSeconds: Elapsed.seconds(since: pruneClock),
                                  nextDue: Timestamps.format((status == .ok ? now : pruneDue.at).addingTimeInterval(TimeInterval(configuration.prune.every.seconds)))))
            } catch {
                steps.append(Step(step: "prune", status: error.code.exitStatus == .temporaryFailure ? .degraded : .failed,
                                  detail: error.message, errorCode: error.code,
                                  durationSeconds: Elapsed.seconds(since: pruneClock), nextDue: Timestamps.format(pruneDue.at)))
            }
        }

        // 3. The restore drill, when due ([drill] every): `[drill] sample` mailboxes. Skipped
        // when the backup could not run at all, as prune is. A drill that reached a verdict
        // (pass or fail) completes the step; an unknown one is tried again at the next run.
        let drillDue = schedule.due("drill", every: configuration.drill.every, now: now)
        if backupFailedWhole {
            steps.append(Step(step: "drill", status: .skipped, detail: "the backup failed", durationSeconds: 0,
                              nextDue: Timestamps.format(drillDue.at)))
        } else if !drillDue.due && !options.force {
            steps.append(Step(step: "drill", status: .notDue, durationSeconds: 0, nextDue: Timestamps.format(drillDue.at)))
        } else {
            let drillClock = ContinuousClock.now
            do {
                let drill = try DrillJob.run(configuration, secrets: secrets, options: DrillJob.Options(), logger: logger)
                report.drill = drill
                let status: Step.Status = switch drill.verdict {
                case .pass: .ok
                case .unknown: .degraded
                case .fail: .failed
                }
                if drill.verdict != .unknown {
                    schedule.completed["drill"] = Timestamps.format(now)
                    schedule.save(configuration.stateDirectory)
                }
                let failure = DrillJob.failure(drill)
                steps.append(Step(step: "drill", status: status,
                                  detail: failure?.message ?? "pass: \(drill.selection.mailboxes.count) mailboxes from \(drill.targets.count) targets",
                                  errorCode: failure?.code, durationSeconds: Elapsed.seconds(since: drillClock),
                                  nextDue: Timestamps.format((drill.verdict != .unknown ? now : drillDue.at)
                                      .addingTimeInterval(TimeInterval(configuration.drill.every.seconds)))))
            } catch {
                steps.append(Step(step: "drill", status: error.code.exitStatus == .temporaryFailure ? .degraded : .failed,
                                  detail: error.message, errorCode: error.code,
                                  durationSeconds: Elapsed.seconds(since: drillClock), nextDue: Timestamps.format(drillDue.at)))
            }
        }

        // 4. Log retention, every run when [logs] sources is configured: rotated logs are
        // personal data until anonymized, so they are taken as soon as they settle. Independent
        // of the backup (its own objects under logs/), so it runs even when the backup failed.
        // A host without [logs] sources has no such step at all.
        if !configuration.logs.sources.isEmpty {
            let logsClock = ContinuousClock.now
            do {
                let logs = try LogRetainJob.run(configuration, secrets: secrets, options: LogRetainJob.Options(), logger: logger)
                report.logs = logs
                let deleted = logs.retained.filter(\.originalDeleted).count
                let kept = logs.retained.count - deleted + logs.refused.count
                steps.append(Step(step: "logs", status: logs.exitStatus == .success ? .ok : .degraded,
                                  detail: "\(deleted) files retained, \(kept) kept; \(logs.expired.filter(\.deleted).count) expired objects deleted, \(logs.destroyedDays.count) day keys destroyed"
                                      + (logs.targets.filter { !$0.ok }.map { "; target \($0.name): \($0.error ?? "failed")" }.joined()),
                                  errorCode: logs.exitStatus == .success ? nil : (logs.refused.first?.code ?? .logsIncomplete),
                                  durationSeconds: Elapsed.seconds(since: logsClock)))
            } catch {
                steps.append(Step(step: "logs", status: error.code.exitStatus == .temporaryFailure ? .degraded : .failed,
                                  detail: error.message, errorCode: error.code, durationSeconds: Elapsed.seconds(since: logsClock)))
            }
        }

        report.steps = steps
        report.targets = summarize(configuration, backup: report.backup, prune: report.prune)

        // The objective after the run, and the metrics (the textfile when configured): what
        // the backup knows when it ended whole and no later step could have changed the
        // snapshots (prune forgets them; a drill runs long enough for the frequent timer's
        // backup to commit meanwhile), else measured as drctl status does.
        var status: StatusJob.Report?
        let untouched = report.prune == nil && steps.allSatisfy { step in
            !["prune", "drill"].contains(step.step) || [.notDue, .skipped].contains(step.status)
        }
        if let known, untouched {
            status = StatusJob.afterBackup(known, configuration: configuration)
        } else {
            do {
                status = try StatusJob.run(configuration, secrets: secrets, logger: logger)
            } catch {
                report.warnings.append("the recovery point exposure could not be measured: \(error.message)")
            }
        }
        if let rpo = status?.rpo {
            report.rpo = Report.RPO(exposureSeconds: rpo.exposureSeconds, objectiveSeconds: rpo.objectiveSeconds,
                                    worstMailbox: rpo.worstMailbox, exceeded: rpo.exceeded)
        }
        do {
            try Metrics.record(outcomes(report, started: started), status: status, configuration: configuration)
        } catch {
            report.warnings.append("metrics not written: \(error.message)")
        }
        report.durationSeconds = Elapsed.seconds(since: clock)
        return report
    }

    /// The metrics' view of the run: the backup's outcomes (whole and per target), and the
    /// prune's per target when it ran.
    static func outcomes(_ report: Report, started: Date) -> [StepOutcome] {
        var outcomes: [StepOutcome] = []
        let finished = Date()
        if let backup = report.backup {
            outcomes += StepOutcome.backup(backup, finished: finished)
        } else if let step = report.steps.first(where: { $0.step == "backup" }) {
            outcomes.append(StepOutcome(step: "backup", ok: false, finished: finished, durationSeconds: step.durationSeconds))
        }
        if let prune = report.prune, let step = report.steps.first(where: { $0.step == "prune" }) {
            outcomes.append(StepOutcome(step: "prune", ok: step.status == .ok, finished: finished,
                                        durationSeconds: prune.durationSeconds))
            for target in prune.targets {
                outcomes.append(StepOutcome(step: "prune", target: target.name, ok: target.ok, finished: finished,
                                            durationSeconds: prune.durationSeconds))
            }
        } else if let step = report.steps.first(where: { $0.step == "prune" }), step.status == .failed || step.status == .degraded {
            outcomes.append(StepOutcome(step: "prune", ok: false, finished: finished, durationSeconds: step.durationSeconds))
        }
        if let step = report.steps.first(where: { $0.step == "drill" }), [.ok, .degraded, .failed].contains(step.status) {
            outcomes.append(StepOutcome(step: "drill", ok: step.status == .ok, finished: finished, durationSeconds: step.durationSeconds))
        }
        if let step = report.steps.first(where: { $0.step == "logs" }), [.ok, .degraded, .failed].contains(step.status) {
            outcomes.append(StepOutcome(step: "logs", ok: step.status == .ok, finished: finished, durationSeconds: step.durationSeconds))
        }
        return outcomes
    }

    /// One line per target over the steps: failed when the backup did not reach it, degraded
    /// when it was damaged, lagging or could not be pruned.
    static func summarize(_ configuration: Configuration, backup: BackupJob.Report?, prune: PruneJob.Report?) -> [TargetSummary] {
        configuration.targets.map { target in
            var summary = TargetSummary(name: target.name, status: .ok, detail: nil, bytesAdded: 0, bytesReclaimed: 0)
            if let result = backup?.targets.first(where: { $0.name == target.name }) {
                summary.bytesAdded = result.storedBytes
                if !result.ok {
                    summary.status = .failed
                    summary.detail = result.error
                } else if !result.degraded.isEmpty {
                    summary.status = .degraded
                    summary.detail = result.degraded.first
                }
            } else if backup == nil {
                summary.status = .failed
                summary.detail = "no backup"
            }
            if let pruned = prune?.targets.first(where: { $0.name == target.name }) {
                summary.bytesReclaimed = pruned.deletedBytes
                if !pruned.ok && summary.status == .ok {
                    summary.status = .degraded
                    summary.detail = "not pruned: \(pruned.error ?? pruned.lease)"
                }
            }
            return summary
        }
    }
}
