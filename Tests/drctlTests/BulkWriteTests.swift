import Foundation
import Testing

/// Packs and restored mailboxes are "bulk" files (`AtomicFile(bulk:)`): staged in 4 MiB
/// pieces and written with direct I/O where the file system supports it (ext4 here), through
/// the page cache where it does not (tmpfs). The direct path pads the last piece to the
/// alignment and cuts the file back: these tests hold the two paths to the same bytes, with
/// files larger than one staging buffer and sizes that are not multiples of 4096.
@Suite("bulk writes: direct I/O and the page cache give the same files")
struct BulkWriteTests {
    /// A folder on tmpfs (no direct I/O there), removed by the caller.
    static func memoryFolder() throws -> String {
        try #require(FileManager.default.fileExists(atPath: "/dev/shm"), "/dev/shm (tmpfs) is needed for the page-cache path")
        let folder = "/dev/shm/drctl-bulk-\(UUID().uuidString.lowercased().prefix(12))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test("a backup to a disk target and a tmpfs target stores identical packs; restores to both are the originals")
    func sameBytesBothWays() throws {
        let fixture = try BackupHome(targets: ["disk"])
        let shm = try Self.memoryFolder()
        defer { try? FileManager.default.removeItem(atPath: shm) }
        try fixture.replaceConfig { $0 + "\n[[target]]\nname = \"memory\"\nurl = \"file://\(shm)/target\"\n" }
        // One mailbox of ~8 MiB (more than one 4 MiB staging buffer) and small ones of every
        // cipher, SQLCipher's with 1 KiB pages (sizes that are not multiples of 4096).
        let big = try fixture.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 1500, seed: 5, subfolder: "big")
        let small = try fixture.generate(cipher: "all", journal: "all", count: 1, messages: 60, seed: 6)
        let mailboxes = big + small
        try fixture.initRepository()
        let report = try fixture.backupOK()
        let failed = report.targets.filter { !$0.ok }.map { "\($0.name): \($0.error ?? "?")" }
        try #require(failed.isEmpty, "\(failed)")

        let disk = fixture.targetFolder("disk"), memory = "\(shm)/target"
        let packs = Files.packs(in: disk)
        try #require(!packs.isEmpty)
        #expect(packs == Files.packs(in: memory))
        var largest: Int64 = 0
        for pack in packs {
            let a = try Files.read("\(disk)/\(pack)"), b = try Files.read("\(memory)/\(pack)")
            let same = a == b  // compared apart: a failed expectation would print every byte
            #expect(same, "\(pack): \(a.count) bytes on disk, \(b.count) on tmpfs")
            largest = max(largest, Int64(a.count))
        }
        #expect(largest > 4 << 20, "the largest pack (\(largest) bytes) should span more than one staging buffer")
        #expect(Files.temporaries(in: disk).isEmpty)

        // Restores: to the disk (direct I/O) and to tmpfs (page cache).
        for destination in ["\(fixture.root)/restored", "\(shm)/restored"] {
            let (result, restored) = try fixture.restore(["--to", destination])
            try #require(result.status == 0, "restore to \(destination) failed: \(result.stderr)")
            #expect(restored?.restored.count == mailboxes.count)
            for mailbox in mailboxes {
                let original = try Files.read("\(fixture.store)/\(mailbox.path)")
                let copy = try Files.read("\(destination)/\(mailbox.path)")
                let same = copy == original
                #expect(same, "\(destination)/\(mailbox.path): \(copy.count) bytes, original \(original.count)")
            }
        }
        let sizes = mailboxes.map { Files.size("\(fixture.store)/\($0.path)") }
        #expect(sizes.contains { $0 % 4096 != 0 }, "some mailbox should end off a 4 KiB boundary: \(sizes)")
        #expect(sizes.contains { $0 > 4 << 20 }, "some mailbox should span more than one staging buffer: \(sizes)")
    }
}
