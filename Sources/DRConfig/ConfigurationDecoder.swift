import DRBase

/// Turns a parsed TOML document into a validated `Configuration`.
///
/// It collects every problem before throwing (see `ConfigError`), each located at the line of
/// the key at fault, or of the table header when a key is missing.
struct ConfigurationDecoder {
    /// The file as the operator named it, for messages.
    let file: String
    /// Absolute folder of the file: relative paths in it are resolved against this folder, so
    /// that a configuration means the same whatever the working directory of the timer.
    let baseDirectory: String
    private(set) var problems: [ConfigError.Problem] = []

    init(file: String, baseDirectory: String) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    /// The sections drctl knows, with their keys, in the order of docs/CONFIGURATION.md.
    static let sections: [(name: String, keys: [String])] = [
        ("store", ["path", "include", "fallback_page_size"]),
        ("repository", ["password_file", "key_file", "argon2_memory", "argon2_iterations"]),
        ("target", ["name", "url", "endpoint", "region", "credentials_file"]),
        ("objectives", ["rpo", "rto"]),
        ("retention", ["keep_last", "keep_daily", "keep_weekly", "keep_monthly"]),
        ("drill", ["every", "sample", "signing_key_file", "report_dir"]),
        ("logs", ["sources", "retain", "ip", "key_file"]),
        ("state", ["path"]),
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

        guard problems.isEmpty, let store, let repository, let objectives, let retention,
              let drill, let logs else {
            // Stable order: file-level problems first, then by line.
            let sorted = problems.enumerated().sorted { a, b in
                (a.element.line ?? 0, a.offset) < (b.element.line ?? 0, b.offset)
            }.map(\.element)
            throw ConfigError(problems: sorted.isEmpty
                ? [.init(code: .configInvalidValue, file: file, text: "the configuration could not be read")]
                : sorted)
        }
        return Configuration(source: source, store: store, repository: repository, targets: targets,
                             objectives: objectives, retention: retention, drill: drill, logs: logs,
                             stateDirectory: stateDirectory)
    }

    // MARK: Problems

    private mutating func report(_ code: ErrorCode, line: Int?, _ text: String) {
        problems.append(.init(code: code, file: file, line: line, text: text))
    }

