import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

struct Drill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a sample of mailboxes from every target, verify them, and measure RPO and RTO.",
        discussion: """
            Chooses mailboxes of a recovery point (seeded: the seed is in the report, so the \
            selection can be re-performed; stratified by cipher, journal mode and size; half of \
            the sample the mailboxes drilled longest ago, so every mailbox is drilled in turn), \
            restores each from every target independently into a private scratch folder under \
            the state folder, and verifies it: every chunk authenticated, the tree root, size \
            and page count against the header, for plain SQLite PRAGMA integrity_check and \
            row counts, for encrypted mailboxes what the header shows without the key, and \
            [drill] verify_command where configured. With [drill] canary, the canary is \
            restored too and its newest row gives the RPO from the data itself. Then the \
            achieved RPO and RTO (with a projected whole-store restore per target) against \
            [objectives], and the scratch copies are overwritten, removed and checked gone.

            A check that could not run (a target unreachable) is unknown, and unknown is never \
            a pass. Exit status 0 when everything passed; 3 (drill.failed) when a check or an \
            objective failed; 2 (drill.unknown) when something could not be checked. The \
            verdict is also written to <[drill] report_dir>/latest.json for drctl status.

            Examples:
              drctl drill
              drctl drill --sample 50 --seed 42 --point random-within:7d
              drctl drill --all --target offsite --json
              drctl drill --scenario "quarterly DR test, ticket OPS-1234"
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
    @Option(help: ArgumentHelp("Mailboxes to drill (default [drill] sample).", valueName: "n"))
    var sample: Int?
    @Flag(help: "Drill every mailbox of the recovery point.")
    var all = false
    @Option(help: ArgumentHelp("Seed of the selection (default: random; recorded).", valueName: "s"))
    var seed: UInt64?
    @Option(name: .customLong("target"), help: ArgumentHelp("Drill this target only; repeatable (default: every target).", valueName: "name"))
    var targets: [String] = []
    @Option(help: ArgumentHelp("latest, or random-within:DURATION (like random-within:7d).", valueName: "point"))
    var point = "latest"
    @Option(help: ArgumentHelp("What this drill is for, recorded in the report.", valueName: "text"))
    var scenario: String?

    func validate() throws {
        if all && sample != nil { throw ValidationError("give --sample N or --all, not both") }
        if let sample, sample < 1 { throw ValidationError("--sample must be at least 1") }
    }

    func run() throws {
        let configuration = try global.loadConfiguration()
        var options = DrillJob.Options()
        options.sample = sample
        options.all = all
        options.seed = seed
        options.targets = targets
        options.point = point
        options.scenario = scenario
        global.detail("drill: " + (all ? "every mailbox" : "sample \(sample ?? configuration.drill.sample)") + ", point \(point)"
                      + ", targets " + (targets.isEmpty ? configuration.targets.map(\.name) : targets).joined(separator: ", "))
        let results = try DrillJob.run(configuration, secrets: global.secrets, options: options, logger: global.logger)
        if global.json {
            try Output.json(results)
        } else if !global.quiet {
            for line in DrillText.lines(results) { print(line) }
        }
        if let failure = DrillJob.failure(results) { throw failure }
    }
}

/// A drill's results for people: the verdict first, then per target, the measures, the
/// deviations.
enum DrillText {
    static func lines(_ results: DrillResults) -> [String] {
        var lines: [String] = []
        lines.append("drill \(results.verdict.rawValue.uppercased()): \(results.selection.mailboxes.count) of \(results.selection.population) mailboxes, point \(results.point.time) (\(results.point.mode)), seed \(results.selection.seed)")
        for target in results.targets {
            let restored = target.mailboxes.filter { $0.timing != nil }.count
            var line = "  target \(target.name): \(target.verdict.rawValue.uppercased()), \(restored)/\(target.mailboxes.count) restored"
            if let throughput = target.throughputBytesPerSecond { line += ", \(ByteSize.format(Int64(throughput)))/s" }
            if let projected = target.projectedFullRestoreSeconds { line += String(format: ", full store projected %.1f s", projected) }
            if let error = target.error { line += " — \(error)" }
            lines.append(line)
        }
        let rpo = results.rpo
        var rpoLine = "  RPO \(rpo.verdict.rawValue.uppercased()): worst " + (rpo.worstSeconds.map { String(format: "%.0f s", $0) } ?? "-")
            + (rpo.worstMailbox.map { " (\($0))" } ?? "") + ", median " + (rpo.medianSeconds.map { String(format: "%.0f s", $0) } ?? "-")
            + ", objective \(rpo.objectiveSeconds) s"
        if let canary = rpo.canary {
            rpoLine += "; canary \(canary.verdict.rawValue.uppercased()) " + (canary.ageSeconds.map { String(format: "%.0f s", $0) } ?? "-")
                + " (newest write \(canary.newestWrite ?? "-"))"
        }
        lines.append(rpoLine)
        let rto = results.rto
        lines.append("  RTO \(rto.verdict.rawValue.uppercased()): slowest mailbox " + (rto.worstMailboxSeconds.map { String(format: "%.2f s", $0) } ?? "-")
                     + ", full store projected " + (rto.projectedFullStoreSeconds.map { String(format: "%.1f s", $0) } ?? "-")
                     + ", objective \(rto.objectiveSeconds) s")
        lines.append(String(format: "  coverage: %.0f%% of %d mailboxes drilled in 30 days, %.0f%% in 90, %.0f%% in 365",
                            results.coverage.last30Days * 100, results.coverage.mailboxes, results.coverage.last90Days * 100,
                            results.coverage.last365Days * 100))
        lines.append("  scratch \(results.scratch.path): " + (results.scratch.wiped && results.scratch.verified ? "wiped, checked gone" : "NOT WIPED"))
        if !results.deviations.isEmpty {
            lines.append("deviations:")
            for deviation in results.deviations { lines.append("  - " + DrillMeasures.describe(deviation)) }
        }
        return lines
    }
}
