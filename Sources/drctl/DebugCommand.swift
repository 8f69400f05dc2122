import ArgumentParser
import DRBase
import Foundation

/// Diagnostics for tests and support; hidden from `--help`.
struct Debug: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diagnostics (for tests and support).",
        shouldDisplay: false,
        subcommands: [ProcessState.self, ErrorCodes.self, RenderDrill.self, SignDrill.self, Manual.self])

    /// Reports the hardening state the kernel holds for this very process.
    struct ProcessState: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "process",
            abstract: "Print the core-dump limit and dumpable flag of this process.")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        struct Report: Encodable {
            var coreLimitSoft: UInt64
            var coreLimitHard: UInt64
            var dumpable: Bool
            var procLimitsCoreLine: String
        }

        func run() throws {
            let state = ProcessHardening.current()
            let limits = (try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8)) ?? ""
            let coreLine = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
            let report = Report(coreLimitSoft: state.coreLimitSoft, coreLimitHard: state.coreLimitHard,
                                dumpable: state.dumpable, procLimitsCoreLine: String(coreLine))
            if global.json {
                try Output.json(report)
            } else {
                print("core limit \(report.coreLimitSoft)/\(report.coreLimitHard), dumpable \(report.dumpable)")
                print(report.procLimitsCoreLine)
            }
        }
    }

    /// Prints the error-code catalogue: the table docs/EXIT-CODES.md must hold.
    struct ErrorCodes: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "error-codes",
            abstract: "Print every error code with its exit status and meaning (Markdown, or --json).")
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        struct Entry: Encodable {
            var code: String
            var exitStatus: Int32
            var meaning: String
        }

        func run() throws {
            if global.json {
                try Output.json(ErrorCode.allCases.map {
                    Entry(code: $0.rawValue, exitStatus: $0.exitStatus.rawValue, meaning: $0.meaning)
                })
            } else {
                StandardStreams.writeOutput(ErrorCode.markdownTable)
            }
        }
    }

    /// Prints the manual page that scripts/systemd/install puts in man1.
    struct Manual: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "man",
            abstract: "Print drctl's manual page (roff, section 1), made from every command's help.",
            discussion: """
                Examples:
                  drctl debug man > /usr/local/share/man/man1/drctl.1
                  drctl debug man | man -l -
                Shell completions come from ArgumentParser itself:
                  drctl --generate-completion-script bash > /etc/bash_completion.d/drctl
                """)
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            StandardStreams.writeOutput(ManualPage.render())
        }
    }
}
