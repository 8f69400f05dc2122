import Foundation
import Testing

/// A passphrase prompt turns the terminal's echo off; a signal there (Ctrl-C) must not leave
/// it off, or the operator's shell is silent afterwards.
@Suite("passphrase prompt")
struct PassphrasePromptTests {
    struct Outcome: Decodable {
        var prompt: String
        var echoDuringPrompt: Bool
        var signalled: Bool
        var signal: Int32?
        var echoAfter: Bool
    }

    @Test("Ctrl-C at the prompt ends drctl by SIGINT and restores the terminal's echo")
    func interruptRestoresEcho() throws {
        let home = try TemporaryHome()
        let initialized = try home.drctl(["init"])
        try #require(initialized.status == 0, "init failed: \(initialized.stderr)")
        let script = ImageWorkspace.repositoryRoot + "/scripts/lib/tests/pty-interrupt.py"
        let result = try home.run("python3", [script, Drctl.binary, home.root, "\u{03}", "key", "add"])
        try #require(result.status == 0, "the pty driver failed: \(result.stderr)")
        let outcome = try JSONDecoder().decode(Outcome.self, from: Data(result.stdout.utf8))
        #expect(outcome.prompt.contains("New passphrase"), "no prompt seen: \(outcome.prompt)")
        #expect(!outcome.echoDuringPrompt, "echo was on while the passphrase was typed")
        #expect(outcome.signalled && outcome.signal == SIGINT)
        #expect(outcome.echoAfter, "the terminal was left with echo off")
    }
}
