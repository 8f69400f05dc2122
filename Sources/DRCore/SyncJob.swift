package import DRBase
package import DRConfig
import DRCrypto
import DRRepository
package import DRTransport
import Foundation
import Synchronization
package import Logging

/// `drctl sync`: brings every lagging target up to date from the others.
///
/// Every target of a repository is meant to be a complete copy. A target that was down for a
/// backup lacks that run's packs and manifest; one that lost a pack lacks the pack. Sync copies
/// to each reachable target what another reachable target holds and it lacks — key objects,
/// packs, snapshot manifests — each one read from a target that holds it and authenticated with
/// the repository's key before it is written (a pack: its header under its name and every blob
/// under its tag and id; a manifest: its name, seal and validation; a key object: its content
/// address and repository). A copy that fails is named and read from the next target that
/// holds the object; a damaged object is never written anywhere.
///
/// The order keeps every target consistent whenever the process stops: on each target the
/// packs first, then the manifests that name them (docs/ARCHITECTURE.md, "Fan-out and sync").
/// `config` is never copied: a target without one holds no repository (or is not mounted), and
/// `drctl init` is what gives it the repository's identity.
package enum SyncJob {
    package struct Options: Sendable {
        /// Bring only this target up to date (the others are read from, not written to).
        package var target: String?
        /// Say what would be copied, copy nothing.
        package var dryRun = false
        /// Show progress on standard error (when it is a terminal).
        package var progress = false
        /// Packs copied at once (each worker holds one whole pack in memory).
        package var parallelism = ProcessInfo.processInfo.activeProcessorCount
        package init() {}
    }

    /// Objects by kind, and their bytes.
    package struct Counts: Sendable, Codable, Equatable {
        package var objects = 0
        package var keys = 0
        package var snapshots = 0
        package var packs = 0
        package var bytes: Int64 = 0
        package init() {}

        mutating func add(_ kind: ObjectKind, bytes: Int64) {
            objects += 1
            self.bytes += bytes
            switch kind {
            case .key: keys += 1
            case .snapshot: snapshots += 1
            case .pack: packs += 1
            }
        }

        /// "3 objects (2 packs, 1 snapshot), 1.2 MiB".
        package var summary: String {
            var kinds: [String] = []
            if packs > 0 { kinds.append("\(packs) pack\(packs == 1 ? "" : "s")") }
            if snapshots > 0 { kinds.append("\(snapshots) snapshot\(snapshots == 1 ? "" : "s")") }
            if keys > 0 { kinds.append("\(keys) key\(keys == 1 ? "" : "s")") }
            return "\(objects) object\(objects == 1 ? "" : "s")"
                + (kinds.isEmpty ? "" : " (\(kinds.joined(separator: ", ")))") + ", \(ByteSize.format(bytes))"
        }
    }

    enum ObjectKind { case key, snapshot, pack }

    /// One thing wrong, with the object it concerns.
    package struct Problem: Sendable, Codable, Equatable {
        package var object: String
        package var code: ErrorCode
        package var message: String

        init(object: String, code: ErrorCode, message: String) {
            self.object = object
            self.code = code
            self.message = message
        }

        init(object: String, _ error: any DRError) {
            self.init(object: object, code: error.code, message: error.message)
        }
    }

    package struct TargetReport: Sendable, Codable {
        package var name: String
        /// The target's URL (credentials masked).
        package var location: String
        package var reachable: Bool
        /// Whether this run brought it up to date (every reachable target, or the one
        /// `--target` names); the others were only read from.
        package var destination: Bool
        /// What it lacked when the run began: what `--dry-run` says would be copied.
        package var lacked = Counts()
        package var copied = Counts()
        /// Why it is not complete: unreachable, an object that could not be copied to it, a
        /// snapshot held back because a pack it uses could not be copied first, copies that differ.
        package var failures: [Problem] = []
        /// Its own objects that could not be read, or failed authentication, when they were
        /// to be copied to another target (damage on this target).
        package var readFailures: [Problem] = []
        /// Whether it holds everything the other reachable targets hold and nothing was
        /// found wrong with it (with `--dry-run`: whether there is nothing to copy).
        package var complete = false
        /// Requests and bytes this run sent to and read from the target.
        package var transfer: TargetTransfer?
    }

    package struct Report: Sendable, Codable {
        package var dryRun: Bool
        package var complete: Bool
        package var targets: [TargetReport]
        package var durationSeconds: Double

        /// 0 when every target is complete; 2 (degraded) when one is unreachable, could not
        /// be completed, or holds damaged objects.
        package var exitStatus: ExitStatus { complete ? .success : .degraded }
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           options: Options, logger: Logger) throws(CoreError) -> Report {
        let clock = ContinuousClock.now
        if let wanted = options.target, !configuration.targets.contains(where: { $0.name == wanted }) {
            throw CoreError(.targetUnknown, message: "--target \(wanted): no target of that name in the configuration (targets: \(configuration.targets.map(\.name).joined(separator: ", ")))")
        }
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        let cache = NodeCache.forReading(configuration.stateDirectory, repository: repository.id, keys: keys)
        let replication = Replication(repository: repository, keys: keys, cache: cache, dryRun: options.dryRun,
                                      parallelism: options.parallelism,
                                      progress: options.progress && StandardStreams.errorIsTerminal)
        let outcome = replication.run(destinations: options.target.map { [$0] })
        let transfers = TargetTransfer.of(repository.stores)
        var reports: [TargetReport] = []
        for target in configuration.targets {
            if let store = repository.stores.first(where: { $0.targetName == target.name }) {
                var report = outcome[target.name] ?? TargetReport(name: target.name, location: "", reachable: false, destination: false)
                report.location = TargetRules.masked(store.location)
                report.transfer = transfers.first { $0.target == target.name }
                report.complete = report.reachable && report.failures.isEmpty && report.readFailures.isEmpty
                    && (!options.dryRun || !report.destination || report.lacked.objects == 0)
                reports.append(report)
            } else if let unavailable = repository.unavailable.first(where: { $0.target == target.name }) {
                var report = TargetReport(name: target.name, location: TargetRules.masked(unavailable.location),
                                          reachable: false, destination: options.target == nil || options.target == target.name)
                report.failures.append(Problem(object: unavailable.location, unavailable.error))
                reports.append(report)
            }
        }
        return Report(dryRun: options.dryRun, complete: reports.allSatisfy(\.complete), targets: reports,
                      durationSeconds: Elapsed.seconds(since: clock))
    }

    /// A backup's first step: a target that lacks snapshots another target holds (it was down
    /// for a run) gets them, with the packs before them, so that the run finds every target
    /// holding its previous snapshot and reuses it instead of storing again what the missed
    /// runs stored. Targets that lack no snapshot are left alone: a pack lost on one of them
    /// is the backup's to notice and report (it stores what it needs again), and `drctl sync`'s
    /// to heal. Only the snapshot listings are read when nothing lags.
    /// - Returns: per target name, what was copied and what went wrong.
    static func catchUp(_ repository: Repository, stateDirectory: String, progress: Bool) -> [String: TargetReport] {
        guard repository.stores.count > 1, let keys = try? repository.derivedKeys() else { return [:] }
        let cache = NodeCache.forReading(stateDirectory, repository: repository.id, keys: keys)
        let replication = Replication(repository: repository, keys: keys, cache: cache, dryRun: false,
                                      parallelism: ProcessInfo.processInfo.activeProcessorCount,
                                      progress: progress && StandardStreams.errorIsTerminal)
        return replication.run(destinations: nil, onlyWhereSnapshotsLack: true)
    }
}

