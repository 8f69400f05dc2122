import Foundation
import Testing

/// `drctl status`: per target the newest snapshot and its lag, the RPO exposure with the
/// worst mailbox named, the last drill; exit 0 within the objective, 4 beyond it, 2 when
/// only a target is unavailable or behind — through the built binary, on file targets.
@Suite("drctl status")
struct StatusTests {
    @Test("after backups: exit 0, the worst mailbox is the one backed up longest ago, exposure small; the drill summary is read")
    func withinTheObjective() throws {
        let home = try MonitoringHome()
        let first = try #require(try home.backup.backupOK().snapshot)
        // Nothing changed: the run reads neither mailbox, yet its unchanged entries are
        // restorable points it verified, newer than the first run's.
        let unchanged = try home.backup.backupOK()
        #expect(unchanged.filesUnchanged == 2)
        let verified = try #require(unchanged.snapshot)
        #expect(verified != first)
        let (_, afterUnchanged) = try home.status()
        #expect(afterUnchanged.rpo.worstSnapshot == verified)
        // A partial run saves bob again: alice's newest restorable point is now the older one.
        try home.writeMailbox("users/bob.db", seed: 1)
        let second = try #require(try home.backup.backupOK(["--mailbox", "users/bob.db"]).snapshot)

        let (result, report) = try home.status()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report.schema == "drctl.status/1")
        #expect(report.exitStatus == 0)
        #expect(report.problems.isEmpty, "\(report.problems.map(\.message))")
        #expect(report.storePath == home.store)
        #expect(report.snapshots == 3)
        #expect(report.newestSnapshot?.id == second)
        #expect(report.newestSnapshot?.wholeStore == false)
        #expect(report.rpo.worstMailbox == "users/alice.db")
        #expect(report.rpo.worstSnapshot == verified)
        #expect(report.rpo.mailboxes == 2)
        #expect(report.rpo.neverBackedUp.isEmpty)
        #expect(!report.rpo.exceeded)
        #expect(report.rpo.objective == "1d" && report.rpo.objectiveSeconds == 86_400)
        let exposure = try #require(report.rpo.exposureSeconds)
        #expect(exposure >= 0 && exposure < 120, "exposure \(exposure) s right after a backup")
        for name in ["site-a", "site-b"] {
            let target = try report.target(name)
            #expect(target.available && target.withinObjective && target.missingSnapshots == 0)
            #expect(target.newestSnapshot?.id == second)
            #expect((target.lagSeconds ?? .infinity) < 120)
        }
        #expect(report.drill.latest == nil && report.drill.error == nil)

        // Text: the table and the worst mailbox, and "no drill yet".
        let text = try home.drctl(["status"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("worst mailbox users/alice.db"), "\(text.stdout)")
        #expect(text.stdout.contains("site-a") && text.stdout.contains("OBJECTIVE"), "\(text.stdout)")
        #expect(text.stdout.contains("last drill: no drill yet"), "\(text.stdout)")

        // The drill's summary file (the interface drills write): read, and it does not
        // change the exit status; a malformed one is named.
        let reports = "\(home.root)/state/reports"
        try FileManager.default.createDirectory(atPath: reports, withIntermediateDirectories: true)
        try #"{"time": "2026-01-02T03:04:05.000Z", "verdict": "fail", "report": "drill-1.json"}"#
            .write(toFile: "\(reports)/latest.json", atomically: true, encoding: .utf8)
        let (drilled, withDrill) = try home.status()
        #expect(drilled.status == 0, "\(drilled.stderr)")
        #expect(withDrill.drill.latest?.verdict == "fail")
        #expect(withDrill.drill.latest?.time == "2026-01-02T03:04:05.000Z")
        #expect(try home.drctl(["status"]).stdout.contains("last drill: FAIL at 2026-01-02T03:04:05.000Z"))
        try #"{"verdict": "maybe"}"#.write(toFile: "\(reports)/latest.json", atomically: true, encoding: .utf8)
        let (malformed, withBadDrill) = try home.status()
        #expect(malformed.status == 0, "\(malformed.stderr)")
        #expect(withBadDrill.drill.error?.code == "status.drill-report")
        #expect(withBadDrill.drill.error?.message.contains("\(reports)/latest.json") == true)
    }

