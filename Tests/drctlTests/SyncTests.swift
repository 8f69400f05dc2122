import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 10, fan-out: a target that missed a backup is brought up to date by `drctl sync` (and
/// by the next backup), with every object authenticated on the way; `drctl targets` shows who
/// lags.
@Suite("sync: lagging targets brought up to date")
struct SyncTests {
    /// A repository on site-a and site-b with two snapshots, the second missed by site-b (taken
    /// away during it, then brought back). Returns the home, the mailboxes and both snapshots.
    static func outage(targets: [String] = ["site-a", "site-b"], lagging: String = "site-b",
                       count: Int = 3) throws -> (BackupHome, [GeneratedMailbox], first: String, second: String) {
        let home = try BackupHome(targets: targets)
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: count, messages: 150)
        try home.initRepository()
        let first = try #require(try home.backupOK().snapshot)
        try home.takeAway(lagging)
        try home.write(mailboxes[0], transactions: 8, seed: 3)
        let (missed, report) = try home.backup()
        try #require(missed.status == 2, "the backup without \(lagging) is degraded: \(missed.status) \(missed.stderr)")
        let second = try #require(report?.snapshot)
        try home.bringBack(lagging)
        return (home, mailboxes, first, second)
    }

    @Test("a target that missed a backup: targets shows it one snapshot behind, sync copies what it lacks, then it is whole: no lag, check --read-data clean on each target alone, restores from either are byte-identical, a second sync copies nothing, the next backup takes nothing for lost")
    func outageThenSync() throws {
        let (home, mailboxes, first, second) = try Self.outage()

        let (lagging, before) = try home.targets()
        #expect(lagging.status == 2, "targets while site-b lags: \(lagging.status) \(lagging.stderr)")
        let beforeB = try #require(before).target("site-b")
        let beforeA = try #require(before).target("site-a")
        #expect(beforeB.reachable)
        #expect(beforeB.lag?.snapshots == 1, "\(String(describing: beforeB.lag))")
        #expect((beforeB.lag?.packs ?? 0) > 0)
        #expect(beforeB.lag?.lagging == true)
        #expect((beforeB.lag?.behindSeconds ?? 0) > 0)
        #expect(beforeB.newestSnapshot?.id == first)
        #expect(beforeA.lag?.lagging == false)
        #expect(beforeA.newestSnapshot?.id == second)
        #expect(before?.newestSnapshot?.id == second)
        #expect(before?.complete == false)

        let packsOnlyOnA = Set(Files.packs(in: home.targetFolder("site-a"))).subtracting(Files.packs(in: home.targetFolder("site-b")))
        let started = Date()
        let (synced, report) = try home.sync()
        let seconds = Date().timeIntervalSince(started)
        #expect(synced.status == 0, "\(synced.status): \(synced.stderr)\n\(synced.stdout)")
        let syncReport = try #require(report, "sync printed no report: \(synced.stdout)")
        let b = try syncReport.target("site-b")
        #expect(b.copied.snapshots == 1)
        #expect(b.copied.packs == packsOnlyOnA.count && b.copied.packs > 0)
        #expect(b.copied.objects == b.copied.packs + b.copied.snapshots + b.copied.keys)
        #expect(b.copied.bytes > 0)
        #expect(b.copied == b.lacked, "everything it lacked was copied")
        #expect(b.complete && b.failures.isEmpty)
        #expect(try syncReport.target("site-a").copied.objects == 0)
        #expect(syncReport.complete)
        print("sync: copied \(b.copied.objects) objects (\(b.copied.packs) packs, \(b.copied.snapshots) snapshot), \(b.copied.bytes) B to site-b in \(String(format: "%.3f", syncReport.durationSeconds)) s (command \(String(format: "%.3f", seconds)) s)")

        // site-b is now an exact copy of site-a.
        #expect(try home.objects(of: "site-b") == home.objects(of: "site-a"))
        let (whole, after) = try home.targets()
        #expect(whole.status == 0, "\(whole.stdout)")
        #expect(after?.targets.allSatisfy { $0.reachable && $0.lag?.lagging == false } == true)
        #expect(try #require(after).target("site-b").newestSnapshot?.id == second)

        // Both targets verify in full, also each alone (no snapshot missing, no pack missing).
        let (checked, checkReport) = try home.check(["--read-data"])
        #expect(checked.status == 0, "\(checked.stdout)")
        #expect(checkReport?.targets.allSatisfy { $0.errors.isEmpty && !$0.warnings.contains { $0.code == "check.snapshots-differ" } } == true,
                "\(checked.stdout)")
        for target in ["site-a", "site-b"] {
            let (alone, aloneReport) = try home.checkOnly(target)
            #expect(alone.status == 0, "\(target): \(alone.stdout)")
            #expect(aloneReport?.targets.first?.snapshots == 2)
            #expect(aloneReport?.targets.first?.errors.isEmpty == true)
        }

        // The latest restores from either target alone, byte for byte the same, and sound.
        for target in ["site-a", "site-b"] {
            let (restored, restoreReport) = try home.restore(["--target", target, "--to", "\(home.root)/from-\(target)"])
            #expect(restored.status == 0, "\(target): \(restored.stderr)")
            #expect(restoreReport?.restored.allSatisfy { $0.snapshot == second && $0.target == target } == true)
        }
        for mailbox in mailboxes {
            let a = try Files.read("\(home.root)/from-site-a/\(mailbox.path)")
            #expect(!a.isEmpty)
            #expect(a == (try Files.read("\(home.root)/from-site-b/\(mailbox.path)")), "\(mailbox.path) differs")
        }
        let verdicts = try home.verify(mailboxes.map { "\(home.root)/from-site-b/\($0.path)" }, cipher: "chacha20")
        #expect(verdicts.count == mailboxes.count && verdicts.allSatisfy { $0.problems.isEmpty }, "\(verdicts.map(\.problems))")

        // Idempotent: nothing left to copy.
        let (again, againReport) = try home.sync()
        #expect(again.status == 0)
        #expect(againReport?.targets.allSatisfy { $0.copied.objects == 0 && $0.lacked.objects == 0 && $0.complete } == true,
                "\(again.stdout)")

        // The next backup, on this host (its pack record) and on a new one (no record), takes
        // nothing for lost, reads no mailbox for that reason and stores nothing again.
        for host in ["this host", "a new host"] {
            if host == "a new host" { try FileManager.default.removeItem(atPath: "\(home.root)/state") }
            let next = try home.backupOK()
            #expect(next.targets.allSatisfy { $0.ok && $0.damage.isEmpty && $0.caughtUp == nil }, "\(host): \(next.targets.map(\.damage))")
            #expect(next.newChunks == 0, "\(host): \(next.newChunks) chunks stored again")
            // A loss would make it read every mailbox; only the one written just before the
            // missed run may be read again (git's racy-clean rule: its times were too close to
            // the moment its image was taken).
            #expect(next.filesUnchanged >= mailboxes.count - 1, "\(host): \(next.filesUnchanged) of \(mailboxes.count) unchanged")
        }
    }

    @Test("a pack that site-b lacks is damaged on site-a, the only other holder: sync names it, does not write it to site-b, holds back the snapshot that uses it (exit 2); site-b stays consistent")
    func damagedSourceIsNotPropagated() throws {
        let (home, _, first, second) = try Self.outage()
        let siteA = home.targetFolder("site-a"), siteB = home.targetFolder("site-b")
        let missing = Set(Files.packs(in: siteA)).subtracting(Files.packs(in: siteB))
        // The largest is a data pack: the middle byte lies in a chunk.
        let damaged = try #require(missing.max { Files.size("\(siteA)/\($0)") < Files.size("\(siteA)/\($1)") })
        try TargetDamageTests.flipByte("\(siteA)/\(damaged)")

        let (synced, report) = try home.sync()
        #expect(synced.status == 2, "\(synced.status): \(synced.stdout)")
        let syncReport = try #require(report, "\(synced.stdout)\(synced.stderr)")
        let b = try syncReport.target("site-b")
        let a = try syncReport.target("site-a")
        #expect(!b.complete && !a.complete && !syncReport.complete)
        #expect(b.failures.contains { $0.object == damaged && $0.message.contains("site-b") }, "\(b.failures)")
        #expect(a.readFailures.contains { $0.object == damaged && $0.code == "repository.blob-damaged" }, "\(a.readFailures)")
        #expect(b.failures.contains { $0.object == "snapshots/\(second)" && $0.code == "sync.held-back" }, "\(b.failures)")
        #expect(!Files.exists("\(siteB)/\(damaged)"), "the damaged pack was written to site-b")
        #expect(!Files.exists("\(siteB)/snapshots/\(second)"), "a snapshot whose pack is missing was written to site-b")
        #expect(b.copied.packs == missing.count - 1, "the intact packs are copied")
        #expect(b.copied.snapshots == 0)
        #expect(Files.temporaries(in: siteB).isEmpty)
        // The text says the same, and exits the same way.
        let text = try home.drctl(["sync"])
        #expect(text.status == 2)
        #expect(text.stdout.contains("target site-b:") && text.stdout.contains("INCOMPLETE") && text.stdout.contains(damaged), "\(text.stdout)")

        // site-b is consistent on its own: its snapshot verifies in full.
        let (alone, aloneReport) = try home.checkOnly("site-b")
        #expect(alone.status == 0, "\(alone.stdout)")
        #expect(aloneReport?.targets.first?.snapshots == 1)
        #expect(try home.snapshots().map(\.id).contains(first))
        let (_, targets) = try home.targets()
        #expect(try #require(targets).target("site-b").lag?.snapshots == 1)
    }

    @Test("a pack damaged on site-a is read from site-c instead: site-b gets the sound copy, site-a is named damaged (exit 2)")
    func damagedCopyReadFromAnotherTarget() throws {
        let (home, _, _, second) = try Self.outage(targets: ["site-a", "site-b", "site-c"])
        let siteA = home.targetFolder("site-a"), siteB = home.targetFolder("site-b"), siteC = home.targetFolder("site-c")
        let missing = Set(Files.packs(in: siteA)).subtracting(Files.packs(in: siteB))
        let damaged = try #require(missing.max { Files.size("\(siteA)/\($0)") < Files.size("\(siteA)/\($1)") })
        try TargetDamageTests.flipByte("\(siteA)/\(damaged)")

        let (synced, report) = try home.sync()
        #expect(synced.status == 2, "site-a is damaged: \(synced.stdout)")
        let syncReport = try #require(report)
        let b = try syncReport.target("site-b")
        #expect(b.complete && b.failures.isEmpty, "\(b.failures)")
        #expect(b.copied.packs == missing.count && b.copied.snapshots == 1)
        #expect(try Files.read("\(siteB)/\(damaged)") == Files.read("\(siteC)/\(damaged)"), "site-b holds site-c's sound copy")
        #expect(Files.exists("\(siteB)/snapshots/\(second)"))
        let a = try syncReport.target("site-a")
        #expect(!a.complete && a.readFailures.contains { $0.object == damaged }, "\(a.readFailures)")
        #expect(try syncReport.target("site-c").complete)
        let (alone, _) = try home.checkOnly("site-b")
        #expect(alone.status == 0, "\(alone.stdout)")
    }

    @Test("the next backup after an outage gives the lagging target the snapshot it missed (copied and authenticated, not stored again)")
    func backupCatchesUp() throws {
        let (home, mailboxes, _, second) = try Self.outage()
        let siteB = home.targetFolder("site-b")
        #expect(!Files.exists("\(siteB)/snapshots/\(second)"))

        let report = try home.backupOK()
        #expect(Files.exists("\(siteB)/snapshots/\(second)"), "site-b still lacks the snapshot it missed")
        let b = try #require(report.targets.first { $0.name == "site-b" })
        #expect(b.caughtUp?.snapshots == 1, "\(String(describing: b.caughtUp))")
        #expect((b.caughtUp?.packs ?? 0) > 0)
        #expect(report.targets.first { $0.name == "site-a" }?.caughtUp == nil)
        #expect(b.damage.isEmpty)
        // What the missed run stored was copied, so this run's previous snapshot is that run's,
        // on both targets: nothing is stored again.
        #expect(report.newChunks == 0, "\(report.newChunks) chunks of the missed run were stored again")
        #expect(report.files == mailboxes.count)

        let (checked, checkReport) = try home.check(["--read-data"])
        #expect(checked.status == 0, "\(checked.stdout)")
        #expect(checkReport?.targets.allSatisfy { $0.snapshots == 3 && $0.warnings.isEmpty } == true, "\(checked.stdout)")
        let (whole, _) = try home.targets()
        #expect(whole.status == 0)
        // Nothing is left for sync.
        let (synced, syncReport) = try home.sync()
        #expect(synced.status == 0)
        #expect(syncReport?.targets.allSatisfy { $0.copied.objects == 0 } == true)
    }

    @Test("an unreachable target: sync names it (exit 2) and still completes the others; --dry-run copies nothing; --target names a configured target")
    func unreachableAndDryRun() throws {
        let (home, _, _, second) = try Self.outage(targets: ["site-a", "site-b", "site-c"], lagging: "site-c")
        try home.takeAway("site-b")
        let before = try home.objects(of: "site-c")
        let (dry, dryReport) = try home.sync(["--dry-run"])
        #expect(dry.status == 2)
        #expect(dryReport?.dryRun == true)
        let c = try #require(dryReport).target("site-c")
        #expect(c.lacked.snapshots == 1 && c.lacked.packs > 0 && c.copied.objects == 0 && !c.complete)
        #expect(try home.objects(of: "site-c") == before, "--dry-run wrote to site-c")

        let (synced, report) = try home.sync()
        #expect(synced.status == 2, "site-b is unreachable: \(synced.stdout)")
        let b = try #require(report).target("site-b")
        #expect(!b.reachable && !b.complete)
        #expect(b.failures.first?.code == "repository.not-initialized", "\(b.failures)")
        #expect(b.failures.first?.message.contains("site-b") == true)
        #expect(try #require(report).target("site-c").complete)
        #expect(Files.exists("\(home.targetFolder("site-c"))/snapshots/\(second)"))

        let unknown = try home.drctl(["sync", "--target", "site-z", "--json"])
        #expect(unknown.status == 64)
        #expect(unknown.stdout.contains("target.unknown"), "\(unknown.stdout)")
        try home.bringBack("site-b")
        let (only, onlyReport) = try home.sync(["--target", "site-b"])
        #expect(only.status == 0, "\(only.stdout)")
        #expect(try #require(onlyReport).target("site-b").destination)
        #expect(try #require(onlyReport).target("site-a").destination == false)
    }
}

