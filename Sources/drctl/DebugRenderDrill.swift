import ArgumentParser
import DRBase
import DRConfig
import DRCore
import DRCrypto
import Foundation

extension Debug {
    /// The HTML drill report from a results file, without a drill or a signed report: a test
    /// aid, so that the page can be rendered (and loaded in a browser) through the binary.
    struct RenderDrill: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "render-drill",
            abstract: "Test aid: render a drill's results (JSON) as the HTML report.",
            discussion: """
                A test aid, not a way to publish a report: the page shows the SHA-256 of the \
                file given with --envelope (or says that there is none), whether or not it is \
                the signed report of these results.
                """)
        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        @Option(help: ArgumentHelp("The drill's results: JSON, as a report's drill field holds it.", valueName: "file"))
        var results: String

        @Option(help: ArgumentHelp("Past drills for the charts: a JSON array of history points.", valueName: "file"))
        var history: String?

        @Option(help: ArgumentHelp("Where to write the page (replaced if it exists).", valueName: "file"))
        var html: String

        @Option(help: "The report's sequence number, as the page shows it.")
        var sequence: Int = 1

        @Option(help: ArgumentHelp("A signed envelope whose SHA-256 the page shows.", valueName: "file"))
        var envelope: String?

        @Option(name: .customLong("verify-command"), help: ArgumentHelp("A command that verifies the envelope, shown on the page (repeat for several).", valueName: "text"))
        var verifyCommands: [String] = []

        struct Summary: Encodable {
            var html: String
            var bytes: Int
            var envelopeSHA256: String?
        }

        func run() throws {
            let resultsPath = Paths.fromCommandLine(results)
            let outputPath = Paths.fromCommandLine(html)
            do {
                let drill = try DrillRenderInput.results(resultsPath)
                let past = try history.map { path throws(CoreError) in try DrillRenderInput.history(Paths.fromCommandLine(path)) } ?? []
                var digest: String?
                if let envelope {
                    let path = Paths.fromCommandLine(envelope)
                    guard let bytes = FileManager.default.contents(atPath: path) else {
                        throw CoreError(.drillResultsMissing, message: "the envelope \(path) cannot be read; name the signed report's file",
                                        context: ErrorContext(file: path))
                    }
                    digest = SHA256.hexDigest(Array(bytes))
                }
                let page = DrillHTML.render(drill, sequence: sequence,
                                            envelopeSHA256: digest ?? "none: rendered from results alone, not from a signed report",
                                            history: past, verifyCommands: verifyCommands)
                let bytes = Array(page.utf8)
                try AtomicFile.write(bytes, to: outputPath, mode: 0o644, .replace)
                let summary = Summary(html: outputPath, bytes: bytes.count, envelopeSHA256: digest)
                if global.json {
                    try Output.json(summary)
                } else if !global.quiet {
                    print("wrote \(outputPath) (\(bytes.count) bytes)")
                }
            } catch let error as CoreError {
                throw error
            } catch let error as BaseError {
                throw CoreError(error.code, message: "cannot write the HTML report: \(error.message)", context: error.context,
                                underlying: error.underlying)
            }
        }
    }
}
