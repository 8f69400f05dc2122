package import DRBase
package import DRConfig
import DRCrypto
import DRRepository
package import DRTransport
import Foundation
package import Logging

/// `drctl check`: verifies each target's repository on its own: structure always, and with
/// `--read-data` every byte (downloaded, authenticated, hashed). Damage is reported with the
/// snapshots and mailboxes it affects.
package enum CheckJob {
    /// Which packs `--read-data…` reads.
    package enum DataSelection: Sendable, Equatable {
        case none
        case all
        /// `--read-data-subset N/T`: the N-th of T groups (by pack id), N in 1…T.
        case group(Int, of: Int)
        /// `--read-data-subset P%`: a random P percent.
        case percent(Double)

        package static func parse(_ text: String) throws(CoreError) -> DataSelection {
            if text.hasSuffix("%"), let value = Double(text.dropLast()), value > 0, value <= 100 {
                return .percent(value)
            }
            let parts = text.split(separator: "/")
            if parts.count == 2, let n = Int(parts[0]), let t = Int(parts[1]), t >= 1, n >= 1, n <= t {
                return .group(n, of: t)
            }
            throw CoreError(.checkSubset, message: "--read-data-subset \(text): expected N/T (1 ≤ N ≤ T, e.g. 2/7 for a weekly rotation) or a percentage like 10%")
        }

        func includes(_ packID: String) -> Bool {
            switch self {
            case .none: return false
            case .all: return true
            case .group(let n, let t):
                let bucket = Int(Hex.decode(String(packID.prefix(8))).map { $0.reduce(0) { $0 << 8 | Int($1) } } ?? 0)
                return bucket % t == n - 1
            case .percent(let p):
                return Double.random(in: 0..<100) < p
            }
        }
    }

    package struct Problem: Sendable, Codable, Equatable {
        package var object: String
        package var code: ErrorCode
        package var message: String
    }

    package struct Affected: Sendable, Codable, Equatable, Hashable {
        package var snapshot: String
        package var mailbox: String
    }

    package struct TargetReport: Sendable, Codable {
        package var target: String
        package var snapshots = 0
        /// Tree and list nodes read and authenticated.
        package var nodesVerified = 0
        package var packs = 0
        package var packsRead = 0
        package var bytesRead: Int64 = 0
        package var blobsVerified = 0
        package var errors: [Problem] = []
        /// Harmless findings: packs no snapshot uses (left by an interrupted run, or
        /// superseded; prune removes them), temporary files.
        package var warnings: [Problem] = []
        package var damagedPacks: [String] = []
        package var affected: [Affected] = []
    }

    package struct Report: Sendable, Codable {
        package var targets: [TargetReport]
        /// Requests and bytes read from each target.
        package var transfer: [TargetTransfer] = []
        package var clean: Bool { targets.allSatisfy { $0.errors.isEmpty } }
    }

    /// - Parameter parallelism: packs read and authenticated at once by `--read-data`
    ///   (default: one per core).
    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           selection: DataSelection, progress: Bool = false,
                           parallelism: Int? = nil, logger: Logger) throws(CoreError) -> Report {
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, use: .read, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        var reports: [TargetReport] = []
        for store in repository.stores {
            reports.append(check(store, repository: repository, keys: keys, selection: selection,
                                 progress: progress && StandardStreams.errorIsTerminal,
                                 parallelism: parallelism ?? ProcessInfo.processInfo.activeProcessorCount))
        }
        // Manifest sets that differ: a target that missed a run lacks its manifest, and a
        // restore from it alone would be stale (restore reads every target's; this says so).
        let listings = repository.stores.compactMap { store in
            (try? store.list(prefix: "snapshots/")).map { (target: store.targetName, names: Set($0)) }
        }
        for gap in SnapshotCatalogue.differences(listings) {
            guard let at = reports.firstIndex(where: { $0.target == gap.target }) else { continue }
            reports[at].warnings.append(Problem(object: "snapshots/", code: .checkSnapshotsDiffer,
                                                message: "target \(gap.target) lacks \(gap.snapshots.count) snapshot(s) that another target holds (\(gap.snapshots.map { String($0.prefix(12)) }.joined(separator: ", "))): it missed a backup; restore reads them from the targets that hold them, and drctl sync (or the next backup) copies them to it"))
        }
        for unavailable in repository.unavailable {
            var report = TargetReport(target: unavailable.target)
            report.errors.append(Problem(object: unavailable.location, code: unavailable.error.code,
                                         message: unavailable.error.message))
            reports.append(report)
        }
        return Report(targets: reports, transfer: TargetTransfer.of(repository.stores))
    }

    static func check(_ store: any ObjectStore, repository: Repository, keys: RepositoryKeys,
                      selection: DataSelection, progress showProgress: Bool = false,
                      parallelism: Int) -> TargetReport {
        var report = TargetReport(target: store.targetName)
        func problem(_ object: String, _ error: any Error) {
            let known = CoreError(error)
            report.errors.append(Problem(object: object, code: known.code, message: known.message))
        }
        // Key objects that opening found damaged on this target (the repository opened with
        // another copy or another key).
        for damaged in repository.damagedKeys where damaged.context.target == store.targetName {
            problem(damaged.context.object ?? "keys/", damaged)
        }

        // Packs present, with their sizes.
        var present: [PackID: Int64] = [:]
        do {
            for (name, size) in try store.listSizes(prefix: "data/").sorted(by: { $0.key < $1.key }) {
                if let id = PackNaming.id(fromObjectName: name) {
                    present[id] = size
                } else {
                    report.warnings.append(Problem(object: name, code: .checkStrayObject, message: "\(name) is not a pack name"))
                }
            }
        } catch {
            problem("data/", error)
        }
        report.packs = present.count

        do {
            let leftovers = try store.incompleteWrites()
            if !leftovers.isEmpty {
                let bytes = leftovers.reduce(Int64(0)) { $0 + $1.size }
                report.warnings.append(Problem(object: leftovers[0].name, code: .checkIncompleteWrites,
                                               message: "\(leftovers.count) incomplete write(s) of interrupted runs (\(ByteSize.format(bytes))), e.g. \(leftovers[0].name); backups remove those older than \(BackupWriter.staleWriteAge / 60) minutes"))
            }
        } catch {
            problem("incomplete writes", error)
        }

        // Every pack's bytes, when asked: read and authenticated on several workers (each holds
        // one whole pack in memory). The verdicts are merged in pack-id order, so the report
        // does not depend on which worker finished first.
        let toRead = present.keys.sorted().filter { present[$0].map { $0 >= 0 } ?? false && selection.includes($0.hex) }
        let target = store.targetName
        let progress = Progress(enabled: showProgress && !toRead.isEmpty, verb: "verified", total: toRead.count,
                                unit: "packs", totalBytes: toRead.reduce(0) { $0 + (present[$1] ?? 0) })
        progress.update(done: 0, bytes: 0, current: "target \(target)")
        let sizes = present
        // The snapshots' trees are walked beside the pack reading, on a thread of their own:
        // after it, the walk (a fifth of a warm check of 150 mailboxes) ran with one core
        // idle. It assumes no damaged pack; when the packs turn out damaged, it is walked
        // again below to say which snapshots and mailboxes the damage touches.
        let walkAhead = toRead.isEmpty ? nil : BackgroundWork {
            walkSnapshots(store, keys: keys, present: sizes, damagedPacks: [], progress: false)
        }
        let verdicts = WorkerPool(parallelism: parallelism).run(toRead, progress: { step in
            progress.update(done: step.completed, bytes: step.bytes, current: "target \(target)")
        }, worker: { () -> PackVerifier in PackVerifier() }) {
            (verifier: inout PackVerifier, pack: PackID, context: WorkerPool.Context) -> PackVerdict in
            // The pack the next free worker takes after the ones in hand: a folder reads it
            // while these are verified (the workers take packs in list order).
            let ahead = context.index + parallelism
            if ahead < toRead.count { store.prefetch(toRead[ahead].objectName, offset: 0, length: nil) }
            return verifier.verify(pack, listedSize: sizes[pack], store: store, keys: keys, context: context)
        }
        progress.finish()
        var damagedPacks = Set<PackID>()
        for (pack, result) in zip(toRead, verdicts.results) {
            guard case .success(let verdict)? = result else { continue }
            if verdict.fetched {
                report.packsRead += 1
                report.bytesRead += verdict.bytes
            }
            report.blobsVerified += verdict.blobsVerified
            if let failure = verdict.problem {
                problem(pack.objectName, failure)
                damagedPacks.insert(pack)
            }
        }

        let walk: SnapshotWalk
        if let ahead = walkAhead?.wait(), damagedPacks.isEmpty {
            walk = ahead
        } else {
            walk = walkSnapshots(store, keys: keys, present: present, damagedPacks: damagedPacks, progress: showProgress)
        }
        report.snapshots = walk.snapshots
        report.errors += walk.errors
        report.nodesVerified = walk.nodesRead
        for pack in present.keys.sorted() where !walk.referenced.contains(pack) && present[pack].map({ $0 >= 0 }) ?? false {
            report.warnings.append(Problem(object: pack.objectName, code: .checkPackUnreferenced,
                                           message: "\(pack.objectName) is used by no snapshot (left by an interrupted backup, or superseded; prune removes it)"))
        }
        report.affected = walk.affected.sorted { ($0.snapshot, $0.mailbox) < ($1.snapshot, $1.mailbox) }
        report.damagedPacks = (damagedPacks.union(walk.missingPacks)).map(\.hex).sorted()
        return report
    }

    /// What walking one target's snapshots found: each snapshot's list and the trees it names,
    /// every node read and authenticated, every data ref's pack present and long enough.
    struct SnapshotWalk: Sendable {
        var snapshots = 0
        /// The lists' and the trees' problems, in the order found.
        var errors: [Problem] = []
        /// Snapshots and mailboxes that `damagedPacks` or a missing pack touches.
        var affected: Set<Affected> = []
        var nodesRead = 0
        /// Packs some node or chunk of a snapshot lies in.
        var referenced = Set<PackID>()
        /// Packs refs name that the target lacks (or holds shorter than a ref needs).
        var missingPacks = Set<PackID>()
    }

    /// Walks every snapshot of the target, attributing damage to snapshots and mailboxes.
    static func walkSnapshots(_ store: any ObjectStore, keys: RepositoryKeys, present: [PackID: Int64],
                              damagedPacks: Set<PackID>, progress showProgress: Bool) -> SnapshotWalk {
        var walk = SnapshotWalk()
        func problem(_ object: String, _ error: any Error) {
            let known = CoreError(error)
            walk.errors.append(Problem(object: object, code: known.code, message: known.message))
        }
        let target = store.targetName
        var manifestNames: [String] = []
        do { manifestNames = try store.list(prefix: "snapshots/") } catch { problem("snapshots/", error) }
        let walker = TreeWalker(reader: TargetBlobReader(store: store, keys: keys, cache: nil),
                                present: present, damagedPacks: damagedPacks, target: store.targetName)
        // The snapshots one by one, with the bytes their lists and trees took to read (the
        // target's metered reads; nodes already judged are not read again).
        let walked = Progress(enabled: showProgress && !manifestNames.isEmpty, verb: "read",
                              total: manifestNames.count, unit: "snapshots")
        defer { walked.finish() }
        let readBefore = (store as? MeteredStore)?.transfer.bytesRead ?? 0
        for (index, name) in manifestNames.enumerated() {
            defer {
                walked.update(done: index + 1, bytes: ((store as? MeteredStore)?.transfer.bytesRead ?? 0) - readBefore,
                              current: "target \(target)")
            }
            let manifest: SnapshotManifest
            do {
                manifest = try Repository.openManifest(try store.get(name), name: name, store: store, keys: keys)
                walk.snapshots += 1
            } catch {
                problem(name, error)
                continue
            }
            let snapshot = String(name.dropFirst("snapshots/".count))
            do {
                try manifest.forEachEntry(reader: walker.reader, keys: keys, name: name, target: store.targetName,
                                          visit: { ref, _ in walker.note(ref); return true }) { (file) throws(RepositoryError) in
                    if try walker.touchesDamage(file.root, mailbox: file.path) {
                        walk.affected.insert(Affected(snapshot: snapshot, mailbox: file.path))
                    }
                }
            } catch {
                // The list itself cannot be read: every mailbox of the snapshot is affected,
                // and which ones they are is unknown here (another target may tell).
                problem(name, error)
                walk.affected.insert(Affected(snapshot: snapshot, mailbox: "*"))
            }
        }
        for finding in walker.problems { walk.errors.append(Problem(object: finding.object, code: finding.code, message: finding.message)) }
        walk.nodesRead = walker.nodesRead
        walk.referenced = walker.referenced
        walk.missingPacks = walker.missingPacks
        return walk
    }

    /// What reading one pack found. A damaged pack is a finding, not a failure of the pool's
    /// item: the verdict keeps the counts made before the problem, as the report shows them.
    struct PackVerdict: Sendable {
        /// Whether the pack could be downloaded at all (then it counts as read).
        var fetched = false
        var bytes: Int64 = 0
        /// Blobs authenticated before the first problem (all of them when there is none).
        var blobsVerified = 0
        /// The first problem found, if any: the pack is then damaged.
        var problem: (any Error)?
    }
}

