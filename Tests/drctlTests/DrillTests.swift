import DRCore
import DRRepository
import DRTestSupport
import Foundation
import Testing

/// `drctl drill` and `drctl canary` end to end (issue 12): restores from every target
/// independently, the checks, RPO from the records and from the canary, RTO, unknown for
/// what could not run, the scratch folder wiped.
@Suite("restore drills", .serialized)
struct DrillTests {
    /// The canary mailbox: `.db` so that the homes' `include = ["**/*.db"]` backs it up.
    static let canary = "drctl-canary.db"

    /// Runs `drctl drill --json ARGUMENTS` and decodes its results.
    static func drill(_ home: BackupHome, _ arguments: [String]) throws -> (ProcessResult, DrillResults) {
        let result = try home.drctl(["drill", "--json", "--no-progress"] + arguments)
        let results = try #require(try? JSONDecoder().decode(DrillResults.self, from: Data(result.stdout.utf8)),
                                   "drill printed no results (exit \(result.status)): \(result.stdout)\n\(result.stderr)")
        return (result, results)
    }

    /// `drctl canary --json`: the time it wrote.
    static func canary(_ home: BackupHome) throws -> Date {
        let result = try home.drctl(["canary", "--json"])
        try #require(result.status == 0, "canary failed: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let text = try #require(object["time"] as? String)
        return try #require(Timestamps.parse(text))
    }

    static func expectScratchGone(_ results: DrillResults, _ home: BackupHome) {
        #expect(results.scratch.wiped && results.scratch.verified, "scratch \(results.scratch)")
        #expect(results.scratch.path.hasPrefix(home.root + "/"), "the scratch folder is not under the state folder: \(results.scratch.path)")
        #expect(!FileManager.default.fileExists(atPath: results.scratch.path), "\(results.scratch.path) is still there")
        let state = (try? FileManager.default.contentsOfDirectory(atPath: home.root + "/state")) ?? []
        #expect(!state.contains { $0.hasPrefix("drill-scratch") }, "a scratch folder is left in the state folder: \(state)")
    }

    @Test("a drill passes on two healthy file targets: every mailbox restored from each, plain ones integrity-checked and counted, encrypted ones checked without the key, the canary read, the scratch folder wiped")
    func healthyFileTargets() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "all", journal: "all", count: 1, messages: 150, seed: 3)
        try home.replaceConfig { $0 + "\n[drill]\ncanary = \"\(Self.canary)\"\n" }
        try home.initRepository()
        let canaryWritten = try Self.canary(home)
        _ = try home.backupOK()
        let (result, results) = try Self.drill(home, ["--all", "--seed", "7", "--scenario", "test drill"])
        #expect(result.status == 0, "drill exit \(result.status): \(result.stderr)\n\(results.deviations)")
        #expect(results.verdict == .pass, "\(results.deviations)")
        #expect(results.scenario == "test drill")
        #expect(results.selection.seed == 7 && results.selection.mode == "all")
        #expect(Set(results.selection.mailboxes) == Set(mailboxes.map(\.path)), "the canary is not part of the sample")
        #expect(results.selection.strata.reduce(0) { $0 + $1.population } == mailboxes.count)
        #expect(results.targets.map(\.name) == ["site-a", "site-b"])
        for target in results.targets {
            #expect(target.verdict == .pass, "\(target.name): \(target.mailboxes.map(\.checks))")
            #expect(target.mailboxes.count == mailboxes.count + 1, "\(target.name): every mailbox and the canary")
            #expect((target.throughputBytesPerSecond ?? 0) > 0 && (target.projectedFullRestoreSeconds ?? 0) > 0)
            #expect(!target.projectionAssumptions.isEmpty)
            for mailbox in target.mailboxes where mailbox.path != Self.canary {
                let names = Set(mailbox.checks.map(\.name))
                #expect(names.isSuperset(of: ["chunks-authenticated", "tree-root", "size-and-pages"]), "\(mailbox.path): \(names)")
                let generated = try #require(mailboxes.first { $0.path == mailbox.path })
                if generated.cipher == "none" {
                    #expect(mailbox.cipher == "plain")
                    #expect(names.isSuperset(of: ["integrity-check", "row-counts"]), "\(mailbox.path): \(names)")
                    let counts = mailbox.checks.first { $0.name == "row-counts" }?.detail ?? ""
                    #expect(counts.contains("="), "row counts: \(counts)")
                } else {
                    #expect(mailbox.cipher == "encrypted", "\(mailbox.path) (\(generated.cipher)): \(mailbox.cipher ?? "nil")")
                    #expect(names.contains("encrypted-header") && !names.contains("integrity-check"), "\(mailbox.path): \(names)")
                }
                #expect(mailbox.timing != nil && mailbox.bytes > 0)
            }
        }
        #expect(results.rpo.verdict == .pass && results.rto.verdict == .pass)
        let worst = try #require(results.rpo.worstSeconds)
        #expect(worst >= 0 && worst < 600, "RPO \(worst) s just after a backup")
        // The canary: its newest time read from each restored copy is the one `drctl canary`
        // wrote (millisecond text, so equal within 1 ms), and its age is the point minus it.
        let canary = try #require(results.rpo.canary)
        #expect(canary.verdict == .pass)
        let newest = try #require(canary.newestWrite.flatMap(Timestamps.parse))
        #expect(abs(newest.timeIntervalSince(canaryWritten)) <= 0.001, "canary \(newest) vs written \(canaryWritten)")
        let point = try #require(Timestamps.parse(results.point.time))
        #expect(abs((canary.ageSeconds ?? -1) - point.timeIntervalSince(canaryWritten)) <= 0.002)
        #expect(results.coverage.mailboxes == mailboxes.count && results.coverage.last30Days == 1)
        #expect(!results.controls.isEmpty && results.controls.contains { $0.check == "integrity-check" && $0.frameworks.contains("NIST SP 800-53 CP-9(1)") })
        Self.expectScratchGone(results, home)

        // drctl status shows the verdict; text output leads with it.
        let status = try home.drctl(["status", "--json"])
        let drill = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["drill"] as? [String: Any]
        #expect((drill?["latest"] as? [String: Any])?["verdict"] as? String == "pass", "\(status.stdout)")
        let text = try home.drctl(["drill", "--sample", "2", "--seed", "7"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("drill PASS: 2 of \(mailboxes.count) mailboxes"), "\(text.stdout)")
    }

    @Test("the same seed and history select the same mailboxes; rotation prefers the mailboxes never drilled")
    func seededRotatingSelection() throws {
        let home = try MonitoringHome(mailboxes: (1...8).map { "users/user\($0).db" })
        _ = try home.backup.backupOK()
        let (_, first) = try Self.drill(home.backup, ["--sample", "4", "--seed", "11", "--target", "site-a"])
        #expect(first.selection.mailboxes.count == 4 && first.selection.rotated.count == 2)
        #expect(first.targets.map(\.name) == ["site-a"])
        let (_, second) = try Self.drill(home.backup, ["--sample", "4", "--seed", "11", "--target", "site-a"])
        // The second drill's rotation takes two of the four never drilled.
        #expect(Set(second.selection.rotated).isDisjoint(with: first.selection.mailboxes), "\(first.selection) then \(second.selection)")
        #expect(second.coverage.last30Days == Double(Set(first.selection.mailboxes + second.selection.mailboxes).count) / 8)
    }

    @Test("[drill] verify_command runs for the mailboxes verify_mailboxes matches, with the restored path: exit 0 passes, another status fails with its first lines recorded")
    func verifyCommandHook() throws {
        let hook = #"echo "checked ${0##*/}"; echo second; echo third; echo fourth; echo fifth; echo sixth; case "$0" in */bob.db) exit 4;; esac"#
        let config = "[drill]\nverify_command = [\"/bin/sh\", \"-c\", \(String(reflecting: hook))]\nverify_mailboxes = [\"users/*.db\"]"
        let home = try MonitoringHome(mailboxes: ["users/alice.db", "users/bob.db", "other/carol.db"], extraConfig: config)
        _ = try home.backup.backupOK()
        let (result, results) = try Self.drill(home.backup, ["--all", "--target", "site-a"])
        #expect(result.status == 3, "drill exit \(result.status): \(result.stderr)")
        let mailboxes = try #require(results.targets.first?.mailboxes)
        let hooks = Dictionary(uniqueKeysWithValues: mailboxes.map { ($0.path, $0.checks.first { $0.name == "verify-command" }) })
        #expect(hooks["users/alice.db"]??.verdict == .pass)
        #expect(hooks["users/alice.db"]??.detail == "exit status 0: checked alice.db | second | third | fourth | fifth", "only the first 5 lines")
        #expect(hooks["users/bob.db"]??.verdict == .fail)
        #expect(hooks["users/bob.db"]??.detail?.hasPrefix("exit status 4: checked bob.db") == true)
        #expect(hooks["other/carol.db"] == .some(nil), "verify_mailboxes does not match other/carol.db")
        #expect(results.deviations.contains { $0.mailbox == "users/bob.db" && $0.check == "verify-command" && $0.target == "site-a" })
    }

    @Test("--point random-within:1h: a seeded moment within the hour before the drill; each mailbox restored as of it; the same seed gives the same offset")
    func randomPointWithinWindow() throws {
        let home = try MonitoringHome()
        _ = try home.backup.backupOK()
        try home.backdate(by: 7200)
        try home.writeMailbox("users/alice.db", seed: 1)
        _ = try home.backup.backupOK()
        var offsets: [Double] = []
        for _ in 0..<2 {
            let (result, results) = try Self.drill(home.backup, ["--all", "--seed", "99", "--point", "random-within:1h"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(results.point.mode == "random-within" && results.point.window == "1h")
            let started = try #require(Timestamps.parse(results.started))
            let point = try #require(Timestamps.parse(results.point.time))
            #expect(point <= started && point >= started.addingTimeInterval(-3600))
            offsets.append(started.timeIntervalSince(point))
            for mailbox in results.targets.flatMap(\.mailboxes) {
                let at = try #require(mailbox.consistentAt.flatMap(Timestamps.parse))
                #expect(at <= point, "\(mailbox.path) restored as of \(at), after the point \(point)")
            }
        }
        #expect(abs(offsets[0] - offsets[1]) < 0.002, "the same seed drew \(offsets)")
    }

    @Test("a pack removed from one target: that target fails with a deviation naming the mailbox and the object, the other passes, the overall verdict names the failed target (exit 3)")
    func packRemovedFromOneTarget() throws {
        let home = try BackupHome()
        _ = try home.generate(cipher: "none", journal: "all", count: 2, messages: 300, seed: 4)
        try home.initRepository()
        _ = try home.backupOK()
        let siteB = home.targetFolder("site-b")
        // The largest pack holds data chunks (node and list packs hold a few small nodes).
        let lost = try #require(Files.packs(in: siteB).max { Files.size("\(siteB)/\($0)") < Files.size("\(siteB)/\($1)") })
        try FileManager.default.removeItem(atPath: "\(siteB)/\(lost)")
        let (result, results) = try Self.drill(home, ["--all"])
        #expect(result.status == 3, "drill exit \(result.status): \(result.stderr)")
        #expect(results.verdict == .fail)
        let a = try #require(results.targets.first { $0.name == "site-a" })
        let b = try #require(results.targets.first { $0.name == "site-b" })
        #expect(a.verdict == .pass, "\(a.mailboxes.map(\.checks))")
        #expect(b.verdict == .fail)
        let deviation = try #require(results.deviations.first { $0.target == "site-b" && $0.object == lost }, "\(results.deviations)")
        #expect(deviation.mailbox != nil && deviation.verdict == .fail && deviation.cause.contains(lost))
        #expect(!results.deviations.contains { $0.target == "site-a" })
        #expect(result.stderr.contains("drill.failed") || result.stderr.contains("FAILED"), "\(result.stderr)")
        #expect(result.stderr.contains("site-b FAIL"), "\(result.stderr)")
        Self.expectScratchGone(results, home)
    }

    @Test("RPO objective 1h, newest snapshot 2h old: the RPO check fails with the measured figure; the canary's RPO is its real last write")
    func rpoObjectiveMissed() throws {
        let home = try MonitoringHome(extraConfig: "[objectives]\nrpo = \"1h\"\n[drill]\ncanary = \"\(Self.canary)\"")
        let written = try Self.canary(home.backup)
        _ = try home.backup.backupOK()
        try home.backdate(by: 7200)
        let (result, results) = try Self.drill(home.backup, ["--all"])
        #expect(result.status == 3, "drill exit \(result.status): \(result.stderr)")
        #expect(results.rpo.verdict == .fail && results.verdict == .fail)
        #expect(results.rpo.objectiveSeconds == 3600)
        let worst = try #require(results.rpo.worstSeconds)
        #expect(worst >= 7200 && worst < 7200 + 600, "measured RPO \(worst) s")
        let deviation = try #require(results.deviations.first { $0.check == "rpo" })
        #expect(deviation.cause.contains("exceeds the objective 1h"), "\(deviation.cause)")
        // The canary's data was written just now, whatever the records say: tolerance 1 ms
        // (the times are stored to the millisecond).
        let canary = try #require(results.rpo.canary)
        let newest = try #require(canary.newestWrite.flatMap(Timestamps.parse))
        #expect(abs(newest.timeIntervalSince(written)) <= 0.001, "canary \(newest) vs written \(written)")
        #expect(canary.verdict == .pass && (canary.ageSeconds ?? .infinity) < 600)
        for target in results.targets { #expect(target.verdict == .pass, "\(target.name): restores pass, only the objective fails") }
    }

    @Test("a target unreachable during the drill (its folder gone): its checks are unknown, the overall verdict is not a pass (exit 2)")
    func unreachableFileTarget() throws {
        let home = try MonitoringHome()
        _ = try home.backup.backupOK()
        let siteB = home.backup.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: siteB, toPath: siteB + "-unmounted")
        let (result, results) = try Self.drill(home.backup, ["--all"])
        #expect(result.status == 2, "drill exit \(result.status): \(result.stderr)")
        #expect(results.verdict == .unknown)
        let b = try #require(results.targets.first { $0.name == "site-b" })
        #expect(b.verdict == .unknown && b.error != nil)
        #expect(b.mailboxes.allSatisfy { $0.checks.allSatisfy { $0.verdict == .unknown } })
        #expect(results.targets.first { $0.name == "site-a" }?.verdict == .pass)
        #expect(results.rto.verdict == .unknown, "a target without a measured throughput is not projected as a pass")
        Self.expectScratchGone(results, home.backup)
    }

    @Test("canary: a WAL-mode SQLite table of times, the newest 1000 kept; without [drill] canary, an error that says what to add")
    func canaryWrites() throws {
        let home = try MonitoringHome()
        let unset = try home.drctl(["canary"])
        #expect(unset.status == 78 && unset.stderr.contains("canary = \"drctl-canary.sqlite\""), "\(unset.stderr)")
        try home.backup.replaceConfig { $0 + "\n[drill]\ncanary = \"drctl-canary.sqlite\"\n" }
        let result = try home.drctl(["canary", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("does not match [store] include"), "a canary that is never backed up is warned of: \(result.stderr)")
        let header = try Files.read(home.store + "/drctl-canary.sqlite").prefix(20)
        #expect(Array(header.prefix(15)) == Array("SQLite format 3".utf8))
        #expect(header[18] == 2 && header[19] == 2, "the canary is in WAL mode")
        // Rows beyond the newest 1000 go at the next write.
        let python = try Python.require()
        let filled = try home.backup.home.run(python, ["-c", "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.executemany('INSERT INTO canary(time) VALUES (?)', [('2026-01-01T00:00:00.000Z',)] * 1200); db.commit()",
                                                       home.store + "/drctl-canary.sqlite"])
        try #require(filled.status == 0, "\(filled.stderr)")
        let trimmed = try home.drctl(["canary", "--json"])
        let rows = (try JSONSerialization.jsonObject(with: Data(trimmed.stdout.utf8)) as? [String: Any])?["rows"] as? Int
        #expect(trimmed.status == 0 && rows == 1000, "\(trimmed.stdout) \(trimmed.stderr)")
        let check = try home.drctl(["config", "check"])
        #expect(check.stdout.contains("[drill] canary drctl-canary.sqlite does not match [store] include"), "\(check.stdout)")
        // Never backed up, so a drill cannot read it: the canary RPO is unknown, not a pass.
        _ = try home.backup.backupOK()
        let (drilled, results) = try Self.drill(home.backup, ["--all"])
        #expect(drilled.status == 2, "\(drilled.stderr)")
        #expect(results.rpo.canary?.verdict == .unknown && results.verdict == .unknown)
        #expect(results.deviations.contains { $0.check == "canary-rpo" && $0.cause.contains("not in the recovery point") }, "\(results.deviations)")
    }

    @Test("[drill] keys are checked: verify_command by absolute path, canary inside the store; config check shows them")
    func drillConfiguration() throws {
        let home = try MonitoringHome()
        try home.backup.replaceConfig { $0 + "\n[drill]\nverify_command = [\"check-mailbox\"]\ncanary = \"../outside.db\"\n" }
        let bad = try home.drctl(["config", "check"])
        #expect(bad.status == 78, "\(bad.stderr)")
        #expect(bad.stderr.contains("verify_command") && bad.stderr.contains("absolute path"), "\(bad.stderr)")
        #expect(bad.stderr.contains("canary") && bad.stderr.contains("inside it"), "\(bad.stderr)")
        try home.backup.replaceConfig {
            $0.replacingOccurrences(of: "[\"check-mailbox\"]", with: "[\"/usr/local/bin/check-mailbox\", \"-q\"]")
                .replacingOccurrences(of: "../outside.db", with: "canary/drctl.db")
        }
        let good = try home.drctl(["config", "check", "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        let drill = (try JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [String: Any])?["drill"] as? [String: Any]
        #expect(drill?["verify_command"] as? [String] == ["/usr/local/bin/check-mailbox", "-q"], "\(good.stdout)")
        #expect(drill?["verify_mailboxes"] as? [String] == ["**"])
        #expect(drill?["canary"] as? String == "canary/drctl.db")
    }

    @Test("drctl run drills when [drill] every has passed: the first run drills [drill] sample mailboxes, the next is not due")
    func runDrillsWhenDue() throws {
        let home = try MonitoringHome(mailboxes: (1...5).map { "users/user\($0).db" }, extraConfig: "[drill]\nsample = 2")
        let first = try home.drctl(["run", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        let steps = try #require(report["steps"] as? [[String: Any]])
        #expect(steps.map { $0["step"] as? String } == ["backup", "prune", "drill"], "\(steps)")
        #expect(steps.last?["status"] as? String == "ok", "\(steps)")
        let drill = try #require(report["drill"] as? [String: Any])
        #expect(drill["verdict"] as? String == "pass")
        #expect(((drill["selection"] as? [String: Any])?["mailboxes"] as? [String])?.count == 2, "\(drill)")
        let second = try home.drctl(["run", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        let again = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        #expect((again["steps"] as? [[String: Any]])?.last?["status"] as? String == "not-due", "\(second.stdout)")
        #expect(again["drill"] == nil)
    }

    @Test("two real S3 targets (SeaweedFS and radosgw): a drill passes; with one endpoint on a wrong port, that target's checks are unknown and the drill does not pass")
    func twoS3Targets() throws {
        let (seaweed, radosgw) = (try S3TestServer.named("seaweedfs"), try S3TestServer.named("radosgw"))
        let home = try BackupHome(specs: [.s3("eu-west", server: seaweed), .s3("eu-north", server: radosgw, extra: "request_timeout = \"5s\"")])
        let mailboxes = try home.generate(cipher: "all", journal: "wal", count: 1, messages: 200, seed: 9)
        try home.replaceConfig { $0 + "\n[drill]\ncanary = \"\(Self.canary)\"\n" }
        try home.initRepository()
        let written = try Self.canary(home)
        _ = try home.backupOK()
        let (result, results) = try Self.drill(home, ["--all"])
        #expect(result.status == 0, "drill exit \(result.status): \(result.stderr)\n\(results.deviations)")
        #expect(results.verdict == .pass)
        #expect(results.targets.map(\.name) == ["eu-west", "eu-north"])
        for target in results.targets {
            #expect(target.verdict == .pass && target.mailboxes.count == mailboxes.count + 1, "\(target.name)")
        }
        let newest = try #require(results.rpo.canary?.newestWrite.flatMap(Timestamps.parse))
        #expect(abs(newest.timeIntervalSince(written)) <= 0.001)
        Self.expectScratchGone(results, home)

        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        try home.replaceConfig { $0.replacingOccurrences(of: radosgw.endpoint, with: "http://127.0.0.1:9") }
        let (down, downResults) = try Self.drill(home, ["--all"])
        #expect(down.status == 2, "drill exit \(down.status): \(down.stderr)")
        #expect(downResults.verdict == .unknown)
        let north = try #require(downResults.targets.first { $0.name == "eu-north" })
        #expect(north.verdict == .unknown && north.mailboxes.allSatisfy { $0.verdict == .unknown })
        #expect(downResults.targets.first { $0.name == "eu-west" }?.verdict == .pass)
        #expect(downResults.rpo.canary?.verdict == .unknown, "the canary could not be read from every target")
        Self.expectScratchGone(downResults, home)
    }
}
