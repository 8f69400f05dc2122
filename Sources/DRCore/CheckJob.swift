package import DRBase
package import DRConfig
import DRCrypto
import DRRepository
import DRTransport
import Foundation

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
                let bucket = Int(Hex.decode(packID.prefix(8)).map { $0.reduce(0) { $0 << 8 | Int($1) } } ?? 0)
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
        package var indexObjects = 0
        package var packs = 0
        package var packsRead = 0
        package var bytesRead: Int64 = 0
        package var blobsVerified = 0
        package var errors: [Problem] = []
        /// Harmless findings: packs no index names (left by an interrupted run; the next
        /// backup indexes them again), temporary files.
        package var warnings: [Problem] = []
        package var damagedPacks: [String] = []
        package var affected: [Affected] = []
    }

    package struct Report: Sendable, Codable {
        package var targets: [TargetReport]
        package var clean: Bool { targets.allSatisfy { $0.errors.isEmpty } }
    }

    /// - Parameter parallelism: packs read and authenticated at once by `--read-data`
    ///   (default: one per core).
    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           selection: DataSelection, progress: Bool = false,
                           parallelism: Int? = nil) throws(CoreError) -> Report {
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false)
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
                                                message: "target \(gap.target) lacks \(gap.snapshots.count) snapshot(s) that another target holds (\(gap.snapshots.map { String($0.prefix(12)) }.joined(separator: ", "))): it missed a backup; restore reads them from the targets that hold them"))
        }
        for unavailable in repository.unavailable {
            var report = TargetReport(target: unavailable.target)
            report.errors.append(Problem(object: unavailable.location, code: unavailable.error.code,
                                         message: unavailable.error.message))
            reports.append(report)
        }
        return Report(targets: reports)
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

        // Index objects, one by one, so that one damaged object does not hide the rest.
        var index = BlobIndex()
        var indexNames: [String] = []
        do { indexNames = try store.list(prefix: "index/") } catch { problem("index/", error) }
        for name in indexNames {
            do {
                index.add(try repository.openIndexObject(try store.get(name), name: name, store: store, keys: keys))
                report.indexObjects += 1
            } catch {
                problem(name, error)
            }
        }

        // Packs present versus packs indexed.
        var present: [String: String] = [:]
        var sizes: [String: Int64] = [:]
        do {
            sizes = try store.listSizes(prefix: "data/")
            for name in sizes.keys.sorted() {
                if let id = PackNaming.id(fromObjectName: name) {
                    present[id] = name
                } else {
                    report.warnings.append(Problem(object: name, code: .checkStrayObject, message: "\(name) is not a pack name"))
                }
            }
        } catch {
            problem("data/", error)
        }
        report.packs = present.count
        for (pack, _) in index.packs where present[pack] == nil {
            report.errors.append(Problem(object: PackNaming.objectName(pack), code: .checkPackMissing,
                                         message: "pack \(PackNaming.objectName(pack)) is named by an index but missing from target \(store.targetName)"))
            report.damagedPacks.append(pack)
        }
        for (pack, length) in index.packs.sorted(by: { $0.key < $1.key }) {
            guard let name = present[pack], let size = sizes[name], size != Int64(length) else { continue }
            report.errors.append(Problem(object: name, code: .checkPackSize,
                                         message: "target \(store.targetName): pack \(name) holds \(size) bytes where its index says \(length): it is damaged; the next backup stores its chunks on this target again"))
            report.damagedPacks.append(pack)
        }
        for (pack, name) in present where index.packs[pack] == nil {
            report.warnings.append(Problem(object: name, code: .checkPackUnindexed,
                                           message: "\(name) is in no index (left by an interrupted backup; the next backup indexes it, prune removes it if unused)"))
        }

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
        let indexedIDs = selection == .none ? [:] : index.idsByPack()
        let toRead = present.sorted(by: { $0.key < $1.key }).filter { index.packs[$0.key] != nil && selection.includes($0.key) }
        let progress = Progress(enabled: showProgress && !toRead.isEmpty, total: toRead.count)
        defer { progress.finish() }
        let target = store.targetName
        progress.update(done: 0, current: "target \(target)", read: 0, new: 0, verb: "verified")
        let verdicts = WorkerPool(parallelism: parallelism).run(toRead, progress: { step in
            progress.update(done: step.completed, current: "target \(target)", read: step.bytes, new: 0, verb: "verified")
        }) { (pack: (key: String, value: String), context: WorkerPool.Context) -> PackVerdict in
            verifyPack(pack.key, name: pack.value, indexed: indexedIDs[pack.key] ?? [], store: store, keys: keys,
                       context: context)
        }
        for (pack, result) in zip(toRead, verdicts.results) {
            guard case .success(let verdict)? = result else { continue }
            if verdict.fetched {
                report.packsRead += 1
                report.bytesRead += verdict.bytes
            }
            report.blobsVerified += verdict.blobsVerified
            if let failure = verdict.problem {
                problem(pack.value, failure)
                report.damagedPacks.append(pack.key)
            }
        }

        // Manifests and the trees they reference; attribute damage to snapshots and mailboxes.
        let damaged = Set(report.damagedPacks)
        var manifestNames: [String] = []
        do { manifestNames = try store.list(prefix: "snapshots/") } catch { problem("snapshots/", error) }
        let walker = TreeWalker(reader: ContentReader(store: store, index: index, keys: keys),
                                damagedPacks: damaged, target: store.targetName)
        var affected: Set<Affected> = []
        for name in manifestNames {
            let manifest: SnapshotManifest
            do {
                manifest = try repository.openManifest(try store.get(name), name: name, store: store, keys: keys)
                report.snapshots += 1
            } catch {
                problem(name, error)
                continue
            }
            let snapshot = String(name.dropFirst("snapshots/".count))
            for file in manifest.files {
                do {
                    if try walker.touchesDamage(file) {
                        affected.insert(Affected(snapshot: snapshot, mailbox: file.path))
                    }
                } catch {
                    problem("\(name) \(file.path)", error)
                    affected.insert(Affected(snapshot: snapshot, mailbox: file.path))
                }
            }
        }
        report.affected = affected.sorted { ($0.snapshot, $0.mailbox) < ($1.snapshot, $1.mailbox) }
        report.damagedPacks = Array(Set(report.damagedPacks)).sorted()
        return report
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

    /// Downloads one pack and checks that its header hashes to its name, that its blobs tile
    /// it, that every blob authenticates, and that it holds every blob the index names in it.
    /// Runs on a pool worker.
    static func verifyPack(_ pack: String, name: String, indexed: Set<ChunkID>, store: any ObjectStore,
                           keys: RepositoryKeys, context: WorkerPool.Context) -> PackVerdict {
        var verdict = PackVerdict()
        do {
            let bytes = try store.get(name)
            verdict.fetched = true
            verdict.bytes = Int64(bytes.count)
            context.count(bytes: verdict.bytes)
            guard PackReader.id(of: bytes) == pack else {
                throw CoreError(.checkPackHash, message: "target \(store.targetName): pack \(name): its header does not hash to its name: the pack is damaged")
            }
            let entries = try PackReader.header(of: bytes, name: name, target: store.targetName, keys: keys)
            try PackReader.checkTiling(entries, pack: bytes, name: name, target: store.targetName)
            for entry in entries {
                let start = Int(entry.offset)
                _ = try PackReader.openBlob(bytes[start..<(start + Int(entry.length))], entry: entry, pack: name,
                                            target: store.targetName, keys: keys)
                verdict.blobsVerified += 1
            }
            if !indexed.isSubset(of: Set(entries.map(\.id))) {
                throw CoreError(.checkIndexMismatch, message: "target \(store.targetName): the index names blobs that pack \(name) does not hold")
            }
        } catch {
            verdict.problem = error
        }
        return verdict
    }
}

