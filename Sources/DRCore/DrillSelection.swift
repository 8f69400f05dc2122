import DRBase
import DRRepository
import Foundation

/// SplitMix64 (Steele, Lea, Flood 2014; the seeding generator of xoshiro): one 64-bit state,
/// a few lines that any language reproduces, so that an auditor can re-perform a drill's
/// selection from its seed (docs/ARCHITECTURE.md, "Drills").
package struct DrillRandom: RandomNumberGenerator {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<bound: `next() % bound` (the bias, below 2^-40 for the sizes
    /// here, is irrelevant to an audit sample and keeps the rule one line).
    package mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next() % UInt64(bound))
    }

    /// A uniform fraction in [0, 1): the top 53 bits.
    package mutating func fraction() -> Double {
        Double(next() >> 11) / Double(UInt64(1) << 53)
    }

    /// Fisher–Yates, from the last position down, with `below(i + 1)`.
    package mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }
}

/// One mailbox of the recovery point, as the selection sees it.
struct DrillCandidate: Sendable {
    var path: String
    var cipher: String
    var journal: String
    var size: String

    var stratum: String { "\(cipher)/\(journal)/\(size)" }

    static func journal(snapshotMode: String) -> String {
        switch snapshotMode {
        case "wal-live", "wal-offline": "wal"
        case "rollback": "rollback"
        default: "none"
        }
    }

    static func sizeClass(_ bytes: Int64) -> String {
        bytes < 1 << 20 ? "small" : bytes < 100 << 20 ? "medium" : "large"
    }
}

/// Which mailboxes a drill restores. The rule, which docs/ARCHITECTURE.md ("Drills") states
/// for auditors:
///
/// 1. The population is the recovery point's mailboxes (the canary left out), sorted by path.
/// 2. `--all`: every one. Otherwise n = min(sample, population).
/// 3. Rotation: r = ⌈n/2⌉ mailboxes drilled longest ago (never drilled first), ties in the
///    order of one seeded shuffle of the population. So every mailbox is drilled at least once
///    in every ⌈population / r⌉ consecutive drills: within `[drill] every` × that many.
/// 4. Strata: the rest grouped by cipher, journal mode and size class, strata sorted by name,
///    each shuffled (seeded, in that order); then one from each stratum in turn (equal
///    allocation, so that a small stratum, such as the few large encrypted mailboxes, is
///    drilled as often as a large one) until n are chosen.
enum DrillSelection {
    struct Result {
        var mailboxes: [String]
        var rotated: [String]
        var strata: [DrillResults.Stratum]
    }

    static func choose(_ population: [DrillCandidate], sample: Int, all: Bool,
                       lastDrilled: [String: Date], random: inout DrillRandom) -> Result {
        let sorted = population.sorted { $0.path < $1.path }
        var chosen: [DrillCandidate] = []
        var rotated: [String] = []
        if all {
            chosen = sorted
        } else {
            let n = min(sample, sorted.count)
            let r = (n + 1) / 2
            var order = sorted
            random.shuffle(&order)
            let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1.path, $0) })
            let byAge = sorted.sorted { a, b in
                let da = lastDrilled[a.path] ?? .distantPast, db = lastDrilled[b.path] ?? .distantPast
                return da != db ? da < db : rank[a.path]! < rank[b.path]!
            }
            chosen = Array(byAge.prefix(r))
            rotated = chosen.map(\.path)
            let taken = Set(rotated)
            var strata = Dictionary(grouping: sorted.filter { !taken.contains($0.path) }, by: \.stratum)
                .sorted { $0.key < $1.key }.map(\.value)
            for index in strata.indices { random.shuffle(&strata[index]) }
            var next = 0
            while chosen.count < n, strata.contains(where: { !$0.isEmpty }) {
                let index = next % strata.count
                if !strata[index].isEmpty { chosen.append(strata[index].removeFirst()) }
                next += 1
            }
        }
        let picked = Set(chosen.map(\.path))
        let strata = Dictionary(grouping: sorted, by: \.stratum).sorted { $0.key < $1.key }.map { _, members in
            DrillResults.Stratum(cipher: members[0].cipher, journal: members[0].journal, size: members[0].size,
                                 population: members.count, chosen: members.filter { picked.contains($0.path) }.count)
        }
        return Result(mailboxes: chosen.map(\.path), rotated: rotated, strata: strata)
    }
}

/// When each mailbox was last drilled (`<state>/drill-history.json`): the rotation's memory
/// and the coverage statistics' source. Safe to lose: the next drills rotate from scratch.
struct DrillHistory: Codable {
    struct Mailbox: Codable {
        var lastDrilled: String
        /// From the restored header, for the next selection's strata.
        var cipher: String?
    }
    var mailboxes: [String: Mailbox] = [:]

    static func path(_ stateDirectory: String) -> String { stateDirectory + "/drill-history.json" }

    static func load(_ stateDirectory: String) -> DrillHistory {
        guard let data = FileManager.default.contents(atPath: path(stateDirectory)), data.count < 64 << 20,
              let history = try? JSONDecoder().decode(DrillHistory.self, from: data) else { return DrillHistory() }
        return history
    }

    func save(_ stateDirectory: String) throws(CoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        do {
            try AtomicFile.write(Array(data), to: Self.path(stateDirectory), mode: 0o600, .replace, creatingFoldersWithMode: 0o700)
        } catch {
            throw CoreError(error.code, message: "cannot record the drilled mailboxes in \(Self.path(stateDirectory)): \(error.message)",
                            context: error.context)
        }
    }

    var lastDrilled: [String: Date] {
        mailboxes.compactMapValues { Timestamps.parse($0.lastDrilled) }
    }

    /// The share of `population` drilled within `days` before `now`.
    func coverage(of population: [String], days: Double, now: Date) -> Double {
        guard !population.isEmpty else { return 0 }
        let since = now.addingTimeInterval(-days * 86400)
        let dates = lastDrilled
        let drilled = population.filter { (dates[$0] ?? .distantPast) >= since }.count
        return Double(drilled) / Double(population.count)
    }
}
