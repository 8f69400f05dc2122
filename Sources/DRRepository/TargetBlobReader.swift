import DRBase
package import DRTransport

/// Reads blobs from one target by their refs: the restore's, check's and backup's way to the
/// bytes, with no index.
///
/// The refs of one call are sorted by pack and offset and read with as few ranged requests
/// as touch them: blobs that lie back to back (a file's chunks, written in order; a node's
/// children) or with gaps of at most `maximumGap` between them (the old versions of pages an
/// incremental replaced) come in one request of up to `maximumRequest` bytes, and little that
/// no ref asks for is read (so a restore of one mailbox reads its own bytes, not a window of
/// others').
/// Nodes are looked up in this host's `NodeCache` first. Not thread-safe: one per worker.
package final class TargetBlobReader: BlobReading {
    package let store: any ObjectStore
    private let keys: RepositoryKeys
    private let cache: NodeCache?
    /// Whether nodes read from the target are added to the cache (backup: yes, so the next run
    /// needs no download; restore and check: no, they leave this host's state as it was).
    private let fillsCache: Bool
    package static let maximumRequest = 8 << 20
    /// Unasked bytes read rather than a request more. An incremental leaves holes in the old
    /// packs where the pages it replaced lie: a restore over S3 after one (4 of 40 mailboxes,
    /// 10 transactions each) took 193 GETs instead of 57, and every request costs a round trip
    /// and the server ~3 ms of CPU (SeaweedFS), more than 64 KiB more of the same response.
    package static let maximumGap: Int64 = 64 << 10
    /// One buffer for every request of this reader, grown to the largest asked for (at most
    /// `maximumRequest`): a new 8 MiB array per request was a fresh mapping, faulted in page
    /// by page and unmapped again (14 % of a restore's CPU samples).
    private var window = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Where blobs are decrypted and decompressed, reused from blob to blob.
    private let scratch = BlobScratch()

    /// Sealed bytes `forEachPlaintext` reads at once (its window holds them).
    private let groupBytes: Int
    /// Threads that open one group's blobs side by side (1: the calling thread alone).
    private let openers: Int
    /// The extra openers' scratch and output, reused from group to group (one per extra
    /// thread a group has used so far).
    private(set) var helpers: [GroupOpener] = []
    /// Fewer blobs than this in a group are opened by the calling thread alone: handing a few
    /// pages to another thread costs more than it saves.
    static let minimumBlobsPerOpener = 64

    /// - Parameter groupBytes: how much `forEachPlaintext` reads at once (at most
    ///   `maximumRequest`): smaller keeps a restore worker's window small, so that more workers
    ///   fit in the same memory.
    /// - Parameter openers: threads that open a group's blobs side by side in
    ///   `forEachPlaintext` (the caller's and `openers - 1` more): a restore of fewer mailboxes
    ///   than cores (one large mailbox after an incident) would otherwise decrypt and hash on
    ///   one core.
    package init(store: any ObjectStore, keys: RepositoryKeys, cache: NodeCache?, fillsCache: Bool = false,
                 groupBytes: Int = TargetBlobReader.maximumRequest, openers: Int = 1) {
        self.store = store
        self.keys = keys
        self.cache = cache
        self.fillsCache = fillsCache
        self.groupBytes = max(64 << 10, min(groupBytes, Self.maximumRequest))
        self.openers = max(1, openers)
    }

    deinit { window.deallocate() }

    package func read(_ refs: [BlobRef], context: String) throws(RepositoryError) -> [[UInt8]] {
        var results = [[UInt8]](repeating: [], count: refs.count)
        var wanted: [Int] = []
        for (index, ref) in refs.enumerated() {
            if ref.kind != .data, let cache, let plain = cache.node(ref.id) {
                results[index] = plain
            } else {
                wanted.append(index)
            }
        }
        let order = wanted.sorted { (refs[$0].pack, refs[$0].offset) < (refs[$1].pack, refs[$1].offset) }
        for request in Self.requests(refs, order: order) {
            let bytes = try fetch(request.pack, from: request.start, to: request.end, at: 0, context: context)
            for position in request.positions {
                let index = order[position]
                let ref = refs[index]
                let low = Int(ref.range.lowerBound - request.start)
                let sealed = UnsafeRawBufferPointer(rebasing: bytes[low..<(low + Int(ref.length))])
                let plain = Array(try PackReader.openBlob(sealed, ref: ref, target: store.targetName, keys: keys,
                                                          scratch: scratch))
                if ref.kind != .data, fillsCache { cache?.insert(ref.id, plain) }
                results[index] = plain
            }
        }
        return results
    }

    /// The restore's way to a file's chunks: each opened into this reader's `scratch` and
    /// handed to `body` where it lies, no array per chunk. The refs are taken in groups of
    /// about `maximumRequest` sealed bytes (a restore's batch is one group); a group's blobs
    /// are read with as few requests as `read`'s, side by side in the window, then opened in
    /// the order of `refs` (file order, which need not be the packs' order).
    package func forEachPlaintext(_ refs: [BlobRef], context: String,
                                  _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var plan = refs.isEmpty ? nil : groupPlan(refs, from: 0)
        while let group = plan {
            // The next group's ranges are asked for now: a folder reads them while this
            // group is opened and written out (a cold restore waited on each read in turn).
            plan = group.end < refs.count ? groupPlan(refs, from: group.end) : nil
            if let next = plan {
                for request in next.requests {
                    store.prefetch(request.pack.objectName, offset: request.start, length: request.end - request.start)
                }
            }
            // Where each ref's sealed bytes lie in the window, by its position in `refs`.
            var location = [Int](repeating: 0, count: group.end - group.start)
            var filled = 0
            for request in group.requests {
                _ = try fetch(request.pack, from: request.start, to: request.end, at: filled, context: context)
                for position in request.positions {
                    let index = group.order[position]
                    location[index - group.start] = filled + Int(refs[index].range.lowerBound - request.start)
                }
                filled += Int(request.end - request.start)
            }
            try open(refs, group: group, location: location, body)
        }
    }

    /// Opens a fetched group's blobs and hands them to `body` in the order of `refs`. With
    /// several openers, the group is cut into consecutive parts: the first is opened here and
    /// handed over as it opens; each other part is opened on a thread of its own into that
    /// opener's output, and handed over in turn once the parts before it are.
    private func open(_ refs: [BlobRef], group: GroupPlan, location: [Int],
                      _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let count = group.end - group.start
        let parts = min(openers, max(1, count / Self.minimumBlobsPerOpener))
        let cut = (0...parts).map { group.start + $0 * count / parts }
        let target = store.targetName
        while helpers.count < parts - 1 { helpers.append(GroupOpener()) }
        // The window is not touched until every part is opened: each waits below.
        let sealed = SealedWindow(bytes: UnsafeRawBufferPointer(window))
        let pending = (1..<max(1, parts)).map { part in
            let opener = helpers[part - 1], keys = keys
            let blobs = (cut[part]..<cut[part + 1]).map { (ref: refs[$0], at: location[$0 - group.start]) }
            return BackgroundWork { opener.open(blobs, in: sealed, target: target, keys: keys) }
        }
        var failure: (any Error)?
        do {
            for index in cut[0]..<cut[1] {
                let ref = refs[index]
                let low = location[index - group.start]
                let blob = UnsafeRawBufferPointer(rebasing: window[low..<(low + Int(ref.length))])
                try body(try PackReader.openBlob(blob, ref: ref, target: target, keys: keys, scratch: scratch))
            }
        } catch {
            failure = error
        }
        let outcomes = pending.map { $0.wait() }
        if let failure { throw failure }
        for (part, outcome) in outcomes.enumerated() {
            try outcome.get()
            try helpers[part].forEachPlaintext(body)
        }
    }

    /// One group of `forEachPlaintext`: the refs `start..<end`, their order by pack and offset,
    /// and the requests that read them.
    private struct GroupPlan {
        let start: Int
        let end: Int
        let order: [Int]
        let requests: [Request]
    }

    /// The group of about `groupBytes` sealed bytes that starts at `start` (at least one ref).
    private func groupPlan(_ refs: [BlobRef], from start: Int) -> GroupPlan {
        var end = start
        var bytes = 0
        while end < refs.count, end == start || bytes < groupBytes {
            bytes += Int(refs[end].length)
            end += 1
        }
        let order = (start..<end).sorted { (refs[$0].pack, refs[$0].offset) < (refs[$1].pack, refs[$1].offset) }
        var requests = Self.requests(refs, order: order)
        // The gaps read along are bounded too: a group of scattered small blobs (every
        // other page of an old pack replaced) would otherwise fill the window with up to
        // 16 × its own bytes of holes. Such a group is read without them.
        if requests.reduce(0, { $0 + ($1.end - $1.start) }) > 2 * Int64(groupBytes) {
            requests = Self.requests(refs, order: order, gap: 0)
        }
        return GroupPlan(start: start, end: end, order: order, requests: requests)
    }

    /// One ranged read: the refs at `positions` of `order` (sorted by pack and offset) lie in
    /// `start..<end` of `pack`.
    private struct Request {
        let pack: PackID
        let start: Int64
        let end: Int64
        let positions: Range<Int>
    }

    /// Coalesces the sorted refs into requests: blobs of one pack that touch, overlap or lie at
    /// most `gap` bytes apart, up to `maximumRequest` bytes per request.
    private static func requests(_ refs: [BlobRef], order: [Int], gap: Int64 = maximumGap) -> [Request] {
        var requests: [Request] = []
        var start = 0
        while start < order.count {
            let first = refs[order[start]]
            var end = first.range.upperBound
            var next = start + 1
            while next < order.count {
                let ref = refs[order[next]]
                guard ref.pack == first.pack, ref.range.lowerBound <= end + gap,
                      max(end, ref.range.upperBound) - first.range.lowerBound <= Int64(Self.maximumRequest) else { break }
                end = max(end, ref.range.upperBound)
                next += 1
            }
            requests.append(Request(pack: first.pack, start: first.range.lowerBound, end: end, positions: start..<next))
            start = next
        }
        return requests
    }

    /// Reads `start..<end` of a pack into `window` from byte `at` on (the bytes before `at`
    /// are kept); the bytes stay valid until the next fetch to the same place.
    private func fetch(_ pack: PackID, from start: Int64, to end: Int64, at: Int,
                       context: String) throws(RepositoryError) -> UnsafeRawBufferPointer {
        let name = pack.objectName
        let length = Int(end - start)
        // Only a damaged or forged ref names one blob longer than a request: read it as
        // before, through `get`, which allocates no more than the pack holds.
        if length > Self.maximumRequest {
            let bytes = try fetchWhole(name, from: start, length: length, context: context)
            grow(to: at + length, keeping: at)
            bytes.withUnsafeBytes { window.baseAddress!.advanced(by: at).copyMemory(from: $0.baseAddress!, byteCount: length) }
            return UnsafeRawBufferPointer(rebasing: window[at..<(at + length)])
        }
        grow(to: at + length, keeping: at)
        let buffer = UnsafeMutableRawBufferPointer(rebasing: window[at..<(at + length)])
        let count: Int
        do {
            count = try store.read(name, offset: start, into: buffer)
        } catch {
            throw failure(error, name, context: context)
        }
        guard count == length else { throw truncated(name, end: end, context: context) }
        return UnsafeRawBufferPointer(buffer)
    }

    /// Makes `window` at least `length` bytes, keeping its first `kept` bytes.
    private func grow(to length: Int, keeping kept: Int) {
        if window.count < length {
            // A whole window at once when requests are large (restore), so that it is grown
            // once; small requests (a node here and there) keep a small one.
            let grown = UnsafeMutableRawBufferPointer.allocate(
                byteCount: length > 1 << 20 ? max(length, Self.maximumRequest) : length, alignment: 16)
            if kept > 0 { grown.baseAddress!.copyMemory(from: window.baseAddress!, byteCount: kept) }
            window.deallocate()
            window = grown
        }
    }

    private func fetchWhole(_ name: String, from start: Int64, length: Int, context: String) throws(RepositoryError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try store.get(name, offset: start, length: length)
        } catch {
            throw failure(error, name, context: context)
        }
        guard bytes.count == length else { throw truncated(name, end: start + Int64(length), context: context) }
        return bytes
    }

    private func failure(_ error: TransportError, _ name: String, context: String) -> RepositoryError {
        if error.kind == .notFound {
            return RepositoryError(.repositoryPackMissing, message: "target \(store.targetName): \(context): pack \(name) is missing; run drctl check to see what else it affects",
                                   context: ErrorContext(target: store.targetName, object: name))
        }
        return RepositoryError(error)
    }

    private func truncated(_ name: String, end: Int64, context: String) -> RepositoryError {
        RepositoryError(.repositoryPackMissing, message: "target \(store.targetName): \(context): pack \(name) ends before byte \(end) that a ref names: it is truncated; run drctl check",
                        context: ErrorContext(target: store.targetName, object: name))
    }
}

