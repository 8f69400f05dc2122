import ArgumentParser
import DRBase
import DRConfig
import DRCore
import DRCrypto
import DRLogAnonymizer
import Foundation

/// `drctl logs anonymize`: a log through the anonymizer, standard input to standard output or
/// files to files (docs/LOGS.md says what it finds and how).
struct LogsAnonymize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anonymize",
        abstract: "Replace the personal data in mail-server logs: IP addresses, e-mail addresses, usernames, session ids, passwords.",
        discussion: """
            Reads each FILE (or standard input, also as -) line by line in constant memory and \
            writes the anonymized lines: FILE to FILE.anon (in --output-dir if given, else \
            beside FILE), written under a temporary name and renamed when complete, never \
            over an input; standard input to standard output. Every input is checked before \
            anything is written.

            Formats (--format, default auto: detected per line): postfix, dovecot, haraka, \
            nginx (combined/common), json (one object per line; [logs.anonymize] json_fields), \
            text. IP addresses get the [logs.anonymize] ip method (ipcrypt-pfx by default; \
            crypto-pan; truncate), e-mail addresses and usernames keyed tokens, Dovecot \
            session ids tokens of the same shape, passwords, SASL data, URL tokens and card \
            numbers a [REDACTED] or [CARD] marker.

            Keys: --raw-key-file FILE (64 hex digits, mode 0600) is the IP method's 32-byte key \
            as is; the token key is derived from it (keyed BLAKE2b-256 of "drctl logs token \
            key v1" under it). Otherwise the keys of --day D (default: today, UTC) from the \
            per-day key store, so that pseudonyms link within a day and not across days.

            --json prints a summary (lines, bytes, replacements per kind) as one JSON line: \
            on standard error when standard output carries the log, else on standard output.

            Examples:
              journalctl -u postfix -o cat | drctl logs anonymize --day 2026-12-07 > mail.anon
              drctl logs anonymize --raw-key-file /root/logs.key --output-dir /srv/anon /var/log/mail.log.1
              drctl logs anonymize --format json --json --raw-key-file /root/logs.key < app.jsonl
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    @Option(help: ArgumentHelp("auto, postfix, dovecot, haraka, nginx, json or text.", valueName: "format"))
    var format: String = LogFormat.auto.rawValue

    @Option(help: ArgumentHelp("The UTC day whose keys to use (YYYY-MM-DD; default today).", valueName: "day"))
    var day: String?

    @Option(help: ArgumentHelp("A 32-byte key as 64 hex digits in a file of mode 0600, instead of a day's keys.",
                               valueName: "file"))
    var rawKeyFile: String?

    @Option(help: ArgumentHelp("Where FILE.anon is written (default: beside each FILE).", valueName: "dir"))
    var outputDir: String?

    @Argument(help: "Log files; none or - for standard input to standard output.")
    var files: [String] = []

    func validate() throws {
        if day != nil && rawKeyFile != nil {
            throw ValidationError("--day and --raw-key-file both name the keys; give one of them")
        }
        if let day, !LogDay.isValid(day) {
            throw ValidationError("--day \(day): expected a UTC date as YYYY-MM-DD, like 2026-12-07")
        }
        if LogFormat(rawValue: format) == nil {
            throw ValidationError("--format \(format): expected one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if files.contains("-") && files.count > 1 {
            throw ValidationError("- (standard input) cannot be mixed with files; run once per source")
        }
    }

    func run() throws {
        let configuration = try global.loadConfiguration()
        let chosen = LogFormat(rawValue: format) ?? .auto
        let inputs = files.filter { $0 != "-" }.map(Paths.fromCommandLine)
        // Every input and the output folder are checked before a byte is written.
        let jobs = try LogFileJobs.plan(inputs: inputs, outputDirectory: outputDir.map(Paths.fromCommandLine))
        let keys = try loadKeys(configuration)
        if jobs.isEmpty {
            let anonymizer = try makeAnonymizer(configuration.logs, keys: keys, format: chosen)
            try LogFileJobs.stream(from: 0, name: "standard input", to: 1, anonymizer: anonymizer)
            if global.json { StandardStreams.writeError(try Output.jsonLine(anonymizer.statistics)) }
            return
        }
        var summaries: [LogFileJobs.Summary] = []
        for job in jobs {
            let anonymizer = try makeAnonymizer(configuration.logs, keys: keys, format: chosen)
            try job.run(anonymizer)
            summaries.append(.init(input: job.input, output: job.output, statistics: anonymizer.statistics))
            if global.humanReport {
                print("\(job.input) → \(job.output): \(anonymizer.statistics.lines) lines, \(anonymizer.statistics.replacements) replacements")
            }
        }
        if global.json { StandardStreams.writeOutput(try Output.jsonLine(summaries)) }
    }

    private func makeAnonymizer(_ logs: Configuration.Logs, keys: borrowing LogPseudonymKeys, format: LogFormat) throws -> LogAnonymizer {
        do {
            return try LogAnonymizer(configuration: logs, keys: keys, format: format)
        } catch let error as LogAnonymizerError {
            throw CoreError(.logsKey, message: "\(rawKeyFile.map { "\($0): " } ?? "")\(error.description)",
                            context: ErrorContext(file: rawKeyFile))
        }
    }

    private func loadKeys(_ configuration: Configuration) throws -> LogPseudonymKeys {
        if let rawKeyFile {
            return try RawLogKeyFile.read(Paths.fromCommandLine(rawKeyFile))
        }
        return try LogDayKeyStore(configuration: configuration).keys(forDay: day ?? LogDay.text(LogDay.number(ofSeconds: Int64(LogClock.now().timeIntervalSince1970.rounded(.down)))))
    }
}

/// `--raw-key-file`: 64 hex digits in a 0600 file; the IP key as is, the token key derived.
enum RawLogKeyFile {
    static let tokenLabel = "drctl logs token key v1"

    static func read(_ path: String) throws -> LogPseudonymKeys {
        do { try PrivateFile.checkMode(path, purpose: "log pseudonym key file") } catch { throw CoreError(error) }
        guard var data = FileManager.default.contents(atPath: path), data.count <= 4096 else {
            throw CoreError(.logsKey, message: "\(path): cannot be read as a log pseudonym key file", context: ErrorContext(file: path))
        }
        defer { data.resetBytes(in: 0..<data.count) }
        var text = Array(data).filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }
        defer { for index in text.indices { text[index] = 0 } }
        guard text.count == 64, var raw = Hex.decode(String(decoding: text, as: UTF8.self)) else {
            throw CoreError(.logsKey, message: "\(path): a log pseudonym key is 64 hex digits (32 bytes); the file holds something else",
                            context: ErrorContext(file: path))
        }
        defer { for index in raw.indices { raw[index] = 0 } }
        do {
            var ip = try SecureBytes(count: 32)
            ip.withUnsafeMutableBytes { target in
                raw.withUnsafeBytes { target.copyMemory(from: $0) }
            }
            var token = try Blake2b.hash(Array(tokenLabel.utf8), key: ip, outputLength: 32)
            defer { for index in token.indices { token[index] = 0 } }
            var tokenKey = try SecureBytes(count: 32)
            tokenKey.withUnsafeMutableBytes { target in
                token.withUnsafeBytes { target.copyMemory(from: $0) }
            }
            return LogPseudonymKeys(ip: ip, token: tokenKey)
        } catch {
            throw CoreError(.logsKey, message: "\(path): the key could not be placed in locked memory (\(error))",
                            context: ErrorContext(file: path))
        }
    }
}