/// The copying behind `sync` and a backup's catch-up, over the reachable targets of an open
/// repository.
///
/// 1. **List** every target: `snapshots/` first, then `keys/` and `data/` with sizes. The
///    order matters when a backup runs elsewhere at the same time: a writer puts a manifest on
///    a target only once that target holds its packs, so every pack of a manifest seen in the
///    first listing is in the later `data/` listing of the same target.
/// 2. **Keys** each destination lacks, from a target whose copy is intact.
/// 3. **Packs** each destination lacks, on a pool of workers: one download from a target that
///    holds the pack, authenticated whole, then a write-once put on every destination that
///    lacks it; a copy that fails authentication is named and the next holder is tried.
/// 4. **Manifests** each destination lacks, once step 3 is over for every pack: opened and
///    validated, and put only where what they name is there. When every pack a destination
///    lacked reached it, it holds every pack any source holds, so a manifest's packs are there
///    (a source held them before it held the manifest). When some did not, each manifest is
///    walked (list and trees, as check does) against the destination's packs, and one that
///    uses a missing pack is held back (`sync.held-back`).
final class Replication {
    typealias Problem = SyncJob.Problem
    typealias TargetReport = SyncJob.TargetReport

    private let repository: Repository
    private let keys: RepositoryKeys
    private let cache: NodeCache?
    private let dryRun: Bool
    private let parallelism: Int
    private let progress: Bool

