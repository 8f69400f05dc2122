import DRBase
import DRCrypto
package import DRTransport
package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The objects several hosts use to prune one repository safely while others back up into it
/// (docs/REPOSITORY.md, "Pruning"; the argument is in docs/ARCHITECTURE.md, "Prune").
///
/// - `locks/run-<32 hex>`: a backup in progress (JSON in clear). Written before the backup
///   reads anything, deleted when it ends; one killed stays until its `expires`.
/// - `locks/prune-<32 hex>`: a prune's lease on this target (JSON in clear).
/// - `prune/<32 hex>`: a mark — packs no snapshot used when it was made (sealed).
/// - `prune/<32 hex>-wait`: the backups that were running when the mark was made (sealed).
///   A mark without it is incomplete and ignored (its prune was killed).
/// - `prune/<32 hex>-done`: the mark was swept (sealed): its packs that were still unused are
///   gone. Kept for `PruneMarks.doneLifetime`, so that other hosts' backups know those packs
///   were pruned, not lost.
///
/// Unlike the rest of the repository, `locks/` objects are not write-once: they are the only
/// objects drctl deletes as a matter of course, and never carry Object Lock retention.
package enum PruneRecords {
    package static let runPrefix = "locks/run-"
    package static let leasePrefix = "locks/prune-"
    package static let markPrefix = "prune/"

    /// A fresh unique suffix: 16 random bytes in hex.
    package static func uniqueSuffix() -> String { Hex.encode(SecureRandom.bytes(16)) }

    /// Clocks of different hosts disagree; an expiry is believed only this long after it passed.
    package static let clockSkewAllowance: TimeInterval = 600
}

/// `locks/run-*` and `locks/prune-*`: who holds what, until when (the writer's clock).
package struct LockRecord: Codable, Sendable, Equatable {
    package var format: Int = 1
    /// "backup" or "prune".
    package var job: String
    package var host: String
    package var storePath: String
    package var pid: Int32
    package var started: String
    package var expires: String

    package init(job: String, host: String, storePath: String, started: Date, lifetime: TimeInterval) {
        self.job = job
        self.host = host
        self.storePath = storePath
        self.pid = getpid()
        self.started = Timestamps.format(started)
        self.expires = Timestamps.format(started.addingTimeInterval(lifetime))
    }

    /// Whether the holder may still be at work at `now`. Records are written whole (one PUT or
    /// one link), so one whose time does not parse was not written by drctl: it is ignored.
    package func live(at now: Date) -> Bool {
        guard let until = Timestamps.parse(expires) else { return false }
        return now.timeIntervalSince(until) < PruneRecords.clockSkewAllowance
    }

    package func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// A record as read from a target; nil when it does not parse (a planted or cut object).
    package static func decode(_ bytes: [UInt8]) -> LockRecord? {
        guard bytes.count <= 4096 else { return nil }
        return try? JSONDecoder().decode(LockRecord.self, from: Data(bytes))
    }
}

/// A prune mark (`prune/<id>`) and what followed it.
package struct PruneMark: Codable, Sendable, Equatable {
    package var format: Int = 1
    /// When the mark was made (the pruner's clock).
    package var time: String
    package var host: String
    /// The target it is for: candidates are that target's unused packs.
    package var target: String
    /// Packs (64 hex) that no snapshot used when the mark was made.
    package var packs: [String]
    /// The snapshots (64 hex) that existed when the mark was made. Any other must not be
    /// forgotten before the mark is swept: it may be the only one that still uses a marked pack.
    package var snapshots: [String]

    package init(time: Date, host: String, target: String, packs: [String], snapshots: [String]) {
        self.time = Timestamps.format(time)
        self.host = host
        self.target = target
        self.packs = packs
        self.snapshots = snapshots
    }
}

/// `prune/<id>-wait`: the backups a mark waits for.
package struct PruneWait: Codable, Sendable, Equatable {
    package var format: Int = 1
    /// `locks/run-*` names listed after the mark was written.
    package var runs: [String]
    package init(runs: [String]) { self.runs = runs }
}

/// `prune/<id>-done`: what the sweep did.
package struct PruneDone: Codable, Sendable, Equatable {
    package var format: Int = 1
    package var time: String
    package var deletedPacks: Int
    package var deletedBytes: Int64
    package init(time: Date, deletedPacks: Int, deletedBytes: Int64) {
        self.time = Timestamps.format(time)
        self.deletedPacks = deletedPacks
        self.deletedBytes = deletedBytes
    }
}

