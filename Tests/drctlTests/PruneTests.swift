import Foundation
import Testing

/// `drctl prune` through the binary, on folder targets: what no snapshot uses goes, what one
/// uses stays and restores byte for byte, and a backup that may still come to use a marked
/// pack is waited for.
@Suite("prune")
struct PruneTests {
    struct Report: Decodable {
        struct Target: Decodable {
            var name: String
            var lease: String
            var ok: Bool
            var error: String?
            var markedPacks: Int
            var markedBytes: Int64
            var deletedPacks: Int
            var deletedBytes: Int64
            var retainedPacks: Int
            var waiting: [String]
        }
        var dryRun: Bool
        var snapshots: Int
        var referencedPacks: Int
        var targets: [Target]
    }

    /// Small packs, so that a mailbox's chunks do not share one pack with everything else and
    /// a forgotten snapshot leaves whole packs unused.
    static let smallPacks = ["--pack-bytes", "65536"]

    static func prune(_ fixture: BackupHome, _ extra: [String] = [], config: String? = nil) throws -> (ProcessResult, Report?) {
        let result = try fixture.home.drctl(["prune", "--json"] + extra + ["--config", config ?? fixture.config])
        return (result, try? JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)))
    }

    static func setGrace(_ fixture: BackupHome, _ grace: String) throws {
        try fixture.replaceConfig { text in
            var lines = text.components(separatedBy: "\n").filter { !$0.hasPrefix("[prune]") && !$0.hasPrefix("grace = ") }
            lines.insert("[prune]\ngrace = \"\(grace)\"\n", at: 0)
            return lines.joined(separator: "\n")
        }
    }

    /// Two snapshots, the first of a mailbox deleted before the second; then the first
    /// snapshot's record is removed from both targets (what forget does): its mailbox's packs
    /// are used by nothing. Returns the restore of the remaining snapshot, for comparison.
    static func forgottenSnapshot(_ fixture: BackupHome) throws -> (kept: String, restored: String) {
        let mailboxes = try fixture.generate(cipher: "all", journal: "wal", count: 2, messages: 250, seed: 17)
        try fixture.initRepository()
        let first = try #require(try fixture.backupOK(smallPacks).snapshot)
        let gone = try #require(mailboxes.first { $0.cipher == "none" })
        try FileManager.default.removeItem(atPath: "\(fixture.store)/\(gone.path)")
        for mailbox in mailboxes where mailbox.cipher == "chacha20" {
            try fixture.write(mailbox, transactions: 15, seed: 4)
        }
        let kept = try #require(try fixture.backupOK(smallPacks).snapshot)
        for target in ["site-a", "site-b"] {
            let records = try FileManager.default.contentsOfDirectory(atPath: "\(fixture.targetFolder(target))/snapshots")
            let record = try #require(records.first { $0.hasPrefix(first) }, "no record of \(first) on \(target)")
            try FileManager.default.removeItem(atPath: "\(fixture.targetFolder(target))/snapshots/\(record)")
        }
        let restored = "\(fixture.root)/before-prune"
        let (result, _) = try fixture.restore(["--snapshot", kept, "--to", restored])
        try #require(result.status == 0, "restore before prune failed: \(result.stderr)")
        return (kept, restored)
    }

    static func expectIdentical(_ fixture: BackupHome, snapshot: String, to reference: String) throws {
        let again = "\(fixture.root)/after-prune-\(UUID().uuidString.prefix(8))"
        let (result, report) = try fixture.restore(["--snapshot", snapshot, "--to", again])
        try #require(result.status == 0, "restore after prune failed: \(result.stderr)")
        let files = try FileManager.default.subpathsOfDirectory(atPath: reference).filter { $0.hasSuffix(".db") }
        #expect(!files.isEmpty)
        #expect(report?.restored.count == files.count)
        for file in files {
            #expect(try Files.read("\(again)/\(file)") == (try Files.read("\(reference)/\(file)")), "\(file) differs after prune")
        }
    }

    static func expectClean(_ fixture: BackupHome) throws {
        let (result, report) = try fixture.check()
        #expect(result.status == 0, "check --read-data after prune: \(result.stdout)\(result.stderr)")
        for target in report?.targets ?? [] {
            #expect(target.errors.isEmpty, "\(target.target): \(target.errors.map(\.message))")
            #expect(!target.warnings.contains { $0.code == "check.pack-unreferenced" },
                    "\(target.target) still holds unused packs after prune: \(target.warnings.map(\.message))")
        }
    }

    @Test("a forgotten snapshot's packs are deleted on every target; the kept one restores byte for byte and check is clean")
    func reclaims() throws {
        let fixture = try BackupHome()
        try Self.setGrace(fixture, "0s")
        let (kept, restored) = try Self.forgottenSnapshot(fixture)
        let before = ["site-a", "site-b"].map { Files.bytes(under: "\(fixture.targetFolder($0))/data") }

        let (dry, dryReport) = try Self.prune(fixture, ["--dry-run"])
        try #require(dry.status == 0, "prune --dry-run: \(dry.stderr)")
        let planned = try #require(dryReport)
        #expect(planned.targets.allSatisfy { $0.markedPacks > 0 }, "dry run found nothing to mark: \(dry.stdout)")
        #expect(["site-a", "site-b"].map { Files.bytes(under: "\(fixture.targetFolder($0))/data") } == before, "a dry run changed a target")
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.targetFolder("site-a"))/prune"), "a dry run wrote a mark")

        let (result, report) = try Self.prune(fixture)
        try #require(result.status == 0, "prune: \(result.stderr)\n\(result.stdout)")
        let pruned = try #require(report)
        #expect(pruned.snapshots == 1)
        for (index, target) in pruned.targets.enumerated() {
            #expect(target.lease == "held")
            #expect(target.deletedPacks > 0 && target.deletedPacks == planned.targets[index].markedPacks,
                    "\(target.name): deleted \(target.deletedPacks), the dry run planned \(planned.targets[index].markedPacks)")
            let after = Files.bytes(under: "\(fixture.targetFolder(target.name))/data")
            #expect(before[index] - after == target.deletedBytes, "\(target.name): the data folder shrank by \(before[index] - after), the report says \(target.deletedBytes)")
        }
        try Self.expectClean(fixture)
        try Self.expectIdentical(fixture, snapshot: kept, to: restored)

        // Nothing left to do; the lease is released.
        let (again, second) = try Self.prune(fixture)
        #expect(again.status == 0)
        #expect(second?.targets.allSatisfy { $0.deletedPacks == 0 && $0.markedPacks == 0 } == true, "\(again.stdout)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(fixture.targetFolder("site-a"))/locks"))?.isEmpty ?? true)
    }

    @Test("with a grace period a prune only marks; a backup in between goes on; a later prune deletes what is still unused")
    func graceThenSweep() throws {
        let fixture = try BackupHome()
        try Self.setGrace(fixture, "1h")
        let (kept, restored) = try Self.forgottenSnapshot(fixture)
        let (first, marked) = try Self.prune(fixture)
        try #require(first.status == 0, "\(first.stderr)")
        for target in try #require(marked).targets {
            #expect(target.markedPacks > 0 && target.deletedPacks == 0)
        }
        // The next prune, still within the grace period, waits and says so.
        let (waiting, waited) = try Self.prune(fixture)
        #expect(waiting.status == 0)
        #expect(waited?.targets.allSatisfy { $0.deletedPacks == 0 && $0.waiting.contains { $0.contains("grace period") } } == true, "\(waiting.stdout)")
        // A backup now must not rely on the marked packs: after the sweep, its snapshot restores.
        try fixture.write(try #require(try fixture.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 50, seed: 99, subfolder: "new").first), transactions: 3, seed: 5)
        let third = try #require(try fixture.backupOK(Self.smallPacks).snapshot)
        let restoredThird = "\(fixture.root)/third"
        #expect(try fixture.restore(["--snapshot", third, "--to", restoredThird]).0.status == 0)

        try Self.setGrace(fixture, "0s")
        let (swept, sweptReport) = try Self.prune(fixture)
        try #require(swept.status == 0, "\(swept.stderr)")
        for (index, target) in try #require(sweptReport).targets.enumerated() {
            #expect(target.deletedPacks == marked?.targets[index].markedPacks, "\(target.name): \(swept.stdout)")
        }
        try Self.expectClean(fixture)
        try Self.expectIdentical(fixture, snapshot: kept, to: restored)
        try Self.expectIdentical(fixture, snapshot: third, to: restoredThird)
    }

    @Test("a backup of another host that was running when the mark was made is waited for; its own host's next prune knows it is dead")
    func waitsForRunningBackup() throws {
        let fixture = try BackupHome()
        try Self.setGrace(fixture, "0s")
        let (kept, restored) = try Self.forgottenSnapshot(fixture)
        // Host mx2 backs up another store into the same repository, and is killed mid-run:
        // its run record stays, and may still be a live backup for all mx1 can tell.
        let otherStore = "\(fixture.root)/store-mx2"
        _ = try fixture.generate(cipher: "sqlcipher", journal: "delete", count: 6, messages: 1500, seed: 3, subfolder: "../store-mx2")
        let mx2 = try fixture.home.backupConfigFile(storePath: otherStore, include: ["**/*.db"], keyFile: fixture.repositoryKeyFile,
                                                     targets: [("site-a", fixture.targetFolder("site-a")), ("site-b", fixture.targetFolder("site-b"))],
                                                     name: "mx2.toml", statePath: "\(fixture.root)/state-mx2")
        try (String(contentsOfFile: mx2, encoding: .utf8).replacingOccurrences(of: "[state]\n", with: "[state]\nhost = \"mx2\"\n")
             + "\n[prune]\ngrace = \"0s\"\n").write(toFile: mx2, atomically: true, encoding: .utf8)
        var killed = false
        for delay in [0.6, 0.9, 1.3, 2.0] where !killed {
            killed = try fixture.runKilled(["backup", "--pack-bytes", "65536"], config: mx2, after: delay).killed
        }
        try #require(killed, "the backup of mx2 finished before it could be killed")
        let records = try FileManager.default.contentsOfDirectory(atPath: "\(fixture.targetFolder("site-a"))/locks")
        #expect(records.contains { $0.hasPrefix("run-") }, "the killed backup left no run record: \(records)")

        let (first, report) = try Self.prune(fixture)
        try #require(first.status == 0, "\(first.stderr)")
        for target in try #require(report).targets {
            #expect(target.deletedPacks == 0, "\(target.name) deleted packs while a backup that may use them was running")
            #expect(target.waiting.contains { $0.contains("waits for 1 backup") }, "\(target.name): \(target.waiting)")
        }
        try Self.expectIdentical(fixture, snapshot: kept, to: restored)

        // mx2's own prune holds mx2's backup lock: the record is a dead run's, and the marks
        // (mx1's and the one it makes for what the killed run uploaded) are swept.
        let (second, swept) = try Self.prune(fixture, config: mx2)
        try #require(second.status == 0, "\(second.stderr)")
        #expect(swept?.targets.allSatisfy { $0.deletedPacks > 0 } == true, "\(second.stdout)")
        try Self.expectClean(fixture)
        try Self.expectIdentical(fixture, snapshot: kept, to: restored)
        // And mx2 backs up again, whole: nothing it relies on was taken from under it.
        let result = try fixture.home.drctl(["backup", "--json", "--config", mx2])
        let backup = try? JSONDecoder().decode(BackupReport.self, from: Data(result.stdout.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(backup?.files == 6)
        try Self.expectClean(fixture)
    }

    @Test("a prune killed at any moment leaves the repository whole, and the next prune finishes the work")
    func killedPrune() throws {
        let fixture = try BackupHome()
        try Self.setGrace(fixture, "0s")
        let (kept, restored) = try Self.forgottenSnapshot(fixture)
        for delay in [0.05, 0.15, 0.3] {
            _ = try fixture.runKilled(["prune"], after: delay)
            try Self.expectIdentical(fixture, snapshot: kept, to: restored)
        }
        let (result, _) = try Self.prune(fixture)
        try #require(result.status == 0, "the prune after the kills: \(result.stderr)")
        try Self.expectClean(fixture)
        try Self.expectIdentical(fixture, snapshot: kept, to: restored)
    }
}

