import DRTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Support for the end-to-end tests of backup, snapshots, restore and check: a mail store made
// by scripts/gen-mailstore, a configuration with a key file and two file targets, the JSON
// reports of the commands, and byte/page comparisons.

/// The repository's root folder (for scripts/gen-mailstore), found from this source file.
enum ProjectRoot {
    static var path: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }
}

/// The Python interpreter that runs scripts/gen-mailstore: $DRCTL_PYTHON, or `python3` as
/// the caller's PATH resolves it (pyenv shims included), reduced to the real executable so
/// that it also runs under the tests' controlled environment.
enum Python {
    static let interpreter: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["DRCTL_PYTHON"], FileManager.default.isExecutableFile(atPath: explicit) {
            return explicit
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    static func require() throws -> String {
        try #require(Python.interpreter != nil,
                     "python3 was not found (PATH or $DRCTL_PYTHON): scripts/gen-mailstore needs it, with apsw-sqlite3mc and libsqlcipher0 (scripts/setup installs them)")
        return Python.interpreter ?? ""
    }
}

// MARK: - JSON reports of the commands (only the fields the tests use)

struct BackupReport: Decodable {
    struct Target: Decodable {
        var name: String
        var ok: Bool
        var error: String?
        var storedBytes: Int64
        var transfer: Transfer?
        /// Damage found on a target that still took the backup (absent from older drctl).
        var damage: [String] { degraded ?? [] }
        var degraded: [String]?
        /// What the run copied to this target before it backed up (it lacked snapshots).
        var caughtUp: SyncReport.Counts?
    }
    struct Failure: Decodable {
        var mailbox: String
        var code: String
        var error: String
    }
    var snapshot: String?
    var time: String
    var files: Int
    var filesUnchanged: Int
    var bytesRead: Int64
    var imageBytes: Int64
    var newChunks: Int
    var newChunkBytes: Int64
    var durationSeconds: Double
    /// Mailboxes compared with what a killed run had stored (its journal).
    var resumed: Int?
    var stored: Stored
    var targets: [Target]
    var failures: [Failure]
}

/// What a command asked of one target (`transfer` in the reports).
struct Transfer: Decodable {
    var target: String?
    var getRequests: Int
    var bytesRead: Int64
    var putRequests: Int
    var bytesWritten: Int64
    var listRequests: Int
    /// Retries made and faults met (S3 targets).
    var faults: Faults?

    struct Faults: Decodable, CustomStringConvertible {
        var requests: Int
        var retries: Int
        var statuses: [String: Int]
        var networkErrors: Int
        var description: String { "\(requests) requests, \(retries) retries, statuses \(statuses), \(networkErrors) network errors" }
    }
}

/// What one target received from a backup, by kind.
struct Stored: Decodable {
    var dataBytes: Int64
    var treeBytes: Int64
    var listBytes: Int64
    var packHeaderBytes: Int64
    var manifestBytes: Int64
    var packs: Int
}

struct SnapshotRow: Decodable {
    struct Image: Decodable {
        var path: String
        var consistentAt: String
        var size: Int64
        var snapshotMode: String
        var unchanged: Bool
    }
    var id: String
    var time: String
    var files: Int
    var targets: [String]
    var mailbox: Image?
}

struct RestoreReport: Decodable {
    struct MovedAside: Decodable {
        var from: String
        var to: String
    }
    struct Restored: Decodable {
        var mailbox: String
        var snapshot: String
        var consistentAt: String
        var size: Int64
        var path: String
        var target: String
        var movedAside: [MovedAside]?
    }
    struct Failure: Decodable {
        var mailbox: String
        var code: String
        var error: String
    }
    var restored: [Restored]
    var failures: [Failure]
    var transfer: [Transfer]?
    var parallelism: Int?
}

struct CheckReport: Decodable {
    struct Problem: Decodable {
        var object: String
        var code: String
        var message: String
    }
    struct Affected: Decodable, Hashable {
        var snapshot: String
        var mailbox: String
    }
    struct Target: Decodable {
        var target: String
        var snapshots: Int
        var nodesVerified: Int
        var packs: Int
        var packsRead: Int
        var blobsVerified: Int
        var errors: [Problem]
        var warnings: [Problem]
        var damagedPacks: [String]
        var affected: [Affected]
    }
    var targets: [Target]
}

struct GeneratedMailbox: Decodable {
    var path: String
    var cipher: String
    var journal: String
    var messages: Int
}

struct VerifyResult: Decodable {
    var image: String
    var counter: Int?
    var problems: [String]
}

// MARK: - A home with a mail store and a key-file repository on file targets

