import DRTestSupport
import Foundation
import Testing

/// `drctl run`, the scheduled job, through the binary: on two real S3 servers, twice; and two
/// runs started at once.
@Suite("drctl run")
struct RunTests {
    struct Summary: Decodable {
        struct Step: Decodable {
            var step: String
            var status: String
            var detail: String?
            var durationSeconds: Double
            var nextDue: String?
        }
        struct Target: Decodable {
            var name: String
            var status: String
            var bytesAdded: Int64
            var bytesReclaimed: Int64
        }
        var host: String
        var steps: [Step]
        var targets: [Target]
        var snapshot: String?
        struct RPO: Decodable {
            var exposureSeconds: Double?
            var objectiveSeconds: Int64
            var worstMailbox: String?
            var exceeded: Bool
        }
        var mailboxes: Int
        var mailboxesFailed: Int
        var rpo: RPO?
        var warnings: [String]
        func step(_ name: String) -> Step? { steps.first { $0.step == name } }
    }

    /// The last line of standard output: the one-line JSON summary.
    static func summary(_ result: ProcessResult) throws -> Summary {
        let lines = result.stdout.split(separator: "\n")
        let last = try #require(lines.last, "drctl run printed nothing on stdout; stderr: \(result.stderr)")
        #expect(!last.contains("\n"))
        return try JSONDecoder().decode(Summary.self, from: Data(last.utf8))
    }

