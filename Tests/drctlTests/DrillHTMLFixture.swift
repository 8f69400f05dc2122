import DRCore
import DRRepository
import Foundation

/// A realistic drill for the HTML report's tests: two targets, site-b failing (one mailbox's
/// chunk missing there, with its deviation), 30 mailboxes of which five have hostile names,
/// and 12 past drills, written as the files `drctl debug render-drill` reads.
struct DrillHTMLFixture {
    static let hostileScript = #"users/<script>alert("owned")</script>.db"#
    static let hostileQuotes = #"users/o'brien & "sons" <b>.db"#
    static let hostileControl = "users/bell\u{07}esc\u{1B}[31mnew\nline.db"
    static let hostileBidi = "users/\u{202E}bd.exe.db"
    static let hostileLong = "users/" + String(repeating: "a-very-long-mailbox-name-", count: 160) + "end.db"
    /// A cause that tries to close the table and add an element with a handler.
    static let hostileCause = #"</td></tr></table><img src=x onerror="alert(1)"><script>alert(2)</script>"#
    static let missingObject = "data/3f/3f9c0a5be1d2c4e7a8b9c0d1e2f30415263748596a7b8c9d0e1f2a3b4c5d6e7f8"

    let home: TemporaryHome
    let results: DrillResults
    let history: [DrillHistoryPoint]
    var resultsPath: String { "\(home.root)/results.json" }
    var historyPath: String { "\(home.root)/history.json" }
    var envelopePath: String { "\(home.root)/000013.dsse.json" }
    var htmlPath: String { "\(home.root)/report.html" }
    let verifyCommands = [
        "drctl report verify /var/lib/drctl/reports/000013.dsse.json --public-key drill-signing.pub",
        "python3 verify_drill_report.py --public-key drill-signing.pub /var/lib/drctl/reports/000013.dsse.json",
    ]

    static var mailboxes: [String] {
        let plain = (0..<25).map { String(format: "users/user%02d.db", $0) }
        return Array(plain.prefix(12)) + [hostileScript, hostileQuotes, hostileControl, hostileBidi, hostileLong] + plain.suffix(13)
    }

