import DRBase
extension ConfigurationDecoder {
    /// `[store]`: required, because drctl cannot guess where the mailboxes are.
    mutating func decodeStore(_ root: TOMLTable) -> Configuration.Store? {
        guard root["store"] != nil else {
            reader.report(.configMissingKey, line: nil,
                          "missing section [store] — add it with path = \"/var/lib/mail/mailboxes\" (the folder holding the mailboxes)")
            return nil
        }
        guard let section = singleSection(root, "store") else { return nil }
        reader.checkUnknownKeys(section)
        let path = reader.path(section, "path", example: "/var/lib/mail/mailboxes")
        if section.table["path"] == nil {
            reader.missing(section, "path", "path = \"/var/lib/mail/mailboxes\" (the folder holding the mailboxes)")
        }
        var include = Configuration.Defaults.include
        if let (items, entry) = reader.stringArray(section, "include", example: "[\"**/*.sqlite\"]") {
            if items.isEmpty {
                reader.invalid(section, entry, "must name at least one pattern, like [\"**/*.sqlite\"]")
            } else if let absolute = items.first(where: { $0.hasPrefix("/") }) {
                reader.invalid(section, entry, "\(quoted(absolute)): patterns are relative to path; remove the leading /")
            } else {
                include = items
            }
        }
        var pageSize: Int?
        if let entry = section.table["fallback_page_size"],
           let value = reader.integer(section, "fallback_page_size", range: 512...65536, example: "4096") {
            if value & (value - 1) != 0 {
                reader.invalid(section, entry, "\(value) is not a SQLite page size: expected a power of two from 512 to 65536, like 4096")
            } else {
                pageSize = value
            }
        }
        guard let path else { return nil }
        return Configuration.Store(path: path, include: include, fallbackPageSize: pageSize)
    }
}
