import DRCrypto
import DRTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A test home whose configuration retains logs from `<root>/logs/` (every rotation of
/// `mail.log`), with the log master key that `drctl init` creates.
final class LogsHome {
    let backup: BackupHome
    var root: String { backup.root }
    var logs: String { "\(root)/logs" }
    var state: String { "\(root)/state" }
    /// Extra environment for every drctl run (the test clock).
    var extraEnvironment: [String: String] = [:]

    init(specs: [TestTarget] = [.file("site-a"), .file("site-b")], retain: String = "30d") throws {
        backup = try BackupHome(specs: specs)
        try FileManager.default.createDirectory(atPath: "\(backup.root)/logs", withIntermediateDirectories: true)
        var text = try String(contentsOfFile: backup.config, encoding: .utf8)
        text += """

            [logs]
            sources = ["\(backup.root)/logs/mail.log*"]
            key_file = "\(backup.root)/logs.key"
            retain = "\(retain)"
            settle = "0s"

            """
        try text.write(toFile: backup.config, atomically: true, encoding: .utf8)
        try backup.initRepository()
        #expect(FileManager.default.fileExists(atPath: "\(backup.root)/logs.key"), "drctl init creates the log master key")
    }

    func drctl(_ arguments: [String], environment extra: [String: String] = [:]) throws -> RunResult {
        let environment = backup.home.environment.merging(extraEnvironment) { $1 }.merging(extra) { $1 }
        return try BinaryRunner.run(Drctl.binary, arguments + ["--config", backup.config], environment: environment,
                                    inheritEnvironment: false, currentDirectory: root)
    }

    /// A log file of `count` lines, each with a unique sequence token `seq=NNNNNNN` (which
    /// no anonymizer touches) and an address and IP, last modified `age` seconds ago.
    @discardableResult
    func writeLog(_ name: String, first: Int, count: Int, age: Double = 3600, time: Date? = nil) throws -> [String] {
        let moment = time ?? Date().addingTimeInterval(-age)
        var tokens: [String] = []
        var text = ""
        for index in first..<(first + count) {
            let token = String(format: "seq=%07d", index)
            tokens.append(token)
            let stamp = Self.syslogTime(moment.addingTimeInterval(Double(index - first - count)))
            text += "\(stamp) mx1 postfix/smtpd[\(1000 + index % 97)]: \(String(format: "%05X", index)): client=unknown[192.0.2.\(index % 250)], sasl_username=user\(index % 13)@example.org \(token)\n"
        }
        let path = "\(logs)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try setModified(path, moment)
        return tokens
    }

    func setModified(_ path: String, _ moment: Date) throws {
        var times = [timespec(tv_sec: Int(moment.timeIntervalSince1970), tv_nsec: 0),
                     timespec(tv_sec: Int(moment.timeIntervalSince1970), tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    static func syslogTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM d HH:mm:ss"
        let text = formatter.string(from: date)
        // syslog pads the day to two characters with a space.
        let parts = text.split(separator: " ")
        return parts[0] + " " + (parts[1].count == 1 ? " " : "") + parts[1] + " " + parts[2]
    }

    func retain(_ extra: [String] = [], environment: [String: String] = [:]) throws -> (RunResult, [String: Any]) {
        let result = try drctl(["logs", "retain", "--json"] + extra, environment: environment)
        let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result, object)
    }

    /// The lines `logs show` prints from one target.
    func show(target: String, _ extra: [String] = []) throws -> [String] {
        let result = try drctl(["logs", "show", "--json", "--target", target] + extra)
        try #require(result.status == 0, "logs show --target \(target): \(result.status) \(result.stderr)")
        return try result.stdout.split(separator: "\n").map { row in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
            return try #require(object["line"] as? String)
        }
    }

    /// How often each sequence token occurs in `lines`.
    static func counts(_ lines: [String]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in lines {
            if let range = line.range(of: #"seq=\d{7}"#, options: .regularExpression) { counts[String(line[range]), default: 0] += 1 }
        }
        return counts
    }

    /// The tokens of the originals still in the logs folder (`.zst` ones decompressed).
    func originalTokens() throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: logs) where name.hasPrefix("mail.log.") {
            let path = "\(logs)/\(name)"
            var text: String
            if name.hasSuffix(".zst") {
                let out = try BinaryRunner.run("zstd", ["-dc", path])
                text = out.stdout
            } else {
                text = try String(contentsOfFile: path, encoding: .utf8)
            }
            result[name] = Array(Self.counts(text.split(separator: "\n").map(String.init)).keys)
        }
        return result
    }

    func objects(in target: String) -> [String] {
        Files.all(under: backup.targetFolder(target)).filter { $0.hasPrefix("logs/") }
    }

    var day: String { Self.day(Date().addingTimeInterval(-3600)) }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }
}