/// One `check --read-data` worker's memory, reused from pack to pack: the pack's bytes and the
/// blobs opened from them. A new array per pack (16 MiB) was a fresh mapping faulted in page by
/// page and unmapped again, and a new array per blob an allocation per page.
final class PackVerifier {
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private let scratch = BlobScratch()

    deinit { buffer.deallocate() }

    /// Downloads one pack and checks that its header opens under its name, that its blobs
    /// tile it, and that every blob authenticates and hashes to its id. Runs on a pool worker.
    /// - Parameter listedSize: the pack's size in the target's listing: the pack is read into
    ///   the reused buffer when it still has that size, else downloaded whole as it is now.
    func verify(_ pack: PackID, listedSize: Int64?, store: any ObjectStore, keys: RepositoryKeys,
                context: WorkerPool.Context) -> CheckJob.PackVerdict {
        var verdict = CheckJob.PackVerdict()
        let name = pack.objectName
        do {
            if let size = listedSize, size >= 0, size < ObjectSizeLimit.maximum(for: name),
               let count = try read(name, size: Int(size), from: store), count == Int(size) {
                verdict.fetched = true
                verdict.bytes = size
                context.count(bytes: size)
                try PackReader.authenticate(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), id: pack,
                                            target: store.targetName, keys: keys, scratch: scratch,
                                            verified: &verdict.blobsVerified)
            } else {
                let bytes = try store.get(name)
                verdict.fetched = true
                verdict.bytes = Int64(bytes.count)
                context.count(bytes: verdict.bytes)
                try PackReader.authenticate(bytes, id: pack, target: store.targetName, keys: keys,
                                            verified: &verdict.blobsVerified)
            }
        } catch {
            verdict.problem = error
        }
        return verdict
    }

    /// Reads up to `size + 1` bytes of the object into the buffer (one more than listed, to see
    /// that it did not grow) and returns how many came; nil if it is missing now.
    private func read(_ name: String, size: Int, from store: any ObjectStore) throws(TransportError) -> Int? {
        if buffer.count < size + 1 {
            buffer.deallocate()
            // With room to spare: packs differ in size by a few blobs and their header.
            buffer = .allocate(byteCount: size + 1 + size / 8, alignment: 16)
        }
        do {
            return try store.read(name, offset: 0, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(size + 1)]))
        } catch where error.kind == .notFound {
            // `get` below reports it, as it always did.
            return nil
        }
    }
}

