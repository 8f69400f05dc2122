import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

extension Logs {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Decrypt and print the retained, anonymized logs in time order.",
            discussion: """
                For an authorized operator: needs the repository key, as restore does. Reads \\
                one target (--target, else the first one that answers). Lines come in the \\
                order of their files' rotation and, within a file, as written. --since and \\
                --until compare each line's own time (RFC 3339 or syslog "Mmm dd HH:MM:SS"); \\
                --grep keeps lines matching a regular expression. With --json, one JSON object \\
                per line: time, day, source, host, line.

                Examples:
                  drctl logs show --since "2h ago"
                  drctl logs show --since 2026-12-06T00:00:00Z --until 2026-12-06T12:00:00Z --grep "status=bounced"
                  drctl logs show --target offsite --json
                """)

        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        @Option(help: ArgumentHelp("Only lines at or after this time (RFC 3339, or \"3d ago\").", valueName: "time"))
        var since: String?

        @Option(help: ArgumentHelp("Only lines at or before this time.", valueName: "time"))
        var until: String?

        @Option(help: ArgumentHelp("Only lines matching this regular expression.", valueName: "regex"))
        var grep: String?

        @Option(help: ArgumentHelp("Read this target only.", valueName: "name"))
        var target: String?

        func run() throws {
            let configuration = try global.loadConfiguration()
            var options = LogShowJob.Options()
            let now = LogClock.now()
            options.since = try since.map { (text) throws(CoreError) in try PointInTime.parse(text, now: now) }
            options.until = try until.map { (text) throws(CoreError) in try PointInTime.parse(text, now: now) }
            options.grep = grep
            options.target = target
            let json = global.json
            let summary = try LogShowJob.run(configuration, secrets: global.secrets, options: options, logger: global.logger) { line in
                if json {
                    StandardStreams.writeOutput(try Output.jsonLine(line))
                } else {
                    StandardStreams.writeOutput(line.line + "\n")
                }
            }
            global.detail("logs show: \(summary.lines) lines from \(summary.objects) objects on target \(summary.target)")
        }
    }
}