    @Test("run on two real S3 servers, then again after changes: a snapshot each time, prune when due, a one-line summary")
    func twoS3Targets() throws {
        let seaweed = try S3TestServer.named("seaweedfs")
        let radosgw = try S3TestServer.named("radosgw")
        let home = try BackupHome(specs: [.s3("eu-west", server: seaweed), .s3("eu-north", server: radosgw)])
        let textfile = "\(home.root)/node-exporter/drctl.prom"
        try FileManager.default.createDirectory(atPath: "\(home.root)/node-exporter", withIntermediateDirectories: true)
        try home.replaceConfig { $0.replacingOccurrences(of: "[state]\n", with: "[state]\nhost = \"mx-run\"\n")
            + "\n[prune]\ngrace = \"0s\"\nevery = \"1d\"\n\n[metrics]\ntextfile = \"\(textfile)\"\n" }
        let mailboxes = try home.generate(cipher: "all", journal: "all", count: 1, messages: 150, seed: 41)
        try home.initRepository()

        let first = try home.drctl(["run"])
        try #require(first.status == 0, "first run: \(first.stderr)\n\(first.stdout)")
        let one = try Self.summary(first)
        #expect(one.host == "mx-run")
        #expect(one.step("backup")?.status == "ok")
        #expect(one.step("prune")?.status == "ok", "prune is due on a host's first run")
        #expect(one.mailboxes == mailboxes.count && one.mailboxesFailed == 0)
        #expect(one.targets.map(\.name) == ["eu-west", "eu-north"])
        #expect(one.targets.allSatisfy { $0.status == "ok" && $0.bytesAdded > 0 })
        // A non-terminal run prints nothing for people on stdout: the summary is its only line.
        #expect(first.stdout.split(separator: "\n").count == 1, "stdout: \(first.stdout)")
        #expect(one.warnings.isEmpty, "\(one.warnings)")
        let rpo = try #require(one.rpo)
        #expect(rpo.exceeded == false && rpo.objectiveSeconds == 86400 && (rpo.exposureSeconds ?? .infinity) < 600, "\(rpo)")
        #expect(mailboxes.contains { $0.path == rpo.worstMailbox }, "\(String(describing: rpo.worstMailbox))")

        // The metrics: parsed here and accepted by promtool; backup and prune per target.
        let text = try String(contentsOfFile: textfile, encoding: .utf8)
        let samples = try MetricsTests.parse(text)
        try MetricsTests.promtool(text)
        for target in ["eu-west", "eu-north"] {
            for step in ["backup", "prune"] {
                #expect(try MetricsTests.value(samples, "drctl_last_run_success", ["step": step, "target": target]) == 1, "\(step) \(target)")
            }
        }
        #expect(try MetricsTests.value(samples, "drctl_runs_total", ["step": "backup"]) == 1)
        #expect(try MetricsTests.value(samples, "drctl_runs_total", ["step": "prune"]) == 1)
        #expect(try MetricsTests.value(samples, "drctl_rpo_objective_seconds") == 86400)

        for mailbox in mailboxes where mailbox.cipher != "none" { try home.write(mailbox, transactions: 10, seed: 8) }
        let second = try home.drctl(["run"])
        try #require(second.status == 0, "second run: \(second.stderr)")
        let two = try Self.summary(second)
        #expect(two.snapshot != nil && two.snapshot != one.snapshot)
        #expect(two.step("prune")?.status == "not-due", "prune ran a day early: \(two.steps)")
        #expect(two.step("prune")?.nextDue == one.step("prune")?.nextDue)
        let later = try MetricsTests.parse(try String(contentsOfFile: textfile, encoding: .utf8))
        #expect(try MetricsTests.value(later, "drctl_runs_total", ["step": "backup"]) == 2)
        #expect(try MetricsTests.value(later, "drctl_runs_total", ["step": "prune"]) == 1, "a prune that was not due is not a run")
        let snapshots = try home.snapshots()
        #expect(snapshots.count == 2)
        let (check, report) = try home.check()
        #expect(check.status == 0, "check after two runs: \(check.stdout)")
        #expect(report?.targets.count == 2)

        // --force runs forget and prune now: the default retention keeps one record a day
        // (keep_daily = 7: the newest of each day), so of today's three only the newest stays,
        // and the data only the others used is reclaimed.
        let forced = try home.drctl(["run", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let three = try Self.summary(forced)
        #expect(three.step("prune")?.status == "ok")
        #expect(three.step("prune")?.detail?.hasPrefix("forgot 2 records (1 kept)") == true, "\(String(describing: three.step("prune")?.detail))")
        // What the two forgotten records alone used is gone. (How much that is depends on
        // which worker's packs each mailbox's trees and the lists went to — a pack is deleted
        // only when nothing in it is used — so it varies from run to run; PruneTests checks
        // the bytes with small packs. Here: nothing unused is left.)
        #expect(try home.snapshots().map(\.id) == [three.snapshot])
        let (checked, checkReport) = try home.check()
        #expect(checked.status == 0, "check after retention and prune: \(checked.stdout)")
        for target in checkReport?.targets ?? [] {
            #expect(!target.warnings.contains { $0.code == "check.pack-unreferenced" },
                    "\(target.target) keeps packs no snapshot uses after the run's prune: \(target.warnings.map(\.message))")
        }
        let restored = "\(home.root)/restored"
        let (restore, restoreReport) = try home.restore(["--to", restored])
        #expect(restore.status == 0 && restoreReport?.restored.count == mailboxes.count, "\(restore.stderr)")
    }

    @Test("two runs started at once: one runs, the other does nothing and exits 5")
    func oneAtATime() throws {
        let home = try BackupHome()
        _ = try home.generate(cipher: "all", journal: "all", count: 4, messages: 400, seed: 43)
        try home.initRepository()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Drctl.binary)
        process.arguments = ["run", "--config", home.config]
        process.environment = home.home.environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Started for sure once its backup has written a run record on a target.
        let locks = "\(home.targetFolder("site-a"))/locks"
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, ((try? FileManager.default.contentsOfDirectory(atPath: locks)) ?? []).isEmpty {
            usleep(5_000)
        }
        let second = try home.drctl(["run"])
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the first run failed: \(String(decoding: output, as: UTF8.self))")
        #expect(second.status == 5, "the second run ended with \(second.status): \(second.stderr)")
        #expect(second.stderr.contains("another drctl run is in progress"), "\(second.stderr)")
        #expect(second.stdout.isEmpty, "the second run printed a summary: \(second.stdout)")
        #expect(try home.snapshots().count == 1)
    }

    @Test("a run that finds a backup of this host under way (the frequent timer's) waits for it instead of failing")
    func waitsForTheFrequentBackup() throws {
        let home = try BackupHome()
        _ = try home.generate(cipher: "none", journal: "wal", count: 1, messages: 50, seed: 45)
        try home.initRepository()
        // Another process holds this host's backup lock for three seconds, as a backup would.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["\(home.root)/state/backup.lock", "sleep", "3"]
        try FileManager.default.createDirectory(atPath: "\(home.root)/state", withIntermediateDirectories: true)
        try holder.run()
        usleep(300_000)
        let started = Date()
        let result = try home.drctl(["run"])
        let waited = Date().timeIntervalSince(started)
        holder.waitUntilExit()
        #expect(result.status == 0, "the run failed instead of waiting: \(result.stderr)")
        #expect(waited >= 2, "the run did not wait for the lock (\(waited) s)")
        #expect(try Self.summary(result).step("backup")?.status == "ok")
    }
}
