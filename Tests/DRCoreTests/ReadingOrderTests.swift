import DRBase
import Foundation
import Testing

@testable import DRCore

/// The order a backup reads mailboxes in: largest first, so that the run does not end with one
/// core reading a large mailbox while the others wait.
@Suite("backup reading order")
struct ReadingOrderTests {
    @Test("largest first, equal sizes in the listing's order, every mailbox once")
    func largestFirst() {
        let sizes: [Int64] = [5, 900, 5, 0, 7_000_000_000, 900, 1]
        let mailboxes = sizes.enumerated().map { index, size in
            MailStore.Mailbox(id: "m\(index).db", root: "/store", size: size)
        }
        let order = BackupJob.readingOrder(mailboxes)
        #expect(order == [4, 1, 5, 0, 2, 6, 3])
        #expect(BackupJob.readingOrder([]).isEmpty)
    }

    @Test("the listing records each mailbox's size")
    func listingSizes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-order-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, size) in [("small.db", 10), ("large.db", 70_000), ("middle.db", 4096)] {
            try Data(repeating: 1, count: size).write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
        }
        let listing = try MailStore.list(root: folder, include: ["*.db"])
        let sizes = Dictionary(uniqueKeysWithValues: listing.mailboxes.map { ($0.id, $0.size) })
        #expect(sizes == ["small.db": 10, "large.db": 70_000, "middle.db": 4096])
        #expect(BackupJob.readingOrder(listing.mailboxes).map { listing.mailboxes[$0].id } == ["large.db", "middle.db", "small.db"])
    }
}
