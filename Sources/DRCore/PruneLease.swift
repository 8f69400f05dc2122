import DRBase
import DRRepository
import DRTransport
import Foundation

/// One prune at a time per target, across hosts: a lease object `locks/prune-<unique>`.
///
/// The protocol needs no conditional write and no clock agreement, so it holds on every S3
/// server (radosgw ignores `If-None-Match` on PUT) and on folders:
/// 1. write my record under a name no one else uses;
/// 2. list `locks/prune-`; if no other live record is there, I hold the lease;
/// 3. otherwise delete mine and back off (once, a random 0.5–2 s, then give up: `prune.busy`).
///
/// Two contenders A and B cannot both hold it: A's write completed before A's listing, and if
/// A's listing missed B, B's write completed after it, so B's listing (after B's write) sees A,
/// whose record stays until A is done. This needs only that a listing shows every object
/// whose write completed before the listing began (read-after-write consistency, which AWS S3,
/// radosgw, SeaweedFS and a folder give). A fixed lease name with `If-None-Match` would be
/// simpler where it is honoured, but an expired lease could then only be broken by a delete
/// that might remove a newer holder's lease: S3 has no conditional delete everywhere.
/// docs/ARCHITECTURE.md, "Prune", has the whole argument.
final class PruneLease {
    let store: any ObjectStore
    let name: String
    private(set) var expires: Date
    private let record: LockRecord
    private let lifetime: TimeInterval

    private init(store: any ObjectStore, name: String, record: LockRecord, lifetime: TimeInterval) {
        self.store = store
        self.name = name
        self.record = record
        self.lifetime = lifetime
        self.expires = Timestamps.parse(record.expires) ?? Date()
    }

    /// Whether work under the lease may go on (a margin for other hosts' clocks). The lease
    /// is short (a killed prune's blocks other hosts for no longer than that) and renewed
    /// here once half of it has passed: its record is rewritten with a later expiry (`locks/`
    /// objects are the only ones drctl overwrites). A renewal that fails leaves the lease to
    /// run out, and the work stops at the margin.
    var valid: Bool {
        let now = Date()
        if expires.timeIntervalSince(now) < lifetime / 2 {
            var renewed = record
            renewed.expires = Timestamps.format(now.addingTimeInterval(lifetime))
            if (try? store.put(name, renewed.encoded(), ifAbsent: false)) != nil {
                expires = now.addingTimeInterval(lifetime)
            }
        }
        return now.addingTimeInterval(PruneRecords.clockSkewAllowance) < expires
    }

    /// - Parameter host: this host. The caller holds this host's prune lock, so a lease record
    ///   of this host is a killed prune's: it is removed, not waited for.
    static func acquire(on store: any ObjectStore, host: String, storePath: String,
                        lifetime: TimeInterval) throws(CoreError) -> PruneLease {
        var attempt = 0
        while true {
            attempt += 1
            let name = PruneRecords.leasePrefix + PruneRecords.uniqueSuffix()
            let started = Date()
            let record = LockRecord(job: "prune", host: host, storePath: storePath, started: started, lifetime: lifetime)
            let others: [(String, LockRecord)]
            do {
                try store.put(name, record.encoded(), ifAbsent: true)
                let now = Date()
                let records = try LockRecords.list(PruneRecords.leasePrefix, on: store)
                    .compactMap { key, value in value.map { (key, $0) } }
                    .filter { $0.0 != name }
                for (stale, record) in records where record.host == host { try? store.delete(stale) }
                others = records.filter { $0.1.host != host && $0.1.live(at: now) }
            } catch {
                try? store.delete(name)
                throw CoreError(.pruneBusy, message: "target \(store.targetName): cannot take the prune lease: \(CoreError(error).message)")
            }
            if others.isEmpty {
                return PruneLease(store: store, name: name, record: record, lifetime: lifetime)
            }
            try? store.delete(name)
            if attempt >= 2 {
                let holder = others.sorted { $0.0 < $1.0 }[0].1
                throw CoreError(.pruneBusy, message: "target \(store.targetName): another prune holds the lease (host \(holder.host), since \(holder.started), until \(holder.expires) at the latest); prune later — drctl run tries again at its next start")
            }
            usleep(UInt32.random(in: 500_000...2_000_000))
        }
    }

    func release() { try? store.delete(name) }
}
