import ArgumentParser
import DRBase
import DRConfig
import DRCore

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Is the mail store recoverable within the objective? For people and monitoring checks.",
        discussion: """
            Per target: the newest snapshot of this host's store and its age (lag), and \
            whether it lacks snapshots another target holds. The RPO exposure: for each \
            mailbox, its newest restorable point (the end of the newest snapshot that holds \
            it, an unchanged entry included) — the worst mailbox's age, against [objectives] \
            rpo. The last restore drill's verdict (from <[drill] report_dir>/latest.json). \
            Reads only: the snapshot records and the newest snapshots' mailbox lists.

            Exit status 0 when every mailbox and every target is within the objective; 4 \
            (status.rpo-exceeded, status.no-snapshot) when a mailbox's newest restorable \
            point is older than the objective or there is none (the message names the worst \
            mailbox, its age and the objective); 2 (degraded) when only a target is \
            unavailable, lacks snapshots, or its newest snapshot is older than the objective.

            With --json, one object (docs/MONITORING.md lists its fields). When the \
            configuration has [metrics] textfile, the status is also written to the metrics.

            Examples:
              drctl status
              drctl status --json
              drctl status --host mail2
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
    @Option(help: ArgumentHelp("Another host's snapshots of its store.", valueName: "name"))
    var host: String?

    func run() throws {
        let configuration = try global.loadConfiguration()
        global.detail("status: " + (host.map { "host \($0)" } ?? "this host") + ", objective [objectives] rpo = \(configuration.objectives.rpo)"
                      + ", targets " + configuration.targets.map(\.name).joined(separator: ", "))
        let report = try StatusJob.run(configuration, secrets: global.secrets, host: host, logger: global.logger)
        // This host's figures feed its metrics; another host's would overwrite them.
        if host == nil, configuration.metrics.textfile != nil {
            do {
                try Metrics.record([], status: report, configuration: configuration)
            } catch {
                StandardStreams.writeError("drctl: warning: metrics not written: \(error.message)\n")
            }
        }
        if global.json {
            try Output.json(report)
        } else {
            // What was asked for: printed under --quiet too, as `targets` prints its table.
            for line in StatusText.lines(report) { print(line) }
        }
        let failure = report.objectiveFailure
        // The targets' problems as warnings; a missed objective ends the run as its error.
        for problem in report.problems.dropFirst(failure == nil ? 0 : 1) {
            StandardStreams.writeError("drctl: warning: \(problem.message)\n")
        }
        if let failure {
            throw failure
        }
        if report.exitStatus != .success {
            throw ExitCode(report.exitStatus.rawValue)
        }
    }
}

/// `drctl status` as text: a summary line, the targets' table, the exposure, the drill.
enum StatusText {
    static func lines(_ report: StatusJob.Report) -> [String] {
        var lines: [String] = []
        let newest = report.newestSnapshot.map { "the newest \($0.id.prefix(8)) ended \($0.end), \($0.mailboxes) mailboxes" + ($0.failed > 0 ? ", \($0.failed) FAILED" : "") }
        lines.append("host \(report.host), store \(report.storePath): \(report.snapshots) snapshot(s)" + (newest.map { "; " + $0 } ?? ""))
        lines.append("")
        let header = ["TARGET", "AVAILABLE", "NEWEST SNAPSHOT", "LAG", "MISSING", "OBJECTIVE"]
        var cells: [[String]] = [header]
        for row in report.targets {
            cells.append([row.name, row.available ? "yes" : "NO",
                          row.newestSnapshot.map { "\($0.time) \($0.id.prefix(8))" } ?? (row.available ? "none" : "-"),
                          row.lagSeconds.map { TargetsJob.duration($0) } ?? "-",
                          row.available ? String(row.missingSnapshots) : "-",
                          row.withinObjective ? "ok" : "BEHIND"])
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        lines += cells.map { row in
            row.enumerated().map { column, text in column == row.count - 1 ? text : text.column(widths[column] + 2) }.joined()
        }
        for row in report.targets {
            if let error = row.error { lines.append("\(row.name): \(error.code?.rawValue ?? "error"): \(error.message)") }
        }
        lines.append("")
        let rpo = report.rpo
        let verdict = rpo.exceeded ? "EXCEEDED" : "ok"
        if let exposure = rpo.exposureSeconds {
            let worst = rpo.worstMailbox.map { "worst mailbox \($0)" } ?? "no mailbox in the store"
            lines.append("RPO exposure \(TargetsJob.duration(exposure)) (objective \(rpo.objective)): \(verdict) — \(worst), restorable to \(rpo.worstRestorablePoint ?? "-") (snapshot \(rpo.worstSnapshot?.prefix(8) ?? "-")); \(rpo.mailboxes) mailbox(es)")
        } else if !rpo.neverBackedUp.isEmpty {
            lines.append("RPO exposure unbounded (objective \(rpo.objective)): \(verdict) — never backed up: \(rpo.neverBackedUp.joined(separator: ", "))")
        } else {
            lines.append("RPO exposure unbounded (objective \(rpo.objective)): \(verdict) — no snapshot yet")
        }
        if let latest = report.drill.latest {
            lines.append("last drill: \(latest.verdict == .pass ? "pass" : latest.verdict.rawValue.uppercased()) at \(latest.time)" + (report.drill.overdue ? " (overdue: older than [drill] every)" : ""))
        } else if let error = report.drill.error {
            lines.append("last drill: unreadable — \(error.message)")
        } else {
            lines.append("last drill: no drill yet")
        }
        for rejected in report.rejected {
            lines.append("snapshot \(rejected.snapshot.prefix(12)) ignored: \(rejected.error)")
        }
        return lines
    }
}
