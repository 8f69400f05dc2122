import ArgumentParser
import DRBase
import DRConfig
import DRCore

#if canImport(Glibc)
import Glibc
#endif

/// `drctl config`: inspect the configuration.
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the configuration and show what drctl will use.",
        discussion: """
            drctl reads one TOML file: --config PATH if given, else $DRCTL_CONFIG, else \
            /etc/drctl/drctl.toml if it exists, else an embedded default that keeps \
            everything (mail store, two local file:// targets, keys) under \
            $XDG_DATA_HOME/drctl or ~/.local/share/drctl. A file named by --config or \
            $DRCTL_CONFIG must exist: drctl never falls back silently.

            The file never holds a secret, only the paths of files that do (mode 0600). \
            Relative paths are resolved against the folder of the configuration file.

            Example:

              $ drctl config check --config /etc/drctl/drctl.toml
              $ drctl config example > /etc/drctl/drctl.toml   # a commented starting point

            Errors name the file, the line and the key, and say what is expected:

              /etc/drctl/drctl.toml:14: [[target]] #2 "us-east": unknown key "regoin" — did you mean "region"? …

            See docs/CONFIGURATION.md for every section and key.
            """,
        subcommands: [Check.self, Example.self])
}

extension Config {
    /// `drctl config check`: load, validate, show the effective configuration and the state
    /// of every secret file.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective settings.",
            discussion: """
                Loads the configuration exactly as every other command does, validates it, \
                and prints where it came from, every section, every target with its kind and \
                location, and for each secret file (password_file, key_file, \
                credentials_file, signing_key_file, logs key_file) whether it exists with a \
                safe mode. Secret files are never opened: only their type and mode are looked at. \
                A systemd credential (password_credential, key_credential, systemd_credential) \
                is shown by name: its file exists only inside the unit that passes it.

                Exit status 0 when drctl can run with this configuration; 78 when the file \
                has an error or a secret file is missing or readable by group or others \
                (fix with chmod 600); 66 when a named configuration file does not exist. With \
                --quiet, only the exit status and the problems (on standard error) tell. \
                --password-file and --key-file are not checked: the file's own settings are.

                  $ drctl config check --config /etc/drctl/drctl.toml
                  $ drctl config check --json | jq '.targets[].name'
                """)

        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            let configuration: Configuration
            do {
                configuration = try global.loadConfiguration()
            } catch {
                if global.json {
                    // Strings, integers, booleans and nulls only: encoding cannot fail, and
                    // the configuration error is the one to report.
                    try? Output.json(ConfigReport.failureJSON(error))
                }
                throw error
            }
            let statuses = configuration.inspectSecretFiles()
            let report = ConfigReport(configuration: configuration, secretFiles: statuses)
            global.detail(configuration.source.verboseDescription)
            if global.json {
                try Output.json(report.json())
            } else if !global.quiet {
                StandardStreams.writeOutput(report.text())
            }
            let problems = statuses.filter(\.isProblem).map { status in
                ConfigError.Problem(code: .configSecretFile, file: nil,
                                    text: status.detail ?? "\(status.file.purpose) \(status.file.path): \(status.state.rawValue)")
            }
            if !problems.isEmpty { throw ConfigError(problems: problems) }
        }
    }

    /// `drctl config example`: a commented production configuration to start from.
    struct Example: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a commented example configuration.",
            discussion: """
                The example is the layout of docs/CONFIGURATION.md: two targets (one S3, one \
                file://), a passphrase file, objectives, retention, drills and log \
                anonymization. Edit the paths, then run drctl config check on it. The \
                global options have no effect here.

                  $ drctl config example > drctl.toml
                """)

        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        func run() throws {
            // The example is data (TOML), printed whatever --json or --quiet say.
            StandardStreams.writeOutput(Configuration.exampleText)
        }
    }
}

/// What `config check` prints, as text for people and as JSON for scripts.
private struct ConfigReport {
    let configuration: Configuration
    let secretFiles: [SecretFileStatus]

    /// Version of the JSON layout; bump it when a field changes meaning or disappears.
    static let schema = "drctl.config-check/1"

    // MARK: Text

