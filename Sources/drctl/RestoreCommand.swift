import ArgumentParser
import DRBase
import DRCore
import Foundation
import Logging

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore mailboxes to a folder, as of a moment or from one snapshot.",
        discussion: """
            For each mailbox, --point-in-time picks the newest image consistent at or before \
            the moment (RFC 3339 such as 2026-11-28T03:00:00Z, or relative such as "2h ago"); \
            --snapshot picks one snapshot exactly; with neither, the newest image (the point \
            in time "now"). Both choose among this host's snapshots of the configured \
            store (--host NAME for another host's). Without --mailbox, a point-in-time restore \
            brings back the mailboxes that existed at that moment: those of the last \
            whole-store backup that ended by then (saved or failed), plus those of the \
            --mailbox backups after it; a mailbox deleted before that backup is not brought \
            back. The snapshots of every reachable target are considered; a target that lacks \
            some is named.

            Restored files get the recorded mode masked to 0666 (never a set-id or execute \
            bit) plus owner read and write; \
            folders the restore creates get 0700; --owner gives all of them to the mail \
            server's account. Nothing below --to is reached through a symbolic link. A \
            destination inside the configured store is refused unless --in-place is given (stop \
            the mail server first): the live mailbox and its -wal, -shm and -journal are then \
            moved aside (named in the output), never applied to the restored image.

            Each file is written under a temporary name, every chunk authenticated and checked \
            against its id (which the snapshot's chunk tree vouches for), fsynced and linked \
            into place: a restore never leaves a partial file and never returns wrong bytes. \
            Existing files are not overwritten without --force (the file is then renamed over \
            them), not even one that appears while the restore runs. \
            A chunk that is damaged on one target is read from another.

            Several mailboxes are restored at once: one per core and one more, since each \
            waits on its reads and writes part of the time; from an S3 target at least its \
            concurrency setting and one more, since each waits out its round trips. \
            --parallelism sets the number (fewer to spare a busy server, more for a distant \
            target).

            Examples:
              drctl restore --point-in-time 2026-11-28T03:00:00Z --to /srv/restore
              drctl restore --point-in-time "6h ago" --mailbox users/alice.sqlite --to /tmp/r
              drctl restore --snapshot 3f9c2a1b --to /srv/restore --force
              drctl restore --mailbox users/alice.sqlite --to /srv/mail --in-place --owner mail:mail
              drctl restore --target offsite --parallelism 8 --to /srv/restore
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Option(help: ArgumentHelp("Restore the state as of this moment.", valueName: "time"))
    var pointInTime: String?
    @Option(help: ArgumentHelp("Restore from this snapshot (id or unique prefix).", valueName: "id"))
    var snapshot: String?
    @Option(name: .customLong("mailbox"), help: ArgumentHelp("Only this mailbox; repeatable.", valueName: "id"))
    var mailboxes: [String] = []
    @Option(help: ArgumentHelp("Destination folder (created if needed).", valueName: "dir"))
    var to: String
    @Flag(help: "Overwrite files that exist in the destination.")
    var force = false
    @Option(help: ArgumentHelp("Read from this target only.", valueName: "name"))
    var target: String?
    @Flag(help: "Restore into the live store, moving the mailboxes and their -wal, -shm, -journal aside.")
    var inPlace = false
    @Option(help: ArgumentHelp("Owner of everything restored (names or numbers).", valueName: "user[:group]"))
    var owner: String?
    @Option(help: ArgumentHelp("Choose among this host's snapshots (default: this host).", valueName: "name"))
    var host: String?
    @Option(help: ArgumentHelp("Mailboxes restored at once (default: one per core and one more; from S3, at least the target's concurrency and one more).", valueName: "n"))
    var parallelism: Int?

    func validate() throws {
        if pointInTime != nil && snapshot != nil {
            throw ValidationError("give --point-in-time or --snapshot, not both")
        }
    }

    func run() throws {
        var options = RestoreJob.Options()
        if let pointInTime {
            options.selection = .pointInTime(try PointInTime.parse(pointInTime))
        } else if let snapshot {
            options.selection = .snapshot(snapshot)
        }
        options.mailboxes = mailboxes
        options.destination = to
        options.force = force
        options.target = target
        options.inPlace = inPlace
        options.host = host
        if let parallelism { options.parallelism = max(1, parallelism) }
        if let owner { options.owner = try RestoreJob.parseOwner(owner) }
        options.progress = global.progress
        let configuration = try global.loadConfiguration()
        let moment = pointInTime.map { "as of \($0)" } ?? snapshot.map { "from snapshot \($0)" } ?? "the newest image"
        global.detail("restore: \(moment), " + (mailboxes.isEmpty ? "every mailbox" : "mailboxes " + mailboxes.joined(separator: ", "))
                      + ", from " + (target.map { "target \($0)" } ?? "any target") + " to \(to)")
        let logger = global.logger
        let report = try RestoreJob.run(configuration, secrets: global.secrets, options: options, logger: logger)
        if global.json {
            try Output.json(report)
        } else {
            // Failures go to standard error, under --quiet too.
            // Notes go to standard error with the failures: a restore from a partial picture
            // must not look like a complete one.
            for gap in report.gaps {
                logger.warning("target \(gap.target) lacks \(gap.snapshots.count) snapshot(s) that another target holds (\(gap.snapshots.map { String($0.prefix(12)) }.joined(separator: ", "))): it missed a backup; they were read from the targets that hold them",
                               metadata: ["target": "\(gap.target)"])
            }
            for target in report.unreadable {
                logger.warning("target \(target.target) could not be read: \(target.error)", metadata: ["target": "\(target.target)"])
            }
            for rejected in report.rejected {
                logger.warning("snapshot \(rejected.snapshot.prefix(12)) ignored: \(rejected.error)",
                               metadata: ["snapshot": "\(rejected.snapshot)"])
            }
            for item in report.restored where !global.quiet {
                for moved in item.movedAside {
                    print("moved \(moved.from) aside → \(moved.to)")
                }
                print("restored \(item.mailbox) (\(ByteSize.format(item.size)), consistent at \(item.consistentAt), snapshot \(item.snapshot.prefix(12)), from \(item.target)) → \(item.path)")
            }
            for failure in report.failures {
                logger.error("\(failure.mailbox): \(failure.error)", metadata: ["mailbox": "\(failure.mailbox)"])
            }
            if !global.quiet {
                let bytes = report.restored.reduce(Int64(0)) { $0 + $1.size }
                print("\(report.restored.count) mailboxes restored (\(ByteSize.format(bytes))), \(report.failures.count) failed, in \(String(format: "%.2f", report.durationSeconds)) s")
            }
        }
        if !report.failures.isEmpty {
            throw ExitCode(report.restored.isEmpty ? ExitStatus.integrity.rawValue : ExitStatus.failure.rawValue)
        }
    }
}
