import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the snapshot records that [retention] does not keep.",
        discussion: """
            Applies the [retention] rules of the configuration to this host's snapshots of \
            the configured store (--host NAME for another host's) and deletes the records it \
            does not keep from every target. The packs they used stay until prune removes \
            what no record uses, so forget frees no space by itself.

            Each rule is applied to each mailbox's own history, the snapshots that hold it, \
            newest first, and a snapshot is kept when any rule keeps it for any of its \
            mailboxes. So a mailbox saved only by a --mailbox run, or only by an old run \
            before it was deleted from the store, keeps that run.
              keep_last = N      the N newest snapshots
              keep_hourly = N    the newest snapshot of each of the N newest hours that have one
              keep_daily = N     … days
              keep_weekly = N    … ISO weeks (Monday to Sunday)
              keep_monthly = N   … months
              keep_yearly = N    … years
              keep_within = "D"  every snapshot at most D (like "14d") older than the newest
            Hours, days, weeks, months and years are UTC. The newest snapshot is always kept, \
            and so is one whose mailbox list cannot be read (it is named: forgetting what \
            cannot be read is not safe). keep_within counts back from the newest snapshot, \
            not from now, so a host that stopped backing up keeps its last snapshots.

            The table shows every snapshot, keep or forget, and which rules keep it: \
            "daily 2026-12-01 for 12 mailboxes" (the newest snapshot of that day for 12 \
            mailboxes), "last 1 for users/bob.db" (the newest snapshot holding that mailbox).

            Exit status 0 when every record to forget is gone from every target (or, with \
            --dry-run, when every target could be read); 2 (degraded) when a target is \
            unreachable or a deletion failed: the next forget deletes what is left there. A \
            record under S3 Object Lock cannot be deleted before its retention ends: it is \
            named, and does not change the exit status.

            Example [retention]:
              keep_last = 3
              keep_daily = 7
              keep_weekly = 5
              keep_monthly = 12

            Examples:
              drctl forget --dry-run        # what would go, and why the rest stays
              drctl forget
              drctl forget --host mx2 --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Flag(help: "Show the plan; delete nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Another host's snapshots (default: this host's).", valueName: "name"))
    var host: String?

    func run() throws {
        let configuration = try global.loadConfiguration()
        var options = ForgetJob.Options()
        options.dryRun = dryRun
        options.host = host
        global.detail("forget: " + (host.map { "host \($0)" } ?? "this host") + ", store \(configuration.store.path), "
                      + RetentionRules(configuration.retention).summary + (dryRun ? ", dry run" : ""))
        let report = try ForgetJob.run(configuration, secrets: global.secrets, options: options, logger: global.logger)
        warn(report)
        if global.json {
            try Output.json(report)
        } else if global.humanReport {
            for line in Self.table(report.plan) { print(line) }
            for line in Self.summary(report) { print(line) }
        } else {
            for target in report.targets {
                for failure in target.failures {
                    StandardStreams.writeError("drctl: error: target \(target.name): \(failure.message)\n")
                }
            }
        }
        if report.exitStatus != .success {
            throw ExitCode(report.exitStatus.rawValue)
        }
    }

    /// What was noticed on the way, on standard error (also under --json).
    private func warn(_ report: ForgetJob.Report) {
        for unreadable in report.plan.unreadableLists {
            StandardStreams.writeError("drctl: warning: snapshot \(unreadable.snapshot.prefix(12)) is kept: its list cannot be read (\(unreadable.error)); run drctl check\n")
        }
        for rejected in report.plan.rejected {
            StandardStreams.writeError("drctl: warning: snapshot record \(rejected.snapshot.prefix(12)) cannot be read on any target (\(rejected.error)); it is left where it is\n")
        }
    }

    /// One row per snapshot, oldest first: time, id, keep or forget, the reasons.
    static func table(_ plan: ForgetJob.Plan) -> [String] {
        guard !plan.snapshots.isEmpty else {
            var line = "no snapshots of host \(plan.host), store \(plan.storePath)"
            if !plan.otherScopes.isEmpty {
                line += "; the repository holds snapshots of " + plan.otherScopes.map { "host \($0.host) store \($0.storePath)" }
                    .joined(separator: "; ") + " (choose one with --host NAME)"
            }
            return [line]
        }
        var lines = ["TIME                          ID            ACTION  REASONS"]
        for snapshot in plan.snapshots {
            let reasons = snapshot.reasons.map(\.text).joined(separator: "; ")
            let row = "\(snapshot.time.column(28))  \(String(snapshot.id.prefix(12)).column(12))  "
            lines.append(row + (snapshot.keep ? "keep    \(reasons)" : "forget"))
        }
        return lines
    }

    /// The totals, then one line per target that is not done.
    static func summary(_ report: ForgetJob.Report) -> [String] {
        let plan = report.plan
        var lines: [String] = []
        let what = "host \(plan.host), store \(plan.storePath) (\(plan.rules.summary)): \(plan.snapshots.count) snapshot\(plan.snapshots.count == 1 ? "" : "s"), keep \(plan.keep), "
        if report.dryRun {
            lines.append(what + "would forget \(plan.forget) (dry run: nothing deleted)")
        } else {
            let deleted = report.targets.filter { $0.reachable }.map { "\($0.deleted) from \($0.name)" }.joined(separator: ", ")
            lines.append(what + "forgot \(plan.forget)" + (plan.forget > 0 ? " (records deleted: \(deleted))" : ""))
        }
        if plan.forget > 0 && !report.dryRun {
            lines.append("the packs only the forgotten snapshots used stay on the targets until prune removes them")
        }
        for target in report.targets {
            if !target.reachable {
                lines.append("target \(target.name): UNREACHABLE: " + target.failures.map(\.message).joined(separator: "; "))
            } else {
                for failure in target.failures { lines.append("target \(target.name): not done: \(failure.message)") }
            }
            if !target.locked.isEmpty {
                lines.append("target \(target.name): \(target.locked.count) record(s) under Object Lock stay until their retention ends: " + target.locked.map { String($0.object.dropFirst("snapshots/".count).prefix(12)) }.joined(separator: ", "))
            }
        }
        lines.append("took \(String(format: "%.2f", report.durationSeconds)) s"
                     + (report.complete ? "" : "; not every target is done (exit status 2)"))
        return lines
    }
}
