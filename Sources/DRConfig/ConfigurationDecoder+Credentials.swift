extension ConfigurationDecoder {
    /// A systemd credential name (`systemd_credential`, `key_credential`, …): the NAME of
    /// `LoadCredential=NAME:/path`, read as `$CREDENTIALS_DIRECTORY/NAME` when used. Only the
    /// name is checked here, never the file: `config check` runs outside the unit, where
    /// there is no credentials folder. Nil when absent or invalid (reported).
    mutating func credentialName(_ section: Section, _ key: String, example: String) -> String? {
        guard let (name, entry) = reader.string(section, key, example: quoted(example)) else { return nil }
        // A credential name is a file name in $CREDENTIALS_DIRECTORY; a path would escape it.
        if name.contains("/") || name == "." || name == ".." || name.unicodeScalars.contains("\u{0}") {
            reader.invalid(section, entry, "\(quoted(name)) is not a credential name: expected a plain file name, the NAME of LoadCredential=NAME:/path in the unit (no '/')")
            return nil
        }
        return name
    }
}
