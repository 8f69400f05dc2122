import DRBase
import DRConfig

#if canImport(Glibc)
import Glibc
#endif

/// The repository's unlock secret when the configuration names a systemd credential
/// (`password_credential`, `key_credential`): the file `$CREDENTIALS_DIRECTORY/NAME`, the
/// private copy systemd makes for a unit with `LoadCredential=NAME:/path`, readable by the
/// unit's user alone, so the original can stay readable by root only.
///
/// Resolved when the secret is about to be read, never when the configuration is loaded:
/// `config check`, and every command that needs no key, work outside the unit.
package enum RepositoryCredentials {
    /// Where systemd puts a credential, or nil outside a unit that has credentials.
    package static var directory: String? {
        guard let value = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }), !value.isEmpty else {
            return nil
        }
        return value
    }

    /// The passphrase file: `password_file`, or the file of `password_credential`.
    static func passwordFile(_ repository: Configuration.Repository) throws(CoreError) -> String? {
        if let name = repository.passwordCredential {
            return try path(of: name, key: "password_credential", option: "--password-file",
                            original: "/etc/drctl/repository.pass")
        }
        return repository.passwordFile
    }

    /// The key file: `key_file`, or the file of `key_credential`.
    static func keyFile(_ repository: Configuration.Repository) throws(CoreError) -> String? {
        if let name = repository.keyCredential {
            return try path(of: name, key: "key_credential", option: "--key-file",
                            original: "/etc/drctl/repository.key")
        }
        return repository.keyFile
    }

    /// `$CREDENTIALS_DIRECTORY/NAME`, which must exist: drctl never creates a key there
    /// (`init` creates a missing `key_file`), because systemd's copy is a private, read-only
    /// folder that is gone when the unit stops, and a key made there would be lost with it.
    private static func path(of name: String, key: String, option: String, original: String) throws(CoreError) -> String {
        let line = "LoadCredential=\(name):\(original)"
        guard let directory else {
            throw CoreError(.secretCredential, message: "[repository] \(key) = \"\(name)\" is set, but $CREDENTIALS_DIRECTORY is not: this command runs outside a systemd unit that passes credentials. Add \(line) to the [Service] section of the unit that runs it (scripts/systemd/drctl.service has it), or, outside systemd, give the file itself with \(option) \(original)")
        }
        let path = directory + "/" + name
        guard SecretFiles.exists(path) else {
            throw CoreError(.secretCredential, message: "[repository] \(key) = \"\(name)\": \(path) does not exist, so the unit does not pass a credential of that name. Add \(line) to the unit's [Service] section (the name must match), then systemctl daemon-reload. drctl never creates a key among the credentials (that folder is gone when the unit stops): to start a repository, create the key file once with drctl init \(option) \(original), outside the unit",
                            context: ErrorContext(file: path))
        }
        return path
    }
}
