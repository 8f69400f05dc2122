import DRTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `[repository] key_credential` / `password_credential` and S3 `systemd_credential` end to
/// end through the binary: the secrets come from `$CREDENTIALS_DIRECTORY`, set here in the
/// child's environment as systemd sets it for a unit with `LoadCredential=`.
@Suite("repository key from $CREDENTIALS_DIRECTORY")
struct RepositoryCredentialTests {
    /// A folder laid out as systemd lays out a unit's credentials: one file per credential,
    /// read-only for the unit's user.
    static func credentialsFolder(in home: BackupHome, named name: String = "credentials",
                                  _ files: [String: String]) throws -> String {
        let folder = "\(home.root)/\(name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        for (name, contents) in files {
            let path = "\(folder)/\(name)"
            _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8),
                                               attributes: [.posixPermissions: 0o400])
        }
        return folder
    }

    static func randomKey() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() + "\n"
    }

    /// A home whose `[repository]` names `line` instead of its key file.
    static func home(repository line: String, specs: [TestTarget] = [.file("site-a"), .file("site-b")]) throws -> BackupHome {
        let home = try BackupHome(specs: specs)
        try home.replaceConfig { text in
            text.replacingOccurrences(of: "key_file = \"\(home.repositoryKeyFile)\"", with: line)
        }
        let text = try String(contentsOfFile: home.config, encoding: .utf8)
        try #require(text.contains(line), "the test configuration no longer has key_file where expected:\n\(text)")
        return home
    }

    @Test("init, backup and check --read-data with key_credential; the key is never written elsewhere")
    func keyCredential() throws {
        let home = try Self.home(repository: "key_credential = \"repository-key\"")
        let credentials = try Self.credentialsFolder(in: home, ["repository-key": Self.randomKey()])
        let mailboxes = try home.generate(cipher: "none", journal: "all", count: 2, messages: 50)

        let initialised = try home.drctl(["init"], credentials: credentials)
        #expect(initialised.status == 0, "init: \(initialised.stderr)")
        for target in ["site-a", "site-b"] {
            #expect(Files.exists("\(home.targetFolder(target))/config"), "no repository on \(target)")
        }
        // init read the credential; it did not generate a key file of its own anywhere.
        #expect(!Files.exists(home.repositoryKeyFile))
        #expect(try FileManager.default.contentsOfDirectory(atPath: credentials) == ["repository-key"])

        let backup = try home.drctl(["backup", "--json"], credentials: credentials)
        #expect(backup.status == 0, "backup: \(backup.stderr)")
        let report = try JSONDecoder().decode(BackupReport.self, from: Data(backup.stdout.utf8))
        #expect(report.files == mailboxes.count)

        let check = try home.drctl(["check", "--read-data"], credentials: credentials)
        #expect(check.status == 0, "check: \(check.stderr)\n\(check.stdout)")

        // Another key in the credential does not open the repository.
        let wrong = try Self.credentialsFolder(in: home, named: "wrong", ["repository-key": Self.randomKey()])
        let refused = try home.drctl(["snapshots"], credentials: wrong)
        #expect(refused.status == 77, "a wrong key: exit \(refused.status): \(refused.stderr)")
    }

    @Test("outside a unit ($CREDENTIALS_DIRECTORY unset): exit 78 naming the LoadCredential= line; init writes nothing")
    func credentialsDirectoryUnset() throws {
        let home = try Self.home(repository: "key_credential = \"repository-key\"")
        try home.generate(cipher: "none", journal: "wal", count: 1, messages: 20)

        let refused = try home.drctl(["init", "--json"], credentials: nil)
        #expect(refused.status == 78, "\(refused.stderr)")
        #expect(refused.stderr.contains("key_credential = \"repository-key\" is set, but $CREDENTIALS_DIRECTORY is not"), "\(refused.stderr)")
        #expect(refused.stderr.contains("LoadCredential=repository-key:/etc/drctl/repository.key"), "\(refused.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any]
        #expect((json?["error"] as? [String: Any])?["code"] as? String == "secret.credential", "\(refused.stdout)")
        for target in ["site-a", "site-b"] {
            #expect(!Files.exists("\(home.targetFolder(target))/config"), "init wrote a repository on \(target)")
        }

        // config check needs no key: it works outside the unit and shows the credential.
        let check = try home.drctl(["config", "check"], credentials: nil)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("key_credential    repository-key (systemd credential"), "\(check.stdout)")
        let checkJSON = try home.drctl(["config", "check", "--json"], credentials: nil)
        let object = try JSONSerialization.jsonObject(with: Data(checkJSON.stdout.utf8)) as? [String: Any]
        let repository = object?["repository"] as? [String: Any]
        #expect(repository?["key_credential"] as? String == "repository-key", "\(checkJSON.stdout)")

        // --key-file on the command line is the way outside the unit.
        let keyFile = try home.home.secretFile("outside.key", Self.randomKey())
        let outside = try home.drctl(["init", "--key-file", keyFile], credentials: nil)
        #expect(outside.status == 0, "\(outside.stderr)")
        let backup = try home.drctl(["backup"], credentials: nil)
        #expect(backup.status == 78, "a backup outside the unit must still refuse: \(backup.stderr)")
    }

    @Test("a credential the unit does not pass: exit 78, and init never creates a key among the credentials")
    func credentialMissing() throws {
        let home = try Self.home(repository: "key_credential = \"repository-key\"")
        let credentials = try Self.credentialsFolder(in: home, ["another-name": Self.randomKey()])
        let refused = try home.drctl(["init"], credentials: credentials)
        #expect(refused.status == 78, "\(refused.stderr)")
        #expect(refused.stderr.contains("\(credentials)/repository-key does not exist"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: credentials) == ["another-name"])
        #expect(!Files.exists("\(home.targetFolder("site-a"))/config"))
    }

    @Test("password_credential: a passphrase from $CREDENTIALS_DIRECTORY")
    func passwordCredential() throws {
        let home = try Self.home(repository: "password_credential = \"repository-password\"\nargon2_memory = \"8MiB\"\nargon2_iterations = 1")
        let credentials = try Self.credentialsFolder(in: home, ["repository-password": "correct horse battery staple\n"])
        try home.generate(cipher: "none", journal: "delete", count: 1, messages: 20)
        let initialised = try home.drctl(["init"], credentials: credentials)
        #expect(initialised.status == 0, "init: \(initialised.stderr)")
        let backup = try home.drctl(["backup"], credentials: credentials)
        #expect(backup.status == 0, "backup: \(backup.stderr)")
        let other = try Self.credentialsFolder(in: home, named: "other", ["repository-password": "another passphrase\n"])
        #expect(try home.drctl(["snapshots"], credentials: other).status == 77)
    }

    @Test("the unit's whole set-up: key_credential and an S3 target's systemd_credential (SeaweedFS)")
    func s3SystemdCredential() throws {
        let server = try S3TestServer.named("seaweedfs")
        let home = try Self.home(repository: "key_credential = \"repository-key\"",
                                 specs: [.file("site-a"), .s3("s3", server: server)])
        try home.replaceConfig { text in
            text.replacingOccurrences(of: "credentials_file = \"\(home.root)/s3.credentials\"",
                                      with: "systemd_credential = \"s3-credentials\"")
        }
        try FileManager.default.removeItem(atPath: "\(home.root)/s3.credentials")
        #expect(try String(contentsOfFile: home.config, encoding: .utf8).contains("systemd_credential = \"s3-credentials\""))
        let credentials = try Self.credentialsFolder(in: home, ["repository-key": Self.randomKey(),
                                                                "s3-credentials": server.credentialsFileText()])
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 2, messages: 30)

        let initialised = try home.drctl(["init"], credentials: credentials)
        #expect(initialised.status == 0, "init: \(initialised.stderr)")
        let backup = try home.drctl(["backup", "--json"], credentials: credentials)
        #expect(backup.status == 0, "backup: \(backup.stderr)")
        let report = try JSONDecoder().decode(BackupReport.self, from: Data(backup.stdout.utf8))
        #expect(report.files == mailboxes.count)
        #expect(report.targets.map(\.name).sorted() == ["s3", "site-a"])
        let failed = report.targets.filter { !$0.ok }.map { "\($0.name): \($0.error ?? "?")" }
        #expect(failed.isEmpty, "\(failed)")

        // Without the S3 credential the target is left out with target.credentials, named.
        let key = try String(contentsOfFile: "\(credentials)/repository-key", encoding: .utf8)
        let keyOnly = try Self.credentialsFolder(in: home, named: "key-only", ["repository-key": key])
        let degraded = try home.drctl(["backup"], credentials: keyOnly)
        #expect(degraded.status == 2, "\(degraded.stderr)")
        #expect(degraded.stderr.contains("s3-credentials") || degraded.stdout.contains("s3-credentials"),
                "the missing credential is not named: \(degraded.stderr)\n\(degraded.stdout)")
    }
}

extension BackupHome {
    /// `drctl ARGUMENTS --config CONFIG` with `$CREDENTIALS_DIRECTORY` set to `credentials`
    /// (nil: unset, as outside a unit).
    func drctl(_ arguments: [String], credentials: String?) throws -> ProcessResult {
        var environment = home.environment
        if let credentials { environment["CREDENTIALS_DIRECTORY"] = credentials }
        return try BinaryRunner.run(Drctl.binary, arguments + ["--config", config], environment: environment,
                                    inheritEnvironment: false, currentDirectory: root)
    }
}
