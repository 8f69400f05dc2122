import DRTestSupport
import Foundation
import Testing

/// Prune on S3 buckets with Object Lock (SeaweedFS and radosgw): what no snapshot uses but is
/// still retained is left, counted, and the mark stays for a later prune; nothing fails.
@Suite("prune under S3 Object Lock")
struct PruneObjectLockTests {
    @Test("unused packs under retention are left and counted; the mark stays; the repository stays whole")
    func retainedPacksStay() throws {
        for server in [try S3TestServer.named("seaweedfs"), try S3TestServer.named("radosgw")] {
            let bucket = try #require(server.lockBucket)
            let home = try BackupHome(specs: [.s3("vault", server: server, bucket: bucket,
                                                  extra: "object_lock = { mode = \"governance\", days = 1 }")])
            try home.replaceConfig { $0 + "\n[prune]\ngrace = \"0s\"\n" }
            // Enough to take a backup of 64 KiB packs well over a second on either server, so
            // that a kill lands between its first pack and its commit (uploads got faster: with
            // 4 mailboxes of 900 messages the backup ended before a kill at 0.4 s).
            _ = try home.generate(cipher: "sqlcipher", journal: "wal", count: 6, messages: 1500, seed: 51)
            try home.initRepository()
            // A backup killed half-way leaves packs that no snapshot uses, each retained a day.
            var killed = false
            for delay in [0.5, 0.3, 0.8, 0.2, 1.2, 0.4, 1.8] where !killed {
                killed = try home.runKilled(["backup", "--pack-bytes", "65536"], after: delay).killed
            }
            try #require(killed, "\(server.name): the backup finished before every kill")
            let kept = try #require(try home.backupOK(["--pack-bytes", "65536"]).snapshot)

            let (result, report) = try PruneTests.prune(home)
            try #require(result.status == 0, "\(server.name): prune: \(result.stderr)\n\(result.stdout)")
            let target = try #require(report?.targets.first)
            #expect(target.markedPacks > 0, "\(server.name): the killed backup left no unused pack: \(result.stdout)")
            #expect(target.deletedPacks == 0 && target.retainedPacks == target.markedPacks,
                    "\(server.name): deleted \(target.deletedPacks), retained \(target.retainedPacks) of \(target.markedPacks)")
            #expect(target.waiting.contains { $0.contains("Object Lock") }, "\(server.name): \(target.waiting)")
            // The next prune tries again (the mark has no done record), and still deletes nothing.
            let (again, second) = try PruneTests.prune(home)
            #expect(again.status == 0)
            #expect(second?.targets.first?.retainedPacks == target.markedPacks, "\(server.name): \(again.stdout)")
            #expect(second?.targets.first?.markedPacks == 0, "\(server.name): the pending mark's packs were marked again")
            let (check, _) = try home.check()
            #expect(check.status == 0, "\(server.name): \(check.stdout)")
            let (restore, restored) = try home.restore(["--snapshot", kept, "--to", "\(home.root)/restored"])
            #expect(restore.status == 0 && restored?.restored.count == 6, "\(server.name): \(restore.stderr)")
        }
    }
}
