import Foundation
import Testing

/// libsodium carries on when it cannot lock key memory; drctl must then say that keys may
/// reach swap rather than keep claiming locked memory.
@Suite("key memory locking (end to end)")
struct KeyMemoryTests {
    @Test("with no lockable memory drctl warns that keys may reach swap; with it, it does not")
    func warnsWhenMemoryCannotBeLocked() throws {
        let home = try TemporaryHome()
        let initialized = try home.drctl(["init"])
        try #require(initialized.status == 0, "init failed: \(initialized.stderr)")

        let normal = try home.drctl(["key", "list"])
        #expect(normal.status == 0)
        #expect(!normal.stderr.contains("could not be locked"), "a warning without cause: \(normal.stderr)")

        // Root may lock memory whatever the limit (CAP_IPC_LOCK): drop that capability, then
        // allow no locked memory at all.
        let limited = try home.run("setpriv", ["--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock",
                                               "prlimit", "--memlock=0", Drctl.binary, "key", "list"])
        #expect(limited.status == 0, "the command itself must still work: \(limited.stderr)")
        #expect(limited.stdout.contains("key-file"))
        #expect(limited.stderr.contains("could not be locked in memory"), "no warning: \(limited.stderr)")
        #expect(limited.stderr.contains("LimitMEMLOCK="))
    }
}
