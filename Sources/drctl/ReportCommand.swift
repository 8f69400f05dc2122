import ArgumentParser
import DRBase
import DRConfig
import DRCore

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "List, show and verify the signed, hash-chained restore drill reports.",
        discussion: """
            Each drill leaves a report in [drill] report_dir and on every target \
            (reports/), signed with [drill] signing_key_file (Ed25519, in a DSSE envelope) \
            and chained to the one before by its SHA-256; each target also holds the chain's \
            head after every report (reports/head-N, write-once, under Object Lock where the \
            target has it). docs/AUDIT.md describes the format for an independent verifier.

            verify needs only the public key, never the repository key: an auditor runs it on \
            their own machine, with a copy of the report folder and the public key file that \
            drctl report public-key printed on the signing host.

            Examples:
              drctl report list
              drctl report show 12
              drctl report public-key > drill-signing.pub
              drctl report verify --all --public-key drill-signing.pub
              drctl report verify --against-targets
            """,
        subcommands: [List.self, Show.self, Verify.self, PublicKey.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the reports of [drill] report_dir (not verified: see verify).",
            discussion: "Printed under --quiet too: it is what was asked for.")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            let listed = try DrillReportJobs.list(try global.loadConfiguration())
            if global.json {
                try Output.json(listed)
                return
            }
            if listed.isEmpty {
                print("no drill reports yet")
                return
            }
            var cells = [["SEQ", "CREATED", "VERDICT", "HASH", "FILE"]]
            for row in listed {
                cells.append([String(row.sequence), row.created ?? "?", row.readable ? (row.verdict ?? "?") : "UNREADABLE",
                              String(row.hash.prefix(16)), row.file])
            }
            let widths = cells[0].indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
            for row in cells {
                print(row.enumerated().map { column, text in
                    column == row.count - 1 ? text : text.column(widths[column] + 2)
                }.joined())
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one report: its payload, with the mailbox names when the local names file is there.",
            discussion: """
                ID is the report's sequence number, its file name, or at least 4 hex digits of \
                its hash. The report is not verified here (see verify). Text: a summary; \
                --json: the whole payload; --html PATH: the human report, one self-contained \
                page (no scripts, no network) with the verdict first, every check, the \
                deviations, charts of the recovery point and time over the past drills against \
                the objectives, the report's hash and the commands that verify it.
                """)
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
        @Argument(help: "Sequence number, file name or hash prefix (see drctl report list).")
        var id: String
        @Option(help: ArgumentHelp("Write the report as a self-contained HTML page to this file.", valueName: "path"))
        var html: String?

        func run() throws {
            let configuration = try global.loadConfiguration()
            let shown = try DrillReportJobs.show(configuration, id: id)
            if let html {
                // The past drills up to this one, for the charts (clear names where known).
                let history = try DrillEvidence.history(reportDirectory: configuration.drill.reportDirectory)
                    .filter { $0.sequence < shown.payload.sequence }
                    .map { DrillHistoryPoint(sequence: $0.sequence, results: $0.drill) }
                let page = DrillHTML.render(shown.payload.drill, sequence: shown.payload.sequence, envelopeSHA256: shown.hash,
                                            history: history,
                                            verifyCommands: ["drctl report public-key > drill-signing.pub",
                                                             "drctl report verify --all --against-targets --public-key drill-signing.pub",
                                                             "python3 scripts/lib/tests/verify_drill_reports.py --public-key drill-signing.pub REPORT_DIR/*.dsse.json (docs/AUDIT.md)"])
                let path = Paths.fromCommandLine(html)
                try AtomicFile.write(Array(page.utf8), to: path, mode: 0o600, .replace)
                if !global.quiet { print("report \(shown.payload.sequence) written as HTML to \(path)") }
                return
            }
            if global.json {
                try Output.json(shown)
                return
            }
            for line in ReportText.lines(shown) { print(line) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify signatures, the chain, and (--against-targets) the heads the targets hold.",
            discussion: """
                With no FILE (or --all), the whole chain of [drill] report_dir: every report's \
                Ed25519 signature over its DSSE PAE with the pinned public key, sequences \
                rising by exactly one from 1, each report's previous hash equal to the \
                SHA-256 of the previous report file, each name matching its content. With \
                FILEs, those reports as a segment of the chain. --against-targets also reads \
                every target's chain heads: a head newer than the local chain, or naming \
                another hash, shows reports deleted or rewritten locally.

                Exit status 0 when everything verifies; 3 (report.signature, report.chain, \
                report.head) naming the file or target and the sequence; 65 for a file that \
                is not a report; 2 when no target's heads could be read.
                """)
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions
        @Argument(help: ArgumentHelp("Report files to verify (default: the whole local chain).", valueName: "file"))
        var files: [String] = []
        @Flag(help: "Verify the whole chain of [drill] report_dir (the default when no FILE is given).")
        var all = false
        @Option(help: ArgumentHelp("The public key file to verify with (default: the public half of [drill] signing_key_file).",
                                   valueName: "file"))
        var publicKey: String?
        @Flag(help: "Compare the local chain with the chain heads every target holds.")
        var againstTargets = false

        func validate() throws {
            if all && !files.isEmpty {
                throw ValidationError("give either report files or --all, not both")
            }
        }

        func run() throws {
            let configuration = try global.loadConfiguration()
            let report = try DrillReportJobs.verify(configuration, files: files.map(Paths.fromCommandLine),
                                                    publicKeyFile: publicKey.map(Paths.fromCommandLine),
                                                    againstTargets: againstTargets, logger: global.logger)
            if global.json {
                try Output.json(report)
            } else if global.humanReport {
                let good = report.reports.filter(\.signature).count
                print("\(report.reports.count) report(s), \(good) with a valid signature (key \(report.keyid.prefix(16)))")
                for target in report.targets ?? [] {
                    print("target \(target.target): " + (target.error.map { "unreadable: \($0)" }
                        ?? "\(target.heads) head(s), newest \(target.newest.map(String.init) ?? "none")"))
                }
            }
            for warning in report.warnings {
                StandardStreams.writeError("drctl: warning: \(warning)\n")
            }
            for (index, problem) in report.problems.enumerated() where index != report.failureIndex {
                StandardStreams.writeError("drctl: problem: \(problem.message)\n")
            }
            if let failure = report.failure {
                throw failure
            }
            if global.humanReport { print("the drill report chain verifies") }
        }
    }

    struct PublicKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the public key of [drill] signing_key_file, for auditors (a file verify --public-key reads).",
            discussion: "Printed under --quiet too. Give it to the auditor out of band, so that they pin it.")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            let key = try DrillReportJobs.publicKey(try global.loadConfiguration(), file: nil)
            if global.json {
                try Output.json(["algorithm": "ed25519", "publicKey": DRBase.Hex.encode(key),
                                 "keyid": DrillSigningKey.fingerprint(key)])
            } else {
                StandardStreams.writeOutput(DrillSigningKey.publicKeyFileText(key))
            }
        }
    }
}