/// Walks chunk trees for `check`, remembering each node's verdict on disk (`NodeVerdicts`):
/// unchanged mailboxes share their trees across snapshots, so each node is read and judged
/// once per target, and memory does not grow with the repository.
final class TreeWalker {
    let reader: TargetBlobReader
    let present: [PackID: Int64]
    let damagedPacks: Set<PackID>
    let target: String
    private let verdicts = NodeVerdicts()
    /// Packs some node or chunk of a snapshot lies in.
    private(set) var referenced = Set<PackID>()
    /// Packs refs name that the target lacks (or holds shorter than a ref needs).
    private(set) var missingPacks = Set<PackID>()
    private(set) var problems: [(object: String, code: ErrorCode, message: String)] = []
    private(set) var nodesRead = 0

    init(reader: TargetBlobReader, present: [PackID: Int64], damagedPacks: Set<PackID>, target: String) {
        self.reader = reader
        self.present = present
        self.damagedPacks = damagedPacks
        self.target = target
    }

    /// A list node about to be read: its pack is used.
    func note(_ ref: BlobRef) {
        referenced.insert(ref.pack)
        nodesRead += 1
    }

    /// Whether `ref` points into a pack that is missing, too short or damaged (reported once
    /// per pack).
    private func unusable(_ ref: BlobRef, mailbox: String) -> Bool {
        referenced.insert(ref.pack)
        if damagedPacks.contains(ref.pack) { return true }
        guard let size = present[ref.pack], size >= 0 else {
            if missingPacks.insert(ref.pack).inserted {
                problems.append((ref.pack.objectName, .checkPackMissing,
                                 "target \(target): pack \(ref.pack.objectName), which mailbox \(mailbox) (and maybe others) uses, is missing"))
            }
            return true
        }
        if ref.range.upperBound > size - 8 {
            if missingPacks.insert(ref.pack).inserted {
                problems.append((ref.pack.objectName, .checkPackSize,
                                 "target \(target): pack \(ref.pack.objectName) holds \(size) bytes, but mailbox \(mailbox) has a blob at bytes \(ref.offset)..<\(ref.range.upperBound) of it: it is truncated"))
            }
            return true
        }
        return false
    }

