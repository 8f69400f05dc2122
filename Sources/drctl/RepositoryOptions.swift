import ArgumentParser
import DRConfig
import DRBase
import DRCore
import Foundation
import Synchronization

/// How a command that opens the repository gets its secret (overrides the configuration).
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Read the repository passphrase from this file (mode 0600; first line). Overrides [repository] in the configuration.",
        valueName: "path"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp(
        "Open the repository with this key file (64 hex digits, mode 0600). Overrides [repository].",
        valueName: "path"))
    var keyFile: String?

    var sources: SecretSources { SecretSources(passwordFile: passwordFile, keyFile: keyFile) }
}

extension GlobalOptions {
    /// The effective configuration (file, $DRCTL_CONFIG, /etc/drctl/drctl.toml, or embedded).
    func loadConfiguration() throws -> Configuration {
        try ConfigurationLoader.load(explicitPath: config, environment: ProcessInfo.processInfo.environment)
    }
}

/// Printing results: text for people, `--json` for machines (one JSON document on stdout).
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        writeJSON(try jsonText(value))
    }

    /// Writes a rendered JSON document to standard output and remembers it, so that a failure
    /// after it (a report that ends in a non-zero exit) adds no second document.
    static func writeJSON(_ text: String) {
        documentWritten.store(true, ordering: .relaxed)
        StandardStreams.writeOutput(text)
    }

    /// Whether this process has printed its JSON document already.
    static var hasWrittenJSON: Bool { documentWritten.load(ordering: .relaxed) }
    private static let documentWritten = Atomic<Bool>(false)

    /// The JSON text (pretty, sorted keys) with a final newline.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

extension String {
    /// Left-aligned in a column of `width` characters (for text tables).
    func column(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
