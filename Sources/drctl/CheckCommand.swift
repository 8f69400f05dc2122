import ArgumentParser
import DRBase
import DRConfig
import DRCore
import Logging

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the repository on every target.",
        discussion: """
            Always: keys, config, every snapshot manifest, its mailbox list and the chunk \
            tree of every mailbox in it (every node authenticated), and that every pack a ref \
            names exists and is long enough. With --read-data, every pack is downloaded and \
            every blob in it authenticated; \
            --read-data-subset reads a part (N/T: the N-th of T groups, to spread a full read \
            over T runs; or P%: a random sample).

            Damage is reported with the snapshots and mailboxes it affects. Exit status 3 when \
            anything is wrong.

            Examples:
              drctl check
              drctl check --read-data
              drctl check --read-data-subset 1/7 --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
    @Flag(help: "Download and verify every byte.")
    var readData = false
    @Option(help: ArgumentHelp("Verify a part of the data: N/T or P%.", valueName: "subset"))
    var readDataSubset: String?

    func run() throws {
        var selection = CheckJob.DataSelection.none
        if readData { selection = .all }
        if let readDataSubset { selection = try CheckJob.DataSelection.parse(readDataSubset) }
        let configuration = try global.loadConfiguration()
        let reading = readDataSubset.map { "reading data subset \($0)" }
            ?? (readData ? "reading every pack" : "structure only (no --read-data)")
        global.detail("check: \(reading), on " + configuration.targets.map(\.name).joined(separator: ", "))
        let logger = global.logger
        let report = try CheckJob.run(configuration, secrets: global.secrets, selection: selection,
                                      progress: global.progress, logger: logger)
        if global.json {
            try Output.json(report)
        } else if global.quiet {
            // Nothing when clean; each problem goes to standard error.
            for target in report.targets {
                for problem in target.errors {
                    logger.error("target \(target.target): \(problem.message)",
                                 metadata: ["target": "\(target.target)", "object": "\(problem.object)", "code": "\(problem.code.rawValue)"])
                }
            }
        } else {
            for target in report.targets {
                let verdict = target.errors.isEmpty ? "ok" : "DAMAGED (\(target.errors.count) problems)"
                print("target \(target.target): \(verdict) — \(target.snapshots) snapshots, \(target.nodesVerified) tree and list nodes verified, \(target.packs) packs\(target.packsRead > 0 ? ", \(target.packsRead) read (\(ByteSize.format(target.bytesRead)), \(target.blobsVerified) chunks verified)" : "")")
                for problem in target.errors { print("  error: \(problem.message)") }
                for warning in target.warnings { print("  note: \(warning.message)") }
                if !target.affected.isEmpty {
                    print("  affected mailboxes:")
                    for item in target.affected { print("    snapshot \(item.snapshot.prefix(16))  \(item.mailbox)") }
                }
            }
        }
        if !report.clean {
            throw ExitCode(ExitStatus.integrity.rawValue)
        }
    }
}