extension SyncTests {
    @Test("a new target: init gives it the repository's identity, targets shows it lagging, sync copies every pack and snapshot; it then restores alone")
    func newTarget() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 2, messages: 80)
        try home.initRepository()
        _ = try home.backupOK()
        try home.write(mailboxes[1], transactions: 4, seed: 9)
        let latest = try #require(try home.backupOK().snapshot)

        let both = try home.home.backupConfigFile(storePath: home.store, include: ["**/*.db"], keyFile: home.repositoryKeyFile,
                                                  targets: [("site-a", home.targetFolder("site-a")), ("site-c", home.targetFolder("site-c"))],
                                                  name: "both.toml", statePath: "\(home.root)/state")
        let initialized = try home.home.drctl(["init", "--json", "--config", both])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        #expect(initialized.stdout.contains("\"copied\""), "\(initialized.stdout)")
        let (lagging, before) = try home.targets(config: both)
        #expect(lagging.status == 2)
        #expect(try #require(before).target("site-c").lag?.snapshots == 2)
        #expect(try #require(before).target("site-c").newestSnapshot == nil)

        let (synced, report) = try home.sync(config: both)
        #expect(synced.status == 0, "\(synced.stdout)")
        let c = try #require(report).target("site-c")
        #expect(c.copied.snapshots == 2 && c.copied.packs == Files.packs(in: home.targetFolder("site-a")).count && c.copied.keys == 0)
        #expect(try home.objects(of: "site-c") == home.objects(of: "site-a"))
        let checked = try home.home.drctl(["check", "--read-data", "--config", both])
        #expect(checked.status == 0, "\(checked.stdout)")
        let restored = try home.home.drctl(["restore", "--json", "--target", "site-c", "--to", "\(home.root)/from-c", "--config", both])
        #expect(restored.status == 0, "\(restored.stderr)")
        let restoreReport = try? JSONDecoder().decode(RestoreReport.self, from: Data(restored.stdout.utf8))
        #expect(restoreReport?.restored.count == mailboxes.count)
        #expect(restoreReport?.restored.allSatisfy { $0.snapshot == latest } == true)
    }
}

