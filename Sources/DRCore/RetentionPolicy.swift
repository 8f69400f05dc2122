package import DRConfig
package import Foundation

/// The `[retention]` rules as the policy applies them (docs/RETENTION.md).
package struct RetentionRules: Sendable, Equatable, Codable {
    package var keepLast = 0
    package var keepHourly = 0
    package var keepDaily = 0
    package var keepWeekly = 0
    package var keepMonthly = 0
    package var keepYearly = 0
    /// keep_within in seconds; nil when the rule is not set.
    package var keepWithinSeconds: Int64?

    package init(keepLast: Int = 0, keepHourly: Int = 0, keepDaily: Int = 0, keepWeekly: Int = 0,
                 keepMonthly: Int = 0, keepYearly: Int = 0, keepWithinSeconds: Int64? = nil) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithinSeconds = keepWithinSeconds
    }

    package init(_ retention: Configuration.Retention) {
        self.init(keepLast: retention.keepLast, keepHourly: retention.keepHourly, keepDaily: retention.keepDaily,
                  keepWeekly: retention.keepWeekly, keepMonthly: retention.keepMonthly,
                  keepYearly: retention.keepYearly, keepWithinSeconds: retention.keepWithin?.seconds)
    }

    /// "keep_last 1, keep_daily 7, keep_within 14d": the rules that are set, for messages.
    package var summary: String {
        var parts: [String] = []
        for (name, value) in [("keep_last", keepLast), ("keep_hourly", keepHourly), ("keep_daily", keepDaily),
                              ("keep_weekly", keepWeekly), ("keep_monthly", keepMonthly), ("keep_yearly", keepYearly)]
        where value > 0 {
            parts.append("\(name) \(value)")
        }
        if let keepWithinSeconds { parts.append("keep_within \(ConfigDuration(seconds: keepWithinSeconds))") }
        return parts.isEmpty ? "no rule" : parts.joined(separator: ", ")
    }
}