/// A reader's window of sealed bytes, shared read-only with the threads that open one part of a
/// group each: the reader waits for all of them before it fetches into the window again.
struct SealedWindow: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}

/// One extra opener of `TargetBlobReader.forEachPlaintext`: its own scratch, and an output that
/// holds its part's plaintexts side by side until the parts before them are handed over.
/// Used by one thread at a time (the reader waits for it before giving it the next part).
final class GroupOpener: @unchecked Sendable {
    private let scratch = BlobScratch()
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Where each plaintext of the last part lies in `output`.
    private var plaintexts: [Range<Int>] = []

    deinit { output.deallocate() }

    func open(_ blobs: [(ref: BlobRef, at: Int)], in window: SealedWindow, target: String,
              keys: RepositoryKeys) -> Result<Void, RepositoryError> {
        plaintexts.removeAll(keepingCapacity: true)
        var used = 0
        for blob in blobs {
            let sealed = UnsafeRawBufferPointer(rebasing: window.bytes[blob.at..<(blob.at + Int(blob.ref.length))])
            let plain: UnsafeRawBufferPointer
            do {
                plain = try PackReader.openBlob(sealed, ref: blob.ref, target: target, keys: keys, scratch: scratch)
            } catch {
                return .failure(error)
            }
            if used + plain.count > output.count {
                // Grown as the plaintexts come (never from the refs' claimed lengths, which a
                // forged tree could make huge): doubled, keeping what is there.
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(2 * output.count, used + plain.count, 1 << 20),
                                                                   alignment: 16)
                if used > 0 { grown.baseAddress!.copyMemory(from: output.baseAddress!, byteCount: used) }
                output.deallocate()
                output = grown
            }
            if plain.count > 0 { (output.baseAddress! + used).copyMemory(from: plain.baseAddress!, byteCount: plain.count) }
            plaintexts.append(used..<(used + plain.count))
            used += plain.count
        }
        return .success(())
    }

    /// Hands the last part's plaintexts to `body`, in order.
    func forEachPlaintext(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        for range in plaintexts { try body(UnsafeRawBufferPointer(rebasing: output[range])) }
    }
}
