import DRRepository
import Foundation
import Testing

/// Issue 8, items 1-6: a restore is never silently stale or unsafe. Every test runs the
/// drctl binary on a real repository; the hostile inputs are what the mail server's account
/// (the store, the destination) or any key holder (a manifest) can place.
@Suite("restore: never stale, never unsafe")
struct RestoreHardeningTests {
    static func fileStat(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    // MARK: 1. every target's manifests

    @Test("1: the first target missed Tuesday's backup; restore (latest, --point-in-time now, --snapshot) uses it from the other, names the gap; check reports it")
    func catalogueFromEveryTarget() throws {
        let home = try BackupHome()
        let old = try home.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 40, seed: 1, subfolder: "users")[0]
        try home.initRepository()
        let monday = try #require(try home.backupOK().snapshot)

        // site-a, the first target, is unmounted during Tuesday's backup.
        let siteA = home.targetFolder("site-a")
        try FileManager.default.moveItem(atPath: siteA, toPath: siteA + ".away")
        try home.write(old, transactions: 3, seed: 5)
        let new = try home.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 40, seed: 2, subfolder: "new")[0]
        let (run, report) = try home.backup()
        #expect(run.status == 2, "\(run.stderr)")
        let tuesday = try #require(report?.snapshot)
        // While site-a is away, a restore says so.
        let away = try home.drctl(["restore", "--to", "\(home.root)/r-away"])
        #expect(away.status == 0, "\(away.stderr)")
        #expect(away.stderr.contains("warning: target site-a could not be read"), "\(away.stderr)")
        try FileManager.default.moveItem(atPath: siteA + ".away", toPath: siteA)

