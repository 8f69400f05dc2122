import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `backup` killed with SIGKILL at random moments: the repository stays valid and the next
/// backup completes, reusing what the killed one stored.
@Suite("backup killed at random moments")
struct BackupCrashTests {
    /// What check may say after a kill without it being damage.
    static let notes: Set<String> = ["check.pack-unreferenced", "check.incomplete-writes", "check.snapshots-differ"]

    /// One repository (its own targets and configuration) of the test.
    struct Repo {
        var name: String
        var config: String
        var targets: [String]
    }

    func makeRepo(_ fixture: BackupHome, _ name: String, copyOf base: Repo? = nil) throws -> Repo {
        let targets = ["\(fixture.root)/repos/\(name)/site-a", "\(fixture.root)/repos/\(name)/site-b"]
        let config = try fixture.home.backupConfigFile(
            storePath: fixture.store, include: ["**/*.db"], keyFile: fixture.repositoryKeyFile,
            targets: [("site-a", targets[0]), ("site-b", targets[1])], name: "\(name).toml",
            // A state folder of its own: copies of one repository share its id and target
            // names, and a host that saw packs on site-a that this copy lacks rightly calls
            // them lost (as it would after an older copy of a bucket were put back).
            statePath: "\(fixture.root)/repos/\(name)/state")
        let repo = Repo(name: name, config: config, targets: targets)
        try FileManager.default.createDirectory(atPath: "\(fixture.root)/repos/\(name)", withIntermediateDirectories: true)
        if let base {
            for (from, to) in zip(base.targets, targets) { try Files.copy(from, to) }
        } else {
            let result = try fixture.home.drctl(["init", "--config", config])
            try #require(result.status == 0, "init \(name): \(result.stderr)")
        }
        return repo
    }

    func remove(_ fixture: BackupHome, _ repo: Repo) {
        try? FileManager.default.removeItem(atPath: "\(fixture.root)/repos/\(repo.name)")
    }

    func backup(_ fixture: BackupHome, _ repo: Repo) throws -> (BackupReport, Double) {
        let started = Date()
        let result = try fixture.home.drctl(["backup", "--json", "--config", repo.config])
        let elapsed = Date().timeIntervalSince(started)
        try #require(result.status == 0, "backup on \(repo.name) failed (\(result.status)): \(result.stderr)")
        return (try JSONDecoder().decode(BackupReport.self, from: Data(result.stdout.utf8)), elapsed)
    }

    func check(_ fixture: BackupHome, _ repo: Repo) throws -> (ProcessResult, CheckReport?) {
        let result = try fixture.home.drctl(["check", "--read-data", "--json", "--config", repo.config])
        return (result, try? JSONDecoder().decode(CheckReport.self, from: Data(result.stdout.utf8)))
    }

    /// Starts `backup` on `repo`, sends SIGKILL after `delay` seconds. `killed` when the kill
    /// ended it, false when it had already finished by itself; `seconds` how long it ran.
    func killedBackup(_ fixture: BackupHome, _ repo: Repo, after delay: Double) throws -> (killed: Bool, seconds: Double) {
        try fixture.runKilled(["backup", "--json"], config: repo.config, after: delay)
    }