    func text() -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        func field(_ name: String, _ value: String) {
            line("  " + name.column(18, minimumGap: 1) + value)
        }
        let c = configuration
        switch c.source {
        case .file(let path):
            line("Configuration: \(path)")
        case .embedded(let data):
            line("Configuration: embedded default (no configuration file found; data folder \(data))")
        }
        line()
        line("[store]")
        field("path", c.store.path)
        field("include", c.store.include.joined(separator: ", "))
        if let size = c.store.fallbackPageSize { field("fallback_page_size", String(size)) }
        line("[repository]")
        if let path = c.repository.passwordFile { field("password_file", path) }
        if let path = c.repository.keyFile { field("key_file", path) }
        if let name = c.repository.passwordCredential { field("password_credential", Self.credential(name)) }
        if let name = c.repository.keyCredential { field("key_credential", Self.credential(name)) }
        field("argon2_memory", ByteSize.exact(c.repository.argon2Memory))
        field("argon2_iterations", String(c.repository.argon2Iterations))
        for target in c.targets {
            line("[[target]] \(target.name)" + (target.line > 0 ? " (line \(target.line))" : ""))
            switch target.location {
            case .file(let path):
                field("kind", "file")
                field("path", path)
            case .s3(let bucket, let prefix):
                field("kind", "s3")
                field("bucket", bucket)
                field("prefix", prefix.isEmpty ? "(none)" : prefix)
                if let endpoint = target.endpoint { field("endpoint", endpoint) }
                if let region = target.region { field("region", region) }
                if let path = target.credentialsFile { field("credentials_file", path) }
                let o = target.s3
                if let name = o.systemdCredential { field("systemd_credential", name) }
                field("addressing", o.addressing.rawValue)
                if let path = o.caFile { field("ca_file", path) }
                if o.allowInsecureHTTP { field("allow_insecure_http", "true") }
                if o.allowPublic { field("allow_public", "true") }
                if let lock = o.objectLock { field("object_lock", "\(lock.mode.rawValue), \(lock.days) days") }
                field("upload_limit", o.uploadLimit.map { ByteSize.exact(Int($0)) + "/s" } ?? "unlimited")
                field("concurrency", String(o.concurrency))
                field("part_size", ByteSize.exact(Int(o.partSize)))
                field("request_timeout", o.requestTimeout.description)
            }
            field("priority", String(target.priority))
        }
        line("[objectives]")
        field("rpo", c.objectives.rpo.description)
        field("rto", c.objectives.rto.description)
        line("[retention]")
        field("keep_last", String(c.retention.keepLast))
        field("keep_hourly", String(c.retention.keepHourly))
        field("keep_daily", String(c.retention.keepDaily))
        field("keep_weekly", String(c.retention.keepWeekly))
        field("keep_monthly", String(c.retention.keepMonthly))
        field("keep_yearly", String(c.retention.keepYearly))
        field("keep_within", c.retention.keepWithin?.description ?? "(none)")
        line("[drill]")
        field("every", c.drill.every.description)
        field("sample", String(c.drill.sample))
        field("signing_key_file", c.drill.signingKeyFile ?? "(none: reports are not signed)")
        field("report_dir", c.drill.reportDirectory)
        field("verify_command", c.drill.verifyCommand?.joined(separator: " ") ?? "(none)")
        if c.drill.verifyCommand != nil { field("verify_mailboxes", c.drill.verifyMailboxes.joined(separator: ", ")) }
        field("canary", c.drill.canary ?? "(none: no canary)")
        line("[logs]")
        field("sources", c.logs.sources.isEmpty ? "(none)" : c.logs.sources.joined(separator: ", "))
        field("retain", c.logs.retain.description)
        field("ip", c.logs.ip.rawValue)
        if let path = c.logs.keyFile { field("key_file", path) }
        if let name = c.logs.keyCredential { field("key_credential", name) }
        field("settle", c.logs.settle.description)
        line("[state]")
        field("path", c.stateDirectory)
        line("[metrics]")
        field("textfile", c.metrics.textfile ?? "(none: no Prometheus metrics are written)")
        line()
        line("Secret files (type and mode only; never opened):")
        if secretFiles.isEmpty { line("  (none)") }
        for status in secretFiles {
            let label: String = switch status.state {
            case .ok: "ok"
            case .missing: status.isProblem ? "MISSING" : "missing"
            case .modeTooOpen: "MODE TOO OPEN"
            case .notRegular: "NOT A FILE"
            case .unreadable: "UNREADABLE"
            }
            var text = "  " + label.column(15, minimumGap: 1) + status.file.key.column(36, minimumGap: 1) + status.file.path
            if let mode = status.mode { text += " (mode \(mode))" }
            if status.state == .missing {
                text += status.file.createdByInit ? " — will be created by drctl init" : " — create it (mode 0600)"
            }
            if status.state == .modeTooOpen { text += " — run: chmod 600 \(status.file.path)" }
            line(text)
        }
        let notes = c.advisories + DrillNotes.of(c)
        if !notes.isEmpty {
            line()
            line("Notes:")
            for note in notes { line("  - " + note) }
        }
        line()
        let problems = secretFiles.filter(\.isProblem).count
        if problems == 0 {
            line("OK: \(c.targets.count) target\(c.targets.count == 1 ? "" : "s"), configuration valid.")
        } else {
            line("NOT OK: \(problems) secret file problem\(problems == 1 ? "" : "s") (details on standard error).")
        }
        return out
    }

    // MARK: JSON

    func json() -> JSONValue {
        let c = configuration
        let source: JSONValue = switch c.source {
        case .file(let path): .object([("kind", "file"), ("path", .string(path))])
        case .embedded(let data): .object([("kind", "embedded"), ("data_directory", .string(data))])
        }
        let targets: [JSONValue] = c.targets.map { target in
            var fields: [(String, JSONValue)] = [("name", .string(target.name)), ("url", .string(TargetRules.masked(target.url)))]
            switch target.location {
            case .file(let path):
                fields += [("kind", "file"), ("path", .string(path))]
            case .s3(let bucket, let prefix):
                fields += [("kind", "s3"), ("bucket", .string(bucket)), ("prefix", .string(prefix))]
            }
            fields += [("endpoint", .optional(target.endpoint)), ("region", .optional(target.region)),
                       ("credentials_file", .optional(target.credentialsFile)),
                       ("priority", .integer(target.priority)),
                       ("line", target.line > 0 ? .integer(target.line) : .null)]
            if target.location.isS3 {
                let o = target.s3
                let lock: JSONValue = o.objectLock.map { .object([("mode", .string($0.mode.rawValue)), ("days", .integer($0.days))]) } ?? .null
                fields += [("systemd_credential", .optional(o.systemdCredential)), ("addressing", .string(o.addressing.rawValue)),
                           ("ca_file", .optional(o.caFile)), ("allow_insecure_http", .bool(o.allowInsecureHTTP)),
                           ("allow_public", .bool(o.allowPublic)), ("object_lock", lock),
                           ("upload_limit", o.uploadLimit.map { .integer(Int($0)) } ?? .null),
                           ("concurrency", .integer(o.concurrency)), ("part_size", .integer(Int(o.partSize))),
                           ("request_timeout_seconds", .integer(Int(o.requestTimeout.seconds)))]
            }
            return .object(fields)
        }
        func duration(_ value: ConfigDuration) -> JSONValue {
            .object([("text", .string(value.description)), ("seconds", .integer(Int(value.seconds)))])
        }
        let secrets: [JSONValue] = secretFiles.map { status in
            .object([("key", .string(status.file.key)), ("purpose", .string(status.file.purpose)),
                     ("path", .string(status.file.path)), ("status", .string(status.state.rawValue)),
                     ("mode", .optional(status.mode)), ("created_by_init", .bool(status.file.createdByInit)),
                     ("problem", .bool(status.isProblem)), ("detail", .optional(status.detail))])
        }
        let problems = secretFiles.filter(\.isProblem).map { status in
            JSONValue.object([("code", "config.secret-file"),
                              ("message", .optional(status.detail))])
        }
        return .object([
            ("schema", .string(Self.schema)),
            ("ok", .bool(problems.isEmpty)),
            ("source", source),
            ("store", .object([("path", .string(c.store.path)),
                               ("include", .array(c.store.include.map(JSONValue.string))),
                               ("fallback_page_size", c.store.fallbackPageSize.map(JSONValue.integer) ?? .null)])),
            ("repository", .object([("password_file", .optional(c.repository.passwordFile)),
                                    ("key_file", .optional(c.repository.keyFile)),
                                    ("password_credential", .optional(c.repository.passwordCredential)),
                                    ("key_credential", .optional(c.repository.keyCredential)),
                                    ("argon2_memory", .integer(c.repository.argon2Memory)),
                                    ("argon2_iterations", .integer(c.repository.argon2Iterations))])),
            ("targets", .array(targets)),
            ("objectives", .object([("rpo", duration(c.objectives.rpo)), ("rto", duration(c.objectives.rto))])),
            ("retention", .object([("keep_last", .integer(c.retention.keepLast)),
                                   ("keep_hourly", .integer(c.retention.keepHourly)),
                                   ("keep_daily", .integer(c.retention.keepDaily)),
                                   ("keep_weekly", .integer(c.retention.keepWeekly)),
                                   ("keep_monthly", .integer(c.retention.keepMonthly)),
                                   ("keep_yearly", .integer(c.retention.keepYearly)),
                                   ("keep_within", c.retention.keepWithin.map(duration) ?? .null)])),
            ("drill", .object([("every", duration(c.drill.every)), ("sample", .integer(c.drill.sample)),
                               ("signing_key_file", .optional(c.drill.signingKeyFile)),
                               ("report_dir", .string(c.drill.reportDirectory)),
                               ("verify_command", c.drill.verifyCommand.map { .array($0.map(JSONValue.string)) } ?? .null),
                               ("verify_mailboxes", .array(c.drill.verifyMailboxes.map(JSONValue.string))),
                               ("canary", .optional(c.drill.canary))])),
            ("logs", .object([("sources", .array(c.logs.sources.map(JSONValue.string))),
                              ("retain", duration(c.logs.retain)), ("ip", .string(c.logs.ip.rawValue)),
                              ("key_file", .optional(c.logs.keyFile)), ("key_credential", .optional(c.logs.keyCredential)),
                              ("settle", duration(c.logs.settle))])),
            ("state", .object([("path", .string(c.stateDirectory))])),
            ("metrics", .object([("textfile", .optional(c.metrics.textfile))])),
            ("secret_files", .array(secrets)),
            ("notes", .array((c.advisories + DrillNotes.of(c)).map(JSONValue.string))),
            ("problems", .array(problems)),
        ])
    }

    /// A repository credential in the text: its name, where drctl will read it, and whether
    /// this process sees it (information only: `config check` normally runs outside the unit).
    static func credential(_ name: String) -> String {
        guard let directory = RepositoryCredentials.directory else {
            return "\(name) (systemd credential, read from $CREDENTIALS_DIRECTORY/\(name) when the key is needed; not set here, outside the unit)"
        }
        let path = directory + "/" + name
        let present = access(path, F_OK) == 0
        return "\(name) (systemd credential: \(path), \(present ? "present" : "MISSING: the unit has no LoadCredential=\(name):PATH"))"
    }

    /// The JSON printed when the configuration cannot be loaded at all.
    static func failureJSON(_ error: ConfigError) -> JSONValue {
        .object([
            ("schema", .string(schema)),
            ("ok", .bool(false)),
            ("exit_status", .integer(Int(error.exitStatus.rawValue))),
            ("problems", .array(error.problems.map { problem in
                .object([("code", .string(problem.code.rawValue)), ("file", .optional(problem.file)),
                         ("line", problem.line.map(JSONValue.integer) ?? .null),
                         ("column", problem.column.map(JSONValue.integer) ?? .null),
                         ("message", .string(problem.rendered))])
            })),
        ])
    }
}

/// The untyped JSON `config check --json` builds (its report has optional sections and
/// explicit nulls), written like every other command's JSON by `Output.json`.
private enum JSONValue: Encodable, ExpressibleByStringLiteral {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    init(stringLiteral value: String) { self = .string(value) }

    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .integer(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .null:
            // Written out, not left out: scripts can tell "not set" from "unknown field".
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .object(let fields):
            var container = encoder.container(keyedBy: Key.self)
            for (name, value) in fields { try container.encode(value, forKey: Key(name)) }
        }
    }

    private struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}
