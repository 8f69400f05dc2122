import Foundation
import Testing

/// Backup → change → backup, three times, over every cipher × journal combination; every
/// snapshot restores byte-identical to what was snapshotted, and opens with the key.
@Suite("backup and restore round trip across cipher × journal")
struct BackupRoundTripTests {
    @Test("each of 4 snapshots restores byte-identical images that verify with the mailbox key")
    func roundTrip() throws {
        let fixture = try BackupHome()
        // 3 ciphers × 2 journals × 2 mailboxes.
        let mailboxes = try fixture.generate(count: 2, messages: 120, seed: 11)
        try #require(mailboxes.count == 12)
        try fixture.initRepository()

        var counters = Dictionary(uniqueKeysWithValues: mailboxes.map { ($0.path, 0) })
        // Per snapshot: its id and, per mailbox, the image taken at the same quiescent moment.
        var taken: [(id: String, images: [String: String], counters: [String: Int])] = []
        for round in 0...3 {
            if round > 0 {
                // Change about half of the mailboxes, a different half each round, so that every
                // combination is changed at least once and unchanged ones are carried over.
                for (number, mailbox) in mailboxes.enumerated() where (number + round) % 2 == 0 || number % 3 == round - 1 {
                    let transactions = 3 + round * 2
                    try fixture.write(mailbox, transactions: transactions, seed: 100 * round + number)
                    counters[mailbox.path, default: 0] += transactions
                }
            }
            // The store is quiescent (no writer): the reference image of each mailbox is
            // `drctl image`; when no WAL holds frames it must equal the file as it is.
            var images: [String: String] = [:]
            let folder = "\(fixture.root)/expected-\(round)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for mailbox in mailboxes {
                let image = "\(folder)/\(mailbox.path)"
                try fixture.snapshotImage(mailbox.path, to: image)
                let wal = "\(fixture.store)/\(mailbox.path)-wal"
                if !Files.exists(wal) || Files.size(wal) == 0 {
                    #expect(try Files.read(image) == Files.read("\(fixture.store)/\(mailbox.path)"),
                            "\(mailbox.path): with no WAL frames the snapshot image should be the file itself")
                }
                images[mailbox.path] = image
            }
            let report = try fixture.backupOK()
            let id = try #require(report.snapshot)
            #expect(report.files == 12)
            #expect(report.failures.isEmpty)
            if round > 0 {
                #expect(report.filesUnchanged > 0 && report.filesUnchanged < 12,
                        "round \(round): some mailboxes changed and some did not, yet filesUnchanged = \(report.filesUnchanged)")
            }
            taken.append((id, images, counters))
        }
        #expect(Set(taken.map(\.id)).count == 4)

        for (round, snapshot) in taken.enumerated() {
            let destination = "\(fixture.root)/restored-\(round)"
            // One snapshot with a single worker, the others with the default (a folder: one
            // per core and one more): the same bytes either way.
            let workers = round == 1 ? ["--parallelism", "1"] : []
            let (result, report) = try fixture.restore(["--snapshot", snapshot.id, "--to", destination] + workers)
            #expect(result.status == 0, "restore of snapshot \(round) failed (\(result.status)): \(result.stderr)")
            let restored = try #require(report)
            #expect(restored.parallelism == (round == 1 ? 1 : ProcessInfo.processInfo.activeProcessorCount + 1))
            #expect(restored.failures.isEmpty)
            #expect(restored.restored.count == 12)
            #expect(restored.restored.allSatisfy { $0.snapshot == snapshot.id })
            // Nothing else in the destination (no temporary files).
            #expect(Files.all(under: destination) == mailboxes.map(\.path).sorted())
            for mailbox in mailboxes {
                let expected = try Files.read(try #require(snapshot.images[mailbox.path]))
                let actual = try Files.read("\(destination)/\(mailbox.path)")
                #expect(actual == expected, "snapshot \(round), \(mailbox.path): restored \(actual.count) bytes differ from the \(expected.count)-byte image that was snapshotted")
            }
            // Every restored image opens with the key, passes integrity_check and holds exactly
            // the writer transactions committed before that snapshot.
            for cipher in ["none", "chacha20", "sqlcipher"] {
                let group = mailboxes.filter { $0.cipher == cipher }
                let results = try fixture.verify(group.map { "\(destination)/\($0.path)" }, cipher: cipher)
                #expect(results.count == group.count)
                for (mailbox, result) in zip(group, results) {
                    #expect(result.problems.isEmpty, "snapshot \(round), \(mailbox.path): \(result.problems)")
                    #expect(result.counter == snapshot.counters[mailbox.path],
                            "snapshot \(round), \(mailbox.path): counter \(String(describing: result.counter)), expected \(snapshot.counters[mailbox.path] ?? -1)")
                }
            }
        }
    }
}
