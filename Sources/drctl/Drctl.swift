import ArgumentParser
import DRBase

@main
struct Drctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drctl",
        abstract: "Backup and disaster recovery for mail stores of encrypted SQLite mailboxes.",
        version: DrctlVersion.string,
        subcommands: [Version.self])
}

enum DrctlVersion {
    static let string = "0.1.0"
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print drctl's version.")
    func run() throws {
        print("drctl \(DrctlVersion.string)")
    }
}
