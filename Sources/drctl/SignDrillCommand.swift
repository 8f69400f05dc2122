import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Foundation

extension Debug {
    /// A test aid: records a drill's results as the next signed report of the chain, exactly
    /// as a drill does at its end, without running a drill (so that the report chain is tested
    /// on its own).
    struct SignDrill: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-drill",
            abstract: "Test aid: sign a drill results JSON file into the report chain, as a drill does at its end.",
            discussion: """
                For tests of the report chain: FILE holds a DrillResults document (the drill \
                field of a report's payload). Opens the repository (its targets receive the \
                report and its head), signs with [drill] signing_key_file, writes latest.json. \
                Not for production use: the results are whatever the file says.
                """)
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
        @Option(help: ArgumentHelp("The DrillResults JSON file.", valueName: "file"))
        var results: String

        func run() throws {
            let configuration = try global.loadConfiguration()
            let path = Paths.fromCommandLine(results)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            let decoded: DrillResults
            do {
                decoded = try JSONDecoder().decode(DrillResults.self, from: data)
            } catch {
                throw ValidationError("\(path) is not a DrillResults JSON document: \(error)")
            }
            let repository = try KeyJobs.open(configuration, secrets: global.secrets, requireAll: false, logger: global.logger)
            let recorded = try DrillEvidence.record(decoded, configuration: configuration, repository: repository, logger: global.logger)
            if global.json {
                try Output.json(recorded)
            } else if global.humanReport {
                print("report \(recorded.sequence) \(recorded.path)")
            }
        }
    }
}
