package import DRBase
package import DRConfig
import DRCrypto
import DRRepository
package import DRTransport
package import Foundation
import Synchronization
package import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Which snapshot of which mailbox to restore.
package enum RestoreSelection: Sendable {
    /// For each mailbox, the newest image consistent at or before this moment.
    case pointInTime(Date)
    /// Exactly this snapshot (a full id or a unique prefix).
    case snapshot(String)
    /// The newest image of each mailbox (consistent at or before now).
    case latest
}

/// `drctl restore`: writes mailboxes back, byte-identical to the images that were stored.
package enum RestoreJob {
    /// Sealed bytes a worker reads at once (its window): half of `TargetBlobReader`'s most,
    /// so that three workers on two cores hold what two held (docs/PROFILES.md, "Bulk writes").
    static let readGroupBytes = 4 << 20

    /// Mailboxes restored at once by default: one per core, and one more (a worker waits on
    /// its reads and direct writes part of the time, and another keeps the cores busy); from a
    /// target that takes several requests at once (S3's `concurrency`), at least that many and
    /// one more, since each worker has one request in flight and waits out its round trip.
    /// Measured on SeaweedFS over loopback (docs/PROFILES.md, "Restore workers for S3"): 5
    /// workers instead of 3 took 3–7 % less wall time for 18 MiB more memory.
    static func defaultParallelism(readingFrom store: (any ObjectStore)?) -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount + 1
        return max(cores, (store?.uploadConcurrency ?? 1) + 1)
    }

    /// Threads that open each worker's blobs: the cores the workers leave idle, shared among
    /// the mailboxes restored at once (1 when there are at least as many mailboxes as cores).
    static func openers(mailboxes: Int, parallelism: Int) -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return max(1, cores / max(1, min(parallelism, mailboxes)))
    }

    package struct Options: Sendable {
        package var selection: RestoreSelection = .latest
        package var mailboxes: [String] = []
        package var destination: String = ""
        package var force = false
        /// Restore into the live store: what is in the way (the mailbox, its -wal, -shm,
        /// -journal) is moved aside, never left for SQLite to apply to the restored image.
        package var inPlace = false
        /// Owner and group of every file and folder the restore creates (nil: the caller's).
        package var owner: (uid: uid_t, gid: gid_t)?
        /// Whose snapshots a point in time chooses among (default: this host's, this store's).
        package var host: String?
        /// Read from this target only (default: the first target that has what is needed).
        package var target: String?
        /// Mailboxes restored at once; nil: `defaultParallelism` for the target read first.
        package var parallelism: Int?
        /// Show progress on standard error (when it is a terminal).
        package var progress = false
        package init() {}
    }

    package struct Report: Sendable, Codable {
        package struct Restored: Sendable, Codable {
            package var mailbox: String
            package var snapshot: String
            package var consistentAt: String
            package var size: Int64
            package var path: String
            package var target: String
            /// With --in-place: what was in the way, and where it was moved.
            package var movedAside: [MovedAside] = []
        }
        package struct MovedAside: Sendable, Codable {
            package var from: String
            package var to: String
        }
        package struct Failure: Sendable, Codable {
            package var mailbox: String
            package var code: ErrorCode
            package var error: String
        }
        package var host: String
        package var storePath: String
        package var restored: [Restored]
        package var failures: [Failure]
        /// Targets that lack snapshots other targets hold (a backup they missed).
        package var gaps: [SnapshotCatalogue.Gap] = []
        /// Targets that could not be read at all.
        package var unreadable: [SnapshotCatalogue.Unreadable] = []
        /// Manifests ignored: damaged on every target, or invalid.
        package var rejected: [SnapshotCatalogue.Rejected] = []
        /// Requests and bytes read from each target.
        package var transfer: [TargetTransfer] = []
        /// Mailboxes restored at once (`--parallelism`, or the default for the target read).
        package var parallelism = 1
        package var durationSeconds: Double
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           options: Options, logger: Logger) throws(CoreError) -> Report {
        let clock = ContinuousClock.now
        guard !options.destination.isEmpty else {
            throw CoreError(.restoreNoDestination, message: "give a destination folder with --to DIR")
        }
        try refuseLiveStore(options.destination, store: configuration.store.path, inPlace: options.inPlace)
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, only: options.target, use: .read,
                                          logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        var stores = repository.stores
        if let wanted = options.target {
            stores = stores.filter { $0.targetName == wanted }
            if stores.isEmpty {
                throw CoreError(.restoreUnknownTarget, message: "no target named \(wanted) in the configuration (targets: \(repository.stores.map(\.targetName).joined(separator: ", ")))")
            }
        }
        let catalogue = try SnapshotCatalogue.gather(repository, stores: stores, keys: keys)
        let scope = catalogue.scope(host: options.host, configuredStore: configuration.store.path, thisHost: configuration.hostName)
        let cache = NodeCache.forReading(configuration.stateDirectory, repository: repository.id, keys: keys)
        let choice = try catalogue.select(options.selection, mailboxes: options.mailboxes, scope: scope,
                                          entries: TargetEntries(stores: stores, keys: keys, cache: cache))
        let chosen = choice.images
        let destination = try Destination(options.destination, owner: options.owner)

        // Mailboxes are restored by a bounded pool of workers (one per core), each with its own
        // reader per target. Every chunk is found from the file's own tree: no index is read.
        // A mailbox that cannot be restored is reported and the others go on.
        // Lower priority first; among equals, the target that answered fastest.
        let readFrom = MeteredStore.readOrder(stores)
        let progress = Progress(enabled: options.progress && StandardStreams.errorIsTerminal, verb: "restored",
                                total: chosen.count, totalBytes: chosen.reduce(0) { $0 + $1.entry.size })
        defer { progress.finish() }
        // The largest mailboxes first, as a backup reads them (`LargestFirst`).
        let order = LargestFirst.order(chosen.map(\.entry.size))
        let work = order.map { chosen[$0] }
        let parallelism = options.parallelism ?? Self.defaultParallelism(readingFrom: readFrom.first)
        // Fewer mailboxes than cores (one large mailbox after an incident): each worker's reader
        // opens its blobs on several threads, so that the idle cores decrypt and hash too.
        let openers = Self.openers(mailboxes: work.count, parallelism: parallelism)
        let outcome = WorkerPool(parallelism: parallelism).run(
            work,
            progress: { step in
                progress.update(done: step.completed, bytes: step.bytes, current: work[step.index].entry.path)
            },
            worker: { () throws(MailboxFailure) -> [String: TargetBlobReader] in [:] }
        ) { (readers: inout [String: TargetBlobReader], work: (snapshot: SnapshotCatalogue.Item, entry: SnapshotManifest.FileEntry),
             context: WorkerPool.Context) throws(MailboxFailure) -> Report.Restored in
            // The targets that hold the snapshot first: a target that missed the run may lack
            // its chunks.
            let holders = Set(work.snapshot.targets)
            let ordered = readFrom.filter { holders.contains($0.targetName) } + readFrom.filter { !holders.contains($0.targetName) }
            let restored = try restoreMailbox(work.entry, snapshot: work.snapshot.id, from: ordered, readers: &readers,
                                              cache: cache, keys: keys, destination: destination, options: options,
                                              openers: openers)
            context.count(bytes: restored.size)
            return restored
        }
        var restored: [Report.Restored] = []
        var failures: [Report.Failure] = []
        // Reported in the selection's order, whatever order they were restored in.
        var results = [Result<Report.Restored, MailboxFailure>?](repeating: nil, count: chosen.count)
        for (position, index) in order.enumerated() { results[index] = outcome.results[position] }
        for result in results {
            switch result {
            case .success(let item): restored.append(item)
            case .failure(let failure): failures.append(failure.failure)
            case nil: break
            }
        }
        for mailbox in choice.absent {
            failures.append(Report.Failure(mailbox: mailbox, code: .restoreNoSnapshot,
                                           error: "\(mailbox) existed at that moment but no snapshot holds an image of it consistent by then (every backup of it failed); see drctl snapshots --mailbox \(mailbox)"))
        }
        return Report(host: scope.host, storePath: scope.storePath, restored: restored, failures: failures,
                      gaps: catalogue.gaps,
                      unreadable: repository.unavailable.filter { unavailable in options.target.map { $0 == unavailable.target } ?? true }
                          .map { .init(target: $0.target, code: $0.error.code, error: $0.error.message) } + catalogue.unreadable,
                      rejected: catalogue.rejected + choice.rejected,
                      transfer: TargetTransfer.of(repository.stores), parallelism: parallelism,
                      durationSeconds: Elapsed.seconds(since: clock))
    }

    /// One mailbox, from the first target that can provide it whole: a damaged or missing
    /// object on one target is read from another.
    /// - Parameter readers: this worker's reader per target (each caches a pack window).
    static func restoreMailbox(_ entry: SnapshotManifest.FileEntry, snapshot: String, from stores: [any ObjectStore],
                               readers: inout [String: TargetBlobReader], cache: NodeCache?, keys: RepositoryKeys,
                               destination: Destination, options: Options,
                               openers: Int) throws(MailboxFailure) -> Report.Restored {
        let target = destination.display(entry.path)
        func failure(_ error: any DRError) -> MailboxFailure {
            MailboxFailure(.init(mailbox: entry.path, code: error.code, error: error.message))
        }
        // Manifests are validated when read; checked again here because this is where a path
        // meets the filesystem.
        if let problem = SnapshotManifest.pathProblem(entry.path) {
            throw failure(CoreError(.restoreBadManifest, message: "mailbox path \(entry.path.debugDescription) \(problem); not restored"))
        }
        let folder: Destination.Folder
        do { folder = try destination.folder(for: entry.path) } catch { throw failure(error) }
        do {
            try folder.checkWay(force: options.force, inPlace: options.inPlace)
        } catch {
            throw failure(error)
        }
        var lastFailure: (any DRError)?
        for store in stores {
            do {
                if readers[store.targetName] == nil {
                    readers[store.targetName] = TargetBlobReader(store: store, keys: keys, cache: cache,
                                                                 groupBytes: Self.readGroupBytes, openers: openers)
                }
                guard let reader = readers[store.targetName] else { continue }
                let moved = try restoreFile(entry, from: reader, into: folder, options: options)
                return Report.Restored(mailbox: entry.path, snapshot: snapshot, consistentAt: entry.consistentAt,
                                       size: entry.size, path: target, target: store.targetName, movedAside: moved)
            } catch let error as CoreError where [.restoreExists, .restoreLiveCompanion, .restoreUnsafePath].contains(error.code) {
                // About the destination, not the target: another target would meet it too.
                throw failure(error)
            } catch {
                lastFailure = CoreError(error)
            }
        }
        // `stores` is never empty (the catalogue was read from one of them).
        let moved = folder.moved.isEmpty ? "" : "; what was in the way is moved aside: "
            + folder.moved.map { "\($0.from) → \($0.to)" }.joined(separator: ", ") + " (rename it back to undo)"
        throw MailboxFailure(.init(mailbox: entry.path, code: lastFailure?.code ?? .restoreNoTarget,
                                   error: (lastFailure?.message ?? "no target to read from") + moved))
    }

    /// One mailbox that could not be restored: the pool's failure for that item (reported,
    /// the others go on).
    struct MailboxFailure: Error {
        let failure: Report.Failure
        init(_ failure: Report.Failure) { self.failure = failure }
    }

    /// Refuses a destination inside the live mail store without `--in-place`: files restored
    /// there sit beside a live -wal or -shm that SQLite would apply to them, under a running
    /// mail server. Paths are compared resolved (symbolic links and `..` followed).
    static func refuseLiveStore(_ destination: String, store: String, inPlace: Bool) throws(CoreError) {
        guard !inPlace, let live = resolved(store), let target = resolved(destination) else { return }
        if target == live || target.hasPrefix(live == "/" ? "/" : live + "/") {
            throw CoreError(.restoreInsideStore, message: "\(destination) is inside the live mail store \(store): restore to a staging folder, or stop the mail server and pass --in-place (the live mailboxes and their -wal, -shm, -journal are then moved aside, never applied to the restored images)")
        }
    }

    /// `path` with symbolic links resolved, also when its last components do not exist yet
    /// (the nearest existing ancestor is resolved and the rest appended).
    static func resolved(_ path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var existing = absolute
        var rest: [String] = []
        while true {
            if let real = realpath(existing, nil) {
                defer { free(real) }
                var result = String(cString: real)
                for part in rest.reversed() where part != "." && !part.isEmpty {
                    if part == ".." {
                        result = Folders.parent(of: result)
                    } else {
                        result += (result == "/" ? "" : "/") + part
                    }
                }
                return result
            }
            guard existing != "/" && !existing.isEmpty else { return nil }
            rest.append(String(existing.split(separator: "/").last ?? ""))
            existing = Folders.parent(of: existing)
        }
    }

    /// Writes one file through `AtomicFile`, relative to the descriptor of its folder: to a
    /// temporary name beside it, every chunk verified against its id (and every tree node
    /// against its own, so the root in the manifest vouches for every byte), its size checked,
    /// its owner and mode applied, fsynced, then linked into place (renamed over the old file
    /// with --force). On any failure the temporary file is removed and nothing else is touched.
    /// - Returns: with --in-place, what was moved out of the way.
    static func restoreFile(_ entry: SnapshotManifest.FileEntry, from reader: TargetBlobReader,
                            into folder: Destination.Folder, options: Options) throws -> [Report.MovedAside] {
        let file: AtomicFile
        do {
            // Never a set-id or execute bit: the store's owner could set them, and a restore
            // run as root would then create a root-owned set-uid file. The owner keeps read
            // and write (the mail server must open it).
            // A bulk file: gathered into 4 MiB pieces and written past the page cache where
            // the file system allows (a restore of the whole store would otherwise push the
            // running mail server's pages out of memory).
            file = try AtomicFile(folder: folder.fd, name: folder.name, displayPath: folder.path,
                                  mode: mode_t(entry.mode & 0o666) | 0o600, bulk: true)
        } catch {
            throw CoreError(.restoreCreate, message: error.message)
        }
        file.owner = options.owner
        // Dropped uncommitted on any throw below: the temporary file goes with it.
        do {
            // Chunks are small (one page); the bulk file gathers them into large writes.
            var total: Int64 = 0
            try FileTree.forEachChunk(root: entry.root, reader: reader, context: "mailbox \(entry.path)") { chunk in
                // Checked as it grows, not only at the end: a forged tree naming more bytes
                // than the entry records must not fill the destination's disk first.
                total += Int64(chunk.count)
                guard total <= entry.size else {
                    throw CoreError(.restoreSizeMismatch, message: "\(entry.path): its chunks hold more than the \(entry.size) bytes the snapshot recorded (a damaged or forged tree); nothing was written")
                }
                try file.write(chunk)
            }
            guard file.size == entry.size else {
                throw CoreError(.restoreSizeMismatch, message: "\(entry.path): restored \(file.size) bytes, the snapshot recorded \(entry.size); nothing was written")
            }
            // Only now, with the whole image in hand: what was in the way goes aside.
            if options.inPlace { try folder.moveAside() }
            // Link, not rename, unless told to replace: a file that appeared since the check is
            // not overwritten.
            if let error = commit(file, options.force && !options.inPlace ? .replace : .writeOnce) {
                if error.code == .fileExists {
                    throw CoreError(.restoreExists, message: "\(folder.path) appeared while it was restored; refusing to overwrite it (use --force, or restore to another folder)")
                }
                throw error
            }
            return folder.moved
        } catch let error as BaseError {
            throw CoreError(.restoreIo, message: error.message)
        }
    }

    private static func commit(_ file: AtomicFile, _ publication: AtomicFile.Publication) -> BaseError? {
        do { try file.commit(publication) } catch { return error }
        return nil
    }

    /// Parses `--owner USER[:GROUP]`: names or numbers; without a group, the user's own.
    package static func parseOwner(_ text: String) throws(CoreError) -> (uid: uid_t, gid: gid_t) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let user = parts[0]
        let group = parts.count > 1 ? parts[1] : nil
        guard !user.isEmpty, group?.isEmpty != true else {
            throw CoreError(.restoreOwner, message: "--owner \(text): give USER or USER:GROUP (names or numbers)")
        }
        let uid: uid_t
        var primary: gid_t?
        if let number = UInt32(user) {
            uid = number
            if let entry = getpwuid(number) { primary = entry.pointee.pw_gid }
        } else if let entry = getpwnam(user) {
            uid = entry.pointee.pw_uid
            primary = entry.pointee.pw_gid
        } else {
            throw CoreError(.restoreOwner, message: "--owner \(text): no user named \(user) on this host")
        }
        let gid: gid_t
        if let group {
            if let number = UInt32(group) {
                gid = number
            } else if let entry = getgrnam(group) {
                gid = entry.pointee.gr_gid
            } else {
                throw CoreError(.restoreOwner, message: "--owner \(text): no group named \(group) on this host")
            }
        } else if let primary {
            gid = primary
        } else {
            throw CoreError(.restoreOwner, message: "--owner \(text): user \(user) has no entry on this host, so no group of its own: give --owner \(user):GROUP")
        }
        return (uid, gid)
    }
}

