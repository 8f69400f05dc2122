extension ConfigurationDecoder {
    static let logAnonymizationKeys = ["ip", "ipv4_prefix", "ipv6_prefix", "addresses", "usernames", "json_fields",
                                       "max_line"]

    /// `[logs.anonymize]`: optional; every key has a default (docs/CONFIGURATION.md). The older
    /// `[logs] ip` (`"prefix-preserving"` or `"truncate"`) still works: it maps to `ipcrypt-pfx`
    /// or `truncate` here, and naming a contradicting method in both places is an error.
    mutating func decodeLogAnonymization(_ logs: Section, legacyIP: Configuration.Logs.IPMode?)
        -> Configuration.Logs.Anonymization? {
        typealias Anonymization = Configuration.Logs.Anonymization
        var result = Anonymization()
        if legacyIP == .truncate { result.ip = .truncate }
        guard let entry = logs.table["anonymize"] else { return result }
        guard case .table(let table) = entry.node.value else {
            reader.wrongType(logs, entry, "a section [logs.anonymize]")
            return nil
        }
        let section = Section(table: table, context: "[logs.anonymize]", allowed: Self.logAnonymizationKeys)
        reader.checkUnknownKeys(section)
        var failed = false
        if let (text, ipEntry) = reader.string(section, "ip", example: "\"ipcrypt-pfx\"") {
            if let method = Anonymization.IPMethod(rawValue: text) {
                if let legacyIP, (legacyIP == .truncate) != (method == .truncate) {
                    reader.invalid(section, ipEntry, "ip = \(quoted(text)) contradicts [logs] ip = \(quoted(legacyIP.rawValue)); remove [logs] ip (its meaning moved here)")
                    failed = true
                }
                result.ip = method
            } else {
                failed = !choice(section, ipEntry, text, Anonymization.IPMethod.allCases.map(\.rawValue), what: "an IP method")
            }
        } else if table["ip"] != nil {
            failed = true
        }
        if let bits = reader.integer(section, "ipv4_prefix", range: 0...32, example: "24") {
            result.ipv4Prefix = bits
        } else if table["ipv4_prefix"] != nil {
            failed = true
        }
        if let bits = reader.integer(section, "ipv6_prefix", range: 0...128, example: "48") {
            result.ipv6Prefix = bits
        } else if table["ipv6_prefix"] != nil {
            failed = true
        }
        if let (text, methodEntry) = reader.string(section, "addresses", example: "\"token-keep-domain\"") {
            if let method = Anonymization.AddressMethod(rawValue: text) {
                result.addresses = method
            } else {
                failed = !choice(section, methodEntry, text, Anonymization.AddressMethod.allCases.map(\.rawValue),
                                 what: "an address method")
            }
        } else if table["addresses"] != nil {
            failed = true
        }
        if let (text, methodEntry) = reader.string(section, "usernames", example: "\"token\"") {
            if let method = Anonymization.UsernameMethod(rawValue: text) {
                result.usernames = method
            } else {
                failed = !choice(section, methodEntry, text, Anonymization.UsernameMethod.allCases.map(\.rawValue),
                                 what: "a username method")
            }
        } else if table["usernames"] != nil {
            failed = true
        }
        if let (items, fieldsEntry) = reader.stringArray(section, "json_fields", example: "[\"client.ip\", \"user\"]") {
            let bad = items.filter { $0.hasPrefix(".") || $0.hasSuffix(".") || $0.contains("..") }
            if bad.isEmpty {
                result.jsonFields = items
            } else {
                reader.invalid(section, fieldsEntry, "\(bad.map(quoted).joined(separator: ", ")): a field path is keys joined by dots, like \"client.ip\"")
                failed = true
            }
        } else if table["json_fields"] != nil {
            failed = true
        }
        if let bytes = reader.byteSize(section, "max_line", range: 1024...(16 << 20), example: "64KiB") {
            result.maxLine = Int(bytes)
        } else if table["max_line"] != nil {
            failed = true
        }
        return failed ? nil : result
    }

    /// Reports `text` as not one of `choices` (with the closest as a suggestion); false.
    private mutating func choice(_ section: Section, _ entry: TOMLTable.Entry, _ text: String, _ choices: [String],
                                 what: String) -> Bool {
        var message = "\(quoted(text)) is not \(what)"
        if let guess = Suggestions.closest(to: text, in: choices) { message += " — did you mean \(quoted(guess))?" }
        reader.invalid(section, entry, message + " Expected one of: \(choices.map(quoted).joined(separator: ", "))")
        return false
    }
}