    init(repository: Repository, keys: RepositoryKeys, cache: NodeCache?, dryRun: Bool, parallelism: Int,
         progress: Bool) {
        self.repository = repository
        self.keys = keys
        self.cache = cache
        self.dryRun = dryRun
        self.parallelism = max(1, parallelism)
        self.progress = progress
    }

    /// What one target holds, by kind (object name → size; -1 for what is not a regular file).
    private struct Listing {
        var snapshots: [String: Int64] = [:]
        var keys: [String: Int64] = [:]
        var packs: [PackID: Int64] = [:]
    }

    /// - Parameters:
    ///   - destinations: the targets to bring up to date (nil: every reachable one).
    ///   - onlyWhereSnapshotsLack: only those of them that lack a snapshot another target
    ///     holds (a backup's catch-up); nothing else is listed when none does.
    /// - Returns: a report per reachable target (location, transfer and `complete` are the
    ///   caller's to fill in).
    func run(destinations wanted: Set<String>?, onlyWhereSnapshotsLack: Bool = false) -> [String: TargetReport] {
        let stores = repository.stores
        var reports: [String: TargetReport] = [:]
        for store in stores {
            reports[store.targetName] = TargetReport(name: store.targetName, location: store.location, reachable: true,
                                                     destination: wanted?.contains(store.targetName) ?? true)
        }
        func fail(_ target: String, _ problem: Problem) { reports[target]?.failures.append(problem) }

        // 1. Listings: snapshots/ of every target before anything else.
        var listings: [String: Listing] = [:]
        for store in stores {
            do throws(TransportError) {
                listings[store.targetName] = Listing(snapshots: try store.listSizes(prefix: "snapshots/"))
            } catch {
                reports[store.targetName]?.reachable = false
                fail(store.targetName, Problem(object: "snapshots/", error))
            }
        }
        let listed = stores.filter { listings[$0.targetName] != nil }
        var destinations = listed.filter { reports[$0.targetName]?.destination == true }
        func snapshots(of store: any ObjectStore) -> Set<String> { Set(listings[store.targetName]?.snapshots.keys.map { $0 } ?? []) }
        if onlyWhereSnapshotsLack {
            let all = listed.reduce(into: Set<String>()) { $0.formUnion(snapshots(of: $1)) }
            destinations = destinations.filter { !all.isSubset(of: snapshots(of: $0)) }
            for store in stores where !destinations.contains(where: { $0.targetName == store.targetName }) {
                reports[store.targetName]?.destination = false
            }
            if destinations.isEmpty { return reports }
        }
        for store in listed {
            do throws(TransportError) {
                listings[store.targetName]?.keys = try store.listSizes(prefix: "keys/")
                var packs: [PackID: Int64] = [:]
                for (name, size) in try store.listSizes(prefix: "data/") {
                    if let id = PackNaming.id(fromObjectName: name) { packs[id] = size }
                }
                listings[store.targetName]?.packs = packs
            } catch {
                listings[store.targetName] = nil
                reports[store.targetName]?.reachable = false
                fail(store.targetName, Problem(object: "keys/, data/", error))
            }
        }
        let sources = stores.filter { listings[$0.targetName] != nil }
        destinations = destinations.filter { listings[$0.targetName] != nil }
        let writeFailures = WriteFailures()

        // 2. Keys.
        let keyNames = sources.reduce(into: Set<String>()) { names, store in
            for name in listings[store.targetName]?.keys.keys.map({ $0 }) ?? [] where Self.isKeyName(name) { names.insert(name) }
        }
        for destination in destinations {
            let target = destination.targetName
            for name in keyNames.sorted() where listings[target]?.keys[name] == nil {
                let holders = sources.filter { (listings[$0.targetName]?.keys[name] ?? -1) >= 0 }
                reports[target]?.lacked.add(.key, bytes: holders.compactMap { listings[$0.targetName]?.keys[name] }.max() ?? 0)
                if dryRun || writeFailures.failed(target) { continue }
                var reasons: [RepositoryError] = []
                var copied = false
                for holder in holders where !copied {
                    do throws(RepositoryError) {
                        let bytes = try repository.intactKeyObject(String(name.dropFirst("keys/".count)), on: holder)
                        if put(bytes, name, on: destination, failures: writeFailures) {
                            reports[target]?.copied.add(.key, bytes: Int64(bytes.count))
                        }
                        copied = true
                    } catch {
                        reasons.append(error)
                        reports[holder.targetName]?.readFailures.append(Problem(object: name, error))
                    }
                }
                if !copied && !writeFailures.failed(target) {
                    fail(target, Self.uncopied(name, to: target, reasons))
                }
            }
        }

        // 3. Packs. Those a prune marked are not copied: a target may have deleted them
        // already, and copying them back would undo what the prune reclaims. A destination
        // that lacks one then has its manifests walked (step 4) like one a copy failed for.
        let packIDs = sources.reduce(into: Set<PackID>()) { $0.formUnion(listings[$1.targetName]?.packs.keys.map { $0 } ?? []) }
        let condemned = PruneMarks.condemned(on: sources, keys: keys).packs
        var skipped: [String: Set<PackID>] = [:]
        var work: [PackCopy] = []
        for id in packIDs.sorted() {
            if condemned.contains(id) {
                for destination in destinations where listings[destination.targetName]?.packs[id] == nil {
                    skipped[destination.targetName, default: []].insert(id)
                }
                continue
            }
            let name = id.objectName
            let holders = sources.filter { (listings[$0.targetName]?.packs[id] ?? -1) >= 0 }
            guard !holders.isEmpty else { continue }
            let sizes = holders.compactMap { listings[$0.targetName]?.packs[id] }
            if Set(sizes).count > 1 {
                let sizesText = holders.map { "\(listings[$0.targetName]?.packs[id] ?? 0) bytes on \($0.targetName)" }
                    .joined(separator: ", ")
                for holder in holders {
                    fail(holder.targetName, Problem(object: name, code: .syncObjectDiffers,
                                                    message: "pack \(name) differs between targets (\(sizesText)): one copy is damaged; run drctl check --read-data to see which, delete the damaged copy, then run drctl sync to copy the sound one (sync never replaces an object)"))
                }
            }
            var lacking: [any ObjectStore] = []
            for destination in destinations {
                let target = destination.targetName
                switch listings[target]?.packs[id] {
                case nil:
                    lacking.append(destination)
                    reports[target]?.lacked.add(.pack, bytes: sizes.max() ?? 0)
                case let size? where size < 0:
                    fail(target, Problem(object: name, code: .transportNotAFile,
                                         message: "target \(target): \(name) is not a regular file there, so the pack other targets hold cannot be copied to it; remove it, then run drctl sync"))
                default:
                    break
                }
            }
            if !lacking.isEmpty && !dryRun {
                work.append(PackCopy(id: id, sources: holders, destinations: lacking))
            }
        }
        var arrived: [String: [PackID: Int64]] = [:]
        var notArrived: [String: Set<PackID>] = [:]
        if !work.isEmpty {
            let keys = self.keys
            let shown = Progress(enabled: progress, verb: "copied", total: work.count, unit: "packs")
            defer { shown.finish() }
            let outcome = WorkerPool(parallelism: parallelism).run(work, progress: { step in
                shown.update(done: step.completed, bytes: step.bytes)
            }) { (copy: PackCopy, context: WorkerPool.Context) -> PackCopy.Result in
                copy.run(keys: keys, writeFailures: writeFailures, context: context)
            }
            for (copy, result) in zip(work, outcome.results) {
                guard case .success(let done)? = result else { continue }
                for arrival in done.copied {
                    arrived[arrival.target, default: [:]][copy.id] = arrival.size
                    if arrival.wrote { reports[arrival.target]?.copied.add(.pack, bytes: arrival.size) }
                }
                for (target, problem) in done.readFailures { reports[target]?.readFailures.append(problem) }
                for (target, problem) in done.failures { fail(target, problem) }
                for destination in copy.destinations where done.copied.first(where: { $0.target == destination.targetName }) == nil {
                    notArrived[destination.targetName, default: []].insert(copy.id)
                }
            }
        }
        // This host's record of each target's packs gains what it holds now, so that a later
        // loss of a copied pack is noticed by the next backup like any other.
        if let cache {
            for (target, packs) in arrived where cache.packs(of: target) != nil {
                cache.add(packs: packs, of: target)
            }
        }

        // 4. Manifests, on each destination once its packs are done.
        let snapshotNames = sources.reduce(into: Set<String>()) { $0.formUnion(snapshots(of: $1)) }
        var opened: [String: (bytes: [UInt8], manifest: SnapshotManifest)?] = [:]
        for destination in destinations {
            let target = destination.targetName
            let missing = snapshotNames.filter { listings[target]?.snapshots[$0] == nil }.sorted()
            guard !missing.isEmpty else { continue }
            var present = listings[target]?.packs ?? [:]
            for (id, size) in arrived[target] ?? [:] { present[id] = size }
            // Packs this destination should have received and did not: then every manifest is
            // walked before it is put there.
            let short = !(notArrived[target] ?? []).isEmpty || !(skipped[target] ?? []).isEmpty
                || (reports[target]?.failures.contains { $0.object.hasPrefix("data/") } ?? false)
            let walker = short ? TreeWalker(reader: TargetBlobReader(store: destination, keys: keys, cache: cache),
                                            present: present, damagedPacks: [], target: target) : nil
            for name in missing {
                let holders = sources.filter { (listings[$0.targetName]?.snapshots[name] ?? -1) >= 0 }
                reports[target]?.lacked.add(.snapshot, bytes: holders.compactMap { listings[$0.targetName]?.snapshots[name] }.max() ?? 0)
                if dryRun || writeFailures.failed(target) { continue }
                if opened[name] == nil {
                    opened[name] = open(name, holders: holders, reports: &reports)
                }
                guard let (bytes, manifest) = opened[name] ?? nil else {
                    fail(target, Problem(object: name, code: .repositoryManifestDamaged,
                                         message: "snapshot \(Self.short(name)) could not be copied to \(target): no target holds a copy that opens and validates (see their read failures)"))
                    continue
                }
                if let why = heldBack(manifest, name: name, present: present, walker: walker, target: target) {
                    fail(target, Problem(object: name, code: .syncHeldBack,
                                         message: "snapshot \(Self.short(name)) was not copied to \(target): \(why); it stays on \(holders.map(\.targetName).joined(separator: ", ")), and restore reads it from there"))
                    continue
                }
                if put(bytes, name, on: destination, failures: writeFailures) {
                    reports[target]?.copied.add(.snapshot, bytes: Int64(bytes.count))
                }
                cache?.recordManifest(name, time: manifest.time, host: manifest.host, store: manifest.storePath)
            }
        }
        for (target, error) in writeFailures.all {
            fail(target, Problem(object: error.context.object ?? target, error))
        }
        return reports
    }

