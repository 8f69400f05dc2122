import DRCore
import DRRepository
import Foundation
import Testing

/// Runs the policy on snapshots s0, s1, … with the given times (RFC 3339) and mailboxes
/// (nil: the list cannot be read); returns each snapshot's reasons, nil when it is forgotten.
private func decide(_ runs: [(time: String, mailboxes: [String]?)], _ rules: RetentionRules,
                    protected: Set<Int> = [], ids: [String]? = nil) throws -> [String: [RetentionPolicy.Reason]] {
    var histories = MailboxHistories()
    var snapshots: [RetentionPolicy.Snapshot] = []
    for (index, run) in runs.enumerated() {
        let time = try #require(Timestamps.parse(run.time), "not a time: \(run.time)")
        if let mailboxes = run.mailboxes {
            histories.add(snapshot: index, paths: mailboxes.isEmpty ? [RetentionPolicy.noMailbox] : mailboxes)
        }
        snapshots.append(.init(id: ids?[index] ?? "s\(index)", time: time,
                               unreadable: run.mailboxes == nil ? "repository.bad-list: damaged" : nil,
                               protected: protected.contains(index)))
    }
    let decisions = RetentionPolicy.decide(snapshots, histories: histories, rules: rules)
    #expect(decisions.map(\.snapshot) == Array(snapshots.indices))
    var kept: [String: [RetentionPolicy.Reason]] = [:]
    for decision in decisions where decision.keep {
        #expect(!decision.reasons.isEmpty)
        kept[snapshots[decision.snapshot].id] = decision.reasons
    }
    for decision in decisions where !decision.keep { #expect(decision.reasons.isEmpty) }
    return kept
}

private func texts(_ reasons: [RetentionPolicy.Reason]?) -> [String] { (reasons ?? []).map(\.text) }

@Suite("retention policy")
struct RetentionPolicyTests {
    @Test("keep_last keeps the N newest of each mailbox's history; the newest is always kept and says so")
    func last() throws {
        let runs = (0..<5).map { (time: "2026-12-0\($0 + 1)T03:00:00.000Z", mailboxes: Optional(["a.db", "b.db"])) }
        let kept = try decide(runs, RetentionRules(keepLast: 2))
        #expect(Set(kept.keys) == ["s3", "s4"])
        #expect(texts(kept["s4"]) == ["newest of its host and store", "last 1 for 2 mailboxes"])
        #expect(texts(kept["s3"]) == ["last 2 for 2 mailboxes"])
    }

    @Test("partial runs: a mailbox saved only by --mailbox runs keeps its own newest; the others keep the whole run")
    func partialRuns() throws {
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2026-12-01T03:00:00.000Z", ["a.db", "b.db", "c.db"]),
            ("2026-12-01T04:00:00.000Z", ["a.db"]),
            ("2026-12-01T05:00:00.000Z", ["a.db"]),
        ]
        let kept = try decide(runs, RetentionRules(keepLast: 1))
        #expect(Set(kept.keys) == ["s0", "s2"])
        #expect(texts(kept["s0"]) == ["last 1 for 2 mailboxes"])
        #expect(texts(kept["s2"]) == ["newest of its host and store", "last 1 for a.db"])
        let reason = try #require(kept["s2"]?.last)
        #expect(reason.rule == .last && reason.bucket == "1" && reason.mailboxes == 1 && reason.mailbox == "a.db")
    }

    @Test("a mailbox present only in an old partial run (deleted since) is kept by its own history")
    func onlyInOldPartialRun() throws {
        var runs: [(time: String, mailboxes: [String]?)] = [("2026-11-01T03:00:00.000Z", ["gone/x.db"])]
        for day in 10...19 { runs.append(("2026-11-\(day)T03:00:00.000Z", ["a.db", "b.db"])) }
        let daily = try decide(runs, RetentionRules(keepDaily: 3))
        #expect(Set(daily.keys) == ["s0", "s8", "s9", "s10"])
        #expect(texts(daily["s0"]) == ["daily 2026-11-01 for gone/x.db"])
        let last = try decide(runs, RetentionRules(keepLast: 1))
        #expect(Set(last.keys) == ["s0", "s10"])
    }

    @Test("keep_daily: the newest snapshot of each of the N newest days that have one, in UTC")
    func daily() throws {
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2026-12-01T01:00:00.000Z", ["a.db"]),
            ("2026-12-01T23:00:00.000Z", ["a.db"]),
            // 00:30 at +02:00 is 22:30 UTC on the 1st: the 1st's bucket, not the 2nd's.
            ("2026-12-02T00:30:00.000+02:00", ["a.db"]),
            ("2026-12-02T00:30:00.000Z", ["a.db"]),
            // No snapshot on the 3rd: days without one do not count.
            ("2026-12-04T12:00:00.000Z", ["a.db"]),
        ]
        let two = try decide(runs, RetentionRules(keepDaily: 2))
        #expect(Set(two.keys) == ["s3", "s4"])
        #expect(texts(two["s3"]) == ["daily 2026-12-02 for a.db"])
        let three = try decide(runs, RetentionRules(keepDaily: 3))
        #expect(Set(three.keys) == ["s1", "s3", "s4"], "the 1st's newest is 23:00, not 22:30 UTC nor 01:00")
        #expect(texts(three["s1"]) == ["daily 2026-12-01 for a.db"])
    }

    @Test("keep_hourly, keep_weekly (ISO weeks), keep_monthly, keep_yearly")
    func calendar() throws {
        let hours: [(time: String, mailboxes: [String]?)] = [
            ("2026-12-01T03:10:00.000Z", ["a.db"]), ("2026-12-01T03:50:00.000Z", ["a.db"]),
            ("2026-12-01T04:05:00.000Z", ["a.db"]),
        ]
        let hourly = try decide(hours, RetentionRules(keepHourly: 2))
        #expect(Set(hourly.keys) == ["s1", "s2"])
        #expect(texts(hourly["s1"]) == ["hourly 2026-12-01T03 for a.db"])

        // Mon 30 Nov is W49; Sun 29 and Sat 28 are W48; Sun 22 is W47.
        let days: [(time: String, mailboxes: [String]?)] = [
            ("2026-11-22T12:00:00.000Z", ["a.db"]), ("2026-11-28T12:00:00.000Z", ["a.db"]),
            ("2026-11-29T12:00:00.000Z", ["a.db"]), ("2026-11-30T12:00:00.000Z", ["a.db"]),
        ]
        let weekly = try decide(days, RetentionRules(keepWeekly: 2))
        #expect(Set(weekly.keys) == ["s2", "s3"])
        #expect(texts(weekly["s2"]) == ["weekly 2026-W48 for a.db"])
        #expect(Set(try decide(days, RetentionRules(keepWeekly: 3)).keys) == ["s0", "s2", "s3"])

        let months: [(time: String, mailboxes: [String]?)] = [
            ("2025-12-31T23:59:59.999Z", ["a.db"]), ("2026-01-01T00:00:00.000Z", ["a.db"]),
            ("2026-01-31T00:00:00.000Z", ["a.db"]), ("2026-02-01T00:00:00.000Z", ["a.db"]),
        ]
        let monthly = try decide(months, RetentionRules(keepMonthly: 2))
        #expect(Set(monthly.keys) == ["s2", "s3"])
        #expect(texts(monthly["s2"]) == ["monthly 2026-01 for a.db"])
        let yearly = try decide(months, RetentionRules(keepYearly: 5))
        #expect(Set(yearly.keys) == ["s0", "s3"], "one per year that has one: 2025's last moment, 2026's newest")
        #expect(texts(yearly["s0"]) == ["yearly 2025 for a.db"])
    }

    @Test("keep_within counts back from the newest snapshot, not from now, and includes its boundary")
    func within() throws {
        // 2020: long before now; a host that stopped backing up keeps its last snapshots.
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2020-05-01T00:00:00.000Z", ["a.db"]),  // 15 days before the newest
            ("2020-05-02T00:00:00.000Z", ["a.db"]),  // exactly 14 days
            ("2020-05-03T00:00:00.000Z", ["a.db"]),
            ("2020-05-16T00:00:00.000Z", ["a.db", "b.db"]),
        ]
        let kept = try decide(runs, RetentionRules(keepWithinSeconds: 14 * 86400))
        #expect(Set(kept.keys) == ["s1", "s2", "s3"])
        #expect(texts(kept["s1"]) == ["within 2w of the newest for a.db"])
        #expect(texts(kept["s3"]) == ["newest of its host and store", "within 2w of the newest for 2 mailboxes"])
    }

    @Test("rules add up: a snapshot kept by several rules lists each, in rule order, with its mailboxes")
    func severalRules() throws {
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2026-11-30T03:00:00.000Z", ["a.db", "b.db"]),
            ("2026-12-01T03:00:00.000Z", ["a.db", "b.db"]),
            ("2026-12-01T04:00:00.000Z", ["a.db"]),
        ]
        let kept = try decide(runs, RetentionRules(keepLast: 1, keepDaily: 2, keepMonthly: 2))
        #expect(Set(kept.keys) == ["s0", "s1", "s2"])
        #expect(texts(kept["s2"]) == ["newest of its host and store", "last 1 for a.db", "daily 2026-12-01 for a.db",
                                      "monthly 2026-12 for a.db"])
        #expect(texts(kept["s1"]) == ["last 1 for b.db", "daily 2026-12-01 for b.db", "monthly 2026-12 for b.db"])
        #expect(texts(kept["s0"]) == ["daily 2026-11-30 for 2 mailboxes", "monthly 2026-11 for 2 mailboxes"])
    }

    @Test("ties: equal times are ordered by id, the higher counted newer")
    func ties() throws {
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2026-12-01T03:00:00.000Z", ["a.db"]), ("2026-12-01T03:00:00.000Z", ["a.db"]),
        ]
        let kept = try decide(runs, RetentionRules(keepLast: 1), ids: ["bbbb", "aaaa"])
        #expect(Set(kept.keys) == ["bbbb"])
        let daily = try decide(runs, RetentionRules(keepDaily: 5), ids: ["aaaa", "bbbb"])
        #expect(Set(daily.keys) == ["bbbb"])
    }

    @Test("nothing to decide; one snapshot is kept as the newest whatever the rules")
    func empty() throws {
        #expect(RetentionPolicy.decide([], histories: MailboxHistories(), rules: RetentionRules(keepLast: 1)).isEmpty)
        let kept = try decide([("2026-12-01T03:00:00.000Z", ["a.db"])], RetentionRules(keepWithinSeconds: 1))
        #expect(texts(kept["s0"]).first == "newest of its host and store")
    }

    @Test("runs with an empty list (every mailbox failed) are one history of their own, \"(none)\"")
    func emptyRuns() throws {
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2026-12-01T01:00:00.000Z", []), ("2026-12-01T02:00:00.000Z", ["a.db"]),
            ("2026-12-01T03:00:00.000Z", []), ("2026-12-01T04:00:00.000Z", ["a.db"]),
        ]
        let kept = try decide(runs, RetentionRules(keepLast: 1))
        #expect(Set(kept.keys) == ["s2", "s3"])
        #expect(texts(kept["s2"]) == ["last 1 for (none), an empty run"])
        let reason = try #require(kept["s2"]?.first)
        #expect(reason.mailboxes == 0 && reason.mailbox == "(none)")
    }

    @Test("a snapshot whose list cannot be read is kept and says why; a protected one is kept")
    func unreadableAndProtected() throws {
        let runs: [(time: String, mailboxes: [String]?)] = [
            ("2026-12-01T01:00:00.000Z", nil), ("2026-12-01T02:00:00.000Z", ["a.db"]),
            ("2026-12-01T03:00:00.000Z", ["a.db"]), ("2026-12-01T04:00:00.000Z", ["a.db"]),
        ]
        let kept = try decide(runs, RetentionRules(keepLast: 1), protected: [1])
        #expect(Set(kept.keys) == ["s0", "s1", "s3"])
        #expect(texts(kept["s0"]) == ["its list cannot be read (repository.bad-list: damaged): forgetting what cannot be read is not safe"])
        #expect(texts(kept["s1"]) == ["protected by a pending prune"])
    }

    @Test("the reasons are in the JSON with their text")
    func json() throws {
        let reason = try #require(try decide([("2026-12-01T03:00:00.000Z", ["a.db", "b.db"])], RetentionRules(keepDaily: 1))["s0"]?.last)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(reason), as: UTF8.self)
        #expect(text == #"{"bucket":"2026-12-01","mailboxes":2,"rule":"daily","text":"daily 2026-12-01 for 2 mailboxes"}"#)
        #expect(try JSONDecoder().decode(RetentionPolicy.Reason.self, from: Data(text.utf8)) == reason)
    }
}

