import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `sync` killed with SIGKILL at random moments: the lagging target never holds a snapshot
/// whose packs are missing, and the next sync completes it.
@Suite("sync killed at random moments")
struct SyncCrashTests {
    /// What check may say of a target after a kill without it being damage.
    static let notes: Set<String> = ["check.pack-unreferenced", "check.incomplete-writes"]

    /// A copy of the prepared targets with a configuration and a state folder of its own.
    struct Round {
        var folder: String
        var config: String
        var siteB: String
        var onlyB: String
    }

    func makeRound(_ home: BackupHome, _ number: Int) throws -> Round {
        let folder = "\(home.root)/rounds/\(number)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var targets: [(name: String, folder: String)] = []
        for name in ["site-a", "site-b"] {
            try Files.copy(home.targetFolder(name), "\(folder)/\(name)")
            targets.append((name, "\(folder)/\(name)"))
        }
        let config = try home.home.backupConfigFile(storePath: home.store, include: ["**/*.db"], keyFile: home.repositoryKeyFile,
                                                    targets: targets, name: "rounds/\(number)/drctl.toml",
                                                    statePath: "\(folder)/state")
        let onlyB = try home.home.backupConfigFile(storePath: home.store, include: ["**/*.db"], keyFile: home.repositoryKeyFile,
                                                   targets: [targets[1]], name: "rounds/\(number)/only-b.toml",
                                                   statePath: "\(folder)/state-b")
        return Round(folder: folder, config: config, siteB: "\(folder)/site-b", onlyB: onlyB)
    }

    /// The snapshot records of a target (a kill may leave a temporary file beside them).
    func records(in target: String) -> [String] {
        Files.all(under: "\(target)/snapshots").filter { !$0.hasPrefix(".tmp-") }
    }

    /// Starts `sync` and sends SIGKILL after `delay` seconds; whether the kill ended it, and
    /// how long it ran.
    func killedSync(_ home: BackupHome, _ round: Round, after delay: Double) throws -> (killed: Bool, seconds: Double) {
        try home.runKilled(["sync", "--json"], config: round.config, after: delay)
    }

    @Test("20+ SIGKILLs during a sync: check --read-data on the lagging target alone is clean after each, and the next sync completes it")
    func randomKills() throws {
        let home = try BackupHome()
        let mailboxes = try home.generate(cipher: "chacha20", journal: "wal", count: 6, messages: 300)
        try home.initRepository()
        _ = try home.backupOK()
        // site-b misses six runs, each of many small packs (so that kills land between them),
        // and each with its snapshot record (so that some land between those).
        try home.takeAway("site-b")
        for (run, mailbox) in mailboxes.enumerated() {
            try home.write(mailbox, transactions: 20, seed: 10 + run)
            let (missed, _) = try home.backup(["--pack-bytes", "32768"])
            try #require(missed.status == 2, "\(missed.stderr)")
        }
        try home.bringBack("site-b")
        let lacking = Set(Files.packs(in: home.targetFolder("site-a"))).subtracting(Files.packs(in: home.targetFolder("site-b")))
        try #require(lacking.count >= 10, "only \(lacking.count) packs to copy")

        // How long a whole sync takes.
        let measure = try makeRound(home, 0)
        let started = Date()
        let (measured, report) = try home.sync(config: measure.config)
        var duration = Date().timeIntervalSince(started)
        try #require(measured.status == 0, "\(measured.stdout)")
        let copied = try #require(report).target("site-b").copied
        print("sync crash: a whole sync copies \(copied.packs) packs and \(copied.snapshots) snapshots, \(copied.bytes) B, in \(String(format: "%.3f", duration)) s (\(String(format: "%.3f", report?.durationSeconds ?? 0)) s in the job)")
        try FileManager.default.removeItem(atPath: measure.folder)

        var kills = 0, finishedFirst = 0, round = 0
        var delays: [String] = []
        var partial: [String] = []
        var amongRecords = 0
        // At least 20 kills; past them, a few more rounds while none has yet landed between two
        // snapshot records (a window of milliseconds at the end).
        while (kills < 20 || (amongRecords == 0 && round < 40)) && round < 60 {
            round += 1
            let repo = try makeRound(home, round)
            // Every third kill aims at the end, where the snapshot records are copied.
            let delay = round % 3 == 0 ? Double.random(in: (duration * 0.8)...max(0.01, duration))
                                       : Double.random(in: 0.005...max(0.01, duration))
            let outcome = try killedSync(home, repo, after: delay)
            guard outcome.killed else {
                duration = max(0.02, min(duration, outcome.seconds) * 0.9)
                finishedFirst += 1
                try FileManager.default.removeItem(atPath: repo.folder)
                continue
            }
            kills += 1
            delays.append(String(format: "%.3f", delay))
            let packs = Files.packs(in: repo.siteB).count
            let snapshots = records(in: repo.siteB).count
            partial.append("\(packs)p\(snapshots)s")
            if snapshots > 1 && snapshots < 7 { amongRecords += 1 }

            // site-b alone: every snapshot it holds has every pack it needs, every byte sound.
            let checked = try home.home.drctl(["check", "--read-data", "--json", "--config", repo.onlyB])
            let checkReport = try? JSONDecoder().decode(CheckReport.self, from: Data(checked.stdout.utf8))
            let target = try #require(checkReport?.targets.first, "round \(round): check printed no report: \(checked.stderr)")
            #expect(checked.status == 0, "round \(round) (killed after \(delay) s): \(checked.stdout)")
            #expect(target.errors.isEmpty, "round \(round): \(target.errors.map(\.message))")
            #expect(target.warnings.allSatisfy { Self.notes.contains($0.code) }, "round \(round): \(target.warnings)")

            // The next sync completes it, and site-b is then a copy of site-a.
            let (next, nextReport) = try home.sync(config: repo.config)
            #expect(next.status == 0, "round \(round): \(next.stdout)")
            #expect(try #require(nextReport).target("site-b").complete)
            #expect(Set(Files.packs(in: repo.siteB)) == Set(Files.packs(in: "\(repo.folder)/site-a")))
            #expect(records(in: repo.siteB) == records(in: "\(repo.folder)/site-a"))
            if round % 5 == 0 {
                let whole = try home.home.drctl(["check", "--read-data", "--json", "--config", repo.config])
                #expect(whole.status == 0, "round \(round): \(whole.stdout)")
            }
            try FileManager.default.removeItem(atPath: repo.folder)
        }
        print("sync crash: \(kills) kills in \(round) rounds (\(finishedFirst) syncs finished before their kill; \(amongRecords) between two snapshot records); site-b after each kill (packs p, snapshots s, of \(lacking.count + Files.packs(in: home.targetFolder("site-b")).count) packs): \(partial.joined(separator: " ")); kill delays \(delays.joined(separator: " "))")
        #expect(kills >= 20, "only \(kills) syncs were killed in \(round) rounds")
    }
}
