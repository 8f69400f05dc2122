import DRBase
import DRConfig
import Testing

/// `[repository] password_credential` and `key_credential`: names of systemd credentials,
/// exactly one unlock key of four.
@Suite("Configuration decoder: repository credentials")
struct RepositoryCredentialDecodingTests {
    static func text(_ repository: String) -> String {
        """
        [store]
        path = "/var/lib/mail/mailboxes"

        [repository]
        \(repository)

        [[target]]
        name = "a"
        url = "file:///mnt/a"

        """
    }

    static func decode(_ repository: String) throws(ConfigError) -> Configuration {
        try ConfigurationLoader.decode(text: text(repository), path: "/etc/drctl/drctl.toml")
    }

    static func failure(_ repository: String) -> ConfigError? {
        do {
            _ = try decode(repository)
            return nil
        } catch {
            return error
        }
    }

    @Test("key_credential and password_credential decode to their names, not to paths")
    func names() throws {
        let key = try Self.decode("key_credential = \"repository-key\"")
        #expect(key.repository.keyCredential == "repository-key")
        #expect(key.repository.keyFile == nil && key.repository.passwordFile == nil && key.repository.passwordCredential == nil)
        // A credential is not a file drctl can look at outside the unit: config check lists no secret file for it.
        #expect(!key.secretFiles.contains { $0.key.hasPrefix("repository.") })
        let password = try Self.decode("password_credential = \"repository.pass\"")
        #expect(password.repository.passwordCredential == "repository.pass")
    }

    @Test("exactly one of the four unlock keys", arguments: [
        "key_file = \"/k\"\nkey_credential = \"k\"",
        "password_file = \"/p\"\npassword_credential = \"p\"",
        "key_credential = \"k\"\npassword_credential = \"p\"",
    ])
    func exactlyOne(_ repository: String) throws {
        let error = try #require(Self.failure(repository))
        #expect(error.code == .configInvalidValue)
        #expect(error.message.contains("both set — keep exactly one of password_file, key_file, password_credential, key_credential"), "\(error.message)")
    }

    @Test("none of the four: the message names the credential keys too")
    func none() throws {
        let error = try #require(Self.failure("argon2_iterations = 3"))
        #expect(error.code == .configMissingKey)
        #expect(error.message.contains("missing password_file or key_file"))
        #expect(error.message.contains("password_credential or key_credential"), "\(error.message)")
    }

    @Test("a credential name is a plain file name", arguments: ["../repository.key", "/etc/drctl/repository.key", "..", "a/b"])
    func badName(_ name: String) throws {
        let error = try #require(Self.failure("key_credential = \"\(name)\""))
        #expect(error.code == .configInvalidValue)
        #expect(error.message.contains("is not a credential name"), "\(error.message)")
        #expect(error.problems.count == 1, "\(error.message)")
    }

    @Test("an empty or non-string credential name is refused")
    func wrongType() throws {
        #expect(try #require(Self.failure("key_credential = 3")).code == .configType)
        #expect(try #require(Self.failure("key_credential = \"\"")).code == .configInvalidValue)
    }
}