    /// A manifest read from the first holder whose copy opens and validates; the others' are
    /// named as their read failures.
    private func open(_ name: String, holders: [any ObjectStore],
                      reports: inout [String: TargetReport]) -> (bytes: [UInt8], manifest: SnapshotManifest)? {
        for holder in holders {
            do throws(RepositoryError) {
                let bytes: [UInt8]
                do { bytes = try holder.get(name) } catch { throw RepositoryError(error) }
                return (bytes, try Repository.openManifest(bytes, name: name, store: holder, keys: keys))
            } catch {
                reports[holder.targetName]?.readFailures.append(Problem(object: name, error))
            }
        }
        return nil
    }

    /// Why `manifest` must not go to the destination yet, or nil: its list root's pack must be
    /// there, and when the destination missed packs (`walker` given) nothing of its list and
    /// trees may lie in a pack it lacks.
    private func heldBack(_ manifest: SnapshotManifest, name: String, present: [PackID: Int64],
                          walker: TreeWalker?, target: String) -> String? {
        guard let root = manifest.listRoot else { return "its mailbox list root is invalid" }
        guard let size = present[root.pack], size >= 0 else {
            return "the pack of its mailbox list, \(root.pack.objectName), is not there"
        }
        guard let walker else { return nil }
        var touched: String?
        do throws(RepositoryError) {
            try manifest.forEachEntry(reader: walker.reader, keys: keys, name: name, target: target,
                                      visit: { ref, _ in walker.note(ref); return touched == nil }) { (file) throws(RepositoryError) in
                if touched == nil, try walker.touchesDamage(file.root, mailbox: file.path) { touched = file.path }
            }
        } catch {
            return "its mailbox list cannot be read there (\(error.message))"
        }
        return touched.map { "mailbox \($0) (and maybe others) has data in a pack that could not be copied there" }
    }

