import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

extension Logs {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys",
            abstract: "List the per-day log keys: present, expired, destroyed and when.",
            discussion: """
                A day's key is derived from the log master key and the day's salt in the \\
                state folder (<state>/logs/days/). Once the day is older than [logs] retain, \\
                drctl logs retain destroys the salt and records when in \\
                <state>/logs/destroyed.json; from then on that day's pseudonyms cannot be \\
                recomputed. No key material is printed.

                Examples:
                  drctl logs keys
                  drctl logs keys --json
                """)

        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            let configuration = try global.loadConfiguration()
            let days = try LogDayKeyStore(configuration: configuration).listing()
            if global.json {
                try Output.json(days)
                return
            }
            if days.isEmpty { print("no day key yet (the first drctl logs retain makes one)") }
            for day in days {
                switch day.state {
                case "destroyed": print("\(day.day)  destroyed \(day.destroyed ?? "")")
                case "expired": print("\(day.day)  expired, destroyed by the next drctl logs retain")
                default: print("\(day.day)  present, destroyed after \(day.destroyedAfter ?? "")")
                }
            }
        }
    }
}
