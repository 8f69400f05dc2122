import ArgumentParser
import DRBase
import DRConfig
import DRCore
import DRRepository
import DRTransport
import Foundation
import Logging

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up every mailbox of the store to every target.",
        discussion: """
            Takes a consistent image of each mailbox (without its key, see docs/IMAGE.md), \
            stores only the chunks the repository lacks, and records one snapshot. Mailboxes \
            whose file and WAL have not changed since the last snapshot are not read.

            A target that fails is reported and skipped; the others still get the whole \
            backup. A target that lacks snapshots the others hold (it was down for a run) \
            first gets them, with their packs, copied from the others and authenticated on \
            the way, as drctl sync does. Entries of the store that are not backed up \
            (symbolic links, FIFOs and other special files, names that are not UTF-8, folders \
            that cannot be read) are named with their reason; links are never followed. Exit \
            status 1 when any mailbox failed or any entry was left out; 2 (degraded) when \
            every mailbox was backed up but a target was unreachable, failed or was found \
            damaged (the summary names them; drctl sync completes it); a mailbox deleted \
            while the backup ran is only reported.

            Examples:
              drctl backup
              drctl backup --mailbox users/alice.sqlite --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Option(name: .customLong("mailbox"), help: ArgumentHelp(
        "Back up only this mailbox (its path relative to the store); repeatable.", valueName: "id"))
    var mailboxes: [String] = []

    @Option(name: .long, help: ArgumentHelp("Target chunk size in bytes for SQLite images (rounded to whole pages).", visibility: .hidden))
    var chunkBytes: Int?

    @Option(help: ArgumentHelp("Mailboxes processed at once (default: one per core).", valueName: "n"))
    var parallelism: Int?

    @Option(help: ArgumentHelp("Pack size in bytes (default 16 MiB).", visibility: .hidden))
    var packBytes: Int?

    @Option(help: ArgumentHelp("Spool rollback-mode images larger than this many bytes (default 0: all).",
                               visibility: .hidden))
    var spoolAbove: Int64?

    func run() throws {
        var options = BackupJob.Options()
        if let parallelism { options.parallelism = max(1, parallelism) }
        if let packBytes { options.packBytes = max(4096, packBytes) }
        if let spoolAbove { options.spoolAbove = max(0, spoolAbove) }
        options.mailboxes = mailboxes
        options.progress = global.progress
        if let chunkBytes { options.chunkBytes = chunkBytes }
        let logger = global.logger
        let configuration = try global.loadConfiguration()
        global.detail("backup: " + (mailboxes.isEmpty ? "every mailbox" : "mailboxes " + mailboxes.joined(separator: ", "))
                      + ", \(options.parallelism) at once, packs of \(ByteSize.format(Int64(options.packBytes)))"
                      + ", to " + configuration.targets.map(\.name).joined(separator: ", "))
        let started = ContinuousClock.now
        let report: BackupJob.Report
        let known: StatusJob.Known?
        do {
            (report, known) = try BackupJob.runKnowing(configuration, secrets: global.secrets, options: options, logger: logger)
        } catch {
            // A backup that never got to a report still counts: its last success stays put.
            let elapsed = ContinuousClock.now - started
            BackupMetrics.record([StepOutcome(step: "backup", ok: false, finished: Date(),
                                              durationSeconds: Double(elapsed.components.seconds)
                                                  + Double(elapsed.components.attoseconds) / 1e18)],
                                 configuration: configuration, global: global)
            throw error
        }
        defer { BackupMetrics.record(StepOutcome.backup(report), known: known, configuration: configuration, global: global) }
        if global.json {
            try Output.json(report)
        } else if global.quiet {
            // Nothing on success; what failed goes to standard error, where cron mails it.
            for target in report.targets where !target.ok {
                logger.error("target \(target.name): \(target.error ?? "failed")", metadata: ["target": "\(target.name)"])
            }
            for target in report.targets {
                for damage in target.degraded { logger.warning("\(damage)", metadata: ["target": "\(target.name)"]) }
            }
            for failure in report.failures {
                logger.error("mailbox \(failure.mailbox): \(failure.error)", metadata: ["mailbox": "\(failure.mailbox)"])
            }
            for skipped in report.skipped {
                logger.error("not backed up (\(skipped.reason.rawValue)): \(skipped.detail)",
                             metadata: ["path": "\(skipped.path)", "reason": "\(skipped.reason.rawValue)"])
            }
        } else {
            print("snapshot \(report.snapshot?.prefix(16) ?? "-") at \(report.time)")
            print("  \(report.files) mailboxes (\(report.filesUnchanged) unchanged, not read), \(ByteSize.format(report.imageBytes)) in images, \(ByteSize.format(report.bytesRead)) read")
            print("  \(report.newChunks) new chunks, \(ByteSize.format(report.newChunkBytes)) before compression and encryption; metadata \(ByteSize.format(report.stored.metadataBytes)) per target")
            for target in report.targets {
                if target.ok {
                    print("  target \(target.name): ok, \(ByteSize.format(target.storedBytes)) written")
                } else {
                    print("  target \(target.name): FAILED — \(target.error ?? "")")
                }
                if let caughtUp = target.caughtUp, caughtUp.objects > 0 {
                    print("  target \(target.name): caught up first — copied \(caughtUp.summary) from the other targets")
                }
                for damage in target.degraded { print("  target \(target.name): DEGRADED — \(damage)") }
                if let faults = target.transfer?.faults, !faults.isEmpty {
                    print("  target \(target.name): \(faults.summary)")
                }
            }
            for failure in report.failures {
                print("  mailbox \(failure.mailbox): FAILED — \(failure.error)")
            }
            for skipped in report.skipped {
                print("  \(skipped.path): NOT BACKED UP (\(skipped.reason.rawValue)) — \(skipped.detail)")
            }
            for mailbox in report.vanished {
                print("  mailbox \(mailbox): deleted while the backup ran (its earlier snapshots remain)")
            }
            print("  took \(String(format: "%.2f", report.durationSeconds)) s")
        }
        let status = report.exitStatus
        if status != .success {
            throw ExitCode(status.rawValue)
        }
    }
}

/// The metrics of a `drctl backup`: the frequent timer runs it alone, so it records its own
/// outcomes, with the status after it when a textfile is configured (so that the RPO figures
/// are as fresh as the backup): the one the backup knows when it ended whole (`known`), else
/// measured as `drctl status` does. Metrics never change a backup's exit status: a failure to
/// write them is a warning.
enum BackupMetrics {
    static func record(_ outcomes: [StepOutcome], known: StatusJob.Known? = nil, configuration: Configuration,
                       global: GlobalOptions) {
        var status: StatusJob.Report?
        if let known, configuration.metrics.textfile != nil {
            status = StatusJob.afterBackup(known, configuration: configuration)
            global.detail("metrics: the status is this backup's own (every mailbox restorable at its snapshot's end); not measured again")
        } else if configuration.metrics.textfile != nil {
            do {
                status = try StatusJob.run(configuration, secrets: global.secrets, logger: global.logger)
            } catch {
                global.detail("metrics: the status could not be measured (the previous one is kept): \(error.message)")
            }
        }
        do {
            try Metrics.record(outcomes, status: status, configuration: configuration)
        } catch {
            StandardStreams.writeError("drctl: warning: metrics not written: \(error.message)\n")
        }
    }
}
