extension ConfigurationDecoder {
    /// `[state]`: decoded first, because `[drill]`'s default report folder lies in it.
    mutating func decodeState(_ root: TOMLTable) -> String {
        let fallback = Configuration.Defaults.stateDirectory
        guard let section = singleSection(root, "state") else { return fallback }
        reader.checkUnknownKeys(section)
        return reader.path(section, "path", example: fallback) ?? fallback
    }
}

extension ConfigurationDecoder {
    /// `[state] host`: 1–253 characters a host name may hold (letters, digits, `.`, `-`, `_`),
    /// since it is written into every snapshot and shown in every listing.
    mutating func decodeHost(_ root: TOMLTable) -> String? {
        // The section's shape was judged (and reported) by decodeState.
        guard case .table(let table)? = root["state"]?.node.value, let entry = table["host"] else { return nil }
        let section = Section(table: table, context: "[state]", allowed: Self.keys(of: "state"))
        guard case .string(let name) = entry.node.value else {
            reader.wrongType(section, entry, "a string like \"mx1\"")
            return nil
        }
        let allowed = name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || [0x2D, 0x2E, 0x5F].contains(byte)
        }
        guard (1...253).contains(name.utf8.count), allowed else {
            reader.invalid(section, entry, "\(quoted(name)) is not a host name: use 1 to 253 letters, digits, '.', '-' or '_' (it names this machine's snapshots)")
            return nil
        }
        return name
    }
}

extension ConfigurationDecoder {
    /// `[prune]`: optional; a key left out keeps its default.
    mutating func decodePrune(_ root: TOMLTable) -> Configuration.Prune? {
        var prune = Configuration.Prune()
        guard let section = singleSection(root, "prune") else {
            return root["prune"] == nil ? prune : nil
        }
        reader.checkUnknownKeys(section)
        let day = Int64(86400)
        let every = reader.duration(section, "every", range: ConfigDuration(seconds: 0)...ConfigDuration(seconds: 366 * day), example: "7d")
        let grace = reader.duration(section, "grace", range: ConfigDuration(seconds: 0)...ConfigDuration(seconds: 30 * day), example: "12h")
        let expiry = reader.duration(section, "backup_expiry", range: ConfigDuration(seconds: 3600)...ConfigDuration(seconds: 14 * day), example: "24h")
        for (key, value) in [("every", every), ("grace", grace), ("backup_expiry", expiry)] where section.table[key] != nil && value == nil {
            return nil
        }
        if let every { prune.every = every }
        if let grace { prune.grace = grace }
        if let expiry { prune.backupExpiry = expiry }
        return prune
    }
}

extension ConfigurationDecoder {
    /// `[backup]`: optional; how a backup stores what it reads.
    mutating func decodeBackup(_ root: TOMLTable) -> Configuration.Backup? {
        var backup = Configuration.Backup()
        guard let section = singleSection(root, "backup") else {
            return root["backup"] == nil ? backup : nil
        }
        reader.checkUnknownKeys(section)
        if let (text, entry) = reader.string(section, "compression", example: "\"standard\"") {
            guard let compression = Configuration.Backup.Compression(rawValue: text) else {
                reader.invalid(section, entry, "\(quoted(text)) is not a compression: expected \"standard\" (zstd level 1, the default), \"fast\" (zstd's fastest level: about a third less zstd time on plain pages for about 3 % more stored) or \"off\" (pages stored as they are)")
                return nil
            }
            backup.compression = compression
        }
        return backup
    }
}
