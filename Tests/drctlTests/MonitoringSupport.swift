import DRRepository
import Foundation
import Testing

// Support for the tests of `drctl status` and of the Prometheus metrics: a home whose
// mailboxes are plain text (backed up by content-defined chunking: no mailbox key, no
// Python), the status report as JSON, and backdating of snapshots.

/// `drctl status --json`, the fields the tests use.
struct StatusReport: Decodable {
    struct Problem: Decodable {
        var code: String?
        var message: String
    }
    struct Newest: Decodable {
        var id: String
        var time: String
        var end: String
        var wholeStore: Bool
        var mailboxes: Int
        var failed: Int
        var targets: [String]
    }
    struct Target: Decodable {
        struct Snapshot: Decodable {
            var id: String
            var time: String
        }
        var name: String
        var available: Bool
        var error: Problem?
        var newestSnapshot: Snapshot?
        var lagSeconds: Double?
        var missingSnapshots: Int
        var withinObjective: Bool
    }
    struct Exposure: Decodable {
        var objective: String
        var objectiveSeconds: Int64
        var exposureSeconds: Double?
        var worstMailbox: String?
        var worstRestorablePoint: String?
        var worstSnapshot: String?
        var mailboxes: Int
        var neverBackedUp: [String]
        var exceeded: Bool
    }
    struct Drill: Decodable {
        struct Latest: Decodable {
            var time: String
            var verdict: String
        }
        var latest: Latest?
        var overdue: Bool
        var error: Problem?
    }
    var schema: String
    var time: String
    var host: String
    var storePath: String
    var snapshots: Int
    var newestSnapshot: Newest?
    var targets: [Target]
    var rpo: Exposure
    var drill: Drill
    var problems: [Problem]
    var exitStatus: Int32

    func target(_ name: String) throws -> Target {
        try #require(targets.first { $0.name == name }, "no target \(name) in \(targets.map(\.name))")
    }
}

/// A `BackupHome` whose mailboxes are text files, with helpers for status and metrics.
final class MonitoringHome {
    let backup: BackupHome
    var root: String { backup.root }
    var store: String { backup.store }

    init(mailboxes: [String] = ["users/alice.db", "users/bob.db"], extraConfig: String = "") throws {
        backup = try BackupHome()
        for mailbox in mailboxes { try writeMailbox(mailbox, seed: 0) }
        if !extraConfig.isEmpty {
            try backup.replaceConfig { $0 + "\n" + extraConfig + "\n" }
        }
        try backup.initRepository()
        // Older than the file system's timestamp granularity before the first backup: an
        // entry proves its file unchanged only then (BackupJob.settled), and the tests count
        // unchanged mailboxes.
        usleep(300_000)
    }

    /// Text that chunks like a mailbox and differs with `seed`.
    func writeMailbox(_ path: String, seed: Int) throws {
        let full = "\(store)/\(path)"
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let lines = (0..<400).map { "message \($0) seed \(seed) for \(path): \(UUID().uuidString)\n" }
        try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: full))
    }

    /// An SQLite database whose header records 10 pages of 4096 bytes in a file of one: every
    /// backup fails it (`image.db-truncated`), as it would a mailbox cut short on disk.
    func writeTruncatedDatabase(_ path: String) throws {
        var page = [UInt8](repeating: 0, count: 4096)
        page.replaceSubrange(0..<16, with: Array("SQLite format 3\u{0}".utf8))
        page[16] = 0x10                    // page size 4096, big-endian
        page[18] = 1; page[19] = 1         // file format versions
        page[21] = 64; page[22] = 32; page[23] = 32
        page[27] = 1                       // change counter
        page[31] = 10                      // database size in pages
        page[95] = 1                       // version-valid-for = change counter
        try Data(page).write(to: URL(fileURLWithPath: "\(store)/\(path)"))
    }

    func drctl(_ arguments: [String]) throws -> RunResult { try backup.drctl(arguments) }

    /// `drctl status --json`: the result and the report it printed.
    func status(_ extra: [String] = []) throws -> (RunResult, StatusReport) {
        let result = try drctl(["status", "--json"] + extra)
        let report = try #require(try? JSONDecoder().decode(StatusReport.self, from: Data(result.stdout.utf8)),
                                  "status printed no report (\(result.status)): \(result.stdout)\n\(result.stderr)")
        return (result, report)
    }

    /// Moves every snapshot `seconds` into the past, as if the backups had run then: the
    /// run's time and each image's consistency time (rewritten by a key holder, as
    /// ManifestForger does; a manifest whose images are newer than its run would be refused).
    func backdate(by seconds: Int64) throws {
        let forger = try ManifestForger(config: backup.config)
        for name in try forger.names() {
            let moved = try forger.rewriteEntries(name) { entries in
                for index in entries.indices {
                    entries[index].consistentAt = Millis.format(try Millis.parse(entries[index].consistentAt) - seconds * 1000)
                }
            }
            try forger.rewrite("snapshots/" + moved) { json in
                json["time"] = Millis.format(try Millis.parse(try #require(json["time"] as? String)) - seconds * 1000)
            }
        }
    }
}