/// A throw-away home holding a mail store (made by gen-mailstore with a mailbox key), a
/// configuration with a key file and file targets, and helpers that run drctl on it.
final class BackupHome {
    let home: TemporaryHome
    let store: String
    /// The mailboxes' (SQLite encryption) key: hex in a 0600 file, as gen-mailstore wants.
    let mailboxKeyFile: String
    /// The repository's key file, generated by `drctl init`.
    let repositoryKeyFile: String
    var config: String
    var root: String { home.root }

    convenience init(targets: [String] = ["site-a", "site-b"]) throws {
        try self.init(specs: targets.map { .file($0) })
    }

    /// A home whose targets may be S3 buckets of the test servers (each on a fresh prefix).
    init(specs: [TestTarget]) throws {
        home = try TemporaryHome()
        store = "\(home.root)/mailstore"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        mailboxKeyFile = try home.secretFile("mailbox.key", hex + "\n")
        repositoryKeyFile = "\(home.root)/repository.key"
        let base = home.root
        config = try home.backupConfigFile(storePath: store, include: ["**/*.db"], keyFile: repositoryKeyFile,
                                           targets: [])
        var text = try String(contentsOfFile: config, encoding: .utf8)
        for spec in specs {
            text += try spec.toml(home: home, base: base)
        }
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// Rewrites one target's block (a proxy in front of it, another secret, …).
    func replaceConfig(_ body: (String) -> String) throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try body(text).write(toFile: config, atomically: true, encoding: .utf8)
    }

    func targetFolder(_ name: String) -> String { "\(home.root)/targets/\(name)" }

    // gen-mailstore

    func genMailstore(_ arguments: [String]) throws -> ProcessResult {
        let python = try Python.require()
        return try home.run(python, ["\(ProjectRoot.path)/scripts/gen-mailstore"] + arguments)
    }

    /// Creates mailboxes under `store/subfolder`; returns them with paths relative to the store.
    @discardableResult
    func generate(cipher: String = "all", journal: String = "all", count: Int = 1, messages: Int = 200,
                  seed: Int = 1, subfolder: String? = nil) throws -> [GeneratedMailbox] {
        let folder = subfolder.map { "\(store)/\($0)" } ?? store
        let result = try genMailstore(["create", "--dir", folder, "--key-file", mailboxKeyFile, "--cipher", cipher,
                                       "--journal", journal, "--count", String(count), "--messages", String(messages),
                                       "--seed", String(seed)])
        try #require(result.status == 0, "gen-mailstore create failed (\(result.status)): \(result.stderr)")
        var created = try JSONDecoder().decode([GeneratedMailbox].self, from: Data(result.stdout.utf8))
        for index in created.indices {
            created[index].path = String(created[index].path.dropFirst(store.count + 1))
        }
        // Past the racy-clean window (BackupJob.settled, 100 ms): a mailbox that the first
        // backup reads within 100 ms of its last write is rightly read again by the next, and
        // many tests count the unchanged ones. Which mailbox that would be depends on the
        // reading order (largest first), so no test should depend on how fast it starts.
        usleep(250_000)
        return created
    }

    /// Commits `transactions` writer transactions (insert, update, delete) to a mailbox and
    /// closes it (so a WAL is checkpointed and removed when the writer was its last user).
    func write(_ mailbox: GeneratedMailbox, transactions: Int, seed: Int) throws {
        let result = try genMailstore(["write", "--db", "\(store)/\(mailbox.path)", "--cipher", mailbox.cipher,
                                       "--key-file", mailboxKeyFile, "--max-transactions", String(transactions),
                                       "--seed", String(seed)])
        try #require(result.status == 0, "gen-mailstore write failed (\(result.status)): \(result.stderr)")
        let stats = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(stats?["committed"] as? Int == transactions, "writer stats: \(result.stdout)")
    }

    /// Opens images with the mailbox key: integrity_check and the writer's invariant.
    func verify(_ images: [String], cipher: String) throws -> [VerifyResult] {
        let result = try genMailstore(["verify", "--cipher", cipher, "--key-file", mailboxKeyFile] + images)
        try #require(result.status == 0, "gen-mailstore verify failed (\(result.status)): \(result.stderr)")
        return try result.stdout.split(separator: "\n").map {
            try JSONDecoder().decode(VerifyResult.self, from: Data($0.utf8))
        }
    }

    // drctl

    func drctl(_ arguments: [String]) throws -> ProcessResult {
        try home.drctl(arguments + ["--config", config])
    }

