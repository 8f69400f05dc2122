import Foundation
import Testing

/// A key object is input that anyone able to write to a target may have planted. One asking
/// for Argon2id with 2³²−1 passes (over a modest 64 MiB, so that libsodium accepts it and
/// would compute for years) must be refused before it is tried, not hang every command.
@Suite("a planted key object with huge Argon2id parameters (end to end)")
struct PlantedKeyTests {
    @Test("the repository still opens at once with the right passphrase, on every target", .timeLimit(.minutes(2)))
    func hugeParametersRefused() throws {
        let home = try TemporaryHome()
        let passwordFile = try home.secretFile("repository.pass", "correct horse battery staple\n")
        let config = try home.configFile(passwordFile: passwordFile)
        try FileManager.default.createDirectory(atPath: home.root + "/mailstore", withIntermediateDirectories: true)
        let initialized = try home.drctl(["init", "--config", config])
        try #require(initialized.status == 0, "init failed: \(initialized.stderr)")
        let genuine = try home.listKeys(["--config", config])
        try #require(genuine.count == 1)

        // A well-formed passphrase key object, content-addressed like every key object.
        let object = #"{"created":"2026-12-02T00:00:00.000Z","format":"drctl-key-v1","host":"attacker","kdf":{"algorithm":"argon2id13","memLimit":67108864,"opsLimit":4294967295,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="},"kind":"passphrase","repository":"x","user":"x","wrappedKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
        let hash = try home.run("python3", ["-c", "import hashlib,sys; print(hashlib.blake2b(sys.argv[1].encode(), digest_size=32).hexdigest())", object])
        let id = hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(id.count == 64, "no id: \(hash.stderr)")
        for site in ["site-a", "site-b"] {
            try Data(object.utf8).write(to: URL(fileURLWithPath: "\(home.root)/targets/\(site)/keys/\(id)"))
        }

        let started = Date()
        let listed = try home.drctl(["key", "list", "--json", "--config", config])
        let seconds = Date().timeIntervalSince(started)
        #expect(listed.status == 0, "the planted key locked the repository: \(listed.stderr)")
        #expect(listed.stdout.contains(genuine[0].id), "the genuine key is not listed: \(listed.stdout)")
        #expect(seconds < 30, "opening took \(seconds) s: the planted parameters were obeyed")
        // A wrong passphrase tries every candidate, the planted one included: it must be a
        // plain wrong key (77), not an Argon2id run over 4 TiB (out of memory, 75, or a hang).
        let wrong = try home.secretFile("wrong.pass", "not the passphrase\n")
        let process = try RunningProcess(Drctl.binary, ["key", "list", "--config", config, "--password-file", wrong],
                                         environment: home.environment, inheritEnvironment: false)
        let deadline = Date().addingTimeInterval(30)
        while process.process.isRunning && Date() < deadline { usleep(50_000) }
        let hung = process.process.isRunning
        if hung { process.signal(SIGKILL) }
        let refused = process.wait()
        #expect(!hung, "a wrong passphrase ran the planted Argon2id parameters (killed after 30 s)")
        #expect(refused.status == 77, "exit \(refused.status): \(refused.stderr)")
        #expect(refused.stderr.contains("not tried"), "the planted key is not mentioned: \(refused.stderr)")
        let checked = try home.drctl(["check", "--json", "--config", config])
        #expect(checked.stdout.contains(id) || checked.stderr.contains(id), "check does not name the planted key \(id)")
    }
}
