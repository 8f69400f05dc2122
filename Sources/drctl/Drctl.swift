import ArgumentParser
import DRBase
import DRCrypto
import DRLog
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

@main
struct Drctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drctl",
        abstract: "Backup and disaster recovery for mail stores of encrypted SQLite mailboxes.",
        discussion: """
            drctl snapshots live SQLite mailboxes without their keys, stores them deduplicated, \
            compressed and encrypted on two or more targets, restores them to a point in time, \
            and verifies every byte of every target.

            With no configuration file it uses an embedded default (a demo mail store and two \
            local targets under ~/.local/share/drctl) so that every command can be tried at once.

            Global options work with every command, before or after its name \
            (drctl --config F backup, drctl backup --config F, drctl --json key list):
              --config PATH         the configuration file
              --json                one JSON document on standard output, not text
              --password-file PATH  the repository passphrase, from this file
              --key-file PATH       the repository key, from this file
              --no-progress         no progress line (backup, restore, check, sync)
              -q, --quiet           only errors: no progress, no summary
              -v, --verbose         more detail, on standard error
            Under --quiet, listings (snapshots, key list, version), data (config example, \
            the copy of snapshot) and --json output are still printed. A command with no use \
            for an option ignores it (version reads no configuration, snapshot opens no \
            repository), so that one alias or wrapper serves every command. --quiet with \
            --verbose is a usage error.

            Exit codes: \(ExitStatus.allCases.map { "\($0.rawValue) \($0.meaning)" }.joined(separator: "; ")).
            """,
        version: DrctlVersion.string,
        subcommands: [Init.self, Backup.self, Snapshots.self, Restore.self, Check.self, Sync.self, Forget.self, Prune.self, Run.self, Drill.self, Canary.self, TargetsCommand.self, StatusCommand.self, ReportCommand.self, Logs.self, Image.self, Key.self, Config.self, Version.self, Debug.self])

    /// Entry point: choose the log handler (journal lines, or text on a terminal), harden the
    /// process before anything can touch a secret, then dispatch.
    static func main() async {
        LogSetup.bootstrap(environment: ProcessInfo.processInfo.environment)
        do {
            try ProcessHardening.apply()
        } catch {
            fail(error)
        }
        ProcessMemory.returnLargeBuffers()
        do {
            let arguments = try GlobalArguments.rewrite(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            warnIfKeyMemoryUnlocked()
        } catch let error as any DRError {
            fail(error)
        } catch {
            exitForParser(error)
        }
    }

    /// ArgumentParser's ending (a usage error, --help, an exit status a command chose). On a
    /// terminal, as ArgumentParser prints it; elsewhere its message is one error event, so that
    /// a usage error in a unit file reaches the journal with its priority like every other line.
    static func exitForParser(_ error: any Error) -> Never {
        let status = exitCode(for: error)
        let message = fullMessage(for: error)
        if StandardStreams.errorIsTerminal || status.isSuccess || message.isEmpty {
            exit(withError: error)
        }
        let text = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
        LogSetup.logger().error("\(text)")
        Glibc.exit(status.rawValue)
    }

    /// Says so when key material was held in memory the kernel may swap out (libsodium carries
    /// on when mlock fails), so that "keys are in locked memory" is never claimed falsely.
    static func warnIfKeyMemoryUnlocked() {
        let failures = SecureMemory.lockFailures
        guard failures > 0 else { return }
        LogSetup.logger().warning("\(failures) secret(s) could not be locked in memory (mlock failed: RLIMIT_MEMLOCK too low, or no CAP_IPC_LOCK), so keys may have reached swap; raise the limit (ulimit -l, or LimitMEMLOCK= in the systemd unit), or use encrypted swap",
                                  metadata: ["secrets": "\(failures)"])
    }

    /// Prints a domain error (its message is secret-free by construction) and exits with
    /// the status documented for its kind.
    static func fail(_ error: any DRError) -> Never {
        warnIfKeyMemoryUnlocked()
        LogSetup.logger().error("\(error.message)", metadata: eventMetadata(error))
        if !Output.hasWrittenJSON, CommandLine.arguments.dropFirst().prefix(while: { $0 != "--" }).contains("--json") {
            // A machine that asked for JSON gets the failure as JSON too, on standard output
            // where it reads the result: code, exit status, message and the structured context.
            let failure = FailureReport(error: .init(code: error.code.rawValue,
                                                     exitStatus: error.exitStatus.rawValue,
                                                     message: error.message, context: error.context,
                                                     underlying: error.underlying?.description))
            if let text = try? Output.jsonText(failure) { StandardStreams.writeOutput(text) }
        }
        Glibc.exit(error.exitStatus.rawValue)
    }

    /// The error's code and context as log metadata (the journal's line carries them; the
    /// message says the same in words). Names and numbers only: no DRError holds a secret.
    static func eventMetadata(_ error: any DRError) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["code": "\(error.code.rawValue)"]
        let context = error.context
        if let target = context.target { metadata["target"] = "\(target)" }
        if let object = context.object { metadata["object"] = "\(object)" }
        if let file = context.file { metadata["file"] = "\(file)" }
        if let line = context.line { metadata["line"] = "\(line)" }
        if let mailbox = context.mailbox { metadata["mailbox"] = "\(mailbox)" }
        return metadata
    }

    /// `{"error": {...}}`, what `--json` prints when a command fails.
    struct FailureReport: Encodable {
        struct Body: Encodable {
            var code: String
            var exitStatus: Int32
            var message: String
            var context: ErrorContext
            var underlying: String?
        }
        var error: Body
    }
}

enum DrctlVersion {
    static let string = DrctlRelease.version
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print drctl's version.",
        discussion: "Reads no configuration and opens no repository: of the global options, only --json has an effect.")

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    func run() throws {
        // Printed under --quiet too: the version is what was asked for.
        if global.json {
            try Output.json(["version": DrctlVersion.string])
        } else {
            print("drctl \(DrctlVersion.string)")
        }
    }
}
