import Foundation
import Testing

/// One flipped byte in a pack on one target: check finds it and names what it affects;
/// restore reads around it, or fails loudly when told to use that target only.
@Suite("a damaged pack on one target")
struct BackupCorruptionTests {
    @Test("check --read-data exits 3 naming the pack and the affected snapshot and mailbox; restore behaves per target")
    func flippedByte() throws {
        let fixture = try BackupHome()
        let mailboxes = try fixture.generate(count: 1, messages: 120, seed: 51)
        try fixture.initRepository()
        // Past the racy-clean window: a mailbox written in the same moment as the first backup
        // read it would rightly be read again by the second, and this test counts them.
        usleep(300_000)
        let first = try #require(try fixture.backupOK().snapshot)
        let siteA = fixture.targetFolder("site-a")
        let packsBefore = Set(Files.packs(in: siteA))

        // Exactly one mailbox changes: the second snapshot's new data pack holds only its
        // changed pages (beside it: one pack of its changed tree nodes, one of list nodes).
        let changed = try #require(mailboxes.first { $0.cipher == "sqlcipher" && $0.journal == "wal" })
        let unaffected = try #require(mailboxes.first { $0.cipher == "chacha20" && $0.journal == "delete" })
        try fixture.write(changed, transactions: 4, seed: 7)
        let expectedImage = "\(fixture.root)/expected.db"
        try fixture.snapshotImage(changed.path, to: expectedImage)
        let second = try fixture.backupOK()
        let secondID = try #require(second.snapshot)
        #expect(second.filesUnchanged == 5)
        let newPacks = Set(Files.packs(in: siteA)).subtracting(packsBefore)
        try #require(newPacks.count == 3, "expected a data, a tree-node and a list pack, got \(newPacks)")
        let pack = try #require(newPacks.max { Files.size("\(siteA)/\($0)") < Files.size("\(siteA)/\($1)") })
        let packID = String(pack.split(separator: "/").last ?? "")

        // Flip one byte among the pack's blobs (they come first; the header is at the end).
        let path = "\(siteA)/\(pack)"
        var bytes = try Files.read(path)
        let offset = bytes.count / 3
        bytes[offset] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let (checked, report) = try fixture.check()
        #expect(checked.status == 3, "check exit \(checked.status): \(checked.stderr)")
        let targets = try #require(report?.targets, "check printed no JSON: \(checked.stdout)")
        let a = try #require(targets.first { $0.target == "site-a" })
        let b = try #require(targets.first { $0.target == "site-b" })
        #expect(a.damagedPacks == [packID])
        #expect(a.errors.contains { $0.object == pack }, "errors: \(a.errors)")
        #expect(Set(a.affected) == [CheckReport.Affected(snapshot: secondID, mailbox: changed.path)],
                "affected: \(a.affected)")
        #expect(b.errors.isEmpty && b.damagedPacks.isEmpty && b.affected.isEmpty, "site-b: \(b.errors)")
        #expect(a.snapshots == 2 && b.snapshots == 2)
        _ = first

        // The text report names the pack, the snapshot and the mailbox.
        let text = try fixture.drctl(["check", "--read-data"])
        #expect(text.status == 3)
        #expect(text.stdout.contains(pack), "\(text.stdout)")
        #expect(text.stdout.contains("affected mailboxes"))
        #expect(text.stdout.contains("snapshot \(secondID.prefix(16))  \(changed.path)"), "\(text.stdout)")

        // An unaffected mailbox restores from the damaged target.
        let clean = "\(fixture.root)/clean"
        let (fine, fineReport) = try fixture.restore(["--snapshot", secondID, "--mailbox", unaffected.path,
                                                      "--target", "site-a", "--to", clean])
        #expect(fine.status == 0, "\(fine.stderr)")
        #expect(fineReport?.restored.first?.target == "site-a")
        #expect(try Files.read("\(clean)/\(unaffected.path)") == Files.read("\(fixture.store)/\(unaffected.path)"))

        // The affected one, from the damaged target only: a loud failure and nothing in the
        // destination, not even a temporary file.
        let onlyA = "\(fixture.root)/only-a"
        let (failed, failedReport) = try fixture.restore(["--snapshot", secondID, "--mailbox", changed.path,
                                                          "--target", "site-a", "--to", onlyA])
        #expect(failed.status != 0)
        #expect(failed.status == 3, "exit \(failed.status)")
        #expect(failedReport?.restored.isEmpty == true)
        #expect(failedReport?.failures.first?.mailbox == changed.path, "\(failed.stdout)")
        #expect(Files.all(under: onlyA).isEmpty, "left in the destination: \(Files.all(under: onlyA))")
        let plain = try fixture.drctl(["restore", "--snapshot", secondID, "--mailbox", changed.path,
                                       "--target", "site-a", "--to", onlyA])
        #expect(plain.status == 3)
        #expect(plain.stderr.contains("drctl: error: \(changed.path)"), "\(plain.stderr)")
        #expect(Files.all(under: onlyA).isEmpty)

        // Without --target it falls back to the other target and succeeds.
        let any = "\(fixture.root)/any"
        let (fallback, fallbackReport) = try fixture.restore(["--snapshot", secondID, "--mailbox", changed.path, "--to", any])
        #expect(fallback.status == 0, "\(fallback.stderr)")
        #expect(fallbackReport?.restored.first?.target == "site-b")
        #expect(try Files.read("\(any)/\(changed.path)") == Files.read(expectedImage))
        #expect(Files.all(under: any) == [changed.path])
        let verified = try fixture.verify(["\(any)/\(changed.path)"], cipher: changed.cipher)
        #expect(verified.first?.problems.isEmpty == true && verified.first?.counter == 4, "\(verified.map(\.problems))")
    }
}