        // Latest: Tuesday's images, the gap named.
        let (latest, latestReport) = try home.restore(["--to", "\(home.root)/r-latest"])
        #expect(latest.status == 0, "\(latest.stderr)")
        let byMailbox = Dictionary(uniqueKeysWithValues: (latestReport?.restored ?? []).map { ($0.mailbox, $0.snapshot) })
        #expect(byMailbox[old.path] == tuesday, "the newest image of \(old.path) is Tuesday's, not Monday's (\(monday))")
        #expect(byMailbox[new.path] == tuesday, "\(new.path), first backed up on Tuesday, is restored")
        let text = try home.drctl(["restore", "--to", "\(home.root)/r-text"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stderr.contains("target site-a lacks 1 snapshot(s)"), "the target that lacks Tuesday's manifest is named: \(text.stderr)")
        #expect(text.stderr.contains(String(tuesday.prefix(12))))

        let (now, nowReport) = try home.restore(["--point-in-time", "now", "--mailbox", new.path, "--to", "\(home.root)/r-now"])
        #expect(now.status == 0, "\(now.stderr)")
        #expect(nowReport?.restored.first?.snapshot == tuesday)
        let (exact, exactReport) = try home.restore(["--snapshot", tuesday, "--to", "\(home.root)/r-snapshot"])
        #expect(exact.status == 0, "\(exact.stderr)")
        #expect(exactReport?.restored.count == 2)
        #expect(exactReport?.restored.allSatisfy { $0.target == "site-b" } == true, "read from the target that holds it")
        let verdicts = try home.verify(["\(home.root)/r-snapshot/\(new.path)"], cipher: "chacha20")
        #expect(verdicts.first?.problems.isEmpty == true)

        // check: the manifest sets differ, said of site-a.
        let (_, checked) = try home.check([])
        let warnings = checked?.targets.first { $0.target == "site-a" }?.warnings ?? []
        #expect(warnings.contains { $0.code == "check.snapshots-differ" && $0.message.contains(String(tuesday.prefix(12))) },
                "check names the snapshot site-a lacks: \(warnings)")
        #expect(checked?.targets.first { $0.target == "site-b" }?.warnings.contains { $0.code == "check.snapshots-differ" } == false)
    }

    // MARK: 2. modes and owner

    @Test("2: a 4755 mailbox is restored without set-id or execute bits; created folders are 0700; --owner gives everything to the account")
    func modesAndOwner() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 30, subfolder: "users")[0]
        try #require(chmod("\(home.store)/\(mailbox.path)", 0o4755) == 0)
        try home.initRepository()
        _ = try home.backupOK()

        let destination = "\(home.root)/restore/deep"
        let (result, _) = try home.restore(["--to", destination, "--owner", "4321:8765"])
        #expect(result.status == 0, "\(result.stderr)")
        let file = try #require(Self.fileStat("\(destination)/\(mailbox.path)"))
        #expect(file.st_mode & 0o7777 == 0o644, "recorded 4755 masked to 0666 (owner rw kept): got \(String(file.st_mode & 0o7777, radix: 8))")
        #expect(file.st_uid == 4321 && file.st_gid == 8765)
        let folder = try #require(Self.fileStat("\(destination)/users"))
        #expect(folder.st_mode & 0o7777 == 0o700, "got \(String(folder.st_mode & 0o7777, radix: 8))")
        #expect(folder.st_uid == 4321 && folder.st_gid == 8765)
        let top = try #require(Self.fileStat(destination))
        #expect(top.st_mode & 0o7777 == 0o700)

        // A user name without a group: that user's own group.
        let (named, _) = try home.restore(["--to", "\(home.root)/named", "--owner", "nobody"])
        #expect(named.status == 0, "\(named.stderr)")
        let nobody = try #require(Self.fileStat("\(home.root)/named/\(mailbox.path)"))
        #expect(nobody.st_uid == getpwnam("nobody").pointee.pw_uid)
        #expect(nobody.st_gid == getpwnam("nobody").pointee.pw_gid)

        let (unknown, _) = try home.restore(["--to", "\(home.root)/unknown", "--owner", "no-such-user-h8"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no user named no-such-user-h8"), "\(unknown.stderr)")
    }

    // MARK: 3. paths

    @Test("3: a symbolic link below --to is never followed; a manifest path with .. or / is rejected when read and nothing lands outside --to")
    func hostilePaths() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 30, subfolder: "users")[0]
        try home.initRepository()
        let good = try #require(try home.backupOK().snapshot)

        // The destination's `users` is a link to a folder outside it.
        let destination = "\(home.root)/linked"
        let outside = "\(home.root)/outside"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try #require(symlink(outside, "\(destination)/users") == 0)
        let (linked, linkedReport) = try home.restore(["--to", destination])
        #expect(linked.status != 0)
        #expect(linkedReport?.failures.first?.code == "restore.unsafe-path", "\(linked.stdout)")
        #expect(Files.all(under: outside).isEmpty, "written through the link: \(Files.all(under: outside))")

        // A key holder's manifests naming paths outside the destination.
        let forger = try ManifestForger(config: home.config)
        let original = "snapshots/" + good
        for (index, hostile) in ["../escaped.db", "users/../../escaped.db", "/tmp/drctl-h8-escaped.db"].enumerated() {
            let forged = try forger.rewriteEntries(original, keepOriginal: true) { entries in
                entries[0].path = hostile
            }
            // Each one newer than the sound one, so that a restore must read and pass over all three.
            try forger.rewrite("snapshots/" + forged) { json in
                let time = try Millis.parse(try #require(json["time"] as? String))
                json["time"] = Millis.format(time + Int64(index + 1) * 1000)
            }
        }
        let safe = "\(home.root)/safe/inner"
        let (restored, report) = try home.restore(["--to", safe])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(report?.restored.map(\.mailbox) == [mailbox.path], "only the sound manifest's mailbox")
        #expect(!Files.exists("\(home.root)/safe/escaped.db") && !Files.exists("\(home.root)/escaped.db")
                && !Files.exists("/tmp/drctl-h8-escaped.db"), "a file landed outside --to")
        let text = try home.drctl(["restore", "--to", "\(home.root)/safe-text"])
        #expect(text.stderr.components(separatedBy: "ignored:").count - 1 == 3, "each rejected manifest is named: \(text.stderr)")
        #expect(text.stderr.contains("repository.manifest-invalid") || text.stderr.contains("mailbox path"), "\(text.stderr)")

        // A plain listing reads manifests only (sound here: the forgery is in the lists), so
        // it shows all four; asked about the mailbox it reads the lists and shows the sound
        // one only (the forged lists do not hold that path).
        let all = try home.drctl(["snapshots", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try JSONDecoder().decode([SnapshotRow].self, from: Data(all.stdout.utf8)).count == 4)
        let listed = try home.drctl(["snapshots", "--json", "--mailbox", mailbox.path])
        #expect(listed.status == 0, "\(listed.stderr)")
        let rows = try JSONDecoder().decode([SnapshotRow].self, from: Data(listed.stdout.utf8))
        #expect(rows.map(\.id) == [good])
    }

    @Test("3: a manifest whose mailbox count differs from its list's is passed over and named")
    func countMismatch() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 30)[0]
        try home.initRepository()
        let good = try #require(try home.backupOK().snapshot)
        let forger = try ManifestForger(config: home.config)
        let forged = try forger.rewrite("snapshots/" + good, keepOriginal: true) { json in
            var mailboxes = try #require(json["mailboxes"] as? [String: Any])
            mailboxes["count"] = 2
            json["mailboxes"] = mailboxes
            json["time"] = Millis.format(try Millis.parse(try #require(json["time"] as? String)) + 1000)
        }
        let (restored, report) = try home.restore(["--to", "\(home.root)/out"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(report?.restored.map(\.snapshot) == [good], "not the forged \(forged)")
        #expect(report?.restored.map(\.mailbox) == [mailbox.path])
        let text = try home.drctl(["restore", "--to", "\(home.root)/text"])
        #expect(text.stderr.contains("ignored:") && text.stderr.contains("says it holds 2 mailboxes, but its list holds 1"), "\(text.stderr)")
    }

    @Test("3: a tree that holds more bytes than its entry records stops the restore as soon as it passes the size, and nothing is written")
    func treeLargerThanEntry() throws {
        let home = try BackupHome(targets: ["site-a"])
        _ = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 300)
        try home.initRepository()
        let good = try #require(try home.backupOK().snapshot)
        let forger = try ManifestForger(config: home.config)
        var recorded = 0
        let forged = try forger.rewriteEntries("snapshots/" + good, keepOriginal: true) { entries in
            recorded = entries[0].pageSize
            entries[0].size = Int64(entries[0].pageSize)  // the tree still names every page
        }
        let destination = "\(home.root)/out"
        let (restored, report) = try home.restore(["--snapshot", forged, "--to", destination])
        #expect(restored.status != 0)
        #expect(report?.failures.first?.code == "restore.size-mismatch", "\(restored.stdout)")
        #expect(report?.failures.first?.error.contains("hold more than the \(recorded) bytes") == true, "\(restored.stdout)")
        #expect(Files.all(under: destination).isEmpty, "\(Files.all(under: destination))")
    }

    @Test("3: restores racing into one folder: a file that appears after the existence check is not overwritten (one wins, the others say restore.exists)")
    func appearsAfterCheck() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 4000)[0]
        try home.initRepository()
        _ = try home.backupOK()
        let destination = "\(home.root)/race"
        // Started together, each passes the check before any has linked its file (the write
        // of several MB takes longer than starting); only link(2) then stands between them.
        var outcomes: [(status: Int32, report: RestoreReport?)] = []
        for round in 0..<3 {
            let folder = "\(destination)-\(round)"
            let racers = try (0..<6).map { _ in
                try RunningProcess(Drctl.binary, ["restore", "--json", "--to", folder, "--config", home.config],
                                   environment: home.home.environment, inheritEnvironment: false,
                                   currentDirectory: home.root)
            }
            for racer in racers {
                let result = racer.wait()
                outcomes.append((result.status, try? JSONDecoder().decode(RestoreReport.self, from: Data(result.stdout.utf8))))
            }
            let written = outcomes.suffix(6).filter { $0.report?.restored.count == 1 }
            #expect(written.count == 1, "round \(round): exactly one restore may write \(mailbox.path); \(written.count) did")
            let refused = outcomes.suffix(6).filter { $0.report?.failures.first?.code == "restore.exists" }
            #expect(refused.count == 5, "round \(round): the others are refused: \(outcomes.suffix(6).map { $0.report?.failures.first?.code ?? "-" })")
            #expect(Files.all(under: folder).filter { $0.contains(".tmp-") }.isEmpty, "no temporary file is left")
        }
    }

    // MARK: 4. host and store

    @Test("4: another host's newer manifest does not win latest (--host chooses it); a manifest with an image consistent after it was made is rejected")
    func hostAndFuture() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 30)[0]
        try home.initRepository()
        let ours = try #require(try home.backupOK().snapshot)
        try home.write(mailbox, transactions: 3, seed: 7)
        let second = try #require(try home.backupOK().snapshot)

        let forger = try ManifestForger(config: home.config)
        // Another host, whose store is elsewhere: --host alone finds it.
        let theirs = try forger.rewrite("snapshots/" + second) { json in
            json["host"] = "other-host"
            json["storePath"] = "/srv/other-store"
        }
        let future = try forger.rewriteEntries("snapshots/" + ours, keepOriginal: true) { entries in
            let at = try Millis.parse(entries[0].consistentAt)
            entries[0].consistentAt = Millis.format(at + 86_400_000)
        }

        let (latest, latestReport) = try home.restore(["--to", "\(home.root)/latest"])
        #expect(latest.status == 0, "\(latest.stderr)")
        #expect(latestReport?.restored.first?.snapshot == ours, "this host's newest, not other-host's \(theirs) or the future \(future)")
        let (far, farReport) = try home.restore(["--point-in-time", "2099-01-01T00:00:00Z", "--to", "\(home.root)/far"])
        #expect(far.status == 0, "\(far.stderr)")
        #expect(farReport?.restored.first?.snapshot == ours, "the manifest whose image is consistent after it was made is rejected")
        let (other, otherReport) = try home.restore(["--host", "other-host", "--to", "\(home.root)/other"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(otherReport?.restored.first?.snapshot == theirs)
        let (named, _) = try home.restore(["--snapshot", future, "--to", "\(home.root)/named"])
        #expect(named.status == 3)
        #expect(named.stderr.contains("later than the manifest was made"), "\(named.stderr)")
        #expect(Files.all(under: "\(home.root)/named").isEmpty)

        // The listing reads manifests, not their lists (which grow with the store): the forged
        // one is listed, refused when its list is read (restore above, and check).
        #expect(Set(try home.snapshots().map(\.id)) == [ours, future], "this host's snapshots")
        let (checked, checkReport) = try home.check([])
        #expect(checked.status == 3)
        #expect(checkReport?.targets.allSatisfy { $0.errors.contains { $0.object == "snapshots/" + future && $0.code == "repository.manifest-invalid" } } == true,
                "\(checked.stdout)")
        let all = try home.drctl(["snapshots", "--all-hosts", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let rows = try JSONDecoder().decode([SnapshotRow].self, from: Data(all.stdout.utf8))
        #expect(Set(rows.map(\.id)) == [ours, theirs, future])
    }

    // MARK: 5. the set of mailboxes at T

    @Test("5: a whole-store restore at T brings back the mailboxes that existed at T: not one deleted before, yes one added by a --mailbox run")
    func mailboxesAtT() throws {
        let home = try BackupHome(targets: ["site-a"])
        let boxes = try home.generate(cipher: "none", journal: "wal", count: 2, messages: 30, subfolder: "users")
        let (kept, deleted) = (boxes[0], boxes[1])
        try home.initRepository()
        _ = try home.backupOK()
        let afterFirst = Millis.format(Int64(Date().timeIntervalSince1970 * 1000))
        Thread.sleep(forTimeInterval: 0.01)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: "\(home.store)/\(deleted.path)\(suffix)") }
        _ = try home.backupOK()
        let afterSecond = Millis.format(Int64(Date().timeIntervalSince1970 * 1000))
        Thread.sleep(forTimeInterval: 0.01)
        let added = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 30, seed: 9, subfolder: "new")[0]
        _ = try home.backupOK(["--mailbox", added.path])

        func restored(_ arguments: [String], _ folder: String) throws -> Set<String> {
            let (result, report) = try home.restore(arguments + ["--to", "\(home.root)/\(folder)"])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return Set(report?.restored.map(\.mailbox) ?? [])
        }
        #expect(try restored([], "latest") == [kept.path, added.path], "\(deleted.path) was deleted before the second backup")
        #expect(try restored(["--point-in-time", "now"], "now") == [kept.path, added.path])
        #expect(try restored(["--point-in-time", afterFirst], "first") == [kept.path, deleted.path])
        #expect(try restored(["--point-in-time", afterSecond], "second") == [kept.path])
        // Asked for by name, a deleted mailbox is still restored.
        #expect(try restored(["--mailbox", deleted.path], "named") == [deleted.path])
    }

    // MARK: 6. the live store

    @Test("6: --to inside the live store is refused; beside a stale -wal it is refused with --force; --in-place moves the mailbox, -wal and -shm aside")
    func liveStore() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try home.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 30, subfolder: "users")[0]
        try home.initRepository()
        let snapshot = try #require(try home.backupOK().snapshot)
        let live = "\(home.store)/\(mailbox.path)"
        try home.write(mailbox, transactions: 2, seed: 4)
        let liveBytes = try Files.read(live)
        let stale = Array("a stale WAL that SQLite would replay".utf8)
        for suffix in ["-wal", "-shm"] { try Data(stale).write(to: URL(fileURLWithPath: live + suffix)) }

        // Into the store, directly or through a link: refused, nothing touched.
        try #require(symlink("\(home.store)/users", "\(home.root)/alias") == 0)
        for destination in [home.store, "\(home.store)/users/sub", "\(home.root)/alias"] {
            let (refused, _) = try home.restore(["--to", destination, "--force"])
            #expect(refused.status == 64, "\(destination): exit \(refused.status) \(refused.stderr)")
            #expect(refused.stderr.contains("inside the live mail store"), "\(refused.stderr)")
        }
        #expect(try Files.read(live) == liveBytes)
        #expect(!Files.exists("\(home.store)/users/sub"))

        // A staging copy with a -wal beside it: not overwritten even with --force.
        let staging = "\(home.root)/staging"
        let (first, _) = try home.restore(["--to", staging])
        #expect(first.status == 0, "\(first.stderr)")
        let image = try Files.read("\(staging)/\(mailbox.path)")
        try Data(stale).write(to: URL(fileURLWithPath: "\(staging)/\(mailbox.path)-wal"))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(staging)/\(mailbox.path)"))
        let (beside, besideReport) = try home.restore(["--to", staging, "--force"])
        #expect(beside.status != 0)
        #expect(besideReport?.failures.first?.code == "restore.live-companion", "\(beside.stdout)")
        #expect(try Files.read("\(staging)/\(mailbox.path)") == [1, 2, 3])

        // In place: the live file and its companions are moved aside and named.
        let (inPlace, report) = try home.restore(["--snapshot", snapshot, "--to", home.store, "--in-place"])
        #expect(inPlace.status == 0, "\(inPlace.stderr)")
        let moved = report?.restored.first?.movedAside ?? []
        #expect(Set(moved.map(\.from)) == [live, live + "-wal", live + "-shm"], "\(moved)")
        for entry in moved {
            #expect(entry.to.hasPrefix(entry.from + ".drctl-aside-"))
            #expect(try Files.read(entry.to) == (entry.from == live ? liveBytes : stale), "\(entry.to) keeps what was there")
        }
        #expect(!Files.exists(live + "-wal") && !Files.exists(live + "-shm"))
        #expect(try Files.read(live) == image, "the restored image, with nothing stale beside it")
        let verdicts = try home.verify([live], cipher: "chacha20")
        #expect(verdicts.first?.problems.isEmpty == true, "\(verdicts)")
        let text = try home.drctl(["restore", "--snapshot", snapshot, "--to", home.store, "--in-place"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("moved \(live) aside → \(live).drctl-aside-"), "\(text.stdout)")
    }
}