    /// Write-once put; an object that exists holds the same bytes (content address, or a
    /// random pack name). Returns whether this put wrote it. A target that fails a write is
    /// written to no more in this run.
    private func put(_ bytes: [UInt8], _ name: String, on store: any ObjectStore, failures: WriteFailures) -> Bool {
        guard !failures.failed(store.targetName) else { return false }
        do {
            try store.put(name, bytes, ifAbsent: true)
            return true
        } catch where error.kind == .exists {
            return false
        } catch {
            failures.record(store.targetName, RepositoryError(error))
            return false
        }
    }

    static func isKeyName(_ name: String) -> Bool {
        let id = name.dropFirst("keys/".count)
        return name.hasPrefix("keys/") && id.count == 64 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    static func short(_ name: String) -> String {
        String(name.split(separator: "/").last?.prefix(16) ?? "")
    }

    static func uncopied(_ name: String, to target: String, _ reasons: [RepositoryError]) -> Problem {
        Problem(object: name, code: reasons.first?.code ?? .transportNotFound,
                message: "\(name) could not be copied to \(target): no target holds an intact copy (\(reasons.map(\.message).joined(separator: "; ")))")
    }
}

/// One pack to copy: read from the first of `sources` whose copy authenticates, put on every
/// destination. Runs on a pool worker.
private struct PackCopy: Sendable {
    let id: PackID
    let sources: [any ObjectStore]
    let destinations: [any ObjectStore]