@Suite("targets: one row per target")
struct TargetsCommandTests {
    @Test("targets --json and text: every field of a reachable target, from a listing; an unreachable one shows reachable false with its error, exit 2")
    func shapes() throws {
        let home = try BackupHome()
        try home.generate(cipher: "none", journal: "wal", count: 2, messages: 60)
        try home.initRepository()
        let snapshot = try #require(try home.backupOK().snapshot)

        let (result, report) = try home.targets()
        #expect(result.status == 0, "\(result.stderr)")
        let targets = try #require(report, "\(result.stdout)")
        #expect(targets.targets.map(\.name) == ["site-a", "site-b"])
        #expect(targets.complete)
        #expect(targets.newestSnapshot?.id == snapshot)
        for row in targets.targets {
            let folder = home.targetFolder(row.name)
            #expect(row.reachable && row.error == nil)
            #expect(row.kind == "file")
            #expect(row.location == "file://\(folder)")
            #expect(row.objectLock == "n/a")
            #expect(row.newestSnapshot?.id == snapshot && !(row.newestSnapshot?.time.isEmpty ?? true))
            #expect(row.snapshots == 1)
            #expect(row.lag?.lagging == false && row.lag?.snapshots == 0 && row.lag?.behindSeconds == 0)
            #expect(row.objects == Files.all(under: folder).count)
            #expect(row.storedBytes == Files.bytes(under: folder))
        }
        // The JSON holds every field, also when null.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let first = try #require((object["targets"] as? [[String: Any]])?.first)
        #expect(Set(first.keys).isSuperset(of: ["name", "kind", "location", "reachable", "newestSnapshot", "snapshots", "lag",
                                                "storedBytes", "objects", "objectLock"]), "\(first.keys)")
        // No secret in the output.
        let key = try String(contentsOfFile: home.repositoryKeyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!result.stdout.contains(key) && !result.stderr.contains(key))

        let text = try home.drctl(["targets"])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(text.stdout)")
        for column in ["TARGET", "REACHABLE", "NEWEST SNAPSHOT", "LAG", "STORED", "OBJECTS", "OBJECT LOCK", "LOCATION"] {
            #expect(lines.first?.contains(column) == true, "no \(column) column: \(lines.first ?? "")")
        }
        for (line, name) in zip(lines.dropFirst(), ["site-a", "site-b"]) {
            #expect(line.hasPrefix(name + " ") && line.contains(" yes ") && line.contains(String(snapshot.prefix(8)))
                    && line.contains(" none ") && line.contains(" n/a ") && line.hasSuffix("file://\(home.targetFolder(name))"), "\(line)")
        }
        // Columns line up: each row's LAG value starts where the header's does.
        let lagColumn = lines[0].range(of: "LAG")?.lowerBound.utf16Offset(in: lines[0])
        #expect(lines.dropFirst().allSatisfy { $0.range(of: " none ")?.lowerBound.utf16Offset(in: $0) == (lagColumn ?? 0) - 1 }, "\(text.stdout)")

        // site-b away: reachable false with its error, the other row whole, exit 2.
        try home.takeAway("site-b")
        let (away, awayReport) = try home.targets()
        #expect(away.status == 2, "\(away.stdout)")
        let b = try #require(awayReport).target("site-b")
        #expect(!b.reachable)
        #expect(b.error?.code == "repository.not-initialized")
        #expect(b.error?.message.contains("site-b") == true)
        #expect(b.newestSnapshot == nil && b.lag == nil && b.objects == nil)
        #expect(try #require(awayReport).target("site-a").reachable)
        #expect(awayReport?.complete == false)
        let awayText = try home.drctl(["targets"])
        #expect(awayText.status == 2)
        #expect(awayText.stdout.contains("site-b  NO "), "\(awayText.stdout)")
        #expect(awayText.stdout.contains("site-b: repository.not-initialized: target site-b holds no repository"), "\(awayText.stdout)")
    }
}
