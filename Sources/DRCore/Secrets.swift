import DRBase
package import DRConfig
import DRCrypto
package import DRRepository

/// Where the secrets come from: files (the unattended way) or the terminal.
///
/// Never from an environment variable or an argument: both leak (to /proc/PID/environ,
/// `ps`, shell history, the environment of every child).
package struct SecretSources: Sendable {
    /// `--password-file` given on the command line; takes precedence over the configuration.
    package var passwordFile: String?
    /// `--key-file` given on the command line.
    package var keyFile: String?

    package init(passwordFile: String? = nil, keyFile: String? = nil) {
        self.passwordFile = passwordFile
        self.keyFile = keyFile
    }

    /// The file a repository secret comes from.
    package enum UnlockFile: Sendable, Equatable {
        case password(String)
        case key(String)
    }

    /// The one file to unlock with: the command line's, else the configuration's (a systemd
    /// credential is resolved now, so only a command that needs the key needs the unit's
    /// credentials). Nil when none is given: a terminal may still be asked.
    package func unlockFile(for configuration: Configuration) throws(CoreError) -> UnlockFile? {
        if let path = passwordFile { return .password(path) }
        if let path = keyFile { return .key(path) }
        if let path = try RepositoryCredentials.passwordFile(configuration.repository) { return .password(path) }
        if let path = try RepositoryCredentials.keyFile(configuration.repository) { return .key(path) }
        return nil
    }

    /// The secret that opens an existing repository.
    package func unlockSecret(for configuration: Configuration) throws(CoreError) -> UnlockSecret {
        switch try unlockFile(for: configuration) {
        case .password(let path)?: return try Self.passphrase(fromFile: path)
        case .key(let path)?: return try Self.keyFile(path)
        case nil: break
        }
        if PassphrasePrompt.isAvailable {
            let passphrase = try PassphrasePrompt.read(prompt: "Repository passphrase: ")
            do {
                return try UnlockSecret(passphrase: passphrase, origin: "the terminal")
            } catch {
                throw CoreError(error)
            }
        }
        throw CoreError(.secretNone, message: "no way to unlock the repository: set password_file or key_file (or, under systemd, password_credential or key_credential) under [repository] in the configuration, or pass --password-file (secrets are never taken from arguments or the environment)")
    }

    /// A new secret for `key add`, `key passwd` or `init`: from a password file, from a key
    /// file (created with a fresh random key if it does not exist yet), or typed twice.
    package static func newSecret(passwordFile: String?, keyFile: String?,
                                 createdKeyFile: inout String?) throws(CoreError) -> UnlockSecret {
        if let path = passwordFile {
            return try passphrase(fromFile: path)
        }
        if let path = keyFile {
            if !SecretFiles.exists(path) {
                let text: SecureBytes
                do { text = try KeyFileFormat.generate() } catch { throw CoreError(error) }
                try SecretFiles.create(path, contents: text, purpose: "key file")
                createdKeyFile = path
            }
            return try Self.keyFile(path)
        }
        if PassphrasePrompt.isAvailable {
            let first = try PassphrasePrompt.read(prompt: "New passphrase: ")
            let second = try PassphrasePrompt.read(prompt: "Repeat the new passphrase: ")
            guard first.constantTimeEquals(second) else {
                throw CoreError(.secretMismatch, message: "the two passphrases differ; nothing was changed")
            }
            do {
                return try UnlockSecret(passphrase: first, origin: "the terminal")
            } catch {
                throw CoreError(error)
            }
        }
        throw CoreError(.secretNoNewSecret, message: "no new secret given: pass --new-password-file PATH or --new-key-file PATH (a key file that does not exist is created with a random key)")
    }

    static func passphrase(fromFile path: String) throws(CoreError) -> UnlockSecret {
        let bytes: SecureBytes
        do {
            bytes = try SecureBytes.readSecretFile(path: path, purpose: "password file", trimTrailingNewline: true)
        } catch {
            throw CoreError(error)
        }
        do {
            return try UnlockSecret(passphrase: bytes, origin: path)
        } catch {
            throw CoreError(error)
        }
    }

    static func keyFile(_ path: String) throws(CoreError) -> UnlockSecret {
        let text: SecureBytes
        do {
            text = try SecureBytes.readSecretFile(path: path, purpose: "key file", trimTrailingNewline: true)
        } catch {
            let known = CoreError(error)
            if known.code == .cryptoSecretFileMissing {
                throw CoreError(known.code,
                                message: "\(known.message). If no repository exists yet, run drctl init (it creates the key file); otherwise put back the key file you kept, or point key_file (or --key-file) at it",
                                context: known.context, underlying: known.underlying)
            }
            throw known
        }
        do {
            return try UnlockSecret(keyFileContents: text, origin: path)
        } catch {
            throw CoreError(error)
        }
    }
}