    struct Result: Sendable {
        /// Destinations that hold it now, with its size and whether this copy wrote it (a
        /// writer elsewhere may have put it there since the listing).
        var copied: [(target: String, size: Int64, wrote: Bool)] = []
        var failures: [(target: String, problem: SyncJob.Problem)] = []
        var readFailures: [(target: String, problem: SyncJob.Problem)] = []
    }

    func run(keys: RepositoryKeys, writeFailures: WriteFailures, context: WorkerPool.Context) -> Result {
        var result = Result()
        let name = id.objectName
        var reasons: [RepositoryError] = []
        var pack: [UInt8]?
        for source in sources where pack == nil {
            do throws(RepositoryError) {
                let bytes: [UInt8]
                do { bytes = try source.get(name) } catch { throw RepositoryError(error) }
                var verified = 0
                try PackReader.authenticate(bytes, id: id, target: source.targetName, keys: keys, verified: &verified)
                pack = bytes
            } catch {
                reasons.append(error)
                result.readFailures.append((source.targetName, SyncJob.Problem(object: name, error)))
            }
        }
        guard let pack else {
            for destination in destinations where !writeFailures.failed(destination.targetName) {
                result.failures.append((destination.targetName, Replication.uncopied(name, to: destination.targetName, reasons)))
            }
            return result
        }
        context.count(bytes: Int64(pack.count))
        for destination in destinations where !writeFailures.failed(destination.targetName) {
            do {
                try destination.put(name, pack, ifAbsent: true)
                result.copied.append((destination.targetName, Int64(pack.count), true))
            } catch where error.kind == .exists {
                result.copied.append((destination.targetName, Int64(pack.count), false))
            } catch {
                writeFailures.record(destination.targetName, RepositoryError(error))
            }
        }
        return result
    }
}

/// The first write failure of each target: a target that failed one write (its disk full) is
/// written to no more in this run, and the failure is reported once.
private final class WriteFailures: Sendable {
    private let failures = Mutex<[String: RepositoryError]>([:])

    func failed(_ target: String) -> Bool { failures.withLock { $0[target] != nil } }

    func record(_ target: String, _ error: RepositoryError) {
        failures.withLock { if $0[target] == nil { $0[target] = error } }
    }

    var all: [(String, RepositoryError)] { failures.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } } }
}