@Suite("mailbox histories")
struct MailboxHistoriesTests {
    @Test("mailboxes that move together are one group; a partial run splits them; a new mailbox starts its own")
    func groups() {
        var histories = MailboxHistories()
        let many = (0..<1000).map { "users/\($0).db" }
        for run in 0..<10 { histories.add(snapshot: run, paths: many) }
        let one = histories.all()
        #expect(one.count == 1)
        #expect(one.first?.mailboxes == 1000)
        #expect(one.first.map { Set($0.snapshots) } == Set(0..<10))

        histories.add(snapshot: 10, paths: ["users/7.db", "new.db"])
        let split = histories.all()
        #expect(split.map(\.mailboxes) == [1, 999, 1], "\(split)")
        #expect(split.map(\.example) == ["new.db", "users/0.db", "users/7.db"])
        #expect(split.map { Set($0.snapshots) } == [[10], Set(0..<10), Set(0...10)])
    }

    @Test("snapshots may be added in any order; a path given twice counts once")
    func anyOrder() {
        var histories = MailboxHistories()
        histories.add(snapshot: 2, paths: ["a", "b"])
        histories.add(snapshot: 0, paths: ["a", "a"])
        histories.add(snapshot: 1, paths: ["b"])
        let all = histories.all()
        #expect(all.map(\.example) == ["a", "b"])
        #expect(all.map { Set($0.snapshots) } == [[0, 2], [1, 2]])
        #expect(all.map(\.mailboxes) == [1, 1])
    }
}

