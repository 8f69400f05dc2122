import DRBase

extension ConfigurationDecoder {
    /// The `[[target]]` keys that a file:// target refuses.
    static let s3OnlyKeys = ["credentials_file", "systemd_credential", "addressing", "ca_file",
                             "allow_insecure_http", "allow_public", "object_lock", "upload_limit",
                             "concurrency", "part_size", "request_timeout"]

    /// The keys of an s3:// `[[target]]` besides url, endpoint and region.
    mutating func decodeS3Options(_ section: Section, _ table: TOMLTable, bucket: String,
                                  targetName: String) -> Configuration.Target.S3Options {
        var options = Configuration.Target.S3Options()
        let credentialsFile = table["credentials_file"]
        if let entry = table["systemd_credential"] {
            options.systemdCredential = credentialName(section, "systemd_credential", example: "\(targetName)-s3")
            if credentialsFile != nil {
                reader.invalid(section, entry, "credentials_file and systemd_credential are both set: keep one (systemd_credential when systemd passes the file with LoadCredential=, credentials_file otherwise)")
            }
        } else if credentialsFile == nil {
            reader.missing(section, "credentials_file",
                           "credentials_file = \"/etc/drctl/\(targetName).credentials\" (a TOML file with access_key_id and secret_access_key, mode 0600), or systemd_credential = \"NAME\" for a unit with LoadCredential=NAME:/path")
        }
        if let (text, entry) = reader.string(section, "addressing", example: "\"path\"") {
            if let addressing = Configuration.Target.S3Options.Addressing(rawValue: text) {
                options.addressing = addressing
            } else {
                reader.invalid(section, entry, "\(quoted(text)) is not an addressing style: expected \"path\" (https://host/bucket/key, every S3 server) or \"virtual\" (https://bucket.host/key)")
            }
        }
        options.caFile = reader.path(section, "ca_file", example: "/etc/drctl/s3-ca.pem")
        options.allowInsecureHTTP = reader.boolean(section, "allow_insecure_http") ?? false
        options.allowPublic = reader.boolean(section, "allow_public") ?? false
        options.objectLock = decodeObjectLock(section)
        options.uploadLimit = reader.byteSize(section, "upload_limit", range: (64 << 10)...(100 << 30), example: "20MiB")
        if let concurrency = reader.integer(section, "concurrency", range: 1...64, example: "4") {
            options.concurrency = concurrency
        }
        // S3 parts are 5 MiB to 5 GiB (all but the last).
        if let partSize = reader.byteSize(section, "part_size", range: (5 << 20)...(5 << 30), example: "16MiB") {
            options.partSize = partSize
        }
        if let timeout = reader.duration(section, "request_timeout",
                                         range: ConfigDuration(seconds: 1)...ConfigDuration(seconds: 3600), example: "2m") {
            options.requestTimeout = timeout
        }
        return options
    }

    /// `object_lock = { mode = "compliance", days = 30 }`.
    private mutating func decodeObjectLock(_ section: Section) -> Configuration.Target.S3Options.ObjectLock? {
        let example = "object_lock = { mode = \"compliance\", days = 30 }"
        guard let entry = section.table["object_lock"] else { return nil }
        guard case .table(let lock) = entry.node.value else {
            reader.wrongType(section, entry, "an inline table like \(example)")
            return nil
        }
        let inner = Section(table: lock, context: "\(section.context): object_lock", allowed: ["mode", "days"])
        reader.checkUnknownKeys(inner)
        var mode: Configuration.Target.S3Options.ObjectLock.Mode?
        if let (text, modeEntry) = reader.string(inner, "mode", example: "\"compliance\"") {
            mode = .init(rawValue: text)
            if mode == nil {
                reader.invalid(inner, modeEntry, "\(quoted(text)) is not a retention mode: expected \"compliance\" (no one, not even the bucket owner, can delete before the date) or \"governance\" (users with s3:BypassGovernanceRetention can)")
            }
        } else if lock["mode"] == nil {
            reader.missing(inner, "mode", example)
        }
        let days = reader.integer(inner, "days", range: 1...36500, example: "30")
        if days == nil && lock["days"] == nil {
            reader.missing(inner, "days", example)
        }
        guard let mode, let days else { return nil }
        return .init(mode: mode, days: days)
    }
}