    /// Whether any blob of the file's tree lies in a damaged, missing or short pack. A node
    /// that cannot be read or parsed is damage too (reported, and the file counts as affected).
    func touchesDamage(_ root: BlobRef, mailbox: String) throws(RepositoryError) -> Bool {
        try visit(root, plain: nil, level: nil, mailbox: mailbox)
    }

    /// - Parameter level: the level the parent implies (nil for a root).
    private func visit(_ ref: BlobRef, plain known: [UInt8]?, level: UInt8?, mailbox: String) throws(RepositoryError) -> Bool {
        if let verdict = verdicts.verdict(ref) {
            referenced.insert(ref.pack)
            return verdict
        }
        var damaged = unusable(ref, mailbox: mailbox)
        if !damaged {
            do throws(RepositoryError) {
                let plain: [UInt8]
                if let known { plain = known } else { plain = try reader.read(ref, context: "mailbox \(mailbox)") }
                nodesRead += 1
                let node = try FileTree.parse(plain, id: ref.id, context: "mailbox \(mailbox)")
                if let level, node.level != level {
                    throw RepositoryError(.repositoryBadTree, message: "tree node \(ref.id) has level \(node.level) where \(level) belongs")
                }
                if node.level == 1 {
                    for child in node.children where unusable(child, mailbox: mailbox) { damaged = true }
                } else {
                    let pending = node.children.filter { verdicts.verdict($0) == nil && !unusable($0, mailbox: mailbox) }
                    let plains = try reader.read(pending, context: "mailbox \(mailbox)")
                    var byID: [ChunkID: [UInt8]] = [:]
                    for (child, plain) in zip(pending, plains) { byID[child.id] = plain }
                    for child in node.children {
                        if try visit(child, plain: byID[child.id], level: node.level - 1, mailbox: mailbox) { damaged = true }
                    }
                }
            } catch {
                problems.append((ref.pack.objectName, error.code, "target \(target): mailbox \(mailbox): \(error.message)"))
                damaged = true
            }
        }
        verdicts.record(ref, damaged: damaged)
        return damaged
    }
}
