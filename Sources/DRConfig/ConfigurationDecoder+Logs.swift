extension ConfigurationDecoder {
    /// `[logs]`: optional; prefix-preserving anonymization of log sources needs its key file.
    mutating func decodeLogs(_ root: TOMLTable) -> Configuration.Logs? {
        let defaults = Configuration.Logs(sources: [], retain: Configuration.Defaults.logsRetain,
                                          ip: .prefixPreserving, keyFile: nil)
        guard let section = singleSection(root, "logs") else {
            return root["logs"] == nil ? defaults : nil
        }
        reader.checkUnknownKeys(section)
        var failed = false
        var sources: [String] = []
        if let (items, entry) = reader.stringArray(section, "sources", example: "[\"/var/log/mail.log.*\"]") {
            for item in items {
                if let resolved = reader.checkedPath(section, entry, item) { sources.append(resolved) } else { failed = true }
            }
        } else if section.table["sources"] != nil {
            failed = true
        }
        let retain = reader.duration(section, "retain", range: ConfigDuration(seconds: 86400)...ConfigDuration(seconds: 3650 * 86400),
                                     example: "30d")
        var ip = Configuration.Logs.IPMode.prefixPreserving
        let modes = Configuration.Logs.IPMode.allCases.map(\.rawValue)
        if let (text, entry) = reader.string(section, "ip", example: "\"prefix-preserving\"") {
            if let mode = Configuration.Logs.IPMode(rawValue: text) {
                ip = mode
            } else {
                var message = "\(quoted(text)) is not an IP anonymization mode"
                if let guess = Suggestions.closest(to: text, in: modes) { message += " — did you mean \(quoted(guess))?" }
                reader.invalid(section, entry, message + " Expected one of: \(modes.map(quoted).joined(separator: ", "))")
                failed = true
            }
        } else if section.table["ip"] != nil {
            failed = true
        }
        let keyFile = reader.path(section, "key_file", example: "/etc/drctl/logs.key")
        // The master key of the per-day keys, as a systemd credential instead of a file
        // (the way [repository] key_credential works).
        let keyCredential = reader.string(section, "key_credential", example: "\"logs-key\"")?.0
        if section.table["key_file"] != nil && section.table["key_credential"] != nil {
            reader.invalid(section, section.table["key_credential"]!, "give key_file or key_credential, not both")
            failed = true
        }
        if section.table["key_file"] == nil && section.table["key_credential"] == nil && ip == .prefixPreserving && !sources.isEmpty {
            reader.missing(section, "key_file", "key_file = \"/etc/drctl/logs.key\" (prefix-preserving anonymization is keyed; drctl init creates the file), or key_credential = \"NAME\" under systemd, or set ip = \"truncate\"")
            failed = true
        }
        let settle = reader.duration(section, "settle", range: ConfigDuration(seconds: 0)...ConfigDuration(seconds: 7 * 86400),
                                     example: "10m")
        let anonymize = decodeLogAnonymization(section, legacyIP: section.table["ip"] == nil ? nil : ip)
        if failed || anonymize == nil || (section.table["retain"] != nil && retain == nil) || (section.table["key_file"] != nil && keyFile == nil)
            || (section.table["key_credential"] != nil && keyCredential == nil) || (section.table["settle"] != nil && settle == nil) {
            return nil
        }
        var logs = Configuration.Logs(sources: sources, retain: retain ?? defaults.retain, ip: ip, keyFile: keyFile,
                                      keyCredential: keyCredential, settle: settle ?? Configuration.Defaults.logsSettle)
        if let anonymize { logs.anonymize = anonymize }
        return logs
    }
}
