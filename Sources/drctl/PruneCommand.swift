import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the data no snapshot uses, safely while other hosts back up.",
        discussion: """
            Works in two phases on each target, under that target's lease (one prune at a \
            time per target, whichever host runs it):

              sweep  a mark made by an earlier prune is ready once its grace period \
            ([prune] grace, default 12h) is over and every backup that was running when it \
            was made has ended (or passed [prune] backup_expiry). Its packs that still no \
            snapshot uses, including snapshots written since, are deleted.
              mark   the packs no snapshot uses now are marked. A backup that starts after \
            the mark reuses none of them; one already running is waited for.

            So a pack is deleted only when no snapshot uses it and no backup can still come \
            to use it: backups of other hosts go on meanwhile, without a global lock. With \
            grace = "0s" and no backup running, one prune marks and deletes at once.

            Forget snapshot records first (drctl forget, or drctl run, which does both when \
            due): prune deletes only what no remaining snapshot uses. A pack under S3 Object \
            Lock retention is left until the retention ends (counted as retained). A snapshot \
            that cannot be read stops prune on every target: what it uses is unknown, and \
            drctl check --read-data names the damage.

            Exit status 0 when every target was pruned; 2 when some target could not be \
            (unreachable, or another prune holds its lease: named); 75 when no target could \
            be, because others hold the leases; 65 when a snapshot cannot be read.

            Examples:
              drctl prune --dry-run        # what a sweep would delete, what would be marked
              drctl prune
              drctl prune --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Flag(help: "Say what would be marked and deleted; change nothing (takes no lease).")
    var dryRun = false

    @Flag(help: "First forget the records [retention] does not keep (as drctl forget), under the same leases.")
    var forget = false

    func run() throws {
        var options = PruneJob.Options()
        options.dryRun = dryRun
        options.forget = forget
        options.progress = global.progress
        let configuration = try global.loadConfiguration()
        global.detail("prune: " + configuration.targets.map(\.name).joined(separator: ", ")
                      + ", grace \(configuration.prune.grace)" + (dryRun ? ", dry run" : ""))
        let report = try PruneJob.run(configuration, secrets: global.secrets, options: options, logger: global.logger)
        if global.json {
            try Output.json(report)
        } else if !global.quiet {
            if let forget = report.forget {
                print("forgot \(forget.forgotten) snapshot records, kept \(forget.kept) (\(forget.protected) protected by a pending prune)")
                for failure in forget.failures { print("    not forgotten: \(failure)") }
            }
            for target in report.targets { Self.describe(target, dryRun: report.dryRun).forEach { print($0) } }
            print("\(report.snapshots) snapshots use \(report.referencedPacks) packs; "
                  + (report.dryRun ? "would reclaim " : "reclaimed ")
                  + "\(ByteSize.format(report.deletedBytes)) in \(report.deletedPacks) packs; took \(String(format: "%.2f", report.durationSeconds)) s")
        } else {
            for target in report.targets where !target.ok {
                StandardStreams.writeError("drctl: error: target \(target.name): \(target.error ?? "not pruned")\n")
            }
        }
        if report.exitStatus != .success { throw ExitCode(report.exitStatus.rawValue) }
    }

    static func describe(_ target: PruneJob.TargetReport, dryRun: Bool) -> [String] {
        var lines: [String] = []
        guard target.ok else {
            return ["target \(target.name): NOT PRUNED (\(target.lease)): \(target.error ?? "")"]
        }
        let deleted = dryRun ? "would delete" : "deleted"
        let marked = dryRun ? "would mark" : "marked"
        lines.append("target \(target.name): \(deleted) \(target.deletedPacks) packs (\(ByteSize.format(target.deletedBytes))), "
                     + "\(marked) \(target.markedPacks) unused packs (\(ByteSize.format(target.markedBytes)))"
                     + (target.retainedPacks > 0 ? ", \(target.retainedPacks) under Object Lock retention" : ""))
        for why in target.waiting { lines.append("    waiting: \(why)") }
        return lines
    }
}
