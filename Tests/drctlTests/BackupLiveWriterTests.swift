import Foundation
import Testing

/// What drctl is for: backups taken while the mail server writes. Every restored image must
/// hold exactly one committed state, and the writers must never wait long on drctl — also for
/// rollback-journal mailboxes, whose image is read under SQLite's SHARED lock (the backup
/// spools it aside and chunks it after the lock is released).
@Suite("backup under live writers", .serialized)
struct BackupLiveWriterTests {
    @Test("6 backups while writers commit to WAL and rollback mailboxes (spooled or not): every image consistent, writers barely wait")
    func backupsDuringWrites() throws {
        let home = try BackupHome()
        var mailboxes: [GeneratedMailbox] = []
        for (cipher, journal) in [("chacha20", "wal"), ("chacha20", "delete"), ("sqlcipher", "delete"), ("none", "delete")] {
            mailboxes += try home.generate(cipher: cipher, journal: journal, count: 1, messages: 1500, seed: 11,
                                           subfolder: "\(cipher)-\(journal)")
        }
        try home.initRepository()
        let python = try Python.require()
        var writers: [(GeneratedMailbox, RunningProcess, String)] = []
        for mailbox in mailboxes {
            let stats = "\(home.root)/writer-\(mailbox.cipher)-\(mailbox.journal).json"
            let writer = try RunningProcess(python, ["\(ProjectRoot.path)/scripts/gen-mailstore", "write",
                                                     "--db", "\(home.store)/\(mailbox.path)", "--cipher", mailbox.cipher,
                                                     "--key-file", home.mailboxKeyFile, "--stats", stats,
                                                     "--checkpoint-every", "9", "--pause-ms", "2"])
            writers.append((mailbox, writer, stats))
        }
        defer { for (_, writer, _) in writers { writer.signal(SIGKILL) } }
        usleep(500_000)

        var snapshots: [String] = []
        var backupSeconds: [Double] = []
        for run in 1...6 {
            // Every other run chunks the rollback images under the lock instead of spooling
            // them (the default): both must give consistent images.
            let report = try home.backupOK(run % 2 == 0 ? ["--spool-above", "1000000000"] : [])
            #expect(report.files == mailboxes.count)
            snapshots.append(try #require(report.snapshot))
            backupSeconds.append(report.durationSeconds)
            usleep(200_000)
        }
        var longestWait = 0.0
        var committed: [String: Int] = [:]
        for (mailbox, writer, stats) in writers {
            writer.signal(SIGTERM)
            let result = writer.wait()
            #expect(result.status == 0, "writer \(mailbox.path): \(result.stderr)")
            let figures = try readWriterStats(stats)
            #expect((figures["errors"] as? [String] ?? ["no stats"]).isEmpty, "writer \(mailbox.path): \(figures["errors"] ?? "")")
            longestWait = max(longestWait, figures["max_transaction_ms"] as? Double ?? .infinity)
            committed[mailbox.path] = figures["last_counter"] as? Int ?? 0
        }

        // Every snapshot of every mailbox restores to an image that opens with the key, passes
        // integrity_check and holds one committed state; counters never go backwards.
        var previous: [String: Int] = [:]
        var checked = 0
        for snapshot in snapshots {
            let destination = "\(home.root)/restore-\(snapshot.prefix(8))"
            let (result, report) = try home.restore(["--snapshot", snapshot, "--to", destination, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.restored.count == mailboxes.count)
            for mailbox in mailboxes {
                let verdicts = try home.verify(["\(destination)/\(mailbox.path)"], cipher: mailbox.cipher)
                let verdict = try #require(verdicts.first)
                #expect(verdict.problems.isEmpty, "snapshot \(snapshot.prefix(8)) \(mailbox.path): \(verdict.problems)")
                let counter = verdict.counter ?? -1
                #expect(counter >= previous[mailbox.path, default: 0], "\(mailbox.path): counter went back to \(counter)")
                #expect(counter <= committed[mailbox.path, default: 0])
                previous[mailbox.path] = counter
                checked += 1
            }
        }
        print("live writers: \(checked) restored images consistent; writers committed \(committed.values.reduce(0, +)) transactions (\(committed.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", "))); longest writer transaction \(String(format: "%.1f", longestWait)) ms; backups took \(backupSeconds.map { String(format: "%.2f", $0) }.joined(separator: " ")) s")
        // The stated bound: a writer never waits more than 2 s on a backup (measured: see the
        // printed figure; the rollback image is spooled under the lock at disk speed).
        #expect(longestWait < 2000, "a writer waited \(longestWait) ms")
        #expect(previous.values.contains { $0 > 0 })
    }
}