    private struct Section {
        let table: TOMLTable
        /// `[store]`, `[[target]] #2 "us-east"`.
        let context: String
        let allowed: [String]
    }

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
                report(.configUnknownSection, line: entry.line, text + " Known sections: \(allowedList)")
            default:
                // A key above the first header: usually meant for a section.
                let owners = Self.sections.filter { $0.keys.contains(entry.key) }.map(\.name)
                var text = "key \(key) is outside any section"
                if !owners.isEmpty {
                    text += " — it belongs under " + owners.map { $0 == "target" ? "[[target]]" : "[\($0)]" }
                        .joined(separator: " or ")
                }
                text += ". Every key must follow a section header; known sections: \(allowedList)"
                report(.configUnknownKey, line: entry.line, text)
            }
        }
    }

    /// The single table `[name]`, or nil when it is absent or malformed (reported).
    private mutating func singleSection(_ root: TOMLTable, _ name: String) -> Section? {
        guard let entry = root[name] else { return nil }
        switch entry.node.value {
        case .table(let table):
            return Section(table: table, context: "[\(name)]", allowed: Self.keys(of: name))
        case .array:
            report(.configType, line: entry.line,
                   "[[\(name)]]: \(name) is a single section; write [\(name)] once")
        default:
            report(.configType, line: entry.line,
                   "\(name) = …: expected a section [\(name)], found \(entry.node.value.kindDescription)")
        }
        return nil
    }

    private mutating func checkUnknownKeys(_ section: Section) {
        for entry in section.table.entries where !section.allowed.contains(entry.key) {
            var text = "\(section.context): unknown key \(quoted(entry.key))"
            if let guess = Suggestions.closest(to: entry.key, in: section.allowed) {
                text += " — did you mean \(quoted(guess))?"
            } else {
                text += "."
            }
            text += " Allowed keys: \(section.allowed.joined(separator: ", "))"
            report(.configUnknownKey, line: entry.line, text)
        }
    }

    private mutating func missing(_ section: Section, _ key: String, _ hint: String) {
        report(.configMissingKey, line: section.table.line,
               "\(section.context): missing key \(quoted(key)) — add \(hint)")
    }

    private mutating func wrongType(_ section: Section, _ entry: TOMLTable.Entry, _ expected: String) {
        report(.configType, line: entry.node.line,
               "\(section.context): \(entry.key): expected \(expected), found \(entry.node.value.kindDescription)")
    }

    private mutating func invalid(_ section: Section, _ entry: TOMLTable.Entry, _ text: String) {
        report(.configInvalidValue, line: entry.node.line, "\(section.context): \(entry.key): \(text)")
    }

    // MARK: Typed reads

    private mutating func string(_ section: Section, _ key: String, example: String) -> (String, TOMLTable.Entry)? {
        guard let entry = section.table[key] else { return nil }
        guard case .string(let text) = entry.node.value else {
            wrongType(section, entry, "a string like \(example)")
            return nil
        }
        guard !text.isEmpty else {
            invalid(section, entry, "must not be empty; expected a string like \(example)")
            return nil
        }
        return (text, entry)
    }

    /// A file or folder path; relative paths are resolved against the configuration's folder.
    private mutating func path(_ section: Section, _ key: String, example: String) -> String? {
        guard let (text, entry) = string(section, key, example: quoted(example)) else { return nil }
        return checkedPath(section, entry, text)
    }

    private mutating func checkedPath(_ section: Section, _ entry: TOMLTable.Entry, _ text: String) -> String? {
        if text.hasPrefix("~") {
            invalid(section, entry, "\(quoted(text)): ~ is not expanded in the configuration; write the absolute path")
            return nil
        }
        if text.unicodeScalars.contains("\u{0}") {
            invalid(section, entry, "a path cannot contain a NUL character")
            return nil
        }
        return Paths.resolve(text, against: baseDirectory)
    }

    private mutating func integer(_ section: Section, _ key: String, range: ClosedRange<Int64>,
                                  example: String) -> Int? {
        guard let entry = section.table[key] else { return nil }
        guard case .integer(let value) = entry.node.value else {
            var expected = "an integer like \(example)"
            if case .string(let text) = entry.node.value, Int64(text) != nil {
                expected += " (without quotes)"
            }
            wrongType(section, entry, expected)
            return nil
        }
        guard range.contains(value) else {
            invalid(section, entry, "\(value) is out of range: expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return Int(value)
    }

    private mutating func duration(_ section: Section, _ key: String, range: ClosedRange<ConfigDuration>,
                                   example: String) -> ConfigDuration? {
        guard let entry = section.table[key] else { return nil }
        let expected = "a duration string like \(quoted(example)) (a whole number and a unit: s, m, h, d or w)"
        guard case .string(let text) = entry.node.value else {
            wrongType(section, entry, expected)
            return nil
        }
        guard let value = ConfigDuration(parsing: text) else {
            invalid(section, entry, "\(quoted(text)) is not a duration: expected \(expected)")
            return nil
        }
        guard range.contains(value) else {
            invalid(section, entry, "\(value) is out of range: expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    private mutating func stringArray(_ section: Section, _ key: String, example: String) -> (items: [String], entry: TOMLTable.Entry)? {
        guard let entry = section.table[key] else { return nil }
        let expected = "an array of strings like \(example)"
        guard case .array(let nodes) = entry.node.value else {
            wrongType(section, entry, expected)
            return nil
        }
        var items: [String] = []
        for (position, node) in nodes.enumerated() {
            guard case .string(let text) = node.value, !text.isEmpty else {
                report(.configType, line: node.line,
                       "\(section.context): \(key)[\(position)]: expected a non-empty string, found \(node.value.kindDescription)")
                return nil
            }
            items.append(text)
        }
        return (items, entry)
    }

    // MARK: Sections

    private mutating func decodeState(_ root: TOMLTable) -> String {
        let fallback = Configuration.Defaults.stateDirectory
        guard let section = singleSection(root, "state") else { return fallback }
        checkUnknownKeys(section)
        return path(section, "path", example: fallback) ?? fallback
    }

    private mutating func decodeStore(_ root: TOMLTable) -> Configuration.Store? {
        guard root["store"] != nil else {
            report(.configMissingKey, line: nil,
                   "missing section [store] — add it with path = \"/var/lib/mail/mailboxes\" (the folder holding the mailboxes)")
            return nil
        }
        guard let section = singleSection(root, "store") else { return nil }
        checkUnknownKeys(section)
        let path = path(section, "path", example: "/var/lib/mail/mailboxes")
        if section.table["path"] == nil {
            missing(section, "path", "path = \"/var/lib/mail/mailboxes\" (the folder holding the mailboxes)")
        }
        var include = Configuration.Defaults.include
        if let (items, entry) = stringArray(section, "include", example: "[\"**/*.sqlite\"]") {
            if items.isEmpty {
                invalid(section, entry, "must name at least one pattern, like [\"**/*.sqlite\"]")
            } else if let absolute = items.first(where: { $0.hasPrefix("/") }) {
                invalid(section, entry, "\(quoted(absolute)): patterns are relative to path; remove the leading /")
            } else {
                include = items
            }
        }
        var pageSize: Int?
        if let entry = section.table["fallback_page_size"],
           let value = integer(section, "fallback_page_size", range: 512...65536, example: "4096") {
            if value & (value - 1) != 0 {
                invalid(section, entry, "\(value) is not a SQLite page size: expected a power of two from 512 to 65536, like 4096")
            } else {
                pageSize = value
            }
        }
        guard let path else { return nil }
        return Configuration.Store(path: path, include: include, fallbackPageSize: pageSize)
    }

    private mutating func decodeRepository(_ root: TOMLTable) -> Configuration.Repository? {
        let how = "password_file = \"/etc/drctl/repository.pass\" or key_file = \"/etc/drctl/repository.key\""
        guard root["repository"] != nil else {
            report(.configMissingKey, line: nil, "missing section [repository] — add it with \(how)")
            return nil
        }
        guard let section = singleSection(root, "repository") else { return nil }
        checkUnknownKeys(section)
        let passwordFile = path(section, "password_file", example: "/etc/drctl/repository.pass")
        let keyFile = path(section, "key_file", example: "/etc/drctl/repository.key")
        // Exactly one: drctl runs unattended from a timer, where a prompt would hang, and two
        // ways to unlock would leave it unclear which one a key change should touch.
        let hasPassword = section.table["password_file"] != nil
        let hasKey = section.table["key_file"] != nil
        if !hasPassword && !hasKey {
            report(.configMissingKey, line: section.table.line,
                   "[repository]: missing password_file or key_file — add \(how) (drctl runs unattended, so it does not prompt for the passphrase)")
        } else if hasPassword && hasKey, let entry = section.table["key_file"] {
            report(.configInvalidValue, line: entry.line,
                   "[repository]: password_file and key_file are both set — keep exactly one")
        }
        var memory = Configuration.Defaults.argon2Memory
        if let entry = section.table["argon2_memory"] {
            switch entry.node.value {
            case .string(let text):
                if let bytes = ByteSize.parse(text) {
                    if bytes < 8 << 20 || bytes > 16 << 30 {
                        invalid(section, entry, "\(quoted(text)) is out of range: expected 8MiB to 16GiB")
                    } else if bytes % 1024 != 0 {
                        invalid(section, entry, "\(quoted(text)) must be a whole number of KiB")
                    } else {
                        memory = bytes
                    }
                } else {
                    invalid(section, entry, "\(quoted(text)) is not a size: expected a whole number and a unit, like \"256MiB\" or \"1GiB\" (units KiB, MiB, GiB)")
                }
            default:
                wrongType(section, entry, "a size string like \"256MiB\"")
            }
        }
        let iterations = integer(section, "argon2_iterations", range: 1...64, example: "3")
            ?? Configuration.Defaults.argon2Iterations
        guard hasPassword != hasKey, passwordFile != nil || keyFile != nil else { return nil }
        return Configuration.Repository(passwordFile: passwordFile, keyFile: keyFile,
                                        argon2Memory: memory, argon2Iterations: iterations)
    }

    private mutating func decodeTargets(_ root: TOMLTable) -> [Configuration.Target] {
        let example = "[[target]] with name = \"offsite\" and url = \"s3://bucket/prefix\" (or \"file:///absolute/path\")"
        guard let entry = root["target"] else {
            report(.configMissingKey, line: nil,
                   "no target: add at least one \(example); two on separate sites are recommended")
            return []
        }
        let tables: [TOMLNode]
        switch entry.node.value {
        case .array(let nodes): tables = nodes
        case .table:
            report(.configType, line: entry.line,
                   "[target] must be written [[target]] (double brackets): each [[target]] adds one target")
            return []
        default:
            report(.configType, line: entry.line,
                   "target: expected one or more \(example), found \(entry.node.value.kindDescription)")
            return []
        }
        if tables.isEmpty {
            report(.configMissingKey, line: entry.line, "no target: add at least one \(example)")
        }
        var targets: [Configuration.Target] = []
        for (position, node) in tables.enumerated() {
            guard case .table(let table) = node.value else {
                report(.configType, line: node.line,
                       "target #\(position + 1): expected a table with name and url, found \(node.value.kindDescription)")
                continue
            }
            if let target = decodeTarget(table, number: position + 1, line: node.line) {
                if let first = targets.first(where: { $0.name == target.name }) {
                    report(.configInvalidValue, line: target.line,
                           "[[target]] #\(position + 1): duplicate target name \(quoted(target.name)) — already used by the [[target]] at line \(first.line); names must be unique")
                } else if let first = targets.first(where: { $0.location == target.location }) {
                    report(.configInvalidValue, line: target.line,
                           "[[target]] #\(position + 1) \(quoted(target.name)): same location as target \(quoted(first.name)) (line \(first.line)) — two copies in one place protect against nothing")
                }
                targets.append(target)
            }
        }
        return targets
    }

    private mutating func decodeTarget(_ table: TOMLTable, number: Int, line: Int) -> Configuration.Target? {
        var section = Section(table: table, context: "[[target]] #\(number)", allowed: Self.keys(of: "target"))
        let name = string(section, "name", example: "\"eu-central\"")
        if let (text, entry) = name {
            if !isValidTargetName(text) {
                invalid(section, entry, "\(quoted(text)) is not a valid target name: expected lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters (like \"eu-central\")")
            } else {
                section = Section(table: table, context: "[[target]] #\(number) \(quoted(text))",
                                  allowed: section.allowed)
            }
        } else if table["name"] == nil {
            missing(section, "name", "name = \"eu-central\" (a short unique name used in messages and commands)")
        }
        checkUnknownKeys(section)

        var location: Configuration.Target.Location?
        var url: String?
        if let (text, entry) = string(section, "url", example: "\"s3://bucket/prefix\"") {
            url = text
            location = parseTargetURL(section, entry, text)
        } else if table["url"] == nil {
            missing(section, "url", "url = \"s3://bucket/prefix\" or url = \"file:///absolute/path\"")
        }

        let endpointEntry = table["endpoint"]
        let endpoint = string(section, "endpoint", example: "\"https://s3.eu-central-1.example.net\"")
        var region = string(section, "region", example: "\"eu-central-1\"")?.0
        let credentialsFile = path(section, "credentials_file", example: "/etc/drctl/offsite.credentials")

        switch location {
        case .s3?:
            if let (text, entry) = endpoint {
                checkEndpoint(section, entry, text)
            } else if endpointEntry == nil {
                missing(section, "endpoint", "endpoint = \"https://s3.example.net\" (the S3 service URL)")
            }
            if table["credentials_file"] == nil {
                missing(section, "credentials_file",
                        "credentials_file = \"/etc/drctl/\(name?.0 ?? "target").credentials\" (a TOML file with access_key_id and secret_access_key, mode 0600)")
            }
            region = region ?? Configuration.Defaults.region
        case .file?:
            for key in ["endpoint", "region", "credentials_file"] {
                if let entry = table[key] {
                    invalid(section, entry, "only s3:// targets take \(key); remove it from this file:// target")
                }
            }
        case nil:
            break
        }
        if let region, let entry = table["region"],
           !region.unicodeScalars.allSatisfy({ isBareKeyScalar($0) }) {
            invalid(section, entry, "\(quoted(region)) is not a region name: expected letters, digits and '-', like \"eu-central-1\"")
        }

        guard let (nameText, _) = name, isValidTargetName(nameText), let location, let url else { return nil }
        return Configuration.Target(name: nameText, location: location, url: url,
                                    endpoint: endpoint?.0, region: location.isS3 ? region : nil,
                                    credentialsFile: credentialsFile, line: line)
    }

    private func isValidTargetName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 63,
              ("a"..."z").contains(first) || ("0"..."9").contains(first) else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    private mutating func parseTargetURL(_ section: Section, _ entry: TOMLTable.Entry,
                                         _ url: String) -> Configuration.Target.Location? {
        let expected = "expected s3://bucket/prefix or file:///absolute/path"
        if url.hasPrefix("file://") {
            let rest = String(url.dropFirst("file://".count))
            guard rest.hasPrefix("/") else {
                invalid(section, entry, "\(quoted(url)): a file URL needs an absolute path, with three slashes: file:///mnt/backup (file://HOST/… is not supported)")
                return nil
            }
            let path = Paths.normalize(rest)
            guard path != "/" else {
                invalid(section, entry, "\(quoted(url)): the root folder cannot be a target; name a folder, like file:///mnt/backup/drctl")
                return nil
            }
            return .file(path: path)
        }
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst("s3://".count)
            let bucket = String(rest.prefix { $0 != "/" })
            let prefixPart = rest.dropFirst(bucket.count)
            if let why = bucketProblem(bucket) {
                invalid(section, entry, "\(quoted(url)): bucket \(quoted(bucket)) \(why)")
                return nil
            }
            let segments = prefixPart.split(separator: "/", omittingEmptySubsequences: false)
                .dropFirst() // the empty part before the first "/"
            let trimmed = segments.last == "" ? Array(segments.dropLast()) : Array(segments)
            if trimmed.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
                invalid(section, entry, "\(quoted(url)): the prefix must not contain empty, . or .. segments; \(expected)")
                return nil
            }
            return .s3(bucket: bucket, prefix: trimmed.joined(separator: "/"))
        }
        if let schemeEnd = url.firstRange(of: "://") {
            invalid(section, entry, "\(quoted(url)): unsupported scheme \(quoted(String(url[..<schemeEnd.lowerBound]))) — \(expected)")
        } else {
            invalid(section, entry, "\(quoted(url)) is not a URL: \(expected)")
        }
        return nil
    }

    /// Why an S3 bucket name is invalid (AWS naming rules), or nil.
    private func bucketProblem(_ bucket: String) -> String? {
        let scalars = Array(bucket.unicodeScalars)
        let rules = "bucket names are 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
        guard (3...63).contains(scalars.count) else { return "has \(scalars.count) characters: \(rules)" }
        let allowed = scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
        guard allowed else { return "has characters that are not allowed: \(rules)" }
        guard let first = scalars.first, let last = scalars.last,
              first != "." && first != "-" && last != "." && last != "-" else { return "must start and end with a letter or digit: \(rules)" }
        if bucket.contains("..") { return "must not contain two adjacent periods" }
        let parts = bucket.split(separator: ".")
        if parts.count == 4 && parts.allSatisfy({ UInt8($0) != nil }) { return "must not look like an IP address" }
        if bucket.hasPrefix("xn--") { return "must not start with xn--" }
        return nil
    }

    private mutating func checkEndpoint(_ section: Section, _ entry: TOMLTable.Entry, _ text: String) {
        let lower = text.lowercased()
        let isHTTPS = lower.hasPrefix("https://")
        guard isHTTPS || lower.hasPrefix("http://") else {
            invalid(section, entry, "\(quoted(text)): expected an https:// URL like \"https://s3.eu-central-1.example.net\"")
            return
        }
        let rest = lower.dropFirst(isHTTPS ? 8 : 7)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") {
            invalid(section, entry, "credentials do not belong in the endpoint URL; put them in credentials_file")
            return
        }
        if rest.contains("?") || rest.contains("#") {
            invalid(section, entry, "\(quoted(text)): the endpoint must not have a query or fragment")
            return
        }
        var host = Substring(authority)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                invalid(section, entry, "\(quoted(text)): unterminated IPv6 address: expected ]")
                return
            }
            let after = host[host.index(after: close)...]
            port = after.hasPrefix(":") ? after.dropFirst() : (after.isEmpty ? nil : after)
            host = host[...close]
        } else if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else {
            invalid(section, entry, "\(quoted(text)): the endpoint has no host name")
            return
        }
        if let port, UInt16(port).map({ $0 > 0 }) != true {
            invalid(section, entry, "\(quoted(text)): invalid port \(quoted(String(port))): expected 1 to 65535")
            return
        }
        if !isHTTPS && !["127.0.0.1", "localhost", "[::1]"].contains(String(host)) {
            invalid(section, entry, "\(quoted(text)): plain http:// is refused for \(host) — use https:// (S3 credentials and data must not cross a network unencrypted); http:// is only accepted for a loopback test server (127.0.0.1, localhost, [::1])")
        }
    }

    private mutating func decodeObjectives(_ root: TOMLTable) -> Configuration.Objectives? {
        let defaults = Configuration.Defaults.objectives
        guard let section = singleSection(root, "objectives") else {
            return root["objectives"] == nil ? defaults : nil
        }
        checkUnknownKeys(section)
        let range = ConfigDuration(seconds: 60)...ConfigDuration(seconds: 365 * 86400)
        let rpo = duration(section, "rpo", range: range, example: "24h")
        let rto = duration(section, "rto", range: range, example: "4h")
        if (section.table["rpo"] != nil && rpo == nil) || (section.table["rto"] != nil && rto == nil) { return nil }
        return Configuration.Objectives(rpo: rpo ?? defaults.rpo, rto: rto ?? defaults.rto)
    }

    private mutating func decodeRetention(_ root: TOMLTable) -> Configuration.Retention? {
        let defaults = Configuration.Defaults.retention
        guard let section = singleSection(root, "retention") else {
            return root["retention"] == nil ? defaults : nil
        }
        checkUnknownKeys(section)
        let range: ClosedRange<Int64> = 0...100_000
        let last = integer(section, "keep_last", range: range, example: "10")
        let daily = integer(section, "keep_daily", range: range, example: "7")
        let weekly = integer(section, "keep_weekly", range: range, example: "5")
        let monthly = integer(section, "keep_monthly", range: range, example: "12")
        let given = [("keep_last", last), ("keep_daily", daily), ("keep_weekly", weekly), ("keep_monthly", monthly)]
        if given.contains(where: { section.table[$0.0] != nil && $0.1 == nil }) { return nil }
        let result = Configuration.Retention(
            keepLast: last ?? defaults.keepLast, keepDaily: daily ?? defaults.keepDaily,
            keepWeekly: weekly ?? defaults.keepWeekly, keepMonthly: monthly ?? defaults.keepMonthly)
        if result.keepLast + result.keepDaily + result.keepWeekly + result.keepMonthly == 0 {
            report(.configInvalidValue, line: section.table.line,
                   "[retention]: every keep_* is 0, so prune would delete every snapshot — keep at least one (for example keep_daily = 7)")
            return nil
        }
        return result
    }

    private mutating func decodeDrill(_ root: TOMLTable, stateDirectory: String) -> Configuration.Drill? {
        let reports = Paths.resolve("reports", against: stateDirectory)
        let defaults = Configuration.Drill(every: Configuration.Defaults.drillEvery,
                                           sample: Configuration.Defaults.drillSample,
                                           signingKeyFile: nil, reportDirectory: reports)
        guard let section = singleSection(root, "drill") else {
            return root["drill"] == nil ? defaults : nil
        }
        checkUnknownKeys(section)
        let every = duration(section, "every", range: ConfigDuration(seconds: 3600)...ConfigDuration(seconds: 365 * 86400),
                             example: "7d")
        let sample = integer(section, "sample", range: 1...100_000, example: "10")
        let signing = path(section, "signing_key_file", example: "/etc/drctl/drill-signing.key")
        let reportDirectory = path(section, "report_dir", example: "/var/lib/drctl/reports")
        for (key, value) in [("every", every != nil), ("sample", sample != nil),
                             ("signing_key_file", signing != nil), ("report_dir", reportDirectory != nil)]
        where section.table[key] != nil && !value {
            return nil
        }
        return Configuration.Drill(every: every ?? defaults.every, sample: sample ?? defaults.sample,
                                   signingKeyFile: signing, reportDirectory: reportDirectory ?? reports)
    }

    private mutating func decodeLogs(_ root: TOMLTable) -> Configuration.Logs? {
        let defaults = Configuration.Logs(sources: [], retain: Configuration.Defaults.logsRetain,
                                          ip: .prefixPreserving, keyFile: nil)
        guard let section = singleSection(root, "logs") else {
            return root["logs"] == nil ? defaults : nil
        }
        checkUnknownKeys(section)
        var failed = false
        var sources: [String] = []
        if let (items, entry) = stringArray(section, "sources", example: "[\"/var/log/mail.log.*\"]") {
            for item in items {
                if let resolved = checkedPath(section, entry, item) { sources.append(resolved) } else { failed = true }
            }
        } else if section.table["sources"] != nil {
            failed = true
        }
        let retain = duration(section, "retain", range: ConfigDuration(seconds: 86400)...ConfigDuration(seconds: 3650 * 86400),
                              example: "30d")
        var ip = Configuration.Logs.IPMode.prefixPreserving
        let modes = Configuration.Logs.IPMode.allCases.map(\.rawValue)
        if let (text, entry) = string(section, "ip", example: "\"prefix-preserving\"") {
            if let mode = Configuration.Logs.IPMode(rawValue: text) {
                ip = mode
            } else {
                var message = "\(quoted(text)) is not an IP anonymization mode"
                if let guess = Suggestions.closest(to: text, in: modes) { message += " — did you mean \(quoted(guess))?" }
                invalid(section, entry, message + " Expected one of: \(modes.map(quoted).joined(separator: ", "))")
                failed = true
            }
        } else if section.table["ip"] != nil {
            failed = true
        }
        let keyFile = path(section, "key_file", example: "/etc/drctl/logs.key")
        if section.table["key_file"] == nil && ip == .prefixPreserving && !sources.isEmpty {
            missing(section, "key_file", "key_file = \"/etc/drctl/logs.key\" (prefix-preserving anonymization is keyed; drctl init creates the file), or set ip = \"truncate\"")
            failed = true
        }
        if failed || (section.table["retain"] != nil && retain == nil) || (section.table["key_file"] != nil && keyFile == nil) {
            return nil
        }
        return Configuration.Logs(sources: sources, retain: retain ?? defaults.retain, ip: ip, keyFile: keyFile)
    }
}

extension Configuration.Target.Location {
    var isS3: Bool {
        if case .s3 = self { return true }
        return false
    }
}
