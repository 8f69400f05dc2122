import DRTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `forget --json` (only the fields the tests use).
private struct ForgetReport: Decodable {
    struct Reason: Decodable {
        var rule: String
        var bucket: String?
        var mailboxes: Int
        var mailbox: String?
        var text: String
    }
    struct Snapshot: Decodable {
        var id: String
        var time: String
        var keep: Bool
        var reasons: [Reason]
        var targets: [String]
    }
    struct Rejected: Decodable {
        var snapshot: String
        var code: String
    }
    struct Plan: Decodable {
        var host: String
        var snapshots: [Snapshot]
        var keep: Int
        var forget: Int
        var unreadableLists: [Rejected]
    }
    struct Problem: Decodable {
        var object: String
        var code: String
        var message: String
    }
    struct Target: Decodable {
        var name: String
        var reachable: Bool
        var deleted: Int
        var locked: [Problem]
        var failures: [Problem]
        var complete: Bool
    }
    var dryRun: Bool
    var plan: Plan
    var targets: [Target]
    var complete: Bool

    func snapshot(_ id: String) -> Snapshot? { plan.snapshots.first { $0.id == id } }
    func target(_ name: String) -> Target? { targets.first { $0.name == name } }
}

extension BackupHome {
    /// Replaces the defaults with these `[retention]` lines (the other keep_* are 0).
    fileprivate func retention(_ lines: String) throws {
        try replaceConfig { text in
            let base = text.components(separatedBy: "\n[retention]\n")[0]
            let given = Set(lines.split(separator: "\n").map { $0.split(separator: " ")[0] })
            let zeros = ["keep_daily", "keep_weekly", "keep_monthly"].filter { !given.contains(Substring($0)) }
            return base + "\n[retention]\n" + zeros.map { "\($0) = 0\n" }.joined() + lines + "\n"
        }
    }

    fileprivate func forget(_ arguments: [String] = []) throws -> (RunResult, ForgetReport?) {
        let result = try drctl(["forget", "--json"] + arguments)
        return (result, try? JSONDecoder().decode(ForgetReport.self, from: Data(result.stdout.utf8)))
    }

    /// The snapshot records a folder target holds (ids).
    fileprivate func records(_ target: String) -> Set<String> {
        Set(Files.all(under: "\(targetFolder(target))/snapshots").filter { !$0.hasPrefix(".tmp-") })
    }
}

