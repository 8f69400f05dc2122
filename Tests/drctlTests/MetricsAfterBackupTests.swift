import Foundation
import Testing

/// The status metrics a `drctl backup` writes without measuring the status again: when its
/// snapshot is whole-store, no mailbox failed and every target took it, the backup gives the
/// status it knows (every mailbox restorable at its snapshot's end). They must be what
/// `drctl status` measures right after, run by run; and a run that did not end that way
/// (a `--mailbox` backup, a target down) still measures them.
@Suite("Metrics after a backup: the backup's own status equals drctl status")
struct MetricsAfterBackupTests {
    /// What the backup says with --verbose when it gives the status it knows.
    static let ownStatus = "metrics: the status is this backup's own"

    /// The textfile's status figures against `drctl status --json` run right after (which
    /// rewrites the textfile, so it is read first).
    static func expectSame(_ home: MonitoringHome, textfile: String, _ step: String) throws {
        let samples = try MetricsTests.parse(try String(contentsOfFile: textfile, encoding: .utf8))
        let (_, status) = try home.status()
        func value(_ name: String, _ labels: [String: String] = [:]) throws -> Double {
            try MetricsTests.value(samples, name, labels)
        }
        #expect(try value("drctl_snapshots") == Double(status.snapshots), "\(step): snapshots")
        #expect(try value("drctl_rpo_objective_seconds") == Double(status.rpo.objectiveSeconds), "\(step)")
        #expect(try value("drctl_rpo_never_backed_up_mailboxes") == Double(status.rpo.neverBackedUp.count), "\(step)")
        let worst = samples.filter { $0.name == "drctl_rpo_worst_mailbox_info" }
        #expect(worst.map { $0.labels["mailbox"] } == [status.rpo.worstMailbox], "\(step): worst mailbox")
        let points = samples.filter { $0.name == "drctl_rpo_restorable_point_timestamp_seconds" }.map(\.value)
        let expected = try status.rpo.worstRestorablePoint.map { Double(try Millis.parse($0)) / 1000 }
        #expect(points == (status.rpo.exposureSeconds == nil ? [] : expected.map { [$0] } ?? []),
                "\(step): restorable point \(points) against \(String(describing: status.rpo.worstRestorablePoint))")
        // The exposure is the age of that point when the file was written, a little after
        // the status was measured (or known).
        if let point = points.first {
            let late = try value("drctl_rpo_exposure_seconds") - (try value("drctl_status_timestamp_seconds") - point)
            #expect(late > -0.002 && late < 1, "\(step): exposure \(late) s off")
        }
        for target in status.targets {
            let labels = ["target": target.name]
            #expect(try value("drctl_target_available", labels) == (target.available ? 1 : 0), "\(step): \(target.name)")
            let newest = samples.filter { $0.name == "drctl_target_newest_snapshot_timestamp_seconds" && $0.labels == labels }
            let wanted = try target.newestSnapshot.map { Double(try Millis.parse($0.time)) / 1000 }
            #expect(newest.map(\.value) == (wanted.map { [$0] } ?? []), "\(step): newest snapshot on \(target.name)")
        }
    }

    @Test("whole-store backups (full, changed, unchanged) give drctl status's figures without measuring; a --mailbox run and a run with a target down measure them")
    func sameAsStatus() throws {
        let (home, textfile) = try MetricsTests.home(mailboxes: ["users/carol.db", "users/alice.db", "users/bob.db"])
        defer { try? FileManager.default.removeItem(atPath: (textfile as NSString).deletingLastPathComponent) }

        let (first, _) = try home.backup.backup(["--verbose"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains(Self.ownStatus), "the first backup measured the status again: \(first.stderr)")
        try Self.expectSame(home, textfile: textfile, "first backup")

        try home.writeMailbox("users/bob.db", seed: 2)
        // Past the racy-clean window, so that the next run finds bob unchanged.
        usleep(300_000)
        let (changed, _) = try home.backup.backup(["--verbose"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stderr.contains(Self.ownStatus), "\(changed.stderr)")
        try Self.expectSame(home, textfile: textfile, "a changed mailbox")

        let (unchanged, report) = try home.backup.backup(["--verbose"])
        #expect(unchanged.status == 0 && report?.filesUnchanged == 3, "\(unchanged.stderr)")
        #expect(unchanged.stderr.contains(Self.ownStatus), "\(unchanged.stderr)")
        try Self.expectSame(home, textfile: textfile, "nothing changed")

        // A partial run holds one mailbox: the others' restorable points are older runs'.
        try home.writeMailbox("users/carol.db", seed: 3)
        let (partial, _) = try home.backup.backup(["--verbose", "--mailbox", "users/carol.db"])
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(!partial.stderr.contains(Self.ownStatus), "a --mailbox run must measure the status: \(partial.stderr)")
        try Self.expectSame(home, textfile: textfile, "a --mailbox run")

        // A target down: the run did not reach every target, so the status is measured.
        let folder = home.backup.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: folder, toPath: folder + ".unmounted")
        let (degraded, _) = try home.backup.backup(["--verbose"])
        #expect(degraded.status == 2, "\(degraded.stderr)")
        #expect(!degraded.stderr.contains(Self.ownStatus), "\(degraded.stderr)")
        try Self.expectSame(home, textfile: textfile, "a target down")
        try FileManager.default.moveItem(atPath: folder + ".unmounted", toPath: folder)

        // Back: the first run catches site-b up and ends whole.
        let (healed, _) = try home.backup.backup(["--verbose"])
        #expect(healed.status == 0, "\(healed.stderr)")
        #expect(healed.stderr.contains(Self.ownStatus), "\(healed.stderr)")
        try Self.expectSame(home, textfile: textfile, "site-b caught up")
    }
}
