import ArgumentParser
import DRBase
import DRConfig
import DRCore

struct Canary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the current time to the canary mailbox ([drill] canary), for its own timer.",
        discussion: """
            The canary is a plain SQLite database in WAL mode inside the store, with one \
            table canary(time TEXT) holding UTC times and nothing else (no personal data, no \
            key); created when missing; the newest 1000 rows are kept. Backed up like every \
            mailbox, it lets drctl drill read the achieved recovery point from the restored \
            data. Run it every few minutes from a timer; it needs no repository key.

            Examples:
              drctl canary
              drctl canary --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    func run() throws {
        let configuration = try global.loadConfiguration()
        let report = try CanaryJob.run(configuration)
        if let warning = report.warning {
            StandardStreams.writeError("drctl: warning: \(warning)\n")
        }
        if global.json {
            try Output.json(report)
        } else if !global.quiet {
            print("canary \(report.path): \(report.time) (\(report.rows) rows)")
        }
    }
}
