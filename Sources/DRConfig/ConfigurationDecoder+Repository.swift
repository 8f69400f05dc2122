import DRBase
extension ConfigurationDecoder {
    /// The four ways to name the repository's unlock secret; exactly one is set.
    static let repositoryUnlockKeys = ["password_file", "key_file", "password_credential", "key_credential"]

    /// `[repository]`: required, with exactly one way to unlock the repository key.
    mutating func decodeRepository(_ root: TOMLTable) -> Configuration.Repository? {
        let how = "password_file = \"/etc/drctl/repository.pass\" or key_file = \"/etc/drctl/repository.key\""
        guard root["repository"] != nil else {
            reader.report(.configMissingKey, line: nil, "missing section [repository] — add it with \(how)")
            return nil
        }
        guard let section = singleSection(root, "repository") else { return nil }
        reader.checkUnknownKeys(section)
        let passwordFile = reader.path(section, "password_file", example: "/etc/drctl/repository.pass")
        let keyFile = reader.path(section, "key_file", example: "/etc/drctl/repository.key")
        let passwordCredential = credentialName(section, "password_credential", example: "repository-password")
        let keyCredential = credentialName(section, "key_credential", example: "repository-key")
        // Exactly one: drctl runs unattended from a timer, where a prompt would hang, and two
        // ways to unlock would leave it unclear which one a key change should touch.
        let present = Self.repositoryUnlockKeys.filter { section.table[$0] != nil }
        if present.isEmpty {
            reader.report(.configMissingKey, line: section.table.line,
                          "[repository]: missing password_file or key_file — add \(how) (drctl runs unattended, so it does not prompt for the passphrase); under systemd, password_credential or key_credential = \"NAME\" reads the file that LoadCredential=NAME:/path passes to the unit")
        } else if present.count > 1, let entry = section.table[present[1]] {
            reader.report(.configInvalidValue, line: entry.line,
                          "[repository]: \(present.joined(separator: " and ")) are both set — keep exactly one of \(Self.repositoryUnlockKeys.joined(separator: ", "))")
        }
        let memory = argon2Memory(section) ?? Configuration.Defaults.argon2Memory
        let iterations = reader.integer(section, "argon2_iterations", range: 1...64, example: "3")
            ?? Configuration.Defaults.argon2Iterations
        let valid = [passwordFile, keyFile, passwordCredential, keyCredential].compactMap { $0 }
        guard present.count == 1, valid.count == 1 else { return nil }
        return Configuration.Repository(passwordFile: passwordFile, keyFile: keyFile,
                                        passwordCredential: passwordCredential, keyCredential: keyCredential,
                                        argon2Memory: memory, argon2Iterations: iterations)
    }

    /// `argon2_memory`, a byte size; nil when absent or wrong (reported).
    private mutating func argon2Memory(_ section: Section) -> Int? {
        guard let entry = section.table["argon2_memory"] else { return nil }
        guard case .string(let text) = entry.node.value else {
            reader.wrongType(section, entry, "a size string like \"256MiB\"")
            return nil
        }
        guard let bytes = ByteSize.parse(text) else {
            reader.invalid(section, entry, "\(quoted(text)) is not a size: expected a whole number and a unit, like \"256MiB\" or \"1GiB\" (units KiB, MiB, GiB)")
            return nil
        }
        if bytes < 8 << 20 || bytes > 16 << 30 {
            reader.invalid(section, entry, "\(quoted(text)) is out of range: expected 8MiB to 16GiB")
            return nil
        }
        if bytes % 1024 != 0 {
            reader.invalid(section, entry, "\(quoted(text)) must be a whole number of KiB")
            return nil
        }
        return bytes
    }
}
