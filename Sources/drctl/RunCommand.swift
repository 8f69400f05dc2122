import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The scheduled job: backup, then retention and prune when due.",
        discussion: """
            What the nightly systemd timer runs (scripts/systemd/drctl.timer), with nobody \
            watching: silence means success, and a failure is heard (exit status, the journal \
            at priority err, the metrics file).

            Steps, in order:
              backup   every run: every mailbox to every target (as drctl backup).
              prune    when due ([prune] every, default 7d, since this host's last complete \
            prune): snapshot records past [retention] are forgotten, then the data no \
            snapshot uses is deleted, safely while other hosts back up (as drctl prune).
              drill    when due ([drill] every, default 7d, since the last drill that \
            reached a verdict): [drill] sample mailboxes restored from every target and \
            verified (as drctl drill); a failed drill fails the run, an unknown one degrades it.
            A step's due time comes from the configuration and this host's record of when it \
            last completed (<state>/schedule.json), so a night the timer missed is caught up \
            by the next run. A step is skipped when the backup could not run at all.

            One run per host at a time: a second one started meanwhile does nothing and ends \
            with exit status 5.

            Output: the last line on standard output is one line of JSON (steps with their \
            status and duration; per target ok, degraded or failed, bytes added and \
            reclaimed; the snapshot made), for the journal and for scripts. On a terminal, a \
            summary for people comes first on standard error. --json prints the whole report \
            instead (the backup's, prune's and drill's reports included).

            Exit status: 0 every step ok; 2 degraded (a target behind or not pruned, a step \
            not complete); 1 a step failed (a mailbox not backed up at all, the backup could \
            not run); 5 another run is in progress.

            Examples:
              drctl run
              drctl run --force        # prune now, due or not
              systemctl start drctl.service && journalctl -u drctl.service -n 20
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Flag(help: "Run every step now, due or not.")
    var force = false

    func run() throws {
        var options = RunJob.Options()
        options.progress = global.progress
        options.force = force
        let configuration = try global.loadConfiguration()
        global.detail("run: backup, then prune when due (every \(configuration.prune.every)), then a drill when due (every \(configuration.drill.every)), on "
                      + configuration.targets.map(\.name).joined(separator: ", ") + (force ? "; every step forced" : ""))
        let report = try RunJob.run(configuration, secrets: global.secrets, options: options, logger: global.logger)
        if global.json {
            try Output.json(report)
        } else {
            if StandardStreams.errorIsTerminal && !global.quiet {
                StandardStreams.writeError(Self.humanSummary(report))
            }
            Output.writeJSON(try Self.summaryLine(report))
        }
        for warning in report.warnings { StandardStreams.writeError("drctl: warning: \(warning)\n") }
        if report.exitStatus != .success { throw ExitCode(report.exitStatus.rawValue) }
    }

    /// The one-line summary: the report without the per-step job reports.
    static func summaryLine(_ report: RunJob.Report) throws -> String {
        var brief = report
        brief.backup = nil
        brief.prune = nil
        brief.drill = nil
        return try Output.jsonLine(brief)
    }

    static func humanSummary(_ report: RunJob.Report) -> String {
        var lines = ["drctl run on \(report.host), started \(report.started), took \(String(format: "%.1f", report.durationSeconds)) s"]
        for step in report.steps {
            var line = "  \(step.step.padding(toLength: 8, withPad: " ", startingAt: 0)) \(step.status.rawValue)"
            if let detail = step.detail { line += ": \(detail)" }
            if step.status == .notDue, let next = step.nextDue { line += " (due \(next))" }
            lines.append(line)
        }
        for target in report.targets {
            var line = "  target \(target.name): \(target.status.rawValue), \(ByteSize.format(target.bytesAdded)) added"
            if target.bytesReclaimed > 0 { line += ", \(ByteSize.format(target.bytesReclaimed)) reclaimed" }
            if let detail = target.detail { line += " — \(detail)" }
            lines.append(line)
        }
        if let rpo = report.rpo {
            let age = rpo.exposureSeconds.map { String(format: "%.0f s", $0) } ?? "no restorable point"
            lines.append("  recovery point: worst mailbox \(rpo.worstMailbox ?? "-") at \(age), objective \(rpo.objectiveSeconds) s"
                         + (rpo.exceeded ? " — OBJECTIVE MISSED" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
