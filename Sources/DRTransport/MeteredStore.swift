import DRBase
import Synchronization

/// What a command asked of one target: requests and bytes each way. Reported in `--json`
/// (`transfer`), so that an operator (and `scripts/bench --scale`) sees what a restore or a
/// backup really cost on a metered link, counted where it happens rather than estimated.
package struct TransferCounts: Sendable, Codable, Equatable {
    package var getRequests = 0
    package var bytesRead: Int64 = 0
    package var putRequests = 0
    package var bytesWritten: Int64 = 0
    package var listRequests = 0
    package var deleteRequests = 0
    package init() {}
}

/// Wraps a target's store and counts every request that reaches it.
package final class MeteredStore: ObjectStore {
    private let base: any ObjectStore
    private let counts = Mutex(TransferCounts())
    private let firstLookUp = Mutex<Int64?>(nil)
    /// The target's `priority` (reads try lower first).
    package let priority: Int

    package init(_ base: any ObjectStore, priority: Int = 100) {
        self.base = base
        self.priority = priority
    }

    /// How long this target took to answer its first look-up (every command's first request
    /// is `exists("config")`), in milliseconds: among targets of equal priority, reads go to
    /// the one that answers fastest. Nil until then, or when it failed.
    package var firstLookUpMilliseconds: Int64? { firstLookUp.withLock { $0 } }

    /// `stores` in the order reads should try them: ascending priority, then the one whose first
    /// look-up answered fastest (a nearby region before a distant one), then as given.
    package static func readOrder(_ stores: [any ObjectStore]) -> [any ObjectStore] {
        stores.enumerated().sorted { first, second in
            let a = first.element as? MeteredStore, b = second.element as? MeteredStore
            let left = (a?.priority ?? 100, a?.firstLookUpMilliseconds ?? Int64.max, first.offset)
            let right = (b?.priority ?? 100, b?.firstLookUpMilliseconds ?? Int64.max, second.offset)
            return left < right
        }.map(\.element)
    }

    package var targetName: String { base.targetName }
    package var location: String { base.location }
    package var uploadConcurrency: Int { base.uploadConcurrency }
    /// The store under the meter (to ask an S3 store for its faults, say).
    package var underlying: any ObjectStore { base }
    package var transfer: TransferCounts { counts.withLock { $0 } }

    package func put(_ key: String, _ bytes: [UInt8], ifAbsent: Bool) throws(TransportError) {
        counts.withLock { $0.putRequests += 1 }
        try base.put(key, bytes, ifAbsent: ifAbsent)
        counts.withLock { $0.bytesWritten += Int64(bytes.count) }
    }

    package var takesPieces: Bool { base.takesPieces }

    /// Not a request: nothing is counted.
    package func prefetch(_ key: String, offset: Int64, length: Int64?) {
        base.prefetch(key, offset: offset, length: length)
    }

    package func beginPut(_ key: String) throws(TransportError) -> (any ObjectUpload)? {
        guard let upload = try base.beginPut(key) else { return nil }
        return MeteredUpload(upload, meter: self)
    }

    /// One put of `bytes` bytes that completed (an upload's commit).
    fileprivate func countPut(_ bytes: Int64) {
        counts.withLock {
            $0.putRequests += 1
            $0.bytesWritten += bytes
        }
    }

    package func get(_ key: String, maxBytes: Int64) throws(TransportError) -> [UInt8] {
        counts.withLock { $0.getRequests += 1 }
        let bytes = try base.get(key, maxBytes: maxBytes)
        counts.withLock { $0.bytesRead += Int64(bytes.count) }
        return bytes
    }

    package func get(_ key: String, offset: Int64, length: Int) throws(TransportError) -> [UInt8] {
        counts.withLock { $0.getRequests += 1 }
        let bytes = try base.get(key, offset: offset, length: length)
        counts.withLock { $0.bytesRead += Int64(bytes.count) }
        return bytes
    }

    package func read(_ key: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        counts.withLock { $0.getRequests += 1 }
        let count = try base.read(key, offset: offset, into: buffer)
        counts.withLock { $0.bytesRead += Int64(count) }
        return count
    }

    package func exists(_ key: String) throws(TransportError) -> Bool {
        counts.withLock { $0.getRequests += 1 }
        let started = MonotonicClock.milliseconds()
        let found = try base.exists(key)
        let elapsed = MonotonicClock.milliseconds() - started
        firstLookUp.withLock { if $0 == nil { $0 = Int64(elapsed) } }
        return found
    }

    package func list(prefix: String) throws(TransportError) -> [String] {
        counts.withLock { $0.listRequests += 1 }
        return try base.list(prefix: prefix)
    }

    package func listSizes(prefix: String) throws(TransportError) -> [String: Int64] {
        counts.withLock { $0.listRequests += 1 }
        return try base.listSizes(prefix: prefix)
    }

    package func delete(_ key: String) throws(TransportError) {
        counts.withLock { $0.deleteRequests += 1 }
        try base.delete(key)
    }

    package func incompleteWrites() throws(TransportError) -> [IncompleteWrite] {
        counts.withLock { $0.listRequests += 1 }
        return try base.incompleteWrites()
    }

    package func removeIncompleteWrite(_ write: IncompleteWrite) throws(TransportError) {
        counts.withLock { $0.deleteRequests += 1 }
        try base.removeIncompleteWrite(write)
    }
}

/// A target's name with what was asked of it, as reports list them.
package struct TargetTransfer: Sendable, Codable, Equatable {
    package var target: String
    package var getRequests: Int
    package var bytesRead: Int64
    package var putRequests: Int
    package var bytesWritten: Int64
    package var listRequests: Int
    package var deleteRequests: Int
    /// Retries made and faults met (S3 targets; nil for folders, which do not retry).
    package var faults: S3Faults?

    package init(target: String, _ counts: TransferCounts, faults: S3Faults? = nil) {
        self.target = target
        getRequests = counts.getRequests
        bytesRead = counts.bytesRead
        putRequests = counts.putRequests
        bytesWritten = counts.bytesWritten
        listRequests = counts.listRequests
        deleteRequests = counts.deleteRequests
        self.faults = faults
    }

    /// The counts of every metered store among `stores`.
    package static func of(_ stores: [any ObjectStore]) -> [TargetTransfer] {
        stores.compactMap { store in
            (store as? MeteredStore).map { metered in
                TargetTransfer(target: metered.targetName, metered.transfer,
                               faults: (metered.underlying as? S3ObjectStore)?.faults)
            }
        }
    }
}

/// An upload counted as one put request, its bytes once it is committed (as `put` counts).
private final class MeteredUpload: ObjectUpload {
    private let base: any ObjectUpload
    private let meter: MeteredStore

    init(_ base: any ObjectUpload, meter: MeteredStore) {
        self.base = base
        self.meter = meter
    }

    var size: Int64 { base.size }
    func append(_ bytes: UnsafeRawBufferPointer) throws(TransportError) { try base.append(bytes) }

    func commit() throws(TransportError) {
        try base.commit()
        meter.countPut(base.size)
    }

    func abandon() { base.abandon() }
}
