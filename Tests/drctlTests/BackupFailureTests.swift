import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Failures around a backup: a wrong key, and a target whose disk is full.
@Suite("backup and restore failures: wrong key, full target")
struct BackupFailureTests {
    @Test("a wrong key file: exit 77, a clear message, nothing written to the targets or the destination")
    func wrongKey() throws {
        let fixture = try BackupHome()
        try fixture.generate(cipher: "none", journal: "all", count: 1, messages: 60, seed: 61)
        try fixture.initRepository()
        let id = try #require(try fixture.backupOK().snapshot)
        let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let wrong = try fixture.home.secretFile("wrong.key", hex + "\n")
        // Something to back up, so that a backup that got through would write.
        let extra = try fixture.generate(cipher: "none", journal: "wal", count: 1, messages: 30, seed: 62, subfolder: "new")
        #expect(extra.count == 1)
        let before = try fixture.home.snapshotOfTargets()
        try #require(!before.isEmpty)

        let destination = "\(fixture.root)/restored"
        let commands: [[String]] = [
            ["backup"],
            ["restore", "--snapshot", id, "--to", destination],
            ["restore", "--point-in-time", "now", "--to", destination],
            ["snapshots"],
            ["check", "--read-data"],
        ]
        for command in commands {
            let result = try fixture.drctl(command + ["--key-file", wrong])
            #expect(result.status == 77, "\(command): exit \(result.status), \(result.stderr)")
            #expect(result.stderr.hasPrefix("<3>drctl: error:"), "\(command): \(result.stderr)")
            #expect(result.stderr.contains("opens none of the"), "\(command): \(result.stderr)")
            #expect(result.stderr.contains(wrong), "\(command): the message should name the key file")
            #expect(!result.stderr.contains(hex) && !result.stdout.contains(hex), "the key must not be echoed")
        }
        #expect(try fixture.home.snapshotOfTargets() == before, "a target changed")
        #expect(!Files.exists(destination) || Files.all(under: destination).isEmpty,
                "written in the destination: \(Files.all(under: destination))")
    }

    @Test("a full target (2 MiB tmpfs): the other target gets the snapshot, exit 2 (degraded) naming the full one; check finds no error and no manifest pointing at missing data")
    func fullTarget() throws {
        let fixture = try BackupHome()
        let full = fixture.targetFolder("site-b")
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        let mount = try fixture.home.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", full])
        try #require(mount.status == 0,
                     "cannot mount a 2 MiB tmpfs on \(full) (this test needs root or CAP_SYS_ADMIN): \(mount.stderr)")
        defer {
            let unmount = (try? fixture.home.run("/bin/umount", [full]))?.status
            #expect(unmount == 0, "umount \(full) failed")
        }
        let mailboxes = try fixture.generate(count: 1, messages: 150, seed: 71)
        try fixture.initRepository()
        let storeBytes = mailboxes.reduce(Int64(0)) { $0 + Files.size("\(fixture.store)/\($1.path)") }
        #expect(storeBytes > 4 << 20, "the store (\(storeBytes) B) must be well over the 2 MiB target")

        let (result, parsed) = try fixture.backup()
        #expect(result.status == 2, "backup exit \(result.status): \(result.stderr)")
        let report = try #require(parsed, "backup printed no JSON: \(result.stdout) \(result.stderr)")
        let a = try #require(report.targets.first { $0.name == "site-a" })
        let b = try #require(report.targets.first { $0.name == "site-b" })
        #expect(a.ok && a.error == nil)
        #expect(!b.ok)
        let message = b.error ?? ""
        #expect(message.contains("site-b"), "the error should name the full target: \(message)")
        #expect(message.lowercased().contains("space"), "the error should say the disk is full: \(message)")
        #expect(report.failures.isEmpty, "every mailbox reached site-a: \(report.failures.map(\.error))")
        let id = try #require(report.snapshot)
        // The text form names the full target too.
        let rows = try fixture.snapshots()
        #expect(rows.map(\.id) == [id])
        #expect(rows.first?.targets == ["site-a"], "the snapshot should be on site-a only: \(rows.first?.targets ?? [])")

        try checkTargets(fixture, after: "the backup that filled site-b")

        // The next backup (mailboxes unchanged since the snapshot on site-a) must not write a
        // manifest to site-b that references chunks site-b never received.
        let (again, againReport) = try fixture.backup(["--no-progress"])
        print("full target: second backup exit \(again.status); targets \(againReport?.targets.map { "\($0.name) ok=\($0.ok) stored=\($0.storedBytes) \($0.error ?? "")" } ?? [])")
        #expect(again.status == 2, "site-b is still full: the second backup must fail there too (exit \(again.status))")
        #expect(againReport?.targets.first { $0.name == "site-b" }?.ok == false)
        #expect(try fixture.snapshots().filter { $0.targets.contains("site-b") }.isEmpty,
                "site-b must hold no snapshot")
        try checkTargets(fixture, after: "a second backup with site-b still full")

        // Everything restores from the healthy target.
        let destination = "\(fixture.root)/restored"
        let (restored, restoredReport) = try fixture.restore(["--snapshot", id, "--to", destination, "--target", "site-a"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restoredReport?.restored.count == mailboxes.count)
    }

    /// `check --read-data`: no error on either target (notes allowed).
    func checkTargets(_ fixture: BackupHome, after what: String) throws {
        let (checked, report) = try fixture.check()
        let targets = try #require(report?.targets, "check printed no JSON (exit \(checked.status)): \(checked.stderr)")
        for target in targets {
            #expect(target.errors.isEmpty, "after \(what), check finds errors on \(target.target): \(target.errors.map(\.message))")
        }
        #expect(checked.status == 0, "after \(what), check exit \(checked.status)")
        let a = targets.first { $0.target == "site-a" }
        #expect((a?.snapshots ?? 0) >= 1 && (a?.packsRead ?? 0) >= 1, "site-a should hold the snapshot and its packs")
    }
}
