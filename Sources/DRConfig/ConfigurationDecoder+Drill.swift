extension ConfigurationDecoder {
    /// `[drill]`: optional; reports go under the state folder unless `report_dir` says.
    mutating func decodeDrill(_ root: TOMLTable, stateDirectory: String) -> Configuration.Drill? {
        let reports = Paths.resolve("reports", against: stateDirectory)
        let defaults = Configuration.Drill(every: Configuration.Defaults.drillEvery,
                                           sample: Configuration.Defaults.drillSample,
                                           signingKeyFile: nil, reportDirectory: reports)
        guard let section = singleSection(root, "drill") else {
            return root["drill"] == nil ? defaults : nil
        }
        reader.checkUnknownKeys(section)
        let every = reader.duration(section, "every", range: ConfigDuration(seconds: 3600)...ConfigDuration(seconds: 365 * 86400),
                                    example: "7d")
        let sample = reader.integer(section, "sample", range: 1...100_000, example: "10")
        let signing = reader.path(section, "signing_key_file", example: "/etc/drctl/drill-signing.key")
        let reportDirectory = reader.path(section, "report_dir", example: "/var/lib/drctl/reports")
        let verifyCommand = decodeVerifyCommand(section)
        let verifyMailboxes = decodeRelativeGlobs(section, "verify_mailboxes", example: "[\"users/drill-*.sqlite\"]")
        let canary = decodeCanary(section)
        for (key, value) in [("every", every != nil), ("sample", sample != nil),
                             ("signing_key_file", signing != nil), ("report_dir", reportDirectory != nil),
                             ("verify_command", verifyCommand != nil), ("verify_mailboxes", verifyMailboxes != nil),
                             ("canary", canary != nil)]
        where section.table[key] != nil && !value {
            return nil
        }
        return Configuration.Drill(every: every ?? defaults.every, sample: sample ?? defaults.sample,
                                   signingKeyFile: signing, reportDirectory: reportDirectory ?? reports,
                                   verifyCommand: verifyCommand, verifyMailboxes: verifyMailboxes ?? ["**"],
                                   canary: canary)
    }

    /// `verify_command = ["/usr/local/bin/check-mailbox", "--key-file", "/etc/…"]`: an argv, not
    /// a shell line (a mailbox path is never parsed by a shell); the program by absolute path,
    /// so that what runs does not depend on the timer's PATH.
    private mutating func decodeVerifyCommand(_ section: ConfigurationReader.Section) -> [String]? {
        guard let (items, entry) = reader.stringArray(section, "verify_command",
                                                      example: "[\"/usr/local/bin/check-mailbox\", \"--quiet\"]") else { return nil }
        guard let program = items.first else {
            reader.invalid(section, entry, "must name at least the program, like [\"/usr/local/bin/check-mailbox\"]; the restored mailbox's path is appended")
            return nil
        }
        guard program.hasPrefix("/") else {
            reader.invalid(section, entry, "\(quoted(program)): give the program's absolute path, like \"/usr/local/bin/check-mailbox\" (the drill does not search PATH)")
            return nil
        }
        return items
    }

    /// Globs relative to the store, as `[store] include`.
    private mutating func decodeRelativeGlobs(_ section: ConfigurationReader.Section, _ key: String, example: String) -> [String]? {
        guard let (items, entry) = reader.stringArray(section, key, example: example) else { return nil }
        if let absolute = items.first(where: { $0.hasPrefix("/") }) {
            reader.invalid(section, entry, "\(quoted(absolute)): patterns are relative to [store] path; remove the leading /")
            return nil
        }
        return items
    }

    /// `canary = "drctl-canary.sqlite"`: a path relative to the store, inside it.
    private mutating func decodeCanary(_ section: ConfigurationReader.Section) -> String? {
        guard let (text, entry) = reader.string(section, "canary", example: "\"drctl-canary.sqlite\"") else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if text.hasPrefix("/") || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
            || text.unicodeScalars.contains("\u{0}") {
            reader.invalid(section, entry, "\(quoted(text)): give a path relative to [store] path, inside it, like \"drctl-canary.sqlite\"")
            return nil
        }
        return text
    }
}
