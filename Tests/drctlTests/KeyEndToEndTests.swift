import Foundation
import Testing

/// `drctl init` and `drctl key …` end to end through the built binary, on the embedded
/// default (no configuration file) and on a configuration with a passphrase.
@Suite("init and key management through the binary")
struct KeyEndToEndTests {
    @Test("init on the embedded default creates the repository on both targets and a 0600 key file")
    func initEmbeddedDefault() throws {
        let home = try TemporaryHome()
        let result = try home.drctl(["init"])
        #expect(result.status == 0, "init failed: \(result.stderr)")
        let data = home.dataDirectory
        for target in ["local-a", "local-b"] {
            let root = "\(data)/targets/\(target)"
            #expect(FileManager.default.fileExists(atPath: "\(root)/config"), "no config on \(target)")
            let keys = try FileManager.default.contentsOfDirectory(atPath: "\(root)/keys")
            #expect(keys.count == 1, "\(target) should hold one key object, holds \(keys)")
        }
        let keyFile = "\(data)/repository.key"
        let mode = try #require(FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let keyText = try String(contentsOfFile: keyFile, encoding: .utf8)
        #expect(keyText.trimmingCharacters(in: .newlines).count == 64)
        // The key must not be echoed anywhere.
        #expect(!result.stdout.contains(keyText.trimmingCharacters(in: .newlines)))
        #expect(!result.stderr.contains(keyText.trimmingCharacters(in: .newlines)))

        // A second init refuses and changes nothing.
        let before = try home.snapshotOfTargets()
        let again = try home.drctl(["init"])
        #expect(again.status == 73)
        #expect(again.stderr.contains("already holds a repository"))
        #expect(try home.snapshotOfTargets() == before)
    }

    @Test("key add, list, passwd and remove on the embedded default")
    func keyLifecycle() throws {
        let home = try TemporaryHome()
        try #require(home.drctl(["init"]).status == 0)

        let recovery = "\(home.root)/recovery.key"
        let added = try home.drctl(["key", "add", "--new-key-file", recovery, "--json"])
        #expect(added.status == 0, "key add failed: \(added.stderr)")
        let addedJSON = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
        let addedID = try #require(addedJSON?["id"] as? String)
        #expect(addedJSON?["createdKeyFile"] as? String == recovery)
        let recoveryMode = try FileManager.default.attributesOfItem(atPath: recovery)[.posixPermissions] as? Int
        #expect(recoveryMode == 0o600)

        var keys = try home.listKeys()
        #expect(keys.count == 2)
        #expect(keys.filter { $0.current }.count == 1)
        #expect(keys.contains { $0.id == addedID && !$0.current })
        for key in keys { #expect(Set(key.targets) == ["local-a", "local-b"]) }
        let original = try #require(keys.first { $0.current }).id

        // The key in use cannot be removed…
        let removeCurrent = try home.drctl(["key", "remove", String(original.prefix(8))])
        #expect(removeCurrent.status == 64)
        #expect(removeCurrent.stderr.contains("unlocked with"))

        // …but the other key opens the repository too, and can remove the original.
        let removeOriginal = try home.drctl(["key", "remove", "--key-file", recovery, String(original.prefix(8))])
        #expect(removeOriginal.status == 0, "\(removeOriginal.stderr)")
        keys = try home.listKeys(["--key-file", recovery])
        #expect(keys.map(\.id) == [addedID])

        // The last key is never removed.
        let removeLast = try home.drctl(["key", "remove", "--key-file", recovery, addedID])
        #expect(removeLast.status == 64)
        #expect(removeLast.stderr.contains("only key"))

        // passwd replaces the key in use with a new one, on every target.
        let replacement = "\(home.root)/replacement.key"
        let passwd = try home.drctl(["key", "passwd", "--key-file", recovery, "--new-key-file", replacement, "--json"])
        #expect(passwd.status == 0, "\(passwd.stderr)")
        keys = try home.listKeys(["--key-file", replacement])
        #expect(keys.count == 1)
        #expect(keys.first?.id != addedID)
        #expect(keys.first?.current == true)
        // The replaced key no longer opens the repository.
        let old = try home.drctl(["key", "list", "--key-file", recovery])
        #expect(old.status == 77)
    }

    @Test("a wrong passphrase is a clear error with exit 77 and nothing is written")
    func wrongPassphrase() throws {
        let home = try TemporaryHome()
        let right = try home.secretFile("right.pass", "correct horse battery staple\n")
        let wrong = try home.secretFile("wrong.pass", "incorrect horse\n")
        let config = try home.configFile(passwordFile: right)
        let created = try home.drctl(["init", "--config", config])
        #expect(created.status == 0, "\(created.stderr)")
        let before = try home.snapshotOfTargets()

        for command in [["key", "list"], ["key", "add", "--new-password-file", right]] {
            let result = try home.drctl(command + ["--config", config, "--password-file", wrong])
            #expect(result.status == 77, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("opens none of the"))
            #expect(result.stderr.contains(wrong))
            #expect(!result.stderr.contains("incorrect horse"))
        }
        #expect(try home.snapshotOfTargets() == before)

        let listed = try home.drctl(["key", "list", "--config", config, "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
    }

    @Test("a key file readable by others is refused, saying why")
    func looseKeyFile() throws {
        let home = try TemporaryHome()
        try #require(home.drctl(["init"]).status == 0)
        let keyFile = "\(home.dataDirectory)/repository.key"
        #expect(chmod(keyFile, 0o644) == 0)
        let result = try home.drctl(["key", "list"])
        #expect(result.status == 78)
        #expect(result.stderr.contains(keyFile))
        #expect(result.stderr.contains("chmod 600"))
    }

    @Test("the process disables core dumps and is not dumpable, even when started with a core limit")
    func coreDumpsOff() throws {
        let home = try TemporaryHome()
        // Raise the soft limit to the hard one (unlimited unless the caller lowered it), so that
        // drctl starts with core dumps allowed and must turn them off itself.
        let result = try home.run("/bin/sh", ["-c", "ulimit -S -c \"$(ulimit -H -c)\" && exec \"$0\" debug process --json", Drctl.binary])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["coreLimitSoft"] as? Int == 0)
        #expect(json["coreLimitHard"] as? Int == 0)
        #expect(json["dumpable"] as? Bool == false)
        // What the kernel itself reports for the process.
        let limits = try #require(json["procLimitsCoreLine"] as? String)
        #expect(limits.split(separator: " ", omittingEmptySubsequences: true).suffix(3).prefix(2) == ["0", "0"])
    }
}