    @Test("20+ SIGKILLs during full and incremental backups: check --read-data stays clean, the next backup completes and reuses stored packs")
    func randomKills() throws {
        let fixture = try BackupHome()
        // S0: 18 mailboxes; a base repository holds one snapshot of it.
        try fixture.generate(count: 3, messages: 300, seed: 41, subfolder: "a")
        let base = try makeRepo(fixture, "base")
        _ = try backup(fixture, base)
        // S1 = S0 + 12 more mailboxes, grown until a full backup takes at least a second.
        try fixture.generate(count: 2, messages: 300, seed: 42, subfolder: "b")
        var full: (report: BackupReport, seconds: Double, dataBytes: Int64)
        var extra = 0
        while true {
            let measure = try makeRepo(fixture, "measure-full-\(extra)")
            let (report, seconds) = try backup(fixture, measure)
            full = (report, seconds, Files.packBytes(in: measure.targets[0]))
            remove(fixture, measure)
            // Faster backups need a larger store; the bound only keeps a broken build from looping.
            if seconds >= 1.0 || extra == 12 { break }
            extra += 1
            // Eighteen a step (three of each cipher and journal kind): backups got faster.
            try fixture.generate(count: 3, messages: 300, seed: 42 + extra, subfolder: "c\(extra)")
        }
        #expect(full.seconds >= 1.0, "a full backup of the store should take at least 1 s, took \(full.seconds)")
        let measureIncremental = try makeRepo(fixture, "measure-incremental", copyOf: base)
        let baseData = Files.packBytes(in: base.targets[0])
        let basePacks = Set(Files.packs(in: base.targets[0]))
        let (incrementalReport, incrementalSeconds) = try backup(fixture, measureIncremental)
        let incrementalData = Files.packBytes(in: measureIncremental.targets[0]) - baseData
        remove(fixture, measureIncremental)
        print("crash: store \(full.report.imageBytes) B in \(full.report.files) mailboxes; full backup \(String(format: "%.2f", full.seconds)) s storing \(full.dataBytes) B of packs; incremental backup \(String(format: "%.2f", incrementalSeconds)) s storing \(incrementalData) B (\(incrementalReport.files - incrementalReport.filesUnchanged) mailboxes read)")

        let largestMailbox = Files.all(under: fixture.store).filter { $0.hasSuffix(".db") }
            .map { Files.size("\(fixture.store)/\($0)") }.max() ?? 0
        var fullDuration = full.seconds, incrementalDuration = incrementalSeconds
        let clock = ContinuousClock.now
        var kills = 0, finishedFirst = 0, round = 0
        var recoveredTotal = 0, roundsWithRecovery = 0
        var delays: [String] = []
        var partialRounds: [Int] = []
        var temporaryFiles = 0, temporaryBytes: Int64 = 0
        while kills < 20 && round < 40 {
            round += 1
            // Even rounds: a first backup into a fresh repository; odd rounds: an incremental
            // backup into a copy of the base repository.
            let incremental = round % 2 == 1
            let repo = incremental ? try makeRepo(fixture, "round-\(round)", copyOf: base) : try makeRepo(fixture, "round-\(round)")
            let duration = incremental ? incrementalDuration : fullDuration
            let delay = Double.random(in: 0.01...max(0.02, duration))
            let outcome = try killedBackup(fixture, repo, after: delay)
            guard outcome.killed else {
                // The first measurement may have run beside other tests and been slow: a
                // backup that ended before its kill shows how long one takes now.
                let shorter = max(0.05, min(duration, outcome.seconds) * 0.9)
                if incremental { incrementalDuration = shorter } else { fullDuration = shorter }
                finishedFirst += 1
                remove(fixture, repo)
                continue
            }
            kills += 1
            delays.append(String(format: "%@%.2f", incremental ? "i" : "f", delay))

            // The repository is valid: no errors; packs no snapshot uses are only notes.
            let (checked, report) = try check(fixture, repo)
            let targets = try #require(report?.targets, "check printed no report (exit \(checked.status)): \(checked.stderr)")
            #expect(checked.status == 0, "round \(round) (killed after \(delay) s): check exit \(checked.status): \(checked.stdout)")
            for target in targets {
                #expect(target.errors.isEmpty, "round \(round), \(target.target): \(target.errors.map(\.message))")
                // A kill between the manifest's puts leaves that snapshot on some targets only:
                // a note (restore reads it from the targets that hold it), not damage.
                #expect(target.warnings.allSatisfy { Self.notes.contains($0.code) }, "\(target.warnings)")
            }
            // Packs the kill left on some targets but not on all (killed between two uploads).
            let leftovers = repo.targets.map { Set(Files.packs(in: $0)).subtracting(incremental ? basePacks : []) }
            let onAll = leftovers.dropFirst().reduce(leftovers[0]) { $0.intersection($1) }
            let partialBytes = zip(repo.targets, leftovers).map { target, packs in
                packs.subtracting(onAll).reduce(Int64(0)) { $0 + Files.size("\(target)/\($1)") }
            }
            if partialBytes.contains(where: { $0 > 0 }) { partialRounds.append(round) }
            // Interrupted writes leave temporary files: `check` notes them (backups remove them
            // once they are an hour old, since a fresh one may be another host's upload).
            let temporaries = repo.targets.flatMap { target in Files.temporaries(in: target).map { "\(target)/\($0)" } }
            for (target, report) in zip(repo.targets, targets) where !Files.temporaries(in: target).isEmpty {
                #expect(report.warnings.contains { $0.code == "check.incomplete-writes" },
                        "round \(round), \(report.target): temporary files left, but check does not mention them")
            }
            temporaryFiles += temporaries.count
            temporaryBytes += temporaries.reduce(0) { $0 + Files.size($1) }
            // The next backup completes and compares each file the killed run had finished
            // with what that run stored (this host's journal), so chunks already on every
            // target are not stored again.
            let (next, _) = try backup(fixture, repo)
            #expect(next.failures.isEmpty && next.targets.allSatisfy(\.ok))
            let recovered = next.resumed ?? 0
            recoveredTotal += recovered
            if recovered > 0 { roundsWithRecovery += 1 }
            let clean = incremental ? incrementalData : full.dataBytes
            // A mailbox that a worker was in the middle of when the kill came, and whose first
            // chunks had left in a full pack, is stored again whole by the next run (only
            // finished mailboxes are in the journal; format 2 has no global index to find the
            // others): at most one per worker.
            let inProgress = Int64(ProcessInfo.processInfo.activeProcessorCount) * largestMailbox
            for (number, target) in repo.targets.enumerated() {
                let data = Files.packBytes(in: target) - (incremental ? baseData : 0)
                // Same chunks as an uninterrupted backup, stored once (pack boundaries differ,
                // so allow a little header overhead). By design (a ref is reused only when every
                // target holds its pack) a pack the kill left on this target only is kept and
                // its chunks are packed again.
                #expect(data <= clean + clean / 50 + 65_536 + partialBytes[number] + inProgress,
                        "round \(round), \(target): \(data) B of packs after a killed and a completed backup, \(clean) B after one clean backup (packs left on this target only: \(partialBytes[number]) B; mailboxes in progress: up to \(inProgress) B)")
            }
            if !onAll.isEmpty {
                // Packs on every target: their chunks are not stored again. (A pack on one
                // target only is re-packed for all, by design: see the bound above.)
                let cleanNew = incremental ? incrementalReport.newChunkBytes : full.report.newChunkBytes
                #expect(next.newChunkBytes < cleanNew, "round \(round): \(onAll.count) packs left on every target, yet the next backup stored \(next.newChunkBytes) B of new chunks again")
            }
            if round % 5 == 0 {
                let (after, afterReport) = try check(fixture, repo)
                #expect(after.status == 0, "\(after.stdout)")
                #expect(afterReport?.targets.allSatisfy { target in
                    target.errors.isEmpty && target.warnings.allSatisfy { Self.notes.contains($0.code) }
                } == true,
                        "after the completing backup only notes may remain: \(after.stdout)")
            }
            remove(fixture, repo)
        }
        let elapsed = ContinuousClock.now - clock
        print("crash: \(kills) kills in \(round) rounds (\(finishedFirst) backups finished before their kill); \(roundsWithRecovery) completing backups resumed \(recoveredTotal) mailboxes of the killed run; rounds killed between the uploads of one pack to the two targets: \(partialRounds); temporary files left by the kills (noted by check): \(temporaryFiles), \(temporaryBytes) B; kill delays \(delays.joined(separator: " ")); loop took \(elapsed)")
        #expect(kills >= 20, "only \(kills) backups were killed in \(round) rounds")
    }
}