@Suite("forget: retention per mailbox history")
struct ForgetTests {
    @Test("keep_last 1 per mailbox: a --mailbox run superseded by a newer one goes; the whole run that alone holds b, and the old partial run that alone holds a deleted mailbox, stay; --dry-run deletes nothing; the rest restores byte for byte")
    func lastPerMailbox() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "none", journal: "wal", count: 3, messages: 40)
        let (a, b, x) = (mailboxes[0], mailboxes[1], mailboxes[2])
        try home.initRepository()
        // x is backed up on its own, then its account is deleted: only that run holds it.
        let onlyX = try #require(try home.backupOK(["--mailbox", x.path]).snapshot)
        let xBytes = try Files.read("\(home.store)/\(x.path)")
        for suffix in ["", "-wal", "-shm"] where Files.exists("\(home.store)/\(x.path)\(suffix)") {
            try FileManager.default.removeItem(atPath: "\(home.store)/\(x.path)\(suffix)")
        }
        let whole = try #require(try home.backupOK().snapshot)
        try home.write(a, transactions: 2, seed: 3)
        usleep(300_000)  // past the racy-clean window, so the partial runs read a again
        let superseded = try #require(try home.backupOK(["--mailbox", a.path]).snapshot)
        try home.write(a, transactions: 2, seed: 4)
        usleep(300_000)
        let newest = try #require(try home.backupOK(["--mailbox", a.path]).snapshot)
        try home.retention("keep_last = 1")
        let all: Set<String> = [onlyX, whole, superseded, newest]
        #expect(home.records("site-a") == all && home.records("site-b") == all)

        let (dry, plan) = try home.forget(["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let report = try #require(plan, "\(dry.stdout)")
        #expect(report.dryRun)
        #expect(report.plan.snapshots.filter { !$0.keep }.map(\.id) == [superseded])
        #expect(report.plan.keep == 3 && report.plan.forget == 1)
        #expect(report.snapshot(onlyX)?.reasons.map(\.text) == ["last 1 for \(x.path)"])
        #expect(report.snapshot(whole)?.reasons.map(\.text) == ["last 1 for \(b.path)"])
        #expect(report.snapshot(newest)?.reasons.map(\.rule) == ["newest", "last"])
        #expect(report.snapshot(newest)?.reasons.last?.mailbox == a.path)
        #expect(home.records("site-a") == all && home.records("site-b") == all, "a dry run deletes nothing")

        // The text form: one row per snapshot, and the summary.
        let text = try home.drctl(["forget", "--dry-run"])
        #expect(text.status == 0, "\(text.stderr)")
        let row = try #require(text.stdout.split(separator: "\n").first { $0.contains(superseded.prefix(12)) })
        #expect(row.hasSuffix("forget"), "\(row)")
        #expect(text.stdout.contains("last 1 for \(x.path)"), "\(text.stdout)")
        #expect(text.stdout.contains("keep 3, would forget 1 (dry run: nothing deleted)"), "\(text.stdout)")

        let (run, done) = try home.forget()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(done?.targets.map(\.deleted) == [1, 1], "\(run.stdout)")
        #expect(done?.complete == true)
        let kept = all.subtracting([superseded])
        #expect(home.records("site-a") == kept && home.records("site-b") == kept)
        // Nothing left to forget: the same rules keep what they kept.
        let (again, second) = try home.forget()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(second?.plan.forget == 0 && second?.targets.map(\.deleted) == [0, 0])

        // What stays restores: x from the old partial run, a and b as the latest.
        let (restoredX, _) = try home.restore(["--snapshot", onlyX, "--mailbox", x.path, "--to", "\(home.root)/r-x"])
        #expect(restoredX.status == 0, "\(restoredX.stderr)")
        #expect(try Files.read("\(home.root)/r-x/\(x.path)") == xBytes)
        let (latest, latestReport) = try home.restore(["--to", "\(home.root)/r-latest"])
        #expect(latest.status == 0, "\(latest.stderr)")
        #expect(Set(latestReport?.restored.map(\.mailbox) ?? []) == [a.path, b.path], "x was deleted before the whole run")
        #expect(Dictionary(uniqueKeysWithValues: (latestReport?.restored ?? []).map { ($0.mailbox, $0.snapshot) })
                == [a.path: newest, b.path: whole])
        for mailbox in [a, b] {
            #expect(try Files.read("\(home.root)/r-latest/\(mailbox.path)") == Files.read("\(home.store)/\(mailbox.path)"))
        }
        // Nothing a kept snapshot needs was touched (only records are deleted).
        let (checked, checkReport) = try home.check(["--read-data"])
        #expect(checked.status == 0, "\(checked.stdout)")
        #expect(checkReport?.targets.allSatisfy { $0.errors.isEmpty && $0.snapshots == 3 } == true)
    }

    @Test("keep_within counts back from the newest snapshot; a target away makes the run degraded (exit 2, named), and the next forget deletes its copy")
    func withinAndATargetAway() throws {
        let home = try BackupHome()
        try home.generate(cipher: "none", journal: "wal", count: 1, messages: 40)
        try home.initRepository()
        let first = try home.backupOK()
        sleep(3)
        let second = try home.backupOK()
        let third = try home.backupOK()
        let (t1, t2, t3) = (try Millis.parse(first.time), try Millis.parse(second.time), try Millis.parse(third.time))
        // The window holds the second and third runs and, since the first is 3 s older than
        // the second, never the first, however long a run takes here.
        let seconds = (t3 - t2 + 999) / 1000 + 1
        try #require(t3 - t1 > seconds * 1000 && t3 - t2 <= seconds * 1000)
        try home.retention("keep_within = \"\(seconds)s\"")
        let (oldest, kept) = (try #require(first.snapshot), [try #require(second.snapshot), try #require(third.snapshot)])

        let siteB = home.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: siteB, toPath: siteB + ".away")
        let dry = try home.drctl(["forget", "--dry-run"])
        #expect(dry.status == 2, "\(dry.stdout)\(dry.stderr)")
        #expect(dry.stdout.contains("target site-b: UNREACHABLE"), "\(dry.stdout)")
        #expect(dry.stdout.contains("within \(seconds)s of the newest for "), "\(dry.stdout)")
        #expect(home.records("site-a").count == 3)

        let (away, report) = try home.forget()
        #expect(away.status == 2, "\(away.stderr)")
        #expect(report?.plan.snapshots.filter { !$0.keep }.map(\.id) == [oldest])
        #expect(report?.target("site-a")?.deleted == 1)
        #expect(report?.target("site-b")?.reachable == false)
        #expect(report?.target("site-b")?.failures.first?.message.contains("site-b") == true, "\(away.stdout)")
        #expect(home.records("site-a") == Set(kept))
        try FileManager.default.moveItem(atPath: siteB + ".away", toPath: siteB)
        #expect(home.records("site-b").count == 3)

        let (back, finished) = try home.forget()
        #expect(back.status == 0, "\(back.stderr)")
        #expect(finished?.target("site-b")?.deleted == 1 && finished?.target("site-a")?.deleted == 0)
        #expect(home.records("site-a") == Set(kept) && home.records("site-b") == Set(kept))

        // Not beside this host's backup (its lock held here as a running backup holds it);
        // a dry run deletes nothing and needs no lock.
        let lockFile = open("\(home.root)/state/backup.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(lockFile >= 0 && flock(lockFile, LOCK_EX | LOCK_NB) == 0)
        defer { close(lockFile) }
        let busy = try home.drctl(["forget"])
        #expect(busy.status == 75, "\(busy.stderr)")
        #expect(busy.stderr.contains("another drctl backup is running"), "\(busy.stderr)")
        #expect(try home.drctl(["forget", "--dry-run"]).status == 0)
    }

    @Test("calendar rules on records with forged times: keep_daily and keep_yearly per history; an empty run is its own history; an unreadable list is kept and named; another host's records are not touched unless --host names it")
    func calendarRules() throws {
        let home = try BackupHome()
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 40)[0]
        try home.initRepository()
        let real = try #require(try home.backupOK().snapshot)
        // Every key holder can write a record with any time (ManifestForger); the lists are
        // the real run's, so every forged record restores like it.
        let forger = try ManifestForger(config: home.config)
        func copy(_ time: String, host: String? = nil) throws -> String {
            try forger.rewrite("snapshots/\(real)", keepOriginal: true) { json in
                json["time"] = time
                if let host { json["host"] = host }
            }
        }
        let jan1early = try copy("2030-01-01T01:00:00.000Z")
        let jan1late = try copy("2030-01-01T23:00:00.000Z")
        let jan2 = try copy("2030-01-02T12:00:00.000Z")
        let jan5 = try copy("2030-01-05T12:00:00.000Z")
        let other = try copy("2030-01-04T12:00:00.000Z", host: "mx-other")
        // Its entries are newer than its time: its list is invalid, so it cannot be read.
        let unreadable = try copy("2020-01-01T00:00:00.000Z")
        let emptyList = try forger.rewriteEntries("snapshots/\(real)", keepOriginal: true) { $0 = [] }
        let empty = try forger.rewrite("snapshots/\(emptyList)") { $0["time"] = "2030-01-03T00:00:00.000Z" }
        try home.retention("keep_daily = 2\nkeep_yearly = 2")
        let all: Set<String> = [real, jan1early, jan1late, jan2, jan5, other, unreadable, empty]
        #expect(home.records("site-a") == all && home.records("site-b") == all)

        let (run, forgot) = try home.forget()
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(forgot, "\(run.stdout)")
        #expect(Set(report.plan.snapshots.map(\.id)) == all.subtracting([other]), "this host's records only")
        #expect(Set(report.plan.snapshots.filter { !$0.keep }.map(\.id)) == [jan1early, jan1late])
        #expect(report.snapshot(jan5)?.reasons.map(\.text)
                == ["newest of its host and store", "daily 2030-01-05 for \(mailbox.path)", "yearly 2030 for \(mailbox.path)"])
        #expect(report.snapshot(jan2)?.reasons.map(\.text) == ["daily 2030-01-02 for \(mailbox.path)"])
        #expect(report.snapshot(real)?.reasons.map(\.rule) == ["yearly"], "2026's newest")
        #expect(report.snapshot(empty)?.reasons.map(\.text) == ["daily 2030-01-03 for (none), an empty run",
                                                                "yearly 2030 for (none), an empty run"])
        #expect(report.snapshot(unreadable)?.reasons.map(\.rule) == ["unreadable"])
        #expect(report.plan.unreadableLists.map(\.snapshot) == [unreadable])
        #expect(run.stderr.contains("snapshot \(unreadable.prefix(12)) is kept: its list cannot be read"), "\(run.stderr)")
        let remaining = all.subtracting([jan1early, jan1late])
        #expect(home.records("site-a") == remaining && home.records("site-b") == remaining)

        // A kept forged record restores the mailbox byte for byte.
        let (restored, _) = try home.restore(["--snapshot", jan2, "--to", "\(home.root)/r-jan2"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try Files.read("\(home.root)/r-jan2/\(mailbox.path)") == Files.read("\(home.store)/\(mailbox.path)"))

        // Another host's records: with --host, judged on their own (the only one is the newest).
        let (otherRun, otherReport) = try home.forget(["--host", "mx-other", "--dry-run"])
        #expect(otherRun.status == 0, "\(otherRun.stderr)")
        #expect(otherReport?.plan.host == "mx-other")
        #expect(otherReport?.plan.snapshots.map(\.id) == [other])
        #expect(otherReport?.plan.snapshots.first?.keep == true)
        // snapshots is per host too: this host's by default, every host's with --all-hosts.
        #expect(!(try home.snapshots()).map(\.id).contains(other))
        let everyHost = try home.drctl(["snapshots", "--all-hosts", "--json"])
        #expect(try JSONDecoder().decode([SnapshotRow].self, from: Data(everyHost.stdout.utf8)).map(\.id).contains(other))
        let nobody = try home.drctl(["forget", "--host", "nobody"])
        #expect(nobody.status == 0, "\(nobody.stderr)")
        #expect(nobody.stdout.contains("no snapshots of host nobody"), "\(nobody.stdout)")
        #expect(nobody.stdout.contains("host mx-other"), "the hosts that have records are named: \(nobody.stdout)")
    }

    @Test("forget --help teaches the rules, with an example")
    func help() throws {
        let help = try BinaryRunner.drctl(["forget", "--help"])
        #expect(help.status == 0)
        for phrase in ["keep_daily = N", "keep_within", "UTC", "each mailbox's own history", "--dry-run", "Examples:"] {
            #expect(help.stdout.contains(phrase), "\(phrase) missing from: \(help.stdout)")
        }
    }
}