/// The destination folder, opened once: every restored file is reached from its descriptor
/// one component at a time with O_NOFOLLOW, so a symbolic link placed anywhere below it (by
/// whoever can write there, such as the mail server's account in the live store) is refused,
/// never followed out of it.
final class Destination: Sendable {
    let path: String
    let fd: Int32
    let owner: Owner?
    struct Owner: Sendable { let uid: uid_t; let gid: gid_t }

    init(_ path: String, owner: (uid: uid_t, gid: gid_t)?) throws(CoreError) {
        self.path = path
        self.owner = owner.map { Owner(uid: $0.uid, gid: $0.gid) }
        var info = stat()
        let existed = stat(path, &info) == 0
        // Folders the restore makes are private: the mailboxes are not for other users.
        let err = Folders.create(path, mode: 0o700)
        if err != 0 {
            throw CoreError(.restoreDestination, message: "cannot create the destination folder \(path): \(errnoDescription(err))")
        }
        // The operator's own path is followed (it may be a link to a mount); nothing below it is.
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw CoreError(.restoreDestination, message: "cannot open the destination folder \(path): \(errnoDescription(errno))")
        }
        if !existed, let owner, fchown(fd, owner.uid, owner.gid) != 0 {
            let err = errno
            close(fd)
            throw CoreError(.restoreDestination, message: "cannot give the destination folder \(path) to uid \(owner.uid) gid \(owner.gid): \(errnoDescription(err))")
        }
    }

    deinit { close(fd) }

    func display(_ relative: String) -> String { path + "/" + relative }

    /// The open folder of one restored file, its name in it, and its full path for messages.
    final class Folder {
        let fd: Int32
        let name: String
        let path: String
        /// What `moveAside` moved, over every attempt (a target that fails after the move
        /// leaves the next one nothing to move, but the report must still say where it went).
        private(set) var moved: [RestoreJob.Report.MovedAside] = []

        init(fd: Int32, name: String, path: String) {
            self.fd = fd
            self.name = name
            self.path = path
        }
        deinit { close(fd) }

        static let companions = ["-wal", "-shm", "-journal"]

        private func exists(_ name: String) -> Bool {
            var info = stat()
            return fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0
        }

        /// Refuses early what the restore would refuse at the end: an existing file without
        /// --force, and a -wal, -shm or -journal beside it without --in-place (SQLite would
        /// apply a stale WAL or journal to the restored image).
        func checkWay(force: Bool, inPlace: Bool) throws(CoreError) {
            guard !inPlace else { return }
            if let companion = Self.companions.first(where: { exists(name + $0) }) {
                throw CoreError(.restoreLiveCompanion, message: "\(path)\(companion) exists: SQLite would apply it to the restored \(path); stop the mail server and restore with --in-place (it moves the -wal, -shm and -journal aside), or restore to another folder")
            }
            if !force && exists(name) {
                throw CoreError(.restoreExists, message: "\(path) exists; refusing to overwrite it (use --force, or restore to another folder)")
            }
        }

        /// Moves the file in the way and its companions to `<name>.drctl-aside-<time>`
        /// (never over another file), so that nothing stale meets the restored image and
        /// nothing is destroyed.
        func moveAside() throws(CoreError) {
            let stamp = Timestamps.format(Date()).filter { $0.isNumber }
            for suffix in [""] + Self.companions where exists(name + suffix) {
                let old = name + suffix
                var attempt = 0
                while true {
                    let aside = "\(old).drctl-aside-\(stamp)" + (attempt == 0 ? "" : "-\(attempt)")
                    if linkat(fd, old, fd, aside, 0) == 0 {
                        if unlinkat(fd, old, 0) != 0 {
                            throw CoreError(.restoreIo, message: "cannot move \(Folders.parent(of: path))/\(old) aside: \(errnoDescription(errno))")
                        }
                        moved.append(.init(from: Folders.parent(of: path) + "/" + old, to: Folders.parent(of: path) + "/" + aside))
                        break
                    }
                    let err = errno
                    guard err == EEXIST, attempt < 100 else {
                        throw CoreError(.restoreIo, message: "cannot move \(Folders.parent(of: path))/\(old) aside to \(aside): \(errnoDescription(err))")
                    }
                    attempt += 1
                }
            }
        }
    }

    /// Opens (creating, mode 0700 and the owner, when missing) each folder of `relative`
    /// below the destination, never following a symbolic link.
    func folder(for relative: String) throws(CoreError) -> Folder {
        let parts = relative.split(separator: "/").map(String.init)
        var current = dup(fd)
        if current < 0 { throw CoreError(.restoreIo, message: "cannot open \(path): \(errnoDescription(errno))") }
        var walked = path
        for part in parts.dropLast() {
            walked += "/" + part
            var created = false
            if mkdirat(current, part, 0o700) == 0 {
                created = true
                _ = fsync(current)
            } else if errno != EEXIST {
                let err = errno
                close(current)
                throw CoreError(.restoreCreate, message: "cannot create the folder \(walked): \(errnoDescription(err))")
            }
            let next = openat(current, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let err = errno
            close(current)
            if next < 0 {
                if err == ELOOP || err == ENOTDIR {
                    throw CoreError(.restoreUnsafePath, message: "\(walked) is a symbolic link or not a folder; a restore never follows a link below its destination: remove it, or restore to another folder")
                }
                throw CoreError(.restoreCreate, message: "cannot open the folder \(walked): \(errnoDescription(err))")
            }
            if created, let owner, fchown(next, owner.uid, owner.gid) != 0 {
                let err = errno
                close(next)
                throw CoreError(.restoreCreate, message: "cannot give the folder \(walked) to uid \(owner.uid) gid \(owner.gid): \(errnoDescription(err))")
            }
            current = next
        }
        return Folder(fd: current, name: parts.last ?? "", path: walked + "/" + (parts.last ?? ""))
    }
}