    /// Starts `drctl ARGUMENTS --config CONFIG` and sends SIGKILL after `delay` seconds.
    /// `killed` when the kill ended it; false when it had finished by itself (with exit 0, or
    /// the test records an issue); `seconds` how long it ran.
    func runKilled(_ arguments: [String], config: String? = nil, after delay: Double) throws -> (killed: Bool, seconds: Double) {
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Drctl.binary)
        process.arguments = arguments + ["--no-progress", "--config", config ?? self.config]
        process.environment = home.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(started)
        if process.terminationReason == .uncaughtSignal {
            #expect(process.terminationStatus == SIGKILL)
            return (true, seconds)
        }
        #expect(process.terminationStatus == 0, "drctl \(arguments.joined(separator: " ")) finished before its kill, and failed")
        return (false, seconds)
    }

    func initRepository() throws {
        let result = try drctl(["init"])
        try #require(result.status == 0, "init failed (\(result.status)): \(result.stderr)")
    }

    /// `backup --json`; the report is nil when the command printed none (an error before it).
    func backup(_ extra: [String] = []) throws -> (ProcessResult, BackupReport?) {
        let result = try drctl(["backup", "--json"] + extra)
        return (result, try? JSONDecoder().decode(BackupReport.self, from: Data(result.stdout.utf8)))
    }

    /// A backup that must succeed completely.
    func backupOK(_ extra: [String] = []) throws -> BackupReport {
        let (result, report) = try backup(extra)
        try #require(result.status == 0, "backup failed (\(result.status)): \(result.stderr)\n\(result.stdout)")
        return try #require(report, "backup printed no JSON report: \(result.stdout)")
    }

    func snapshots(mailbox: String? = nil) throws -> [SnapshotRow] {
        let result = try drctl(["snapshots", "--json"] + (mailbox.map { ["--mailbox", $0] } ?? []))
        try #require(result.status == 0, "snapshots failed (\(result.status)): \(result.stderr)")
        return try JSONDecoder().decode([SnapshotRow].self, from: Data(result.stdout.utf8))
    }

    func restore(_ arguments: [String]) throws -> (ProcessResult, RestoreReport?) {
        let result = try drctl(["restore", "--json"] + arguments)
        return (result, try? JSONDecoder().decode(RestoreReport.self, from: Data(result.stdout.utf8)))
    }

    func check(_ arguments: [String] = ["--read-data"]) throws -> (ProcessResult, CheckReport?) {
        let result = try drctl(["check", "--json"] + arguments)
        return (result, try? JSONDecoder().decode(CheckReport.self, from: Data(result.stdout.utf8)))
    }

    /// `drctl image MAILBOX --to FILE`: the consistent image of a mailbox as it is now.
    /// Returns its JSON report (mode, pageSize, …).
    @discardableResult
    func snapshotImage(_ mailbox: String, to file: String) throws -> [String: Any] {
        let result = try home.drctl(["image", "\(store)/\(mailbox)", "--to", file, "--force", "--json"])
        try #require(result.status == 0, "drctl image \(mailbox) failed (\(result.status)): \(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                            "drctl image --json printed no object: \(result.stdout)")
    }

    /// Updates `percent` % of a mailbox's messages in place (flags only: no insert, no delete)
    /// through the mailbox's own SQLite build, then closes it (checkpointing a WAL).
    /// Returns the number of rows changed and the number of rows in the table.
    func updateRows(_ mailbox: GeneratedMailbox, percent: Int, seed: Int) throws -> (changed: Int, rows: Int) {
        let python = try Python.require()
        let script = """
            import sys
            sys.path.insert(0, sys.argv[1])
            from mailstore import dbapi
            path, cipher, key_file, percent, seed = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
            db = dbapi.connect(path, cipher, dbapi.read_key_file(key_file) if cipher != "none" else None)
            rows = db.execute("SELECT count(*) FROM messages")[0][0]
            wanted = max(1, rows * percent // 100)
            ids = [r[0] for r in db.execute("SELECT id FROM messages ORDER BY (id * ?) % 1000003 LIMIT ?", (seed * 7919 + 1, wanted))]
            db.execute("BEGIN IMMEDIATE")
            for i in ids:
                db.execute("UPDATE messages SET flags = (flags + 1) % 32 WHERE id = ?", (i,))
            db.execute("COMMIT")
            db.close()
            print(len(ids), rows)
            """
        let result = try home.run(python, ["-c", script, "\(ProjectRoot.path)/scripts/lib", "\(store)/\(mailbox.path)",
                                           mailbox.cipher, mailboxKeyFile, String(percent), String(seed)])
        try #require(result.status == 0, "updating \(mailbox.path) failed (\(result.status)): \(result.stderr)")
        let numbers = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        try #require(numbers.count == 2, "unexpected output: \(result.stdout)")
        return (numbers[0], numbers[1])
    }
}