extension PruneTests {
    /// Another host's live lease on one target, as its prune writes it (`locks/prune-<32 hex>`,
    /// JSON; docs/REPOSITORY.md, "Pruning"): that host is pruning the target now.
    static func foreignLease(on folder: String, host: String) throws {
        try FileManager.default.createDirectory(atPath: "\(folder)/locks", withIntermediateDirectories: true)
        let now = Date()
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let record = #"{"expires":"\#(format.string(from: now.addingTimeInterval(1800)))","format":1,"host":"\#(host)","job":"prune","pid":4242,"started":"\#(format.string(from: now))","storePath":"/srv/mail"}"#
        let name = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try record.write(toFile: "\(folder)/locks/prune-\(name)", atomically: true, encoding: .utf8)
    }

    @Test("while another host prunes one target, prune and forget leave that target (named, exit 2) and do the other")
    func leaseHeldElsewhere() throws {
        let fixture = try BackupHome()
        try Self.setGrace(fixture, "0s")
        let (kept, restored) = try Self.forgottenSnapshot(fixture)
        try Self.foreignLease(on: fixture.targetFolder("site-b"), host: "mx-elsewhere")
        let (result, report) = try Self.prune(fixture)
        #expect(result.status == 2, "prune with one target's lease held elsewhere: exit \(result.status): \(result.stderr)")
        let targets = try #require(report).targets
        #expect(targets.first { $0.name == "site-a" }?.deletedPacks ?? 0 > 0, "\(result.stdout)")
        let busy = try #require(targets.first { $0.name == "site-b" })
        #expect(!busy.ok && busy.lease == "busy" && busy.deletedPacks == 0)
        #expect(busy.error?.contains("host mx-elsewhere") == true, "\(String(describing: busy.error))")

        // Forget too stays off the held target.
        try fixture.write(try #require(try fixture.generate(cipher: "none", journal: "wal", count: 1, messages: 20, seed: 61, subfolder: "more").first), transactions: 2, seed: 1)
        _ = try fixture.backupOK(Self.smallPacks)
        let before = try FileManager.default.contentsOfDirectory(atPath: "\(fixture.targetFolder("site-b"))/snapshots").count
        let forget = try fixture.drctl(["forget", "--json"])
        #expect(forget.status == 2, "forget with one target's lease held elsewhere: exit \(forget.status): \(forget.stderr)")
        #expect(forget.stdout.contains("mx-elsewhere"), "\(forget.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(fixture.targetFolder("site-b"))/snapshots").count == before)
        try Self.expectIdentical(fixture, snapshot: kept, to: restored)
    }
}
