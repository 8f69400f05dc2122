import ArgumentParser
import DRBase
import DRConfig
import DRCore
import DRLog
import Foundation
import Logging

/// Options every command accepts, after its name (`drctl backup --config F`) or before it
/// (`drctl --config F backup`, as git, restic and borg users type them; `GlobalArguments`
/// moves those). A command with no use for one accepts and ignores it, so that one alias or
/// wrapper (`alias drctl='drctl --config /etc/drctl/site.toml'`) works for every command.
struct GlobalOptions: ParsableArguments {
    /// The heading of their section in each command's --help.
    static let title = "Global options"

    /// The spellings, shared by the declarations below and by `GlobalArguments`, which must
    /// recognise each of them (and know whether it takes a value) before ArgumentParser runs.
    enum Spelling {
        static let config = "config"
        static let json = "json"
        static let passwordFile = "password-file"
        static let keyFile = "key-file"
        static let noProgress = "no-progress"
        static let quiet = "quiet"
        static let verbose = "verbose"
        static let quietShort: Character = "q"
        static let verboseShort: Character = "v"

        /// Long options followed by a value (`--config PATH` or `--config=PATH`).
        static let withValue: Set<String> = [config, passwordFile, keyFile]
        /// Long flags.
        static let flags: Set<String> = [json, noProgress, quiet, verbose]
        /// Short flags (alone or grouped, as in `-qv`).
        static let shortFlags: Set<Character> = [quietShort, verboseShort]
    }

    @Option(name: .customLong(Spelling.config), help: ArgumentHelp(
        "Configuration file (default: $DRCTL_CONFIG, else /etc/drctl/drctl.toml, else the embedded default).",
        valueName: "path"))
    var config: String?

    @Flag(name: .customLong(Spelling.json), help: "Print machine-readable JSON instead of text.")
    var json = false

    @Option(name: .customLong(Spelling.passwordFile), help: ArgumentHelp(
        "Read the repository passphrase from this file (mode 0600; first line). Overrides [repository] in the configuration.",
        valueName: "path"))
    var passwordFile: String?

    @Option(name: .customLong(Spelling.keyFile), help: ArgumentHelp(
        "Open the repository with this key file (64 hex digits, mode 0600). Overrides [repository].",
        valueName: "path"))
    var keyFile: String?

    @Flag(name: .customLong(Spelling.noProgress), help: "No progress line on a terminal (backup, restore, check and sync draw one).")
    var noProgress = false

    @Flag(name: [.customLong(Spelling.quiet), .customShort(Spelling.quietShort)],
          help: "Print only errors (and what --json asks for): no progress, no summary.")
    var quiet = false

    @Flag(name: [.customLong(Spelling.verbose), .customShort(Spelling.verboseShort)],
          help: "Print more detail on standard error (the configuration used, the job's settings).")
    var verbose = false

    func validate() throws {
        // One of them would have to win silently; a script that says both is wrong.
        if quiet && verbose {
            throw ValidationError("--quiet and --verbose contradict each other; give one of them")
        }
    }

    /// Secrets named on the command line, which take precedence over the configuration.
    var secrets: SecretSources {
        SecretSources(passwordFile: passwordFile.map(Paths.fromCommandLine),
                      keyFile: keyFile.map(Paths.fromCommandLine))
    }

    /// Whether a job may draw its progress line (it also checks that standard error is a
    /// terminal): not under --json, whose reader wants one document, nor --quiet.
    var progress: Bool { !noProgress && !quiet && !json }

    /// Whether to print the human-readable report of a command that did something. Errors are
    /// printed regardless, and so is JSON: --json is an explicit request for output.
    var humanReport: Bool { !quiet && !json }

    /// The effective configuration (file, $DRCTL_CONFIG, /etc/drctl/drctl.toml, or embedded);
    /// with --verbose, says which one on standard error (stdout may be JSON).
    func loadConfiguration() throws(ConfigError) -> Configuration {
        let configuration = try ConfigurationLoader.load(explicitPath: config,
                                                         environment: ProcessInfo.processInfo.environment)
        detail(configuration.source.verboseDescription)
        return configuration
    }

    /// The logger the command and its job report events to (standard error: journal lines, or
    /// text on a terminal, as `Drctl.main` bootstrapped), with --verbose's detail at debug level.
    var logger: Logger { LogSetup.logger(verbose: verbose) }

    /// A line of --verbose detail, on standard error so that it never mixes with JSON.
    func detail(_ text: @autoclosure () -> String) {
        logger.debug("\(text())")
    }

    /// A line that must reach the operator even under --quiet (a secret file was generated):
    /// on standard output normally, on standard error when the report is suppressed.
    func notice(_ text: String) {
        if humanReport {
            print(text)
        } else if !json {
            logger.notice("\(text)")
        }
    }
}

extension Configuration.Source {
    var verboseDescription: String {
        switch self {
        case .file(let path): "configuration: \(path)"
        case .embedded(let data): "configuration: embedded default (data folder \(data))"
        }
    }
}
