import DRRepository
import Foundation
import Testing

/// Issue 9: a restore of one mailbox finds its chunks from the mailbox's own tree, so what it
/// reads from a target grows with that mailbox, not with the repository.
@Suite("a restore of one mailbox reads that mailbox")
struct RestoreReadsLittleTests {
    @Test("on a new host, restoring one of 8 mailboxes reads no index, only its own blobs (≤ 1.1 × its stored size + 1 MiB), from a repository 3× larger after a second store joins it")
    func readsItsOwnBytes() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailboxes = try home.generate(cipher: "chacha20", journal: "delete", count: 8, messages: 150)
        try home.initRepository()
        let first = try home.backupOK()
        let snapshot = try #require(first.snapshot)
        let target = home.targetFolder("site-a")
        #expect(!FileManager.default.fileExists(atPath: "\(target)/index"), "no index objects exist in format 2")
        let probe = mailboxes[3]
        let forger = try ManifestForger(config: home.config)
        let entry = try #require(try forger.entries("snapshots/" + snapshot).first { $0.path == probe.path })
        // What the mailbox occupies on the target: every data blob, sealed, plus its tree.
        let dataBytes = Int64(entry.chunks) * Int64(entry.pageSize + 40)

        func restoreProbe(_ folder: String) throws -> Transfer {
            try? FileManager.default.removeItem(atPath: "\(home.root)/state")
            let (result, report) = try home.restore(["--mailbox", probe.path, "--to", "\(home.root)/\(folder)"])
            try #require(result.status == 0, "\(result.stderr)")
            #expect(try Files.read("\(home.root)/\(folder)/\(probe.path)") == Files.read("\(home.store)/\(probe.path)"))
            return try #require(report?.transfer?.first { $0.target == "site-a" })
        }
        let small = try restoreProbe("small")
        let repositoryBefore = Files.packBytes(in: target)
        #expect(small.bytesRead <= dataBytes + dataBytes / 10 + (1 << 20),
                "read \(small.bytesRead) B for a mailbox of \(dataBytes) B of blobs")
        #expect(small.bytesRead < repositoryBefore / 3, "read \(small.bytesRead) B of a \(repositoryBefore) B repository")
        // Its chunks lie together and are asked for in ~8 MiB batches across tree leaves:
        // config, key, manifest, list and tree nodes, and the data in one or two requests
        // (22 requests when each leaf of 16 chunks was a request of its own).
        #expect(small.getRequests <= 12, "\(small.getRequests) requests for one mailbox of \(dataBytes) B")

        // The repository grows (more mailboxes backed up into it); the probe's restore does not.
        _ = try home.generate(cipher: "chacha20", journal: "delete", count: 16, messages: 150, seed: 77, subfolder: "more")
        _ = try home.backupOK()
        let repositoryAfter = Files.packBytes(in: target)
        #expect(repositoryAfter > repositoryBefore * 2)
        let large = try restoreProbe("large")
        let ratio = Double(large.bytesRead) / Double(small.bytesRead)
        print("restore of one mailbox: \(small.bytesRead) B in \(small.getRequests) requests from \(repositoryBefore) B of packs; \(large.bytesRead) B in \(large.getRequests) requests from \(repositoryAfter) B (ratio \(String(format: "%.3f", ratio)))")
        #expect(ratio <= 1.2, "bytes read grew \(ratio)× with the repository")
        #expect(large.getRequests <= small.getRequests + 8, "\(small.getRequests) → \(large.getRequests) requests")
    }
}