/// Which snapshot records of one host and store to keep, and why: the pure decision, given
/// the snapshots' times and which mailboxes each one holds (`MailboxHistories`). Nothing here
/// reads a target; `ForgetJob` gathers the facts and deletes.
///
/// Each rule is applied to each mailbox's own history (the snapshots whose list holds it,
/// newest first), restic's rules per mailbox rather than per snapshot: a mailbox saved only by
/// `--mailbox` runs, or only by an old run before it was deleted, keeps the runs that hold it,
/// whatever the whole-store runs around them do. A snapshot is kept when any rule keeps it for
/// any of its mailboxes.
package enum RetentionPolicy {
    /// The mailbox of a snapshot whose list is empty (every mailbox failed, or the store was
    /// empty): such snapshots form one history of their own, shown as "(none)". The empty
    /// path is no mailbox's (the path rule), so it cannot meet a real one.
    package static let noMailbox = ""

    package struct Snapshot: Sendable {
        package var id: String
        package var time: Date
        /// Why its list cannot be read; nil when it was read (and its mailboxes are in the
        /// histories). Such a snapshot is kept: forgetting what cannot be read is not safe.
        package var unreadable: String?
        /// Kept whatever the rules say (written after a pending prune mark).
        package var protected: Bool

        package init(id: String, time: Date, unreadable: String? = nil, protected: Bool = false) {
            self.id = id
            self.time = time
            self.unreadable = unreadable
            self.protected = protected
        }
    }

    package enum Rule: String, Sendable, Codable, CaseIterable {
        case newest, protected, unreadable, last, hourly, daily, weekly, monthly, yearly, within
    }

    /// One reason a snapshot is kept: a rule, for how many mailboxes.
    package struct Reason: Sendable, Codable, Equatable {
        package var rule: Rule
        /// The bucket: `last`: the place in the history (1 = the newest); `hourly`
        /// "2026-12-01T03", `daily` "2026-12-01", `weekly` "2026-W48" (ISO week), `monthly`
        /// "2026-12", `yearly` "2026" (all UTC); `within`: the duration; nil otherwise.
        package var bucket: String?
        /// How many mailboxes this rule keeps it for (0 for rules not about mailboxes, and for
        /// the "(none)" history of empty runs).
        package var mailboxes: Int
        /// The mailbox, when the rule keeps it for exactly one; "(none)", with `mailboxes` 0,
        /// for the history of empty runs.
        package var mailbox: String?
        /// For `unreadable`: why.
        package var detail: String?

        package init(rule: Rule, bucket: String? = nil, mailboxes: Int = 0, mailbox: String? = nil,
                     detail: String? = nil) {
            self.rule = rule
            self.bucket = bucket
            self.mailboxes = mailboxes
            self.mailbox = mailbox
            self.detail = detail
        }

        /// "daily 2026-12-01 for 12 mailboxes", "last 1 for users/bob.db", "newest".
        package var text: String {
            switch rule {
            case .newest: return "newest of its host and store"
            case .protected: return "protected by a pending prune"
            case .unreadable: return "its list cannot be read (\(detail ?? "?")): forgetting what cannot be read is not safe"
            default:
                let head = [rule.rawValue, rule == .within ? bucket.map { "\($0) of the newest" } : bucket]
                    .compactMap { $0 }.joined(separator: " ")
                if let mailbox { return "\(head) for \(mailboxes == 0 ? "(none), an empty run" : mailbox)" }
                return "\(head) for \(mailboxes) mailbox\(mailboxes == 1 ? "" : "es")"
            }
        }
    }

    package struct Decision: Sendable {
        /// Index into the snapshots given.
        package var snapshot: Int
        package var keep: Bool
        /// Why it is kept, in `Rule` order; empty when it is forgotten.
        package var reasons: [Reason]
    }

    /// One decision per snapshot, in the order given.
    ///
    /// Order: newest first by `time`; equal times by id, the higher id counted newer (the
    /// catalogue's order; any fixed one would do). Buckets are UTC. `within` counts back from
    /// the newest snapshot given (not from now: a host that stopped backing up keeps its last
    /// snapshots instead of losing them all once they age out), inclusive.
    package static func decide(_ snapshots: [Snapshot], histories: MailboxHistories,
                               rules: RetentionRules) -> [Decision] {
        guard !snapshots.isEmpty else { return [] }
        let order = snapshots.indices.sorted {
            (snapshots[$0].time, snapshots[$0].id) > (snapshots[$1].time, snapshots[$1].id)
        }
        var rank = [Int](repeating: 0, count: snapshots.count)
        for (position, index) in order.enumerated() { rank[index] = position }
        let newest = order[0]

        struct Key: Hashable {
            var rule: Rule
            var bucket: String?
        }
        // Per snapshot and (rule, bucket): how many mailboxes, and the last history's example
        // (the mailbox itself when the count is 1: then one history of one mailbox added it).
        var found = [[Key: (count: Int, name: String)]](repeating: [:], count: snapshots.count)

        // Buckets once per snapshot, not once per mailbox.
        let buckets = snapshots.map { UTCBuckets($0.time) }
        let calendar: [(Rule, Int, KeyPath<UTCBuckets, String>)] = [
            (.hourly, rules.keepHourly, \.hour), (.daily, rules.keepDaily, \.day), (.weekly, rules.keepWeekly, \.week),
            (.monthly, rules.keepMonthly, \.month), (.yearly, rules.keepYearly, \.year),
        ].filter { $0.1 > 0 }
        let withinLimit = rules.keepWithinSeconds.map { snapshots[newest].time.addingTimeInterval(-Double($0)) }
        let withinText = rules.keepWithinSeconds.map { ConfigDuration(seconds: $0).description }

        for history in histories.all() {
            let chain = history.snapshots.sorted { rank[$0] < rank[$1] }
            func add(_ snapshot: Int, _ rule: Rule, _ bucket: String?) {
                let key = Key(rule: rule, bucket: bucket)
                found[snapshot][key] = ((found[snapshot][key]?.count ?? 0) + history.mailboxes, history.example)
            }
            for (place, snapshot) in chain.prefix(rules.keepLast).enumerated() {
                add(snapshot, .last, String(place + 1))
            }
            for (rule, count, path) in calendar {
                var previous: String?
                var taken = 0
                for snapshot in chain where buckets[snapshot][keyPath: path] != previous {
                    // Newest first: the first snapshot met in a bucket is its newest.
                    previous = buckets[snapshot][keyPath: path]
                    guard taken < count else { break }
                    taken += 1
                    add(snapshot, rule, previous)
                }
            }
            if let withinLimit {
                for snapshot in chain where snapshots[snapshot].time >= withinLimit {
                    add(snapshot, .within, withinText)
                }
            }
        }

        let ruleOrder = Rule.allCases
        return snapshots.indices.map { index in
            var reasons: [Reason] = []
            if index == newest { reasons.append(Reason(rule: .newest)) }
            if snapshots[index].protected { reasons.append(Reason(rule: .protected)) }
            if let why = snapshots[index].unreadable { reasons.append(Reason(rule: .unreadable, detail: why)) }
            func sortKey(_ key: Key) -> (Int, Int, String) {
                // "last 2" before "last 10": by length, then by text.
                (ruleOrder.firstIndex(of: key.rule) ?? 0, key.bucket?.count ?? 0, key.bucket ?? "")
            }
            for (key, value) in found[index].sorted(by: { sortKey($0.key) < sortKey($1.key) }) {
                var reason = Reason(rule: key.rule, bucket: key.bucket, mailboxes: value.count)
                if value.count == 1 {
                    // The "(none)" history is no mailbox: it counts 0, and is named.
                    reason.mailbox = value.name == noMailbox ? "(none)" : value.name
                    if value.name == noMailbox { reason.mailboxes = 0 }
                }
                reasons.append(reason)
            }
            return Decision(snapshot: index, keep: !reasons.isEmpty, reasons: reasons)
        }
    }
}

extension RetentionPolicy.Reason {
    private enum CodingKeys: String, CodingKey { case rule, bucket, mailboxes, mailbox, detail, text }

    /// `text` is written with the facts, for people reading the JSON; it is never read back.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encodeIfPresent(bucket, forKey: .bucket)
        try container.encode(mailboxes, forKey: .mailboxes)
        try container.encodeIfPresent(mailbox, forKey: .mailbox)
        try container.encodeIfPresent(detail, forKey: .detail)
        try container.encode(text, forKey: .text)
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(rule: try container.decode(RetentionPolicy.Rule.self, forKey: .rule),
                  bucket: try container.decodeIfPresent(String.self, forKey: .bucket),
                  mailboxes: try container.decode(Int.self, forKey: .mailboxes),
                  mailbox: try container.decodeIfPresent(String.self, forKey: .mailbox),
                  detail: try container.decodeIfPresent(String.self, forKey: .detail))
    }
}
