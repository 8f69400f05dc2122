import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation
import Logging

struct Sync: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring every lagging target up to date from the others.",
        discussion: """
            Copies to each reachable target what another target holds and it lacks: key \
            objects, packs and snapshot records. A target that was down for a backup lacks \
            that run's; one that lost a pack lacks the pack. Every object is authenticated \
            with the repository's key before it is written (a pack's header and every chunk \
            in it, a snapshot record's name and seal, a key object's content address), so a \
            damaged copy is never spread: it is named, and the object is read from another \
            target that holds it. Packs go first, then the snapshot records that use them, so \
            a sync stopped at any moment leaves every target consistent and the next one \
            finishes the job. Nothing is replaced or deleted, and config is never copied (a \
            target without it holds no repository, or is not mounted: run drctl init to give \
            a new target the repository).

            When to run it: once a target that was down for a backup is back (the backup \
            ended with exit status 2; the next backup also catches the target up), when \
            drctl targets shows a target lagging, or after deleting a damaged copy that drctl \
            check --read-data named.

            Exit status 0 when every target holds everything the others hold; 2 (degraded) \
            when a target is unreachable, could not be completed (an object damaged on every \
            target that holds it, a full disk), or holds a damaged copy: the summary names \
            the target and the cause. With --dry-run nothing is copied, and the status is 0 \
            only when there is nothing to copy.

            Examples:
              drctl targets                 # which target lags, and by how much
              drctl sync --dry-run          # what would be copied
              drctl sync
              drctl sync --target offsite --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Option(help: ArgumentHelp("Bring only this target up to date (the others are only read).", valueName: "name"))
    var target: String?

    @Flag(help: "Say what would be copied; copy nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Packs copied at once (default: one per core).", valueName: "n"))
    var parallelism: Int?

    func run() throws {
        var options = SyncJob.Options()
        options.target = target
        options.dryRun = dryRun
        options.progress = global.progress
        if let parallelism { options.parallelism = max(1, parallelism) }
        let configuration = try global.loadConfiguration()
        global.detail("sync: " + (target.map { "target \($0)" } ?? "every target") + (dryRun ? ", dry run" : "")
                      + ", from " + configuration.targets.map(\.name).joined(separator: ", "))
        let logger = global.logger
        let report = try SyncJob.run(configuration, secrets: global.secrets, options: options, logger: logger)
        if global.json {
            try Output.json(report)
        } else if global.quiet {
            for target in report.targets {
                for failure in target.failures {
                    logger.error("target \(target.name): \(failure.message)",
                                 metadata: ["target": "\(target.name)", "object": "\(failure.object)", "code": "\(failure.code.rawValue)"])
                }
                for failure in target.readFailures {
                    logger.error("target \(target.name): \(failure.message)",
                                 metadata: ["target": "\(target.name)", "object": "\(failure.object)", "code": "\(failure.code.rawValue)"])
                }
            }
        } else {
            for target in report.targets {
                print(Self.line(target, dryRun: report.dryRun))
                for failure in target.failures { print("    \(target.reachable ? "not copied" : "unreachable"): \(failure.message)") }
                for failure in target.readFailures { print("    damaged or unreadable here: \(failure.message)") }
            }
            print("took \(String(format: "%.2f", report.durationSeconds)) s"
                  + (report.complete ? "" : "; not every target is complete (exit status 2)"))
        }
        if report.exitStatus != .success {
            throw ExitCode(report.exitStatus.rawValue)
        }
    }

    /// One target's summary line.
    static func line(_ target: SyncJob.TargetReport, dryRun: Bool) -> String {
        let head = "target \(target.name):"
        guard target.reachable else { return "\(head) UNREACHABLE" }
        var parts: [String] = []
        if !target.destination {
            parts.append("read from only")
        } else if dryRun {
            parts.append(target.lacked.objects == 0 ? "lacks nothing" : "would copy \(target.lacked.summary)")
        } else if target.lacked.objects == 0 {
            parts.append("lacked nothing")
        } else {
            parts.append("copied \(target.copied.summary)")
        }
        parts.append(target.complete ? "complete" : "INCOMPLETE")
        return "\(head) \(parts.joined(separator: "; "))"
    }
}