@Suite("UTC buckets")
struct UTCBucketsTests {
    private func buckets(_ text: String) throws -> UTCBuckets {
        UTCBuckets(try #require(Timestamps.parse(text)))
    }

    @Test("ISO weeks at year ends, and before 1970")
    func edges() throws {
        #expect(try buckets("2027-01-01T00:00:00Z").week == "2026-W53")
        #expect(try buckets("2024-12-30T00:00:00Z").week == "2025-W01")
        #expect(try buckets("2026-01-01T12:00:00Z").week == "2026-W01")
        #expect(try buckets("2021-01-03T23:59:59Z").week == "2020-W53")
        let before = try buckets("1969-12-31T23:00:00Z")
        #expect(before == UTCBuckets(Date(timeIntervalSince1970: -3600)))
        #expect([before.hour, before.day, before.week, before.month, before.year]
                == ["1969-12-31T23", "1969-12-31", "1970-W01", "1969-12", "1969"])
        let leap = try buckets("2028-02-29T05:06:07.999Z")
        #expect([leap.hour, leap.day, leap.month, leap.year] == ["2028-02-29T05", "2028-02-29", "2028-02", "2028"])
    }

    @Test("agrees with Foundation's ISO 8601 calendar in UTC on 5000 moments from 1900 to 2200")
    func agreesWithFoundation() throws {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: -2_208_988_800...7_258_118_400, using: &generator)))
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .weekOfYear, .yearForWeekOfYear], from: date)
            let expected = String(format: "%04d-%02d-%02dT%02d %04d-W%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
                                  parts.hour ?? 0, parts.yearForWeekOfYear ?? 0, parts.weekOfYear ?? 0)
            let got = UTCBuckets(date)
            #expect("\(got.hour) \(got.week)" == expected, "\(date)")
        }
    }
}
