import Foundation
import Testing

/// One target gone (an NFS mount missing, a bucket unreachable): the others still get their
/// backup, the run says which target missed it, and the target catches up when it is back.
@Suite("a target that is not there")
struct BackupUnavailableTargetTests {
    @Test("backup goes on without an unmounted target (exit 2, degraded, naming it), restore works, check flags it; it catches up when back")
    func unmountedTarget() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 2, messages: 150)
        try home.initRepository()
        _ = try home.backupOK()

        let siteB = home.targetFolder("site-b")
        let away = siteB + ".unmounted"
        try FileManager.default.moveItem(atPath: siteB, toPath: away)
        try home.write(mailboxes[0], transactions: 5, seed: 3)

        let (result, report) = try home.backup()
        #expect(result.status == 2, "\(result.stderr)")
        let targets = try #require(report?.targets)
        #expect(targets.first { $0.name == "site-a" }?.ok == true)
        let missing = try #require(targets.first { $0.name == "site-b" })
        #expect(!missing.ok)
        #expect(missing.error?.contains("site-b") == true)
        #expect(missing.error?.contains("holds no repository") == true)
        let snapshot = try #require(report?.snapshot)

        // The new snapshot restores from the target that has it.
        let destination = "\(home.root)/restored"
        let (restored, restoreReport) = try home.restore(["--snapshot", snapshot, "--to", destination])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restoreReport?.restored.count == 2)
        let verdicts = try home.verify(["\(destination)/\(mailboxes[0].path)"], cipher: "chacha20")
        #expect(verdicts.first?.problems.isEmpty == true)

        // check names the missing target and fails.
        let (checked, checkReport) = try home.check([])
        #expect(checked.status == 3)
        #expect(checkReport?.targets.first { $0.target == "site-b" }?.errors.isEmpty == false)
        #expect(checkReport?.targets.first { $0.target == "site-a" }?.errors.isEmpty == true)

        // Back again: the next backup completes on both, and site-b verifies in full.
        try FileManager.default.moveItem(atPath: away, toPath: siteB)
        let caughtUp = try home.backupOK()
        #expect(caughtUp.targets.allSatisfy { $0.ok })
        let (final, finalReport) = try home.check(["--read-data"])
        #expect(final.status == 0, "\(final.stdout)")
        #expect(finalReport?.targets.allSatisfy { $0.errors.isEmpty } == true)
        // The latest snapshot is on both targets and restores from site-b alone.
        let latest = try #require(caughtUp.snapshot)
        let (fromB, _) = try home.restore(["--snapshot", latest, "--target", "site-b", "--to", "\(home.root)/from-b"])
        #expect(fromB.status == 0, "\(fromB.stderr)")
    }

    @Test("a second backup while one runs: exit 75 with a clear message, nothing written")
    func oneBackupAtATime() throws {
        let home = try BackupHome()
        try home.generate(cipher: "none", journal: "wal", count: 1, messages: 50)
        try home.initRepository()
        let state = "\(home.root)/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        // Hold the lock the way a running backup does.
        let fd = open("\(state)/backup.lock", O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let before = Files.all(under: home.targetFolder("site-a"))
        let (result, _) = try home.backup()
        #expect(result.status == 75)
        #expect(result.stderr.contains("another drctl backup is running"))
        #expect(Files.all(under: home.targetFolder("site-a")) == before)
        flock(fd, LOCK_UN)
        _ = try home.backupOK()
    }
}
