import DRRepository
package import Foundation

/// Which metrics drctl exports, from the metrics state (docs/MONITORING.md lists them with the
/// alerts they are for). Base units (seconds, bytes), times as `_timestamp_seconds` gauges
/// (Unix time), `_total` for counters only; labels are bounded: `step`, `target` (the
/// configured ones) and one `mailbox` on one series.
package enum MetricsFamilies {
    package static func all(_ state: MetricsState, drill: DrillStatus.Latest?, now: Date) -> [PrometheusText.Family] {
        steps(state) + status(state.status, now: now) + drillFamilies(drill)
    }

    /// The steps in the order a run takes them, then any other, each whole step before its
    /// targets.
    static func ordered(_ series: [MetricsState.Series]) -> [MetricsState.Series] {
        let order = ["backup", "forget", "prune", "drill", "logs"]
        func key(_ one: MetricsState.Series) -> (Int, String, Int, String) {
            (order.firstIndex(of: one.step) ?? order.count, one.step, one.target == nil ? 0 : 1, one.target ?? "")
        }
        return series.sorted { key($0) < key($1) }
    }

    static func labels(_ series: MetricsState.Series) -> [(name: String, value: String)] {
        [("step", series.step)] + (series.target.map { [("target", $0)] } ?? [])
    }

    static func steps(_ state: MetricsState) -> [PrometheusText.Family] {
        let series = ordered(state.series)
        func samples(_ value: (MetricsState.Series) -> Double?) -> [PrometheusText.Sample] {
            series.compactMap { one in value(one).map { PrometheusText.Sample(labels(one), $0) } }
        }
        return [
            .init("drctl_last_success_timestamp_seconds", .gauge,
                  help: "When the step last succeeded (end of the run, Unix time); a failed run leaves it as it was.",
                  samples { $0.lastSuccess.map { $0.finished.timeIntervalSince1970 } }),
            .init("drctl_last_success_duration_seconds", .gauge,
                  help: "How long the step's last successful run took.",
                  samples { $0.lastSuccess?.durationSeconds }),
            .init("drctl_last_run_timestamp_seconds", .gauge,
                  help: "When the step last ran, successfully or not (end of the run, Unix time).",
                  samples { $0.lastRun.finished.timeIntervalSince1970 }),
            .init("drctl_last_run_success", .gauge,
                  help: "Whether the step's last run succeeded (1) or failed (0).",
                  samples { $0.lastRun.ok ? 1 : 0 }),
            .init("drctl_last_run_failed_mailboxes", .gauge,
                  help: "Mailboxes the step's last run could not back up (failed or left out).",
                  samples { $0.lastRun.mailboxesFailed.map(Double.init) }),
            .init("drctl_last_success_added_bytes", .gauge,
                  help: "New data the step's last successful run added to the repository, before compression and encryption.",
                  samples { $0.lastSuccess?.bytesAdded.map(Double.init) }),
            .init("drctl_last_success_stored_bytes", .gauge,
                  help: "Bytes the step's last successful run wrote to the target (the most any target got, for the whole step).",
                  samples { $0.lastSuccess?.bytesStored.map(Double.init) }),
            .init("drctl_runs_total", .counter,
                  help: "Runs of the step recorded on this host (since its metrics state file was created).",
                  samples { Double($0.runs) }),
            .init("drctl_run_failures_total", .counter,
                  help: "Failed runs of the step recorded on this host (since its metrics state file was created).",
                  samples { Double($0.failures) }),
        ]
    }

    static func status(_ status: MetricsState.Status?, now: Date) -> [PrometheusText.Family] {
        guard let status else { return [] }
        let point = status.restorablePoint
        return [
            .init("drctl_status_timestamp_seconds", .gauge,
                  help: "When the status figures below (snapshots, RPO, targets) were measured (Unix time).",
                  [.init(status.measured.timeIntervalSince1970)]),
            .init("drctl_snapshots", .gauge,
                  help: "Usable snapshots of this host's mail store in the repository.",
                  [.init(Double(status.snapshots))]),
            .init("drctl_rpo_objective_seconds", .gauge,
                  help: "The recovery point objective, [objectives] rpo.",
                  [.init(Double(status.objectiveSeconds))]),
            // An age goes stale between runs; alert on time() - the timestamp below, which does not.
            .init("drctl_rpo_exposure_seconds", .gauge,
                  help: "Age of the newest restorable point of the worst mailbox when this file was written (+Inf: a mailbox was never backed up). Alert on time() - drctl_rpo_restorable_point_timestamp_seconds > drctl_rpo_objective_seconds.",
                  [.init(point.map { (max(0, now.timeIntervalSince($0)) * 1000).rounded() / 1000 } ?? .infinity)]),
            .init("drctl_rpo_restorable_point_timestamp_seconds", .gauge,
                  help: "The newest restorable point of the worst mailbox: when the snapshot holding its newest image ended (Unix time). Absent while a mailbox was never backed up.",
                  point.map { [.init($0.timeIntervalSince1970)] } ?? []),
            .init("drctl_rpo_never_backed_up_mailboxes", .gauge,
                  help: "Mailboxes of the store that no snapshot holds (every backup of them failed).",
                  [.init(Double(status.neverBackedUp))]),
            .init("drctl_rpo_worst_mailbox_info", .gauge,
                  help: "The mailbox whose newest restorable point is the oldest, as a label (always 1; one series).",
                  status.worstMailbox.map { [.init([("mailbox", $0)], 1)] } ?? []),
            .init("drctl_target_available", .gauge,
                  help: "Whether the target could be opened and listed (1) or not (0) when the status was measured.",
                  status.targets.map { .init([("target", $0.name)], $0.available ? 1 : 0) }),
            .init("drctl_target_newest_snapshot_timestamp_seconds", .gauge,
                  help: "Start of the newest snapshot of this host's store that the target holds (Unix time).",
                  status.targets.compactMap { target in
                      target.newestSnapshot.map { .init([("target", target.name)], $0.timeIntervalSince1970) }
                  }),
        ]
    }

    static func drillFamilies(_ drill: DrillStatus.Latest?) -> [PrometheusText.Family] {
        guard let drill, let time = drill.date else { return [] }
        return [
            .init("drctl_drill_last_verdict", .gauge,
                  help: "The last restore drill's verdict: 1 pass, 0 fail or unknown (absent before the first drill).",
                  [.init(drill.verdict == .pass ? 1 : 0)]),
            .init("drctl_drill_last_timestamp_seconds", .gauge,
                  help: "When the last restore drill finished (Unix time).",
                  [.init(time.timeIntervalSince1970)]),
        ]
    }
}