@Suite("forget on S3 targets")
struct ForgetS3Tests {
    @Test("a record goes from a plain S3 target and a folder; under Object Lock it stays, named, exit 0; the next forget says so again", arguments: S3TestServer.names)
    func objectLock(name: String) throws {
        let server = try S3TestServer.named(name)
        let lockBucket = try #require(server.lockBucket, "\(name) has no Object Lock bucket")
        let home = try BackupHome(specs: [.s3("vault", server: server, bucket: lockBucket,
                                               extra: "object_lock = { mode = \"governance\", days = 1 }"),
                                          .s3("plain", server: server), .file("site-b")])
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 40)[0]
        try home.initRepository()
        let old = try #require(try home.backupOK().snapshot)
        let new = try #require(try home.backupOK().snapshot)
        try home.retention("keep_last = 1")

        let (run, report) = try home.forget()
        #expect(run.status == 0, "\(name): \(run.stderr)\(run.stdout)")
        #expect(report?.plan.snapshots.filter { !$0.keep }.map(\.id) == [old])
        let vault = try #require(report?.target("vault"), "\(run.stdout)")
        #expect(vault.deleted == 0 && vault.locked.map(\.object) == ["snapshots/\(old)"], "\(run.stdout)")
        #expect(vault.locked.first?.code == "transport.locked")
        #expect(vault.locked.first?.message.contains("Object Lock") == true)
        #expect(vault.complete, "a record Object Lock keeps is not a failure of the target")
        #expect(report?.target("plain")?.deleted == 1 && report?.target("site-b")?.deleted == 1)
        #expect(home.records("site-b") == [new])

        // What is left: the old record on vault alone, which every forget names until its date.
        let again = try home.drctl(["forget"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("target vault: 1 record(s) under Object Lock stay until their retention ends: \(old.prefix(12))"),
                "\(again.stdout)")
        let (_, plan) = try home.forget(["--dry-run"])
        #expect(plan?.snapshot(old)?.targets == ["vault"])
        #expect(plan?.snapshot(new)?.targets.sorted() == ["plain", "site-b", "vault"])

        // The kept record restores from the S3 target that lost the other.
        let (restored, _) = try home.restore(["--target", "plain", "--to", "\(home.root)/r-plain"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try Files.read("\(home.root)/r-plain/\(mailbox.path)") == Files.read("\(home.store)/\(mailbox.path)"))
    }
}
