import DRCore
import Foundation
import Testing

/// The Prometheus textfile: written by `drctl backup` (and `drctl status`) when `[metrics]
/// textfile` is set, whole (temporary file, then rename), well-formed as Prometheus' text
/// format (parsed here line by line, and by `promtool check metrics`), and a failed run
/// leaves the last success time where it was.
@Suite("Prometheus metrics")
struct MetricsTests {
    /// One sample line: name, labels, value.
    struct Sample: Equatable, CustomStringConvertible {
        var name: String
        var labels: [String: String]
        var value: Double
        var description: String { "\(name)\(labels) \(value)" }
    }

    /// Parses the exposition strictly: every line a HELP or TYPE comment of the family that
    /// follows, or a sample `name{label="value",…} value` with the format's escapes; families
    /// are contiguous and typed before their samples. Records an issue for anything else.
    static func parse(_ text: String) throws -> [Sample] {
        #expect(text.hasSuffix("\n"), "the file does not end in a newline")
        var samples: [Sample] = []
        var typed: [String: String] = [:]
        var helped: Set<String> = []
        var finished: Set<String> = []
        var current: String?
        let sampleLine = try NSRegularExpression(pattern: #"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$"#)
        let labelPair = try NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)"#)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                #expect(parts.count == 4, "malformed comment: \(line)")
                guard parts.count == 4 else { continue }
                let name = parts[2]
                if current != name, let current { finished.insert(current) }
                #expect(!finished.contains(name), "family \(name) is not contiguous")
                current = name
                if parts[1] == "TYPE" {
                    #expect(["gauge", "counter"].contains(parts[3]), "\(line)")
                    #expect(typed[name] == nil, "two TYPE lines for \(name)")
                    typed[name] = parts[3]
                } else {
                    #expect(!helped.contains(name), "two HELP lines for \(name)")
                    helped.insert(name)
                }
                continue
            }
            let range = NSRange(line.startIndex..., in: line)
            let match = try #require(sampleLine.firstMatch(in: line, range: range), "not a sample line: \(line)")
            let name = String(line[Range(match.range(at: 1), in: line)!])
            #expect(name == current, "sample \(name) outside its family (\(current ?? "none"))")
            #expect(typed[name] != nil && helped.contains(name), "\(name) has no TYPE or HELP before it")
            var labels: [String: String] = [:]
            if let body = Range(match.range(at: 3), in: line) {
                let text = String(line[body])
                var covered = 0
                for pair in labelPair.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    #expect(pair.range.location == covered, "label text not understood in \(line)")
                    covered = pair.range.location + pair.range.length
                    let key = String(text[Range(pair.range(at: 1), in: text)!])
                    let raw = String(text[Range(pair.range(at: 2), in: text)!])
                    #expect(labels[key] == nil, "label \(key) twice in \(line)")
                    labels[key] = raw.replacingOccurrences(of: #"\\"#, with: "\u{0}")
                        .replacingOccurrences(of: #"\""#, with: "\"").replacingOccurrences(of: #"\n"#, with: "\n")
                        .replacingOccurrences(of: "\u{0}", with: "\\")
                }
                #expect(covered == (text as NSString).length, "label text not understood in \(line)")
            }
            let valueText = String(line[Range(match.range(at: 4), in: line)!])
            let value: Double? = switch valueText {
            case "+Inf": .infinity
            case "-Inf": -.infinity
            case "NaN": .nan
            default: Double(valueText)
            }
            let parsed = try #require(value, "not a value: \(valueText) in \(line)")
            if typed[name] == "counter" { #expect(name.hasSuffix("_total"), "counter \(name) without _total") }
            if name.hasSuffix("_total") { #expect(typed[name] == "counter", "\(name) ends in _total but is a \(typed[name] ?? "?")") }
            samples.append(Sample(name: name, labels: labels, value: parsed))
        }
        return samples
    }

    /// `promtool check metrics` on the text: exit 0 and no lint complaint. Fails (never
    /// skips) when promtool is missing: scripts/setup installs Debian's prometheus package.
    static func promtool(_ text: String) throws {
        let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let promtool = try #require(path, "promtool not found: install Debian's prometheus package (scripts/setup does)")
        let result = try BinaryRunner.run(promtool, ["check", "metrics"], standardInput: text)
        #expect(result.status == 0, "promtool check metrics: exit \(result.status): \(result.stdout) \(result.stderr)\n\(text)")
        #expect(result.stdout.isEmpty && result.stderr.isEmpty, "promtool: \(result.stdout) \(result.stderr)")
    }

    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) throws -> Double {
        try #require(samples.first { $0.name == name && $0.labels == labels },
                     "no \(name)\(labels) among \(samples.filter { $0.name == name })").value
    }

    static func home(extra: String = "", mailboxes: [String] = ["users/alice.db", "users/bob.db"]) throws -> (MonitoringHome, String) {
        let base = FileManager.default.temporaryDirectory.path + "/drctl-prom-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let textfile = "\(base)/drctl.prom"
        let home = try MonitoringHome(mailboxes: mailboxes, extraConfig: "[metrics]\ntextfile = \"\(textfile)\"\n" + extra)
        return (home, textfile)
    }

    @Test("after a backup: a well-formed textfile (parsed, and promtool agrees) with the step, status and drill metrics")
    func afterABackup() throws {
        let (home, textfile) = try Self.home()
        defer { try? FileManager.default.removeItem(atPath: (textfile as NSString).deletingLastPathComponent) }
        let reports = "\(home.root)/state/reports"
        try FileManager.default.createDirectory(atPath: reports, withIntermediateDirectories: true)
        try #"{"time": "2026-01-02T03:04:05.250Z", "verdict": "pass"}"#
            .write(toFile: "\(reports)/latest.json", atomically: true, encoding: .utf8)
        let before = Date().timeIntervalSince1970
        let report = try home.backup.backupOK()
        let after = Date().timeIntervalSince1970

        let text = try String(contentsOfFile: textfile, encoding: .utf8)
        let samples = try Self.parse(text)
        try Self.promtool(text)
        // Readable by node_exporter's user; nothing left beside it.
        var info = stat()
        #expect(stat(textfile, &info) == 0 && info.st_mode & 0o777 == 0o644)
        let folder = (textfile as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["drctl.prom"])

        let backup = ["step": "backup"]
        let success = try Self.value(samples, "drctl_last_success_timestamp_seconds", backup)
        #expect(success >= before - 1 && success <= after + 1, "\(success) not within [\(before), \(after)]")
        #expect(try Self.value(samples, "drctl_last_run_timestamp_seconds", backup) == success)
        #expect(try Self.value(samples, "drctl_last_run_success", backup) == 1)
        #expect(try Self.value(samples, "drctl_last_run_failed_mailboxes", backup) == 0)
        #expect(try Self.value(samples, "drctl_last_success_added_bytes", backup) == Double(report.newChunkBytes))
        #expect(try Self.value(samples, "drctl_runs_total", backup) == 1)
        #expect(try Self.value(samples, "drctl_run_failures_total", backup) == 0)
        let duration = try Self.value(samples, "drctl_last_success_duration_seconds", backup)
        #expect(abs(duration - report.durationSeconds) < 0.001)
        for target in report.targets {
            let labels = ["step": "backup", "target": target.name]
            #expect(try Self.value(samples, "drctl_last_run_success", labels) == 1)
            #expect(try Self.value(samples, "drctl_last_success_stored_bytes", labels) == Double(target.storedBytes))
            #expect(try Self.value(samples, "drctl_target_available", ["target": target.name]) == 1)
            let newest = try Self.value(samples, "drctl_target_newest_snapshot_timestamp_seconds", ["target": target.name])
            #expect(abs(newest - Double(try Millis.parse(report.time)) / 1000) < 0.002)
        }
        #expect(try Self.value(samples, "drctl_snapshots") == 1)
        #expect(try Self.value(samples, "drctl_rpo_objective_seconds") == 86_400)
        let exposure = try Self.value(samples, "drctl_rpo_exposure_seconds")
        #expect(exposure >= 0 && exposure < 60)
        let point = try Self.value(samples, "drctl_rpo_restorable_point_timestamp_seconds")
        #expect(point >= before - 1 && point <= after + 1)
        #expect(try Self.value(samples, "drctl_rpo_never_backed_up_mailboxes") == 0)
        #expect(try Self.value(samples, "drctl_rpo_worst_mailbox_info", ["mailbox": "users/alice.db"]) == 1)
        #expect(samples.filter { $0.name == "drctl_rpo_worst_mailbox_info" }.count == 1)
        #expect(try Self.value(samples, "drctl_drill_last_verdict") == 1)
        #expect(try Self.value(samples, "drctl_drill_last_timestamp_seconds") == Double(try Millis.parse("2026-01-02T03:04:05.250Z")) / 1000)
        // Every family is drctl's, in base units.
        #expect(samples.allSatisfy { $0.name.hasPrefix("drctl_") })
        #expect(!samples.contains { $0.name.contains("milliseconds") || $0.name.contains("kibibytes") })
    }

    @Test("a failed target keeps its last success time; a backup that fails whole keeps the step's; failures are counted")
    func failureKeepsLastSuccess() throws {
        let (home, textfile) = try Self.home()
        defer { try? FileManager.default.removeItem(atPath: (textfile as NSString).deletingLastPathComponent) }
        _ = try home.backup.backupOK()
        let first = try Self.parse(try String(contentsOfFile: textfile, encoding: .utf8))
        let siteB = ["step": "backup", "target": "site-b"]
        let siteA = ["step": "backup", "target": "site-a"]
        let successB = try Self.value(first, "drctl_last_success_timestamp_seconds", siteB)
        let successA = try Self.value(first, "drctl_last_success_timestamp_seconds", siteA)

        let folder = home.backup.targetFolder("site-b")
        try FileManager.default.moveItem(atPath: folder, toPath: folder + ".unmounted")
        try home.writeMailbox("users/alice.db", seed: 5)
        let (degraded, _) = try home.backup.backup()
        #expect(degraded.status == 2, "\(degraded.stderr)")
        let text = try String(contentsOfFile: textfile, encoding: .utf8)
        let second = try Self.parse(text)
        try Self.promtool(text)
        #expect(try Self.value(second, "drctl_last_run_success", siteB) == 0)
        #expect(try Self.value(second, "drctl_last_success_timestamp_seconds", siteB) == successB)
        #expect(try Self.value(second, "drctl_last_run_timestamp_seconds", siteB) > successB)
        #expect(try Self.value(second, "drctl_run_failures_total", siteB) == 1)
        #expect(try Self.value(second, "drctl_runs_total", siteB) == 2)
        #expect(try Self.value(second, "drctl_last_run_success", siteA) == 1)
        #expect(try Self.value(second, "drctl_last_success_timestamp_seconds", siteA) > successA)
        // Every mailbox reached site-a: the step itself succeeded; site-b is seen unavailable.
        #expect(try Self.value(second, "drctl_last_run_success", ["step": "backup"]) == 1)
        #expect(try Self.value(second, "drctl_target_available", ["target": "site-b"]) == 0)
        #expect(try Self.value(second, "drctl_target_available", ["target": "site-a"]) == 1)
        #expect(try Self.value(second, "drctl_snapshots") == 2)

        // A backup that cannot start at all (another one holds the lock) fails the step, and
        // the step's last success stays that of the run before.
        let stepSuccess = try Self.value(second, "drctl_last_success_timestamp_seconds", ["step": "backup"])
        let state = "\(home.root)/state"
        let fd = open("\(state)/backup.lock", O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let (busy, _) = try home.backup.backup()
        #expect(busy.status == 75, "\(busy.stderr)")
        let third = try Self.parse(try String(contentsOfFile: textfile, encoding: .utf8))
        #expect(try Self.value(third, "drctl_last_run_success", ["step": "backup"]) == 0)
        #expect(try Self.value(third, "drctl_last_success_timestamp_seconds", ["step": "backup"]) == stepSuccess)
        #expect(try Self.value(third, "drctl_run_failures_total", ["step": "backup"]) == 1)
        #expect(try Self.value(third, "drctl_runs_total", ["step": "backup"]) == 3)
    }

    @Test("label values are escaped as the format says: a mailbox named with a quote and a backslash is the worst one, and promtool reads it")
    func labelEscaping() throws {
        let odd = "users/\"odd\\name.db"
        let (home, textfile) = try Self.home(mailboxes: [odd, "users/bob.db"])
        defer { try? FileManager.default.removeItem(atPath: (textfile as NSString).deletingLastPathComponent) }
        _ = try home.backup.backupOK()
        let text = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(text.contains(#"drctl_rpo_worst_mailbox_info{mailbox="users/\"odd\\name.db"} 1"#), "\(text)")
        let samples = try Self.parse(text)
        #expect(try Self.value(samples, "drctl_rpo_worst_mailbox_info", ["mailbox": odd]) == 1)
        try Self.promtool(text)
        // And the renderer alone, for what a file name cannot hold here: a line feed.
        let rendered = PrometheusText.render([
            .init("drctl_test_info", .gauge, help: "a \\ backslash\nand a new line", [.init([("mailbox", "a\nb\"c\\d")], 1)]),
        ])
        #expect(rendered == "# HELP drctl_test_info a \\\\ backslash\\nand a new line\n# TYPE drctl_test_info gauge\ndrctl_test_info{mailbox=\"a\\nb\\\"c\\\\d\"} 1\n")
        #expect(try Self.parse(rendered) == [Sample(name: "drctl_test_info", labels: ["mailbox": "a\nb\"c\\d"], value: 1)])
        try Self.promtool(rendered)
        #expect(PrometheusText.format(.infinity) == "+Inf" && PrometheusText.format(12) == "12"
                && PrometheusText.format(0.25) == "0.25")
    }

    @Test("drctl status refreshes the metrics; a textfile in a missing folder is a warning, not a failed backup; a name without .prom is refused")
    func statusAndMistakes() throws {
        let (home, textfile) = try Self.home()
        let folder = (textfile as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try home.backup.backupOK()
        let written = try Self.value(try Self.parse(try String(contentsOfFile: textfile, encoding: .utf8)),
                                     "drctl_status_timestamp_seconds")
        usleep(20_000)
        let status = try home.drctl(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        let refreshed = try Self.parse(try String(contentsOfFile: textfile, encoding: .utf8))
        #expect(try Self.value(refreshed, "drctl_status_timestamp_seconds") > written)
        // status runs no step: the backup's series are as they were.
        #expect(try Self.value(refreshed, "drctl_runs_total", ["step": "backup"]) == 1)

        try FileManager.default.removeItem(atPath: folder)
        let backup = try home.drctl(["backup"])
        #expect(backup.status == 0, "a metrics failure must not fail the backup: \(backup.stderr)")
        #expect(backup.stderr.contains("drctl: warning: metrics not written"), "\(backup.stderr)")
        #expect(backup.stderr.contains(textfile), "\(backup.stderr)")

        try home.backup.replaceConfig { $0.replacingOccurrences(of: "drctl.prom", with: "drctl.txt") }
        let check = try home.drctl(["config", "check"])
        #expect(check.status == 78, "\(check.stdout) \(check.stderr)")
        #expect((check.stdout + check.stderr).contains("[metrics]: textfile"), "\(check.stdout) \(check.stderr)")
    }
}