    init() throws {
        home = try TemporaryHome()
        let mailboxes = Self.mailboxes
        precondition(mailboxes.count == 30)
        let failing = "users/user04.db"

        func mailboxResult(_ path: String, index: Int, target: String) -> DrillResults.MailboxResult {
            let encrypted = index % 3 == 0
            var names = ["chunks-authenticated", "tree-root", "size-and-pages"]
            names += encrypted ? ["encrypted-header"] : ["integrity-check", "row-counts"]
            var checks = names.map { DrillResults.Check(name: $0, verdict: .pass, detail: nil) }
            checks[2].detail = "\(4096 * (index + 3)) bytes, \(index + 3) pages of 4096"
            if target == "site-b" && path == failing {
                checks[0] = .init(name: "chunks-authenticated", verdict: .fail,
                                  detail: "pack \(Self.missingObject) is missing on site-b")
                for i in 1..<checks.count { checks[i] = .init(name: checks[i].name, verdict: .unknown, detail: "not run: the image could not be restored") }
            }
            if target == "site-b" && path == Self.hostileScript {
                checks[1] = .init(name: "tree-root", verdict: .fail, detail: Self.hostileCause)
            }
            let verdict = DrillResults.Verdict.combined(checks.map(\.verdict))
            return .init(path: path, snapshot: "9f1c2b7e", consistentAt: "2026-12-07T02:\(String(format: "%02d", 10 + index)):00.000Z",
                         cipher: encrypted ? "sqlcipher4" : "plain", journal: index % 2 == 0 ? "wal" : "delete",
                         bytes: Int64(4096 * (index + 3)), timing: .init(fetchSeconds: 0.02 + Double(index) / 1000, verifySeconds: 0.01, totalSeconds: 0.03 + Double(index) / 1000),
                         checks: checks, verdict: verdict)
        }
        let targets = ["site-a", "site-b"].map { name in
            let results = mailboxes.enumerated().map { mailboxResult($1, index: $0, target: name) }
            return DrillResults.TargetResult(
                name: name, verdict: .combined(results.map(\.verdict)), error: nil, mailboxes: results,
                throughputBytesPerSecond: name == "site-a" ? 48_000_000 : 21_500_000,
                projectedFullRestoreSeconds: name == "site-a" ? 3_100 : 6_912,
                projectionAssumptions: ["store size 120.0 GiB", "fixed overhead 30 s", "verification at 180 MiB/s measured"])
        }
        let deviations = [
            DrillResults.Deviation(target: "site-b", mailbox: failing, object: Self.missingObject, check: "chunks-authenticated",
                                   verdict: .fail, cause: "the pack is missing on site-b: restore it from site-a with drctl sync"),
            DrillResults.Deviation(target: "site-b", mailbox: Self.hostileScript, object: nil, check: "tree-root",
                                   verdict: .fail, cause: Self.hostileCause),
        ]
        results = DrillResults(
            scenario: "quarterly <restore> test & review", started: "2026-12-07T03:00:00.000Z", finished: "2026-12-07T03:04:12.345Z",
            point: .init(mode: "latest", window: nil, time: "2026-12-07T02:45:00.000Z"),
            selection: .init(seed: 424_242, mode: "sample", sample: 30, population: 1200,
                             strata: [.init(cipher: "plain", journal: "wal", size: "small", population: 800, chosen: 20),
                                      .init(cipher: "sqlcipher4", journal: "delete", size: "medium", population: 400, chosen: 10)],
                             mailboxes: mailboxes, rotated: Array(mailboxes.prefix(6))),
            targets: targets,
            rpo: .init(objectiveSeconds: 3600, worstSeconds: 3_000, medianSeconds: 1_900, worstMailbox: Self.hostileQuotes,
                       canary: .init(mailbox: "canary/canary.db", newestWrite: "2026-12-07T02:55:00.000Z", ageSeconds: 300, verdict: .pass),
                       verdict: .pass),
            rto: .init(objectiveSeconds: 14_400, worstMailboxSeconds: 0.06, projectedFullStoreSeconds: 6_912, verdict: .pass),
            deviations: deviations,
            controls: [.init(check: "chunks-authenticated", frameworks: ["SOC 2 A1.3", "NIST SP 800-53 CP-9(1)"]),
                       .init(check: "rpo", frameworks: ["NIST SP 800-53 CP-10", "ISO/IEC 27001:2022 A.5.30"])],
            coverage: .init(mailboxes: 1200, last30Days: 0.31, last90Days: 0.74, last365Days: 1.0),
            scratch: .init(path: "/var/lib/drctl/drill-scratch", wiped: true, verified: true),
            verdict: .combined(targets.map(\.verdict)))

        // Daily drills before this one; the RPO objective was 2 h until the fifth, then 1 h.
        let rpo: [Double] = [2_400, 5_100, 3_000, 6_900, 2_800, 3_300, 4_100, 2_100, 3_500, 1_800, 3_900, 2_600]
        let rto: [Double?] = [9_000, 8_700, 9_400, nil, 7_900, 8_100, 7_600, 7_300, 7_800, 7_000, 6_600, 6_800]
        let firstDrill = Timestamps.parse("2026-11-25T03:00:00.000Z")!.timeIntervalSince1970
        history = (0..<12).map { day in
            DrillHistoryPoint(sequence: day + 1,
                              time: Timestamps.format(Date(timeIntervalSince1970: firstDrill + Double(day) * 86_400)),
                              rpoWorstSeconds: rpo[day], rpoObjectiveSeconds: day < 4 ? 7_200 : 3_600,
                              canaryAgeSeconds: (rpo[day] * 0.6).rounded(),
                              rtoProjectedSeconds: rto[day], rtoObjectiveSeconds: 14_400,
                              verdict: rpo[day] > (day < 4 ? 7_200 : 3_600) ? .fail : .pass)
        }

        try write(results)
        try JSONEncoder().encode(history).write(to: URL(fileURLWithPath: historyPath))
        // Bytes standing for the signed envelope: the page shows their SHA-256.
        try Data(#"{"payload":"e30=","payloadType":"application/vnd.drctl.drill+json","signatures":[]}"#.utf8)
            .write(to: URL(fileURLWithPath: envelopePath))
    }

    /// Replaces the results file (a variant of the drill).
    func write(_ results: DrillResults) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(results).write(to: URL(fileURLWithPath: resultsPath))
    }

    /// `drctl debug render-drill` with every input.
    func render(extra: [String] = []) throws -> RunResult {
        try home.drctl(["debug", "render-drill", "--results", resultsPath, "--history", historyPath, "--html", htmlPath,
                        "--sequence", "13", "--envelope", envelopePath]
                       + verifyCommands.flatMap { ["--verify-command", $0] } + extra)
    }
}
