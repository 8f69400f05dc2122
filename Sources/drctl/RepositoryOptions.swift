import ArgumentParser
import DRConfig
import DRBase
import DRCore
import Foundation

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
    func loadConfiguration() throws(ConfigError) -> Configuration {
        try ConfigurationLoader.load(explicitPath: config, environment: ProcessInfo.processInfo.environment)
    }
}

/// Printing results: text for people, `--json` for machines (one JSON document on stdout).
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        StandardStreams.writeOutput(try jsonText(value))
    }

    /// The JSON text (pretty, sorted keys, so that the order is stable) with a final newline.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

extension String {
    /// Left-aligned in a column of `width` characters (for text tables), followed by at least
    /// `minimumGap` spaces (so that a long value never runs into the next column).
    func column(_ width: Int, minimumGap: Int = 0) -> String {
        self + String(repeating: " ", count: Swift.max(minimumGap, width - count))
    }
}
