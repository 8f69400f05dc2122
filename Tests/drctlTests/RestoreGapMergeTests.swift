import Foundation
import Testing

/// An incremental leaves holes in the old packs (the pages it replaced); a restore reads
/// across small holes in one request instead of one request per stretch between them (over
/// S3 every request costs a round trip and the server's CPU).
@Suite("a restore after an incremental reads across the holes it left")
struct RestoreGapMergeTests {
    @Test("flag updates scattered over a mailbox: the restore after the incremental takes about as many requests as before it, not one more per changed page")
    func holesAreReadAcross() throws {
        let home = try BackupHome(targets: ["site-a"])
        let mailbox = try #require(try home.generate(cipher: "chacha20", journal: "wal", count: 1, messages: 600).first)
        try home.initRepository()
        _ = try home.backupOK()

        func restoreAll(_ folder: String) throws -> Transfer {
            try? FileManager.default.removeItem(atPath: "\(home.root)/state")
            let (result, report) = try home.restore(["--mailbox", mailbox.path, "--to", "\(home.root)/\(folder)"])
            try #require(result.status == 0, "\(result.stderr)")
            #expect(try Files.read("\(home.root)/\(folder)/\(mailbox.path)") == Files.read("\(home.store)/\(mailbox.path)"))
            return try #require(report?.transfer?.first { $0.target == "site-a" })
        }
        let before = try restoreAll("before")

        let original = try Files.read("\(home.store)/\(mailbox.path)")
        let (changed, _) = try home.updateRows(mailbox, percent: 8, seed: 5)
        let updated = try Files.read("\(home.store)/\(mailbox.path)")
        let pages = Files.changedPageBytes(original, updated, pageSize: 4096).pages
        // Enough scattered pages that one request per stretch between holes would show.
        try #require(pages >= 12, "only \(pages) pages changed by \(changed) updates")
        _ = try home.backupOK()

        let after = try restoreAll("after")
        print("restore before the incremental: \(before.getRequests) requests, \(before.bytesRead) B; after (\(pages) pages changed): \(after.getRequests) requests, \(after.bytesRead) B")
        // The new pack holds the changed pages and the new tree nodes: a request more for the
        // data and one per tree level (each level is read on its own), not one per changed
        // page (12 → 18 requests with 44 pages changed; one per stretch between holes would
        // be ~60).
        #expect(after.getRequests <= before.getRequests + 8,
                "\(before.getRequests) → \(after.getRequests) requests with \(pages) pages changed")
        // What is read across the holes is the replaced pages only, not a window of the pack.
        #expect(after.bytesRead <= before.bytesRead + Int64(pages) * 2 * (4096 + 40) + (256 << 10),
                "\(before.bytesRead) → \(after.bytesRead) B read")
    }
}
