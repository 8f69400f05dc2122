package import DRBase
package import DRConfig
import DRRepository
import DRTransport
import Foundation
package import Logging

/// `drctl targets`: the state of every configured target, side by side: reachable or not (and
/// why), its newest snapshot, how far it lags behind the others, what it stores.
///
/// Everything comes from listings (one per target) and the snapshot records' times — from this
/// host's node cache when it knows them, otherwise read once from a target that holds them. No
/// pack is read.
package enum TargetsJob {
    package struct Snapshot: Sendable, Codable, Equatable {
        package var id: String
        package var time: String
        package var host: String
    }

    /// What a target lacks that another reachable target holds.
    package struct Lag: Sendable, Codable, Equatable {
        package var snapshots = 0
        package var keys = 0
        package var packs = 0
        /// Packs it holds at another size than another target: one of the copies is damaged.
        package var packsDiffering = 0
        /// How much older its newest snapshot is than the newest of any target (nil when it
        /// holds none while another does).
        package var behindSeconds: Double? = 0
        package var lagging: Bool { snapshots > 0 || keys > 0 || packs > 0 || packsDiffering > 0 }

        enum CodingKeys: String, CodingKey { case snapshots, keys, packs, packsDiffering, behindSeconds, lagging }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(snapshots, forKey: .snapshots)
            try container.encode(keys, forKey: .keys)
            try container.encode(packs, forKey: .packs)
            try container.encode(packsDiffering, forKey: .packsDiffering)
            try container.encode(behindSeconds, forKey: .behindSeconds)
            try container.encode(lagging, forKey: .lagging)
        }

        package init() {}

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            snapshots = try container.decode(Int.self, forKey: .snapshots)
            keys = try container.decode(Int.self, forKey: .keys)
            packs = try container.decode(Int.self, forKey: .packs)
            packsDiffering = try container.decode(Int.self, forKey: .packsDiffering)
            behindSeconds = try container.decodeIfPresent(Double.self, forKey: .behindSeconds)
        }
    }

    package struct Problem: Sendable, Codable, Equatable {
        package var code: ErrorCode
        package var message: String
    }

    package struct Row: Sendable, Codable {
        package var name: String
        /// `file` or `s3`.
        package var kind: String
        /// The target's URL, credentials masked.
        package var location: String
        package var reachable: Bool
        /// Why it is not reachable (or holds no repository, or cannot be listed).
        package var error: Problem?
        package var newestSnapshot: Snapshot?
        /// Snapshot records it holds.
        package var snapshots: Int?
        package var lag: Lag?
        /// Bytes and objects it holds, from its listing.
        package var storedBytes: Int64?
        package var objects: Int?
        /// S3 Object Lock on the bucket: `enabled`, `disabled`, `unsupported`, `unknown`;
        /// `n/a` for folders.
        package var objectLock: String
    }

    package struct Report: Sendable, Codable {
        package var targets: [Row]
        /// The newest snapshot of any target.
        package var newestSnapshot: Snapshot?
        /// Every target reachable and none lagging.
        package var complete: Bool
        package var exitStatus: ExitStatus { complete ? .success : .degraded }
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           logger: Logger) throws(CoreError) -> Report {
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        let cache = NodeCache.forReading(configuration.stateDirectory, repository: repository.id, keys: keys)

        var rows: [String: Row] = [:]
        var listings: [String: [String: Int64]] = [:]
        for store in repository.stores {
            var row = Row(name: store.targetName, kind: kind(store.targetName, configuration), location: TargetRules.masked(store.location),
                          reachable: true, objectLock: objectLock(of: store))
            do {
                listings[store.targetName] = try store.listSizes(prefix: "")
            } catch {
                row.reachable = false
                row.error = Problem(code: error.code, message: error.message)
            }
            rows[store.targetName] = row
        }
        for unavailable in repository.unavailable {
            let kind = kind(unavailable.target, configuration)
            rows[unavailable.target] = Row(name: unavailable.target, kind: kind,
                                           location: TargetRules.masked(unavailable.location), reachable: false,
                                           error: Problem(code: unavailable.error.code, message: unavailable.error.message),
                                           objectLock: kind == "file" ? "n/a" : "unknown")
        }

        // What each listed target holds, by kind.
        let listed = repository.stores.filter { listings[$0.targetName] != nil }
        func names(_ store: any ObjectStore, _ prefix: String) -> [String: Int64] {
            (listings[store.targetName] ?? [:]).filter { $0.key.hasPrefix(prefix) }
        }
        func packs(_ store: any ObjectStore) -> [PackID: Int64] {
            var packs: [PackID: Int64] = [:]
            for (name, size) in names(store, "data/") where size >= 0 {
                if let id = PackNaming.id(fromObjectName: name) { packs[id] = size }
            }
            return packs
        }
        let snapshotNames = listed.reduce(into: Set<String>()) { $0.formUnion(names($1, "snapshots/").keys) }
        let keyNames = listed.reduce(into: Set<String>()) { $0.formUnion(names($1, "keys/").keys) }
        var packSizes: [PackID: Set<Int64>] = [:]
        for store in listed { for (id, size) in packs(store) { packSizes[id, default: []].insert(size) } }

        // Each snapshot's time and host: from the node cache, or read once.
        var summaries: [String: Snapshot] = [:]
        for name in snapshotNames.sorted() {
            let id = String(name.dropFirst("snapshots/".count))
            if let known = cache?.manifestSummary(name) {
                summaries[name] = Snapshot(id: id, time: known.time, host: known.host)
                continue
            }
            for store in listed where names(store, "snapshots/")[name] != nil {
                guard let bytes = try? store.get(name),
                      let manifest = try? Repository.openManifest(bytes, name: name, store: store, keys: keys) else { continue }
                summaries[name] = Snapshot(id: id, time: manifest.time, host: manifest.host)
                break
            }
        }
        let order = { (snapshot: Snapshot) in (Timestamps.parse(snapshot.time) ?? .distantPast, snapshot.id) }
        let newest = { (snapshots: [Snapshot]) in snapshots.max { order($0) < order($1) } }
        let newestOverall = newest(Array(summaries.values))

        for store in listed {
            let own = names(store, "snapshots/")
            let mine = newest(own.keys.compactMap { summaries[$0] })
            var lag = Lag()
            lag.snapshots = snapshotNames.subtracting(own.keys).count
            lag.keys = keyNames.subtracting(names(store, "keys/").keys).count
            let held = packs(store)
            lag.packs = packSizes.keys.filter { held[$0] == nil }.count
            lag.packsDiffering = held.keys.filter { (packSizes[$0]?.count ?? 0) > 1 }.count
            if let overall = newestOverall {
                if let mine, let a = Timestamps.parse(overall.time), let b = Timestamps.parse(mine.time) {
                    lag.behindSeconds = max(0, a.timeIntervalSince(b))
                } else if mine == nil {
                    lag.behindSeconds = nil
                }
            }
            let all = listings[store.targetName] ?? [:]
            rows[store.targetName]?.newestSnapshot = mine
            rows[store.targetName]?.snapshots = own.count
            rows[store.targetName]?.lag = lag
            rows[store.targetName]?.storedBytes = all.values.filter { $0 >= 0 }.reduce(0, +)
            rows[store.targetName]?.objects = all.count
        }
        let ordered = configuration.targets.compactMap { rows[$0.name] }
        return Report(targets: ordered, newestSnapshot: newestOverall,
                      complete: ordered.allSatisfy { $0.reachable && $0.lag?.lagging == false })
    }

    static func kind(_ target: String, _ configuration: Configuration) -> String {
        switch configuration.targets.first(where: { $0.name == target })?.location {
        case .s3?: "s3"
        default: "file"
        }
    }

    /// Object Lock of an S3 target's bucket (one request); `n/a` for a folder.
    static func objectLock(of store: any ObjectStore) -> String {
        guard let s3 = ((store as? MeteredStore)?.underlying ?? store) as? S3ObjectStore else { return "n/a" }
        return (try? s3.probeObjectLock().rawValue) ?? "unknown"
    }

    /// A duration as people read it: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
    package static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min" }
        if total < 86_400 { return "\(total / 3600) h" + (total % 3600 / 60 > 0 ? " \(total % 3600 / 60) min" : "") }
        return "\(total / 86_400) d" + (total % 86_400 / 3600 > 0 ? " \(total % 86_400 / 3600) h" : "")
    }
}