extension TemporaryHome {
    /// A configuration with a store path and include globs, a repository key file (generated
    /// by `drctl init` when missing) and the given file targets.
    func backupConfigFile(storePath: String, include: [String], keyFile: String,
                          targets: [(name: String, folder: String)], name: String = "drctl.toml",
                          statePath: String? = nil) throws -> String {
        let path = "\(root)/\(name)"
        let globs = include.map { "\"\($0)\"" }.joined(separator: ", ")
        var text = """
            [store]
            path = "\(storePath)"
            include = [\(globs)]

            [repository]
            key_file = "\(keyFile)"

            [state]
            path = "\(statePath ?? "\(root)/state")"

            """
        for target in targets {
            text += """

                [[target]]
                name = "\(target.name)"
                url = "file://\(target.folder)"

                """
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

// MARK: - Targets of a test home

/// A target of a test home: a folder under the home, or a fresh prefix in a bucket of one of
/// the real S3 servers of scripts/s3-servers.
enum TestTarget {
    case file(String)
    /// `extra` lines go into the `[[target]]` block as they are; `endpoint` replaces the
    /// server's (a fault proxy in front of it).
    case s3(String, server: S3TestServer, bucket: String? = nil, endpoint: String? = nil, extra: String = "")

    var name: String {
        switch self {
        case .file(let name), .s3(let name, _, _, _, _): name
        }
    }

    func toml(home: TemporaryHome, base: String) throws -> String {
        switch self {
        case .file(let name):
            return "\n[[target]]\nname = \"\(name)\"\nurl = \"file://\(base)/targets/\(name)\"\n"
        case .s3(let name, let server, let bucket, let endpoint, let extra):
            let credentials = try home.secretFile("\(name).credentials", server.credentialsFileText())
            let prefix = "drctl-test-\(UUID().uuidString.lowercased().prefix(13))"
            return """

                [[target]]
                name = "\(name)"
                url = "s3://\(bucket ?? server.bucket)/\(prefix)"
                endpoint = "\(endpoint ?? server.endpoint)"
                region = "\(server.region)"
                credentials_file = "\(credentials)"
                allow_insecure_http = true
                \(extra)

                """
        }
    }
}

// MARK: - Files

enum Files {
    static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : -1
    }

    /// Every regular file below `folder`, relative paths, including hidden ones.
    static func all(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var result: [String] = []
        for case let relative as String in walker {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(folder)/\(relative)", isDirectory: &isFolder), !isFolder.boolValue {
                result.append(relative)
            }
        }
        return result.sorted()
    }

    /// Total size of the regular files below `folder` (what `du --apparent-size -b` counts).
    static func bytes(under folder: String) -> Int64 {
        all(under: folder).reduce(0) { $0 + size("\(folder)/\($1)") }
    }

    /// The pack files of a target (data/xx/<64 hex>), relative to the target.
    static func packs(in target: String) -> [String] {
        all(under: "\(target)/data").filter { $0.split(separator: "/").last?.count == 64 }.map { "data/\($0)" }
    }

    /// Total size of a target's pack files (temporary files left by a killed write excluded).
    static func packBytes(in target: String) -> Int64 {
        packs(in: target).reduce(0) { $0 + size("\(target)/\($1)") }
    }

    /// Temporary files (`.tmp-*`) below a target: writes that were interrupted.
    static func temporaries(in target: String) -> [String] {
        all(under: target).filter { $0.split(separator: "/").last?.hasPrefix(".tmp-") == true }
    }

    static func copy(_ from: String, _ to: String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    /// Bytes of the pages that differ between two images of `pageSize`-byte pages (pages
    /// present in only one of them count whole).
    static func changedPageBytes(_ old: [UInt8], _ new: [UInt8], pageSize: Int) -> (pages: Int, bytes: Int) {
        let count = (max(old.count, new.count) + pageSize - 1) / pageSize
        var changed = 0
        for page in 0..<count {
            let start = page * pageSize
            let a = start < old.count ? old[start..<min(start + pageSize, old.count)] : []
            let b = start < new.count ? new[start..<min(start + pageSize, new.count)] : []
            if a != b { changed += 1 }
        }
        return (changed, changed * pageSize)
    }
}

// MARK: - Times

/// Exact millisecond arithmetic on the RFC 3339 UTC timestamps drctl prints
/// (`2026-11-29T15:24:11.164Z`), without a round trip through floating point.
enum Millis {
    static func parse(_ text: String) throws -> Int64 {
        var tm = tm()
        let parts = text.split(separator: ".")
        let head = String(parts[0].hasSuffix("Z") ? parts[0].dropLast() : parts[0])
        var milliseconds: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1].prefix { $0.isNumber }
            milliseconds = Int64((digits + "000").prefix(3)) ?? 0
        }
        let fields = head.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int32($0) }
        try #require(fields.count == 6, "not an RFC 3339 UTC time: \(text)")
        tm.tm_year = fields[0] - 1900
        tm.tm_mon = fields[1] - 1
        tm.tm_mday = fields[2]
        tm.tm_hour = fields[3]
        tm.tm_min = fields[4]
        tm.tm_sec = fields[5]
        return Int64(timegm(&tm)) * 1000 + milliseconds
    }

    static func format(_ millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1,
                      Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), Int(millis % 1000))
    }
}