    @Test("snapshots older than [objectives] rpo: exit 4, status.rpo-exceeded naming the worst mailbox, its age and the objective; a new backup ends it")
    func beyondTheObjective() throws {
        let home = try MonitoringHome(extraConfig: "[objectives]\nrpo = \"1m\"")
        // No snapshot yet: 4 as well, with its own code.
        let (none, noneReport) = try home.status()
        #expect(none.status == 4, "\(none.stderr)")
        #expect(noneReport.problems.first?.code == "status.no-snapshot")
        #expect(noneReport.rpo.exceeded && noneReport.rpo.exposureSeconds == nil)
        #expect(none.stderr.contains("no snapshot of host"), "\(none.stderr)")

        _ = try home.backup.backupOK()
        try home.writeMailbox("users/bob.db", seed: 1)
        _ = try home.backup.backupOK(["--mailbox", "users/bob.db"])
        try home.backdate(by: 7200)

        let (result, report) = try home.status()
        #expect(result.status == 4, "\(result.stderr)")
        #expect(report.exitStatus == 4)
        #expect(report.problems.first?.code == "status.rpo-exceeded")
        #expect(report.rpo.exceeded)
        #expect(report.rpo.worstMailbox == "users/alice.db")
        let exposure = try #require(report.rpo.exposureSeconds)
        #expect(exposure >= 7200 && exposure < 7200 + 300, "exposure \(exposure)")
        // The targets are behind the objective too, but the objective decides the status.
        #expect(report.targets.allSatisfy { $0.available && !$0.withinObjective })
        // The message: the worst mailbox, its age, the objective, what to do.
        #expect(result.stderr.contains("drctl: error: mailbox users/alice.db"), "\(result.stderr)")
        #expect(result.stderr.contains("2 h"), "\(result.stderr)")
        #expect(result.stderr.contains("[objectives] rpo = 1m"), "\(result.stderr)")
        #expect(result.stderr.contains("run drctl backup"), "\(result.stderr)")
        #expect(result.stderr.contains("journalctl -u drctl.service"), "\(result.stderr)")
        // The text form says it too, with the same status.
        let text = try home.drctl(["status"])
        #expect(text.status == 4)
        #expect(text.stdout.contains("EXCEEDED"), "\(text.stdout)")

        // A backup now brings every mailbox within the objective again.
        let fresh = try home.backup.backupOK()
        let (after, afterReport) = try home.status()
        #expect(after.status == 0, "\(after.stderr)")
        #expect((afterReport.rpo.exposureSeconds ?? .infinity) < 60)
        #expect(afterReport.rpo.worstSnapshot == fresh.snapshot)
    }

    @Test("a mailbox no snapshot holds: exit 4, status.no-snapshot naming it, exposure unbounded")
    func neverBackedUp() throws {
        let home = try MonitoringHome()
        _ = try home.backup.backupOK()
        // A new mailbox that every backup fails (its database is cut short).
        try home.writeTruncatedDatabase("users/carol.db")
        let (failed, failedReport) = try home.backup.backup()
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failedReport?.failures.map(\.code) == ["image.db-truncated"])
        let (result, report) = try home.status()
        #expect(result.status == 4, "\(result.stderr)")
        #expect(report.problems.first?.code == "status.no-snapshot")
        #expect(report.rpo.neverBackedUp == ["users/carol.db"])
        #expect(report.rpo.exposureSeconds == nil)
        #expect(report.rpo.worstMailbox == "users/carol.db")
        #expect(report.newestSnapshot?.failed == 1)
        #expect(result.stderr.contains("users/carol.db"), "\(result.stderr)")
    }

    @Test("a target unavailable, then lagging: exit 2 (degraded), naming it; the objective is still met")
    func targetUnavailableOrBehind() throws {
        let home = try MonitoringHome()
        _ = try home.backup.backupOK()
        let siteB = home.backup.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: siteB, toPath: siteB + ".unmounted")

        let (result, report) = try home.status()
        #expect(result.status == 2, "\(result.stderr)")
        #expect(report.exitStatus == 2)
        #expect(!report.rpo.exceeded)
        let missing = try report.target("site-b")
        #expect(!missing.available && !missing.withinObjective)
        #expect(missing.error?.code == "repository.not-initialized", "\(String(describing: missing.error))")
        #expect(try report.target("site-a").withinObjective)
        #expect(result.stderr.contains("drctl: warning: target site-b is unavailable"), "\(result.stderr)")

        // A backup without it, then it is back: it lacks that snapshot.
        let (degraded, _) = try home.backup.backup()
        #expect(degraded.status == 2, "\(degraded.stderr)")
        try FileManager.default.moveItem(atPath: siteB + ".unmounted", toPath: siteB)
        let (behind, behindReport) = try home.status()
        #expect(behind.status == 2, "\(behind.stderr)")
        let lagging = try behindReport.target("site-b")
        #expect(lagging.available && lagging.missingSnapshots == 1 && !lagging.withinObjective)
        #expect(lagging.newestSnapshot?.id != behindReport.newestSnapshot?.id)
        #expect(behind.stderr.contains("target site-b lacks 1 snapshot(s)"), "\(behind.stderr)")
        #expect(behind.stderr.contains("run drctl sync"), "\(behind.stderr)")

        // sync completes it: 0 again.
        let synced = try home.drctl(["sync"])
        #expect(synced.status == 0, "\(synced.stderr)")
        let (complete, _) = try home.status()
        #expect(complete.status == 0, "\(complete.stderr)")
    }
}