@Suite("logs retain, show, keys and day keys, end to end", .serialized)
struct LogsRetainTests {
    @Test("two folder targets: rotated files (plain and .zst) retained on both, originals deleted, the live file and a gzip rotation left; a re-run stores nothing twice")
    func twoFolderTargets() throws {
        let home = try LogsHome()
        let live = try home.writeLog("mail.log", first: 0, count: 50, age: 0)
        let rotated = Date().addingTimeInterval(-3600)
        let first = try home.writeLog("mail.log.1", first: 100, count: 400, time: rotated)
        let second = try home.writeLog("mail.log.2", first: 1000, count: 300, age: 7200)
        let compressed = try BinaryRunner.run("zstd", ["-q", "--rm", "\(home.logs)/mail.log.2"])
        try #require(compressed.status == 0, "\(compressed.stderr)")
        try home.setModified("\(home.logs)/mail.log.2.zst", Date().addingTimeInterval(-7200))
        try home.writeLog("mail.log.3.gz", first: 5000, count: 10)
        try FileManager.default.createSymbolicLink(atPath: "\(home.logs)/mail.log.7", withDestinationPath: "\(home.root)/drctl.toml")

        let (result, report) = try home.retain()
        // The gzip rotation is refused (exit 2) and named with what to change.
        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        let refused = report["refused"] as? [[String: Any]] ?? []
        let gzip = refused.first { ($0["path"] as? String)?.hasSuffix("mail.log.3.gz") == true }
        let link = refused.first { ($0["path"] as? String)?.hasSuffix("mail.log.7") == true }
        #expect(refused.count == 2, "\(refused)")
        #expect((gzip?["reason"] as? String)?.contains("compresscmd") == true, "\(refused)")
        #expect((link?["reason"] as? String)?.contains("symbolic link") == true, "\(refused)")
        #expect(FileManager.default.fileExists(atPath: "\(home.root)/drctl.toml"))
        #expect(FileManager.default.fileExists(atPath: "\(home.logs)/mail.log.3.gz"))
        #expect(FileManager.default.fileExists(atPath: "\(home.logs)/mail.log"), "the live file is never taken")
        #expect(!FileManager.default.fileExists(atPath: "\(home.logs)/mail.log.1"))
        #expect(!FileManager.default.fileExists(atPath: "\(home.logs)/mail.log.2.zst"))
        for target in ["site-a", "site-b"] {
            #expect(home.objects(in: target).count == 2, "\(target): \(home.objects(in: target))")
            let counts = LogsHome.counts(try home.show(target: target))
            for token in first + second { #expect(counts[token] == 1, "\(target): \(token) \(counts[token] ?? 0) times") }
            for token in live { #expect(counts[token] == nil, "\(target): a line of the live file was retained") }
            // Object names carry no personal data: logs/<day>/<64 hex>.
            for object in home.objects(in: target) {
                #expect(object.range(of: #"^logs/\d{4}-\d{2}-\d{2}/[0-9a-f]{64}$"#, options: .regularExpression) != nil, "\(object)")
            }
        }
        // The same content again (a rotation restored from elsewhere) makes no second object.
        let objectsBefore = home.objects(in: "site-a")
        try FileManager.default.removeItem(atPath: "\(home.logs)/mail.log.3.gz")
        try FileManager.default.removeItem(atPath: "\(home.logs)/mail.log.7")
        let again = try home.writeLog("mail.log.1", first: 100, count: 400, time: rotated)
        #expect(again == first)
        let (rerun, _) = try home.retain()
        #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        #expect(home.objects(in: "site-a") == objectsBefore)
        #expect(LogsHome.counts(try home.show(target: "site-a")).values.allSatisfy { $0 == 1 })
    }

    @Test("a target down: its originals are kept and the run ends degraded naming it; the next run completes without a second copy")
    func targetDown() throws {
        let home = try LogsHome()
        let tokens = try home.writeLog("mail.log.1", first: 0, count: 200)
        let folder = home.backup.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: folder, toPath: folder + ".away")
        let (down, report) = try home.retain()
        #expect(down.status == 2, "\(down.stderr)")
        let targets = report["targets"] as? [[String: Any]] ?? []
        #expect(targets.contains { $0["name"] as? String == "site-b" && $0["ok"] as? Bool == false }, "\(targets)")
        #expect(FileManager.default.fileExists(atPath: "\(home.logs)/mail.log.1"), "the original is kept while a target lacks its copy")
        #expect(home.objects(in: "site-a").count == 1)
        try FileManager.default.moveItem(atPath: folder + ".away", toPath: folder)
        let (back, _) = try home.retain()
        #expect(back.status == 0, "\(back.stdout) \(back.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(home.logs)/mail.log.1"))
        #expect(home.objects(in: "site-a").count == 1 && home.objects(in: "site-b").count == 1)
        for target in ["site-a", "site-b"] {
            let counts = LogsHome.counts(try home.show(target: target))
            #expect(tokens.allSatisfy { counts[$0] == 1 }, "\(target)")
        }
    }

    @Test("expiry: past [logs] retain the objects go from every target and the day's salt is destroyed; the day is refused afterwards, saying when")
    func expiry() throws {
        let home = try LogsHome(retain: "2d")
        let old = Date().addingTimeInterval(-86_400)
        try home.writeLog("mail.log.1", first: 0, count: 100, time: old)
        let (first, _) = try home.retain()
        #expect(first.status == 0, "\(first.stderr)")
        let oldDay = LogsHome.day(old)
        #expect(FileManager.default.fileExists(atPath: "\(home.state)/logs/days/\(oldDay).salt"))
        let pseudonym = try home.drctl(["logs", "ip", "--day", oldDay, "192.0.2.7"])
        #expect(pseudonym.status == 0, "\(pseudonym.stderr)")

        // Four days later: the old day is past the window.
        let later = ["DRCTL_TEST_NOW": String(Int(Date().timeIntervalSince1970) + 4 * 86_400)]
        try home.writeLog("mail.log.1", first: 500, count: 10, age: 0)
        try home.setModified("\(home.logs)/mail.log.1", Date().addingTimeInterval(3 * 86_400))
        let (expired, report) = try home.retain(environment: later)
        #expect(expired.status == 0, "\(expired.stdout) \(expired.stderr)")
        #expect(report["destroyedDays"] as? [String] == [oldDay], "\(report)")
        for target in ["site-a", "site-b"] {
            let objects = home.objects(in: target)
            #expect(objects.count == 1 && !objects.contains { $0.hasPrefix("logs/\(oldDay)/") }, "\(target): \(objects)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(home.state)/logs/days/\(oldDay).salt"))
        let keys = try home.drctl(["logs", "keys", "--json"], environment: later)
        let listed = (try JSONSerialization.jsonObject(with: Data(keys.stdout.utf8)) as? [[String: Any]]) ?? []
        #expect(listed.contains { $0["day"] as? String == oldDay && $0["state"] as? String == "destroyed" && $0["destroyed"] is String }, "\(listed)")
        let refused = try home.drctl(["logs", "ip", "--day", oldDay, "192.0.2.7"], environment: later)
        #expect(refused.status == 66 && refused.stderr.contains("destroyed at"), "\(refused.status) \(refused.stderr)")
        // Even at today's clock (a day inside the window again), a destroyed day stays destroyed.
        let stillRefused = try home.drctl(["logs", "ip", "--day", oldDay, "192.0.2.7"])
        #expect(stillRefused.status == 66, "\(stillRefused.stderr)")
    }

    @Test("expiry under S3 Object Lock: the locked object is named and left (exit 0), the folder target's copy deleted, the day's key destroyed all the same")
    func expiryObjectLock() throws {
        let radosgw = try S3TestServer.named("radosgw")
        let lockBucket = try #require(radosgw.lockBucket, "radosgw has no Object Lock bucket")
        let home = try LogsHome(specs: [.s3("vault", server: radosgw, bucket: lockBucket,
                                            extra: "object_lock = { mode = \"governance\", days = 1 }"),
                                        .file("local")], retain: "2d")
        let old = Date().addingTimeInterval(-86_400)
        try home.writeLog("mail.log.1", first: 0, count: 100, time: old)
        let (first, _) = try home.retain()
        try #require(first.status == 0, "\(first.stdout) \(first.stderr)")
        let oldDay = LogsHome.day(old)
        // Four days later by the log clock; the bucket's lock still runs by the real one.
        let later = ["DRCTL_TEST_NOW": String(Int(Date().timeIntervalSince1970) + 4 * 86_400)]
        let (expired, report) = try home.retain(environment: later)
        #expect(expired.status == 0, "\(expired.stdout) \(expired.stderr)")
        let objects = report["expired"] as? [[String: Any]] ?? []
        let vault = objects.first { $0["target"] as? String == "vault" }
        let local = objects.first { $0["target"] as? String == "local" }
        #expect(vault?["locked"] as? Bool == true && vault?["deleted"] as? Bool == false, "\(objects)")
        #expect((vault?["reason"] as? String)?.contains("Object Lock") == true, "\(objects)")
        #expect(local?["deleted"] as? Bool == true, "\(objects)")
        #expect(home.objects(in: "local").isEmpty)
        #expect(report["destroyedDays"] as? [String] == [oldDay], "\(report)")
    }

    @Test("day keys: same day same pseudonyms, other day others; a future day refused; the salt and the master key are each needed")
    func dayKeys() throws {
        let home = try LogsHome()
        let today = LogsHome.day(Date())
        let yesterday = LogsHome.day(Date().addingTimeInterval(-86_400))
        func pseudonym(_ day: String, method: String = "ipcrypt-pfx") throws -> String {
            let result = try home.drctl(["logs", "ip", "--day", day, "--method", method, "198.51.100.23"])
            try #require(result.status == 0, "\(result.stderr)")
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let first = try pseudonym(today)
        #expect(first != "198.51.100.23" && first.split(separator: ".").count == 4)
        #expect(try pseudonym(today) == first, "stable within a day")
        #expect(try pseudonym(yesterday) != first, "not linkable across days")
        #expect(try pseudonym(today, method: "crypto-pan") != first, "each method has its own key")
        let tomorrow = LogsHome.day(Date().addingTimeInterval(2 * 86_400))
        let future = try home.drctl(["logs", "ip", "--day", tomorrow, "198.51.100.23"])
        #expect(future.status == 64 && future.stderr.contains("future"), "\(future.stderr)")
        let salt = "\(home.state)/logs/days/\(today).salt"
        var info = stat()
        #expect(stat(salt, &info) == 0 && info.st_mode & 0o777 == 0o600 && info.st_size == 32)

        // The derivation as docs/LOGS.md writes it, computed here from the two files, gives
        // the key the binary used.
        let masterHex = try String(contentsOfFile: "\(home.root)/logs.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let masterBytes = stride(from: 0, to: 64, by: 2).map { UInt8(masterHex.dropFirst($0).prefix(2), radix: 16)! }
        let saltBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(home.state)/logs/days/\(today).salt")))
        func secure(_ bytes: [UInt8]) throws -> SecureBytes {
            var secret = try SecureBytes(count: bytes.count)
            secret.withUnsafeMutableBytes { out in for index in bytes.indices { out[index] = bytes[index] } }
            return secret
        }
        let master = try secure(masterBytes)
        let label: [UInt8] = Array("drctl-log-day-v1".utf8) + [0]
        let message: [UInt8] = label + Array(today.utf8) + [0] + saltBytes
        let dayKey = try Blake2b.hash(message, key: master)
        let daySecure = try secure(dayKey)
        let subkeyMessage: [UInt8] = Array("drctl-subkey-v1".utf8) + [0] + Array("log-ip-pfx".utf8)
        let ipKey = try Blake2b.hash(subkeyMessage, key: daySecure)
        let rawFile = try home.backup.home.secretFile("derived-pfx.key", ipKey.map { String(format: "%02x", $0) }.joined() + "\n")
        let raw = try home.drctl(["logs", "ip", "--raw-key-file", rawFile, "198.51.100.23"])
        let derived: String = raw.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(derived == first, "the documented derivation gives the day's key")

        // Another salt with the same master key: other pseudonyms.
        let saved = try Data(contentsOf: URL(fileURLWithPath: salt))
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: salt))
        #expect(try pseudonym(today) != first, "the salt is an input of the day key")
        try saved.write(to: URL(fileURLWithPath: salt))
        #expect(try pseudonym(today) == first)
        // Another master key with the same salt: other pseudonyms; no master key: refused.
        let masterPath = "\(home.root)/logs.key"
        let savedMaster = try String(contentsOfFile: masterPath, encoding: .utf8)
        let other = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() + "\n"
        try other.write(toFile: masterPath, atomically: false, encoding: .utf8)
        #expect(try pseudonym(today) != first, "the master key is an input of the day key")
        try FileManager.default.removeItem(atPath: masterPath)
        let missing = try home.drctl(["logs", "ip", "--day", today, "198.51.100.23"])
        #expect(missing.status != 0 && missing.stderr.contains("logs.key"), "\(missing.stderr)")
        _ = try home.backup.home.secretFile("logs.key", savedMaster)
        #expect(try pseudonym(today) == first)
    }

    @Test("logs show filters by --since, --until and --grep, in time order")
    func showFilters() throws {
        let home = try LogsHome()
        let base = Date().addingTimeInterval(-3 * 3600)
        try home.writeLog("mail.log.2", first: 0, count: 60, time: base)
        try home.writeLog("mail.log.1", first: 60, count: 60, time: base.addingTimeInterval(3600))
        let (result, _) = try home.retain()
        try #require(result.status == 0, "\(result.stderr)")
        let all = try home.show(target: "site-b")
        #expect(all.count == 120)
        let order = all.compactMap { line in line.range(of: #"seq=\d{7}"#, options: .regularExpression).map { Int(line[$0].dropFirst(4))! } }
        #expect(order == Array(0..<120), "time order across files")
        // Lines of mail.log.1 are stamped in the minute before base + 1h.
        let since = ISO8601DateFormatter().string(from: base.addingTimeInterval(3600 - 30))
        let recent = try home.show(target: "site-b", ["--since", since])
        #expect(!recent.isEmpty && recent.count < 60, "\(recent.count)")
        #expect(LogsHome.counts(recent).keys.allSatisfy { Int($0.dropFirst(4))! >= 60 })
        let until = ISO8601DateFormatter().string(from: base.addingTimeInterval(-30))
        let early = try home.show(target: "site-b", ["--until", until])
        #expect(!early.isEmpty && LogsHome.counts(early).keys.allSatisfy { Int($0.dropFirst(4))! < 60 }, "\(early.count)")
        let badPattern = try home.drctl(["logs", "show", "--grep", "seq=(unclosed"])
        #expect(badPattern.status == 64 && badPattern.stderr.contains("--grep"), "\(badPattern.status) \(badPattern.stderr)")
        let grepped = try home.show(target: "site-a", ["--grep", "seq=000004[0-9]"])
        #expect(Set(LogsHome.counts(grepped).keys) == Set((40..<50).map { String(format: "seq=%07d", $0) }))
    }

    @Test("logs anonymize --day D gives exactly the lines logs retain keeps for a file of day D, with the day's keys")
    func anonymizeDayMatchesRetain() throws {
        let home = try LogsHome()
        let moment = Date().addingTimeInterval(-3600)
        let day = LogsHome.day(moment)
        try home.writeLog("mail.log.1", first: 0, count: 80, time: moment)
        let original = try String(contentsOfFile: "\(home.logs)/mail.log.1", encoding: .utf8)
        let copy = "\(home.root)/copy.log"
        try original.write(toFile: copy, atomically: true, encoding: .utf8)
        for folder in ["anon", "other"] {
            try FileManager.default.createDirectory(atPath: "\(home.root)/\(folder)", withIntermediateDirectories: true)
        }

        let anonymized = try home.drctl(["logs", "anonymize", "--day", day, copy, "--output-dir", "\(home.root)/anon"])
        try #require(anonymized.status == 0, "\(anonymized.stderr)")
        let expected = try String(contentsOfFile: "\(home.root)/anon/copy.log.anon", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(expected.count == 80)
        #expect(!expected.joined().contains("192.0.2.") && !expected.joined().contains("sasl_username=user"),
                "the day's keys replaced the addresses")
        let (result, _) = try home.retain()
        try #require(result.status == 0, "\(result.stderr)")
        #expect(try home.show(target: "site-a") == expected, "logs show differs from logs anonymize --day \(day)")
        // Another day's keys give other pseudonyms.
        let yesterday = LogsHome.day(moment.addingTimeInterval(-86400))
        let other = try home.drctl(["logs", "anonymize", "--day", yesterday, copy, "--output-dir", "\(home.root)/other"])
        try #require(other.status == 0, "\(other.stderr)")
        let otherLines = try String(contentsOfFile: "\(home.root)/other/copy.log.anon", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(otherLines.count == 80 && zip(otherLines, expected).allSatisfy { $0 != $1 },
                "day \(yesterday)'s keys should give other pseudonyms on every line")
    }

    @Test("drctl run has a logs step: rotated logs retained, its outcome in the JSON summary")
    func runStep() throws {
        let home = try LogsHome()
        let tokens = try home.writeLog("mail.log.1", first: 0, count: 100)
        let result = try home.drctl(["run", "--json", "--no-progress"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
        let steps = report["steps"] as? [[String: Any]] ?? []
        let logs = try #require(steps.first { $0["step"] as? String == "logs" }, "\(steps)")
        #expect(logs["status"] as? String == "ok", "\(logs)")
        #expect((report["logs"] as? [String: Any])?["retained"] is [Any])
        #expect(!FileManager.default.fileExists(atPath: "\(home.logs)/mail.log.1"))
        let counts = LogsHome.counts(try home.show(target: "site-a"))
        #expect(tokens.allSatisfy { counts[$0] == 1 })
    }

    @Test("two S3 regions (SeaweedFS and radosgw): retained on both, originals deleted, shown from each")
    func twoS3Targets() throws {
        let seaweed = try S3TestServer.named("seaweedfs")
        let radosgw = try S3TestServer.named("radosgw")
        let home = try LogsHome(specs: [.s3("eu-west", server: seaweed), .s3("eu-north", server: radosgw)])
        let tokens = try home.writeLog("mail.log.1", first: 0, count: 3000)
            + home.writeLog("mail.log.2", first: 3000, count: 1000, age: 7200)
        let (result, report) = try home.retain()
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let retained = report["retained"] as? [[String: Any]] ?? []
        #expect(retained.count == 2 && retained.allSatisfy { ($0["confirmed"] as? [String])?.count == 2 }, "\(retained)")
        #expect(try home.originalTokens().isEmpty)
        for target in ["eu-west", "eu-north"] {
            let counts = LogsHome.counts(try home.show(target: target))
            #expect(tokens.allSatisfy { counts[$0] == 1 }, "\(target): \(counts.count) tokens")
        }
        let (rerun, _) = try home.retain()
        #expect(rerun.status == 0)
    }

    @Test("killed with SIGKILL at random moments (seeded), then re-run: every line retained exactly once, and no original gone before both targets held its copy")
    func killedAtRandom() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["DRCTL_KILL_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("LogsRetainTests.killedAtRandom seed \(seed) (rerun with DRCTL_KILL_SEED=\(seed))")
        var random = PruneConcurrencyTests.Seeded(state: seed)
        let home = try LogsHome()
        var expected: [String: Set<String>] = [:]   // file name → its tokens
        var fileNumber = 0
        func addFiles(_ count: Int) throws {
            for _ in 0..<count {
                fileNumber += 1
                let name = "mail.log.\(fileNumber)"
                let tokens = try home.writeLog(name, first: fileNumber * 10_000, count: Int.random(in: 300...1500, using: &random),
                                               age: Double(Int.random(in: 600...20_000, using: &random)))
                expected[name] = Set(tokens)
            }
        }
        try addFiles(8)
        var all = Set(expected.values.flatMap { $0 })
        var kills = 0
        var finishedEarly = 0
        // The kill moment is drawn below an upper bound that shrinks when a run finished
        // before its kill and grows when it was killed, so that kills land all through a run
        // (repository open, uploads, deletions) on a fast machine and a slow one alike.
        var upper = 0.6
        var heldByFirst = Set<String>()
        var killedMidFile = 0
        var round = 0
        while kills < 12 && round < 60 {
            round += 1
            if try home.originalTokens().count < 3 {
                try addFiles(Int.random(in: 2...4, using: &random))
                all = Set(expected.values.flatMap { $0 })
            }
            let delay = Double.random(in: 0.01...upper, using: &random)
            let (killed, _) = try home.backup.runKilled(["logs", "retain"], after: delay)
            if killed {
                kills += 1
                upper = min(upper * 1.2, 2)
            } else {
                finishedEarly += 1
                upper = max(upper * 0.6, 0.05)
            }
            // After each kill: an original that is gone must be on both targets, whole.
            let remaining = try home.originalTokens()
            let remainingTokens = Set(remaining.values.flatMap { $0 })
            for (index, target) in ["site-a", "site-b"].enumerated() {
                let counts = LogsHome.counts(try home.show(target: target))
                if index == 0 { heldByFirst = Set(counts.keys) }
                if index == 1 && killed {
                    // Where the kill landed: an original kept although some target holds it
                    // (between uploads, or after the last one and before the deletion).
                    let kept = remaining.filter { !Set($0.value).isDisjoint(with: heldByFirst.union(counts.keys)) }.count
                    if kept > 0 { killedMidFile += 1 }
                }
                #expect(counts.values.allSatisfy { $0 == 1 }, "round \(round) (seed \(seed)), \(target): a line stored twice")
                for token in all where !remainingTokens.contains(token) {
                    #expect(counts[token] == 1, "round \(round) (seed \(seed)): \(token) is in no original and not on \(target)")
                }
            }
        }
        print("LogsRetainTests.killedAtRandom: \(round) rounds, \(kills) killed (\(killedMidFile) with an original kept that a target already held), \(finishedEarly) finished first")
        #expect(kills >= 12, "only \(kills) runs were killed (\(finishedEarly) finished first; seed \(seed))")
        let (final, _) = try home.retain()
        #expect(final.status == 0, "\(final.stdout) \(final.stderr)")
        #expect(try home.originalTokens().isEmpty, "every original deleted after the final run")
        for target in ["site-a", "site-b"] {
            let counts = LogsHome.counts(try home.show(target: target))
            #expect(Set(counts.keys) == all, "seed \(seed), \(target): \(all.subtracting(counts.keys).count) lines missing")
            #expect(counts.values.allSatisfy { $0 == 1 }, "seed \(seed), \(target): lines present more than once")
        }
    }
}