/// `report show` as text: the verdict first, then what was drilled and what deviated.
enum ReportText {
    static func lines(_ shown: DrillReportJobs.Shown) -> [String] {
        let payload = shown.payload
        let drill = payload.drill
        var lines = ["report \(payload.sequence) \(shown.file)",
                     "verdict \(drill.verdict.rawValue.uppercased()); drill \(drill.started) – \(drill.finished) on \(payload.host)"
                        + (drill.scenario.map { ", scenario: \($0)" } ?? ""),
                     "hash \(shown.hash), previous \(payload.previous ?? "none (first report)")",
                     "signed by key \(shown.keyids.first.map { String($0.prefix(16)) } ?? "NONE (unsigned)"); drctl \(payload.tool.version); configuration \(payload.configurationHash.prefix(16))",
                     "mailboxes: " + (shown.namesRevealed ? "named (from the local names file)" : "pseudonyms (no local names file)"),
                     "selection: seed \(drill.selection.seed), \(drill.selection.mailboxes.count) of \(drill.selection.population) mailboxes; point \(drill.point.mode) \(drill.point.time)",
                     "RPO \(drill.rpo.verdict.rawValue): worst \(drill.rpo.worstSeconds.map { "\(Int($0)) s" } ?? "unknown") against \(drill.rpo.objectiveSeconds) s",
                     "RTO \(drill.rto.verdict.rawValue): projected full store \(drill.rto.projectedFullStoreSeconds.map { "\(Int($0)) s" } ?? "unknown") against \(drill.rto.objectiveSeconds) s"]
        for target in drill.targets {
            lines.append("target \(target.name): \(target.verdict.rawValue)" + (target.error.map { " (\($0))" } ?? ""))
        }
        for deviation in drill.deviations {
            lines.append("deviation: " + [deviation.target.map { "target \($0)" }, deviation.mailbox, deviation.object,
                                          "\(deviation.check) \(deviation.verdict.rawValue)"].compactMap { $0 }.joined(separator: ", ")
                         + ": \(deviation.cause)")
        }
        lines.append("scratch \(drill.scratch.path): " + (drill.scratch.wiped && drill.scratch.verified ? "wiped, checked" : "NOT wiped and checked"))
        return lines
    }
}