/// One mark with its state, as read from a target.
package struct MarkState: Sendable {
    package var id: String
    package var mark: PruneMark
    package var wait: PruneWait?
    package var done: PruneDone?
    package var candidates: Set<PackID> { Set(mark.packs.compactMap { PackID(hex: $0) }) }
}

/// Reading and writing marks (sealed with the `prune` subkey; the AD binds each to its name).
package enum PruneMarks {
    /// How long a swept mark is kept (so that hosts that back up less often than that learn
    /// that its packs were pruned, not lost).
    package static let doneLifetime: TimeInterval = 90 * 86_400
    /// Largest mark object read.
    static let maximumSize: Int64 = 256 << 20

    package static func write<T: Encodable>(_ value: T, name: String, to store: any ObjectStore,
                                           keys: RepositoryKeys) throws(RepositoryError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: [UInt8]
        do { json = Array(try encoder.encode(value)) } catch {
            throw RepositoryError(.repositoryCorrupt, message: "cannot encode \(name): \(error)")
        }
        let sealed = try ObjectEnvelope.seal(json, kind: .pruneMark, name: name, key: keys.prune)
        do { try store.put(name, sealed, ifAbsent: true) } catch { throw RepositoryError(error) }
    }

    static func read<T: Decodable>(_ type: T.Type, name: String, from store: any ObjectStore,
                                   keys: RepositoryKeys) throws(RepositoryError) -> T {
        let bytes: [UInt8]
        do { bytes = try store.get(name, maxBytes: maximumSize) } catch { throw RepositoryError(error) }
        let plain = try ObjectEnvelope.open(bytes, kind: .pruneMark, name: name, target: store.targetName, key: keys.prune)
        do { return try JSONDecoder().decode(T.self, from: Data(plain)) } catch {
            throw RepositoryError(.repositoryCorrupt, message: "target \(store.targetName): \(name) opens but is not a prune record: \(error)",
                                  context: ErrorContext(target: store.targetName, object: name))
        }
    }

    /// Every mark of a target with its wait and done records. A mark that fails to open is
    /// reported in `damaged` and otherwise ignored: it names no pack anyone may delete.
    package static func load(from store: any ObjectStore, keys: RepositoryKeys) throws(RepositoryError) -> (marks: [MarkState], damaged: [RepositoryError]) {
        let names: Set<String>
        do { names = Set(try store.list(prefix: PruneRecords.markPrefix)) } catch { throw RepositoryError(error) }
        var marks: [MarkState] = []
        var damaged: [RepositoryError] = []
        for name in names.sorted() {
            let id = String(name.dropFirst(PruneRecords.markPrefix.count))
            guard id.count == 32, Hex.decode(id) != nil else { continue }
            do throws(RepositoryError) {
                let mark = try read(PruneMark.self, name: name, from: store, keys: keys)
                let wait = names.contains(name + "-wait") ? try read(PruneWait.self, name: name + "-wait", from: store, keys: keys) : nil
                let done = names.contains(name + "-done") ? try read(PruneDone.self, name: name + "-done", from: store, keys: keys) : nil
                marks.append(MarkState(id: id, mark: mark, wait: wait, done: done))
            } catch {
                damaged.append(error)
            }
        }
        return (marks, damaged)
    }

    /// Packs a backup must neither reuse nor count as lost: those of every mark (pending or
    /// swept) on any of `stores`. A store whose marks cannot be listed or read is returned in
    /// `failures`: a backup must not write there (it could reuse a pack a prune is deleting).
    /// A mark that does not open is no danger: no prune sweeps it.
    package static func condemned(on stores: [any ObjectStore], keys: RepositoryKeys) -> (packs: Set<PackID>, failures: [String: RepositoryError]) {
        var packs = Set<PackID>()
        var failures: [String: RepositoryError] = [:]
        for store in stores {
            do {
                for state in try load(from: store, keys: keys).marks { packs.formUnion(state.candidates) }
            } catch {
                failures[store.targetName] = error
            }
        }
        return (packs, failures)
    }
}

/// Reading `locks/` records of one target.
package enum LockRecords {
    /// Every record under `prefix` whose bytes parse, by name; unparsable ones map to nil.
    package static func list(_ prefix: String, on store: any ObjectStore) throws(TransportError) -> [String: LockRecord?] {
        var records: [String: LockRecord?] = [:]
        for name in try store.list(prefix: prefix) {
            do {
                records[name] = LockRecord.decode(try store.get(name, maxBytes: 4096))
            } catch where error.kind == .notFound {
                continue // ended between the listing and the read
            } catch where error.kind == .tooLarge {
                records[name] = .some(nil)
            }
        }
        return records
    }
}