/// Walks chunk trees for `check`, remembering each node's verdict: unchanged mailboxes share
/// their trees across snapshots, so each node is read and judged once per target.
final class TreeWalker {
    let reader: ContentReader
    let damagedPacks: Set<String>
    let target: String
    private var verdicts: [ChunkID: Bool] = [:]

    init(reader: ContentReader, damagedPacks: Set<String>, target: String) {
        self.reader = reader
        self.damagedPacks = damagedPacks
        self.target = target
    }

    /// Whether any blob of the file's tree lies in a damaged pack. Throws when a blob is in
    /// no index or a node cannot be read.
    func touchesDamage(_ entry: SnapshotManifest.FileEntry) throws -> Bool {
        guard let root = ChunkID(hex: entry.root) else {
            throw CoreError(.checkBadManifest, message: "\(entry.path): invalid root id")
        }
        return try visit(root, kind: .tree, file: entry.path)
    }

    private func visit(_ id: ChunkID, kind: BlobKind, file: String) throws -> Bool {
        if let known = verdicts[id] { return known }
        guard let location = reader.index[id] else {
            throw CoreError(.checkBlobMissing, message: "target \(target): mailbox \(file): \(kind == .tree ? "tree node" : "chunk") \(id) is in no index")
        }
        var damaged = damagedPacks.contains(location.pack)
        if kind == .tree && !damaged {
            let node = try ChunkTreeNode.parse(try reader.blob(id, file: file))
            for child in node.children where try visit(child, kind: node.level == 1 ? .data : .tree, file: file) {
                damaged = true
            }
        }
        verdicts[id] = damaged
        return damaged
    }
}
