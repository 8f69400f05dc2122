import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

extension Logs {
    struct Retain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retain",
            abstract: "Anonymize rotated log files, store them on every target, delete the originals; expire old logs and day keys.",
            discussion: """
                Takes the rotated files among the matches of [logs] sources: names with a \\
                rotation suffix (.N or -YYYYMMDD, optionally .zst) left unmodified for [logs] \\
                settle; the file being written (no suffix) is never taken. Each is \\
                anonymized with the key of the UTC day of its last modification, compressed \\
                (zstd), encrypted with the repository key and stored on every target as \\
                logs/<day>/<hash of the original>. The original is deleted only once every \\
                target confirmed its copy. Retained logs and day keys older than [logs] retain \\
                are deleted (an object under Object Lock is named and left).

                Safe to kill at any moment: nothing is lost or stored twice, and the next run \\
                completes the work. Exit status 0 when every original was retained everywhere \\
                and deleted; 2 when a target is down or failing (its originals are kept; the \\
                next run completes), a file was refused (gzip-compressed, a symbolic link), or \\
                an expired object is locked.

                Examples:
                  drctl logs retain --dry-run     # which files would be taken, which objects and keys expire
                  drctl logs retain
                  drctl logs retain --json
                """)

        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        @Flag(help: "Say what would be retained and expired; change nothing.")
        var dryRun = false

        func run() throws {
            let configuration = try global.loadConfiguration()
            var options = LogRetainJob.Options()
            options.dryRun = dryRun
            let report = try LogRetainJob.run(configuration, secrets: global.secrets, options: options, logger: global.logger)
            if global.json {
                try Output.json(report)
            } else if !global.quiet {
                for file in report.retained {
                    let done = file.originalDeleted ? "retained, original deleted" : (file.note ?? "kept")
                    print("\(file.path): \(file.lines) lines, day \(file.day), on \(file.confirmed.joined(separator: ", ").isEmpty ? "no target" : file.confirmed.joined(separator: ", ")) — \(done)")
                }
                for file in report.refused { print("\(file.path): not retained: \(file.reason)") }
                for object in report.expired {
                    print("target \(object.target): \(object.object) expired — \(object.deleted ? "deleted" : "left: \(object.reason ?? "")")")
                }
                for day in report.destroyedDays { print("day \(day): key \(report.dryRun ? "would be " : "")destroyed") }
                for target in report.targets where !target.ok {
                    print("target \(target.name): \(target.error ?? "failed") — its originals are kept; the next run completes")
                }
                if report.retained.isEmpty && report.refused.isEmpty { print("no rotated log file to retain") }
            }
            if report.exitStatus != .success { throw ExitCode(report.exitStatus.rawValue) }
        }
    }
}
