import Foundation
import Testing

// Support for the tests of `drctl sync` and `drctl targets`: their JSON reports, and taking a
// file target away (as an unmounted share) and back.

struct SyncReport: Decodable {
    struct Counts: Decodable, Equatable {
        var objects: Int
        var keys: Int
        var snapshots: Int
        var packs: Int
        var bytes: Int64
    }
    struct Problem: Decodable {
        var object: String
        var code: String
        var message: String
    }
    struct Target: Decodable {
        var name: String
        var location: String
        var reachable: Bool
        var destination: Bool
        var lacked: Counts
        var copied: Counts
        var failures: [Problem]
        var readFailures: [Problem]
        var complete: Bool
        var transfer: Transfer?
    }
    var dryRun: Bool
    var complete: Bool
    var targets: [Target]
    var durationSeconds: Double

    func target(_ name: String) throws -> Target {
        try #require(targets.first { $0.name == name }, "no target \(name) in the sync report")
    }
}

struct TargetsReport: Decodable {
    struct Snapshot: Decodable {
        var id: String
        var time: String
        var host: String
    }
    struct Lag: Decodable {
        var snapshots: Int
        var keys: Int
        var packs: Int
        var packsDiffering: Int
        var behindSeconds: Double?
        var lagging: Bool
    }
    struct Problem: Decodable {
        var code: String
        var message: String
    }
    struct Row: Decodable {
        var name: String
        var kind: String
        var location: String
        var reachable: Bool
        var error: Problem?
        var newestSnapshot: Snapshot?
        var snapshots: Int?
        var lag: Lag?
        var storedBytes: Int64?
        var objects: Int?
        var objectLock: String
    }
    var targets: [Row]
    var newestSnapshot: Snapshot?
    var complete: Bool

    func target(_ name: String) throws -> Row {
        try #require(targets.first { $0.name == name }, "no target \(name) in the targets report")
    }
}

extension BackupHome {
    /// `sync --json`; the report is nil when the command printed none.
    func sync(_ extra: [String] = [], config: String? = nil) throws -> (ProcessResult, SyncReport?) {
        let result = try home.drctl(["sync", "--json"] + extra + ["--config", config ?? self.config])
        return (result, try? JSONDecoder().decode(SyncReport.self, from: Data(result.stdout.utf8)))
    }

    /// `targets --json`.
    func targets(config: String? = nil) throws -> (ProcessResult, TargetsReport?) {
        let result = try home.drctl(["targets", "--json", "--config", config ?? self.config])
        return (result, try? JSONDecoder().decode(TargetsReport.self, from: Data(result.stdout.utf8)))
    }

    /// Takes a target's folder away, as an NFS share that is not mounted.
    func takeAway(_ target: String) throws {
        try FileManager.default.moveItem(atPath: targetFolder(target), toPath: targetFolder(target) + ".away")
    }

    func bringBack(_ target: String) throws {
        try FileManager.default.moveItem(atPath: targetFolder(target) + ".away", toPath: targetFolder(target))
    }

    /// A configuration with the same store and key but only `target`, and a state folder of its
    /// own: what `check` on that target alone is run with.
    func configWithOnly(_ target: String) throws -> String {
        try home.backupConfigFile(storePath: store, include: ["**/*.db"], keyFile: repositoryKeyFile,
                                  targets: [(target, targetFolder(target))], name: "only-\(target).toml",
                                  statePath: "\(root)/state-only-\(target)")
    }

    /// `check --read-data` on one target alone.
    func checkOnly(_ target: String) throws -> (ProcessResult, CheckReport?) {
        let result = try home.drctl(["check", "--read-data", "--json", "--config", try configWithOnly(target)])
        return (result, try? JSONDecoder().decode(CheckReport.self, from: Data(result.stdout.utf8)))
    }

    /// The objects of a target (relative names, temporary files left out), with their bytes.
    func objects(of target: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        let folder = targetFolder(target)
        for name in Files.all(under: folder) where !(name.split(separator: "/").last?.hasPrefix(".tmp-") ?? false) {
            result[name] = try Files.read("\(folder)/\(name)")
        }
        return result
    }
}
