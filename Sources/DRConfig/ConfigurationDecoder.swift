import DRBase

/// Turns a parsed TOML document into a validated `Configuration`.
///
/// It collects every problem before throwing (see `ConfigError`), each located at the line of
/// the key at fault, or of the table header when a key is missing. The typed reads are
/// `ConfigurationReader`'s; each section has its decoder in `ConfigurationDecoder+Section.swift`,
/// and the rules for target URLs and endpoints are `TargetRules`.
struct ConfigurationDecoder {
    typealias Section = ConfigurationReader.Section

    var reader: ConfigurationReader

    init(file: String, baseDirectory: String) {
        reader = ConfigurationReader(file: file, baseDirectory: baseDirectory)
    }

    /// The sections drctl knows, with their keys, in the order of docs/CONFIGURATION.md.
    static let sections: [(name: String, keys: [String])] = [
        ("store", ["path", "include", "fallback_page_size"]),
        ("repository", ["password_file", "key_file", "password_credential", "key_credential", "argon2_memory",
                        "argon2_iterations"]),
        ("target", ["name", "url", "priority", "endpoint", "region", "credentials_file", "systemd_credential",
                    "addressing", "ca_file", "allow_insecure_http", "allow_public", "object_lock",
                    "upload_limit", "concurrency", "part_size", "request_timeout"]),
        ("objectives", ["rpo", "rto"]),
        ("retention", ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly",
                       "keep_within"]),
        ("drill", ["every", "sample", "signing_key_file", "report_dir", "verify_command", "verify_mailboxes", "canary"]),
        ("logs", ["sources", "retain", "ip", "key_file", "key_credential", "settle", "anonymize"]),
        ("prune", ["every", "grace", "backup_expiry"]),
        ("backup", ["compression"]),
        ("state", ["path", "host"]),
        ("metrics", ["textfile"]),
    ]

    static func keys(of section: String) -> [String] {
        sections.first { $0.name == section }?.keys ?? []
    }

    // MARK: Whole document

    mutating func decode(_ root: TOMLTable, source: Configuration.Source) throws(ConfigError) -> Configuration {
        checkTopLevel(root)
        let stateDirectory = decodeState(root)
        let store = decodeStore(root)
        let repository = decodeRepository(root)
        let targets = decodeTargets(root)
        let objectives = decodeObjectives(root)
        let retention = decodeRetention(root)
        let drill = decodeDrill(root, stateDirectory: stateDirectory)
        let logs = decodeLogs(root)
        let prune = decodePrune(root)
        let backup = decodeBackup(root)
        let host = decodeHost(root)
        let metrics = decodeMetrics(root)

        let problems = reader.problems
        guard problems.isEmpty, let store, let repository, let objectives, let retention,
              let drill, let logs, let prune, let backup, let metrics else {
            // Stable order: file-level problems first, then by line.
            let sorted = problems.enumerated().sorted { a, b in
                (a.element.line ?? 0, a.offset) < (b.element.line ?? 0, b.offset)
            }.map(\.element)
            throw ConfigError(problems: sorted.isEmpty
                ? [.init(code: .configInvalidValue, file: reader.file, text: "the configuration could not be read")]
                : sorted)
        }
        var configuration = Configuration(source: source, store: store, repository: repository, targets: targets,
                                          objectives: objectives, retention: retention, drill: drill, logs: logs,
                                          stateDirectory: stateDirectory, metrics: metrics)
        configuration.prune = prune
        configuration.backup = backup
        configuration.host = host
        return configuration
    }

    // MARK: Document structure

    private mutating func checkTopLevel(_ root: TOMLTable) {
        let names = Self.sections.map(\.name)
        let allowedList = Self.sections.map { $0.name == "target" ? "[[target]]" : "[\($0.name)]" }
            .joined(separator: ", ")
        for entry in root.entries where !names.contains(entry.key) {
            let key = displayKey([entry.key])
            switch entry.node.value {
            case .table, .array:
                let isArray: Bool
                if case .array = entry.node.value { isArray = true } else { isArray = false }
                let written = isArray ? "[[\(key)]]" : "[\(key)]"
                var text = "unknown section \(written)"
                if let guess = Suggestions.closest(to: entry.key, in: names) {
                    text += " — did you mean \(guess == "target" ? "[[target]]" : "[\(guess)]")?"
                } else {
                    text += "."
                }
                reader.report(.configUnknownSection, line: entry.line, text + " Known sections: \(allowedList)")
            default:
                // A key above the first header: usually meant for a section.
                let owners = Self.sections.filter { $0.keys.contains(entry.key) }.map(\.name)
                var text = "key \(key) is outside any section"
                if !owners.isEmpty {
                    text += " — it belongs under " + owners.map { $0 == "target" ? "[[target]]" : "[\($0)]" }
                        .joined(separator: " or ")
                }
                text += ". Every key must follow a section header; known sections: \(allowedList)"
                reader.report(.configUnknownKey, line: entry.line, text)
            }
        }
    }

    /// The single table `[name]`, or nil when it is absent or malformed (reported).
    mutating func singleSection(_ root: TOMLTable, _ name: String) -> Section? {
        guard let entry = root[name] else { return nil }
        switch entry.node.value {
        case .table(let table):
            return Section(table: table, context: "[\(name)]", allowed: Self.keys(of: name))
        case .array:
            reader.report(.configType, line: entry.line,
                          "[[\(name)]]: \(name) is a single section; write [\(name)] once")
        default:
            reader.report(.configType, line: entry.line,
                          "\(name) = …: expected a section [\(name)], found \(entry.node.value.kindDescription)")
        }
        return nil
    }
}
