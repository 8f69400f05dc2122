package import DRBase
package import DRTransport
import DRChunking
import DRCompression
package import DRConfig
import DRCrypto
package import DRRepository
package import DRImage
import Foundation
package import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `drctl backup`: one consistent image of every mailbox, deduplicated into the repository
/// on every target, recorded in one snapshot manifest.
package enum BackupJob {
    /// The zstd level of the blobs (pages of plain mailboxes, tree and list nodes). Level 1
    /// for `standard`: on 4 KiB mail pages it stores within 0.2 % of level 3's bytes (492
    /// against 491 MiB for the bench's 845 MiB plain store) for 10 % less CPU in a full
    /// backup (docs/PROFILES.md, "Bulk writes"). `fast` is level -1 (zstd leaves literals
    /// uncompressed). With `off`, nodes are still compressed at level 1 (pages are not).
    /// Readers take any level.
    static func zstdLevel(_ compression: Configuration.Backup.Compression) -> Int {
        compression == .fast ? -1 : 1
    }

    package struct Options: Sendable {
        /// Mailbox ids (paths relative to the store) to back up; empty means all.
        package var mailboxes: [String] = []
        /// Target chunk size for SQLite images, rounded down to a whole number of pages (at
        /// least one). The default makes every page a chunk: pages are the unit that changes,
        /// and larger chunks store 2–4× the changed bytes for SQLCipher's 1 KiB pages
        /// (measured; see docs/ARCHITECTURE.md, "Chunk size").
        package var chunkBytes: Int = 1024
        package var packBytes: Int = 16 << 20
        /// How pages are compressed; nil: the configuration's `[backup] compression`.
        package var compression: Configuration.Backup.Compression?
        /// Whether pages of plain mailboxes (and files that are not SQLite) go through zstd.
        var compressesPages: Bool { compression != .off }
        /// Show progress on standard error (when it is a terminal).
        package var progress: Bool = false
        package var imageOptions = ImageOptions()
        /// Rollback-mode images larger than this are spooled rather than chunked under
        /// SQLite's SHARED lock (which keeps writers out for as long as it is held). Default:
        /// all of them; the spool needs temporary space for the images being backed up.
        package var spoolAbove: Int64 = 0
        /// Where rollback-mode images are spooled: `<[state] path>/spool`, set by `run`.
        var spoolDirectory: String = "/var/lib/drctl/spool"

        func spooling(to folder: String) -> Options {
            var copy = self
            copy.spoolDirectory = folder
            return copy
        }
        /// Seconds to wait for another backup of this host (the frequent timer's, an
        /// operator's) to finish before giving up with `lock.busy`; `drctl run` waits.
        package var waitForLock: Double = 0
        /// Files processed at once (default: one per core).
        package var parallelism = ProcessInfo.processInfo.activeProcessorCount
        package init() {}
    }

    package struct Report: Sendable, Codable {
        package struct TargetResult: Sendable, Codable {
            package var name: String
            package var ok: Bool
            package var error: String?
            package var storedBytes: Int64
            /// Requests and bytes this run sent to and read from the target.
            package var transfer: TargetTransfer?
            /// Damage found on this target, which still took this backup (a lost pack whose
            /// chunks were stored again, a damaged index object or snapshot record): the
            /// target is degraded until `check` is clean.
            package var degraded: [String] = []
            /// What this run copied to the target from the others before it backed up, because
            /// the target lacked snapshots they hold (it was down for a run): the missed
            /// snapshots and their packs (`SyncJob.catchUp`). Nil when it lacked none.
            package var caughtUp: SyncJob.Counts?
        }
        package struct Failure: Sendable, Codable {
            package var mailbox: String
            package var code: ErrorCode
            package var error: String
        }
        package var snapshot: String?
        package var time: String
        package var files: Int
        package var filesUnchanged: Int
        package var bytesRead: Int64
        package var imageBytes: Int64
        package var newChunks: Int
        package var newChunkBytes: Int64
        /// What one target received, by kind (data, tree and list nodes, pack headers, the
        /// manifest): the metadata overhead, measured.
        package var stored: BackupWriter.Stored
        package var durationSeconds: Double
        /// Mailboxes compared with what an interrupted run had stored (this host's journal).
        package var resumed: Int = 0
        package var targets: [TargetResult]
        package var failures: [Failure]
        /// Mailboxes that were deleted after the store was listed (not failures).
        package var vanished: [String] = []
        /// Entries of the store that are, or may hold, mailboxes and were not backed up (links,
        /// special files, names that are not UTF-8, folders that could not be read), with why.
        package var skipped: [MailStore.Skipped] = []
        /// Success only when every mailbox of the store reached every target and no target was
        /// found damaged: a mailbox left out for any reason but its deletion makes the run
        /// fail, so no omission is silent.
        package var complete: Bool { failures.isEmpty && skipped.isEmpty && targets.allSatisfy { $0.ok && $0.degraded.isEmpty } }
        /// How the run ends: success; degraded when every mailbox reached at least one target
        /// but some target missed the snapshot or was found damaged; failure when a mailbox
        /// was not backed up at all.
        package var exitStatus: ExitStatus {
            if !failures.isEmpty || !skipped.isEmpty || snapshot == nil { return complete ? .success : .failure }
            return complete ? .success : .degraded
        }
    }

    /// Prepares (`BackupPlan`), backs the mailboxes up on a pool of workers
    /// (`backUpMailboxes`), tallies what became of them (`BackupTally`) and commits the
    /// manifest (`commit`).
    package static func run(_ configuration: Configuration, secrets: SecretSources,
                           options: Options, logger: Logger) throws(CoreError) -> Report {
        try runKnowing(configuration, secrets: secrets, options: options, logger: logger).report
    }

    /// `run`, and what the run knows of the status after it when it ended whole (nil
    /// otherwise): the metrics take it instead of measuring the status again.
    package static func runKnowing(_ configuration: Configuration, secrets: SecretSources, options given: Options,
                                   logger: Logger) throws(CoreError) -> (report: Report, status: StatusJob.Known?) {
        var options = given
        options.compression = options.compression ?? configuration.backup.compression
        let started = Date()
        let clock = ContinuousClock.now
        let plan = try BackupPlan.prepare(configuration, secrets: secrets, options: options, logger: logger)
        defer {
            plan.runRecord.end()
            withExtendedLifetime(plan.lock) {}
        }
        let tally = BackupTally(try backUpMailboxes(plan), mailboxes: plan.mailboxes)
        return try commit(tally, plan: plan, configuration: configuration, started: started, clock: clock)
    }

    /// The pool step: every mailbox of the plan, on `parallelism` workers (one per core by
    /// default). Each worker reads its mailbox's image and hashes, compresses and seals its
    /// chunks with a compressor of its own; the writer serializes only the claim of new ids and
    /// the append to the open pack. A mailbox that cannot be read is recorded and the others go
    /// on; a store error (a chunk claimed but not stored, every target failed) stops the pool.
    /// - Returns: what became of each mailbox, in the plan's order.
    static func backUpMailboxes(_ plan: BackupPlan) throws(CoreError) -> [FileOutcome?] {
        let writer = plan.writer, options = plan.options, imageOptions = plan.imageOptions
        let mailboxes = plan.mailboxes, previous = plan.previous, resume = plan.resume, storePath = plan.storePath
        let progress = Progress(enabled: options.progress && StandardStreams.errorIsTerminal, verb: "read", total: mailboxes.count)
        defer { progress.finish() }
        // Positions, not copies of the mailboxes: the pool's queue holds every item at once.
        let order = readingOrder(mailboxes)
        let outcome = WorkerPool(parallelism: options.parallelism).run(
            order,
            // Only store errors are thrown: everything else is one mailbox's failure.
            isFatal: { _ in true },
            progress: { step in
                progress.update(done: step.completed, bytes: step.bytes, current: mailboxes[order[step.index]].id,
                                detail: "\(ByteSize.format(writer.newChunkBytes)) new")
            },
            worker: { () throws(StoreFailure) in
                do throws(RepositoryError) { return try writer.makeWorker() } catch { throw StoreFailure(error) }
            }
        ) { (worker: inout BackupWorker, position: Int, context: WorkerPool.Context) throws(StoreFailure) -> FileOutcome in
            let mailbox = mailboxes[position]
            let outcome: FileOutcome
            do throws(RepositoryError) {
                outcome = try backUpMailbox(mailbox, previous: previous.entries.entry(mailbox.id), resume: resume[mailbox.id],
                                            writer: writer, worker: worker, options: options, imageOptions: imageOptions)
            } catch {
                throw StoreFailure(error)
            }
            if case .entry(let entry) = outcome {
                context.count(bytes: entry.size)
                writer.cache.journal(entry, store: storePath)
            }
            return outcome
        }
        if let fatal = outcome.fatal {
            // Nothing is committed: the packs already uploaded are indexed again by the next run.
            throw CoreError(fatal.error)
        }
        var results = [FileOutcome?](repeating: nil, count: mailboxes.count)
        for (position, index) in order.enumerated() {
            if case .success(let file)? = outcome.results[position] { results[index] = file }
        }
        return results
    }

    /// The order the workers take the mailboxes in, as positions in `mailboxes`: the largest
    /// first (their size when listed), ties in the given order (`LargestFirst`).
    static func readingOrder(_ mailboxes: [MailStore.Mailbox]) -> [Int] {
        LargestFirst.order(mailboxes.map(\.size))
    }

    /// One mailbox: its previous entry reused when nothing about the file changed, otherwise
    /// a new image stored. Throws only store errors (fatal to the run).
    /// - Parameters:
    ///   - previous: its newest entry, and whether that is of the newest snapshot's list.
    ///   - resume: what an interrupted run stored of this mailbox (this host's journal):
    ///     compared with, never trusted to skip the file.
    static func backUpMailbox(_ mailbox: MailStore.Mailbox, previous found: (entry: SnapshotManifest.FileEntry, newest: Bool)?,
                              resume: SnapshotManifest.FileEntry? = nil, writer: BackupWriter, worker: BackupWorker, options: Options,
                              imageOptions: ImageOptions) throws(RepositoryError) -> FileOutcome {
        // The listing's facts (taken after it read the mailbox's folder whole), else by path.
        let sourceState = MailStore.sourceState(of: mailbox)
        let previous = found?.entry
        let stamped = found.flatMap { Timestamps.parse($0.entry.consistentAt) }
        if !writer.lostPacks, let sourceState, let found, found.entry.sourceState == sourceState, settled(found.entry, stamped: stamped) {
            // Nothing about the file or its WAL changed: the committed content is the same, and
            // the entry is kept byte for byte (its consistentAt included), so that the list
            // node holding it is shared with the previous snapshot. It stays in
            // `Previous.entries` (coded) and is read from there when the list is built.
            return .unchanged(size: found.entry.size, newest: found.newest, consistentAt: stamped)
        }
        var imageOptions = imageOptions
        imageOptions.expectedIdentity = FileIdentity(device: mailbox.device, inode: mailbox.inode)
        do {
            return .entry(try backUpFile(mailbox, previous: resume ?? previous, writer: writer, worker: worker,
                                         options: options, imageOptions: imageOptions))
        } catch let error as RepositoryError {
            throw error
        } catch let error as any DRError {
            if error.code == .imageMissing && MailStore.sourceState(of: mailbox.path) == nil {
                // Deleted between listing and reading (an account removed): not a
                // failure of the backup; said in the report.
                return .vanished(mailbox.id)
            }
            return .failure(Report.Failure(mailbox: mailbox.id, code: error.code, error: error.message))
        } catch {
            return .failure(Report.Failure(mailbox: mailbox.id, code: .backupInternal, error: "\(error)"))
        }
    }

    /// How far apart two writes must be for the filesystem to give them different times.
    /// Linux stamps files from a clock that ticks every 1–10 ms (and lags the wall clock by up
    /// to one tick); a filesystem that keeps whole seconds only (ext4 with small inodes, FAT's
    /// 2 s) shows it by times without a fraction, and gets the coarse bound.
    static let fineGranularityNanoseconds: Int64 = 100_000_000
    static let coarseGranularityNanoseconds: Int64 = 2_000_000_000

    /// git's racy-clean rule: equal stat facts prove equal content only if every time in them
    /// is older, by more than the timestamp granularity, than the moment they were taken.
    /// Otherwise a write right after that moment, in the same tick and of the same size, would
    /// leave them equal and never be backed up.
    /// - Parameter stamped: `entry.consistentAt` parsed (by the caller, who keeps it).
    static func settled(_ entry: SnapshotManifest.FileEntry, stamped: Date?) -> Bool {
        guard let stamped else { return false }
        let state = entry.sourceState
        let times = [state.mtimeNanoseconds, state.ctimeNanoseconds, state.walMtimeNanoseconds, state.walCtimeNanoseconds]
            .compactMap { $0 }
        let wholeSeconds = times.allSatisfy { $0 % 1_000_000_000 == 0 }
        let granularity = wholeSeconds ? coarseGranularityNanoseconds : fineGranularityNanoseconds
        let limit = Int64((stamped.timeIntervalSince1970 * 1000).rounded(.down)) * 1_000_000 - granularity
        return times.allSatisfy { $0 < limit }
    }

    /// The last step: the manifest of the tallied entries written to every healthy target,
    /// and the report.
    static func commit(_ tally: BackupTally, plan: BackupPlan, configuration: Configuration, started: Date,
                       clock: ContinuousClock.Instant) throws(CoreError) -> (report: Report, status: StatusJob.Known?) {
        let writer = plan.writer, repository = plan.repository
        var statistics = tally.statistics
        statistics.newChunks = writer.newChunks
        statistics.newChunkBytes = writer.newChunkBytes
        statistics.durationSeconds = Elapsed.seconds(since: clock)
        let draft = SnapshotManifest(time: Timestamps.format(started), host: plan.host, storePath: plan.storePath,
                                     mailboxes: SnapshotManifest.ListRoot(count: 0, root: BlobRef.placeholder),
                                     statistics: statistics, wholeStore: plan.options.mailboxes.isEmpty,
                                     failed: tally.failures.map { .init(path: $0.mailbox, code: $0.code.rawValue, error: $0.error) })
        guard plan.runRecord.stillCovered else {
            throw CoreError(.backupExpired, message: "the backup started at \(Timestamps.format(plan.runRecord.started)) and ran past [prune] backup_expiry (its run record expires \(Timestamps.format(plan.runRecord.expires))): it is not committed, since a prune may since have deleted packs it relied on; run it again, and raise backup_expiry if backups take this long")
        }
        let name: String
        let manifest: SnapshotManifest
        do {
            (name, manifest) = try writer.commit(draft, inPathOrder: { (add) throws(RepositoryError) in
                                                     try tally.forEachEntryInPathOrder(mailboxes: plan.mailboxes, previous: plan.previous.entries, add)
                                                 },
                                                 previousList: plan.previous.listNodes,
                                                 sameList: BackupWriter.sameList(reusedFromNewest: tally.reusedFromNewest, others: tally.others,
                                                                                 previous: plan.previous))
        } catch {
            throw CoreError(error)
        }
        let transfers = TargetTransfer.of(repository.stores)
        let targets = repository.stores.map { store in
            let caughtUp = plan.caughtUp[store.targetName]
            return Report.TargetResult(name: store.targetName, ok: writer.failures[store.targetName] == nil,
                                       error: writer.failures[store.targetName]?.message,
                                       storedBytes: writer.storedBytes[store.targetName] ?? 0,
                                       transfer: transfers.first { $0.target == store.targetName },
                                       degraded: ((writer.degraded[store.targetName] ?? [])
                                                  + repository.damagedKeys.filter { $0.context.target == store.targetName })
                                           .map(\.message)
                                           + (caughtUp.map { $0.failures + $0.readFailures } ?? []).map(\.message),
                                       caughtUp: caughtUp.flatMap { $0.destination ? $0.copied : nil })
        } + repository.unavailable.map { unavailable in
            Report.TargetResult(name: unavailable.target, ok: false, error: unavailable.error.message,
                                storedBytes: 0, transfer: nil)
        }
        let known = StatusJob.Known(name: name, manifest: manifest, entries: tally.facts, failures: tally.failures.count,
                                    tookIt: targets.filter(\.ok).map(\.name), configuration: configuration,
                                    previous: plan.previous, now: Date())
        let report = Report(snapshot: String(name.dropFirst("snapshots/".count)), time: draft.time,
                      files: tally.statistics.files, filesUnchanged: statistics.filesUnchanged,
                      bytesRead: statistics.bytesRead, imageBytes: statistics.imageBytes,
                      newChunks: writer.newChunks, newChunkBytes: writer.newChunkBytes, stored: writer.stored,
                      durationSeconds: Elapsed.seconds(since: clock),
                      resumed: plan.resume.isEmpty ? 0 : tally.readAgain.filter { plan.resume[$0] != nil }.count,
                      targets: targets, failures: tally.failures,
                      vanished: tally.vanished, skipped: plan.skipped)
        return (report, known)
    }

    /// Snapshots one file and stores its chunks. Called again from the start by the snapshot
    /// module if the file changed under an unprotected copy, so all state is local.
    static func backUpFile(_ mailbox: MailStore.Mailbox, previous: SnapshotManifest.FileEntry?,
                           writer: BackupWriter, worker: BackupWorker, options: Options,
                           imageOptions: ImageOptions) throws -> SnapshotManifest.FileEntry {
        var spooled: (spool: Spool, metadata: ImageMetadata, consistentAt: String)?
        let entry = try ImageCapture.withConsistentImage(of: mailbox.path, options: imageOptions) { (reader) throws -> SnapshotManifest.FileEntry? in
            // The moment the stat facts were taken under the lock, not a later one: the next
            // run's racy-clean check (`settled`) measures the file's times against it.
            let consistentAt = reader.metadata.sourceStamp.map {
                Timestamps.format(Date(timeIntervalSince1970: Double($0.stampedAtNanoseconds) / 1e9))
            } ?? Timestamps.format(Date())
            let state = reader.metadata.sourceStamp?.state
            if reader.metadata.mode == .rollback && reader.metadata.imageSize > options.spoolAbove {
                // Writers are locked out while a rollback database is read: the image is
                // copied aside at disk speed and chunked after the lock is gone. (Chunking
                // under the lock made a writer wait 462 ms where the spool made it wait 47,
                // measured by BackupLiveWriterTests.)
                let spool = try Spool(directory: options.spoolDirectory, pageSize: reader.metadata.pageSize)
                while true {
                    let block: [UInt8] = try reader.readBlock(maxBytes: 1 << 20)
                    if block.isEmpty { break }
                    try spool.append(block)
                }
                spooled = (spool, reader.metadata, consistentAt)
                return nil
            }
            spooled = nil
            return try chunk(reader, metadata: reader.metadata, mailbox: mailbox, state: state, previous: previous,
                             consistentAt: consistentAt, writer: writer, worker: worker, options: options)
        }
        if let entry { return entry }
        guard let spooled else {
            throw CoreError(.backupInternal, message: "\(mailbox.id): no image")
        }
        return try chunk(spooled.spool, metadata: spooled.metadata, mailbox: mailbox,
                         state: spooled.metadata.sourceStamp?.state, previous: previous,
                         consistentAt: spooled.consistentAt, writer: writer, worker: worker, options: options)
    }

    /// Cuts the image into chunks and stores those its previous version does not hold.
    ///
    /// SQLite rewrites a page where it lies, so the new image is compared with the previous
    /// version position by position (`TreeCursor`, streaming: memory does not grow with the
    /// file); a file that is not SQLite is cut by content, and compared by id with every chunk
    /// of its previous version (few: they average 1 MiB). A ref is reused only while every
    /// target holds its pack (`isShared`).
    private static func chunk(_ reader: any BlockSource, metadata: ImageMetadata, mailbox: MailStore.Mailbox,
                              state: SnapshotManifest.SourceState?, previous: SnapshotManifest.FileEntry?,
                              consistentAt: String, writer: BackupWriter, worker: BackupWorker,
                              options: Options) throws -> SnapshotManifest.FileEntry {
        let cursor = previous.flatMap { old in
            writer.healthyStores.first.map { TreeCursor(root: old.root, reader: writer.reader($0), context: "mailbox \(mailbox.id)") }
        }
        let nodes = FileNodeStore(worker: worker, writer: writer, cursor: cursor)
        var tree = ChunkTreeBuilder(keys: worker.keys, store: nodes)
        // The pages of an encrypted database are ciphertext: they never shrink, so they are
        // stored without trying zstd.
        let compressPages = ![.sqlite3mc, .sqlcipher].contains(metadata.cipher) && options.compressesPages
        var size: Int64 = 0
        if metadata.mode == .notSQLite {
            var known: [ChunkID: BlobRef] = [:]
            while let old = cursor?.next() {
                if writer.isShared(old) { known[old.id] = old }
            }
            var chunker = ContentDefinedChunker()
            let add = { (piece: [UInt8]) throws(RepositoryError) in
                let id = worker.keys.chunkID(of: piece)
                let ref: BlobRef
                if let reused = known[id] {
                    ref = reused
                } else {
                    ref = try worker.storeData(piece, id: id, compress: options.compressesPages)
                    known[id] = ref
                }
                try tree.add(ref)
            }
            while true {
                let block = try reader.readBlock(maxBytes: 1 << 20)
                if block.isEmpty { break }
                size += Int64(block.count)
                try chunker.append(block, emit: add)
            }
            try chunker.finish(emit: add)
        } else {
            let chunkBytes = max(1, options.chunkBytes / metadata.pageSize) * metadata.pageSize
            // About 1 MiB of whole chunks per read into one buffer, cut into chunks where they
            // lie: one read call per MiB, not per page, and no array per block or per page.
            let blockBytes = max(chunkBytes, (1 << 20) / chunkBytes * chunkBytes)
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 64)
            defer { block.deallocate() }
            while true {
                let got = try reader.read(into: block)
                if got == 0 { break }
                size += Int64(got)
                var start = 0
                while start < got {
                    let piece = UnsafeRawBufferPointer(rebasing: block[start..<min(start + chunkBytes, got)])
                    start += piece.count
                    let id = worker.keys.chunkID(of: piece)
                    if let old = cursor?.next(), old.id == id, writer.isShared(old) {
                        try tree.add(old)
                    } else {
                        try tree.add(try worker.storeData(piece, id: id, compress: compressPages))
                    }
                }
            }
        }
        var info = stat()
        let mode = lstat(mailbox.path, &info) == 0 ? UInt32(info.st_mode & 0o7777) : 0o600
        let chunks = tree.leafCount
        let root = try tree.finish()
        let notSQLite = metadata.mode == .notSQLite
        return SnapshotManifest.FileEntry(
            path: mailbox.id, kind: notSQLite ? "file" : "sqlite", size: size,
            mode: mode, snapshotMode: metadata.mode.rawValue, pageSize: notSQLite ? 0 : metadata.pageSize,
            pageCount: notSQLite ? 0 : metadata.pageCount, consistentAt: consistentAt,
            consistency: metadata.consistency.summary, root: root, chunks: chunks,
            sourceState: state ?? SnapshotManifest.SourceState(size: size, mtimeNanoseconds: 0, ctimeNanoseconds: 0,
                                                               inode: 0, device: 0, walSize: nil, walMtimeNanoseconds: nil,
                                                               walCtimeNanoseconds: nil, walInode: nil, journalPresent: false),
            unchanged: false)
    }
}

/// Where a file's tree nodes go: a node its previous version already has (same id: same
/// children at the same places) is reused when every target holds its pack; any other is
/// stored by the worker.
final class FileNodeStore: NodeStoring {
    let worker: BackupWorker
    let writer: BackupWriter
    let cursor: TreeCursor?

    init(worker: BackupWorker, writer: BackupWriter, cursor: TreeCursor?) {
        self.worker = worker
        self.writer = writer
        self.cursor = cursor
    }

    func storeNode(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind) throws(RepositoryError) -> BlobRef {
        if let old = cursor?.nodes[id], writer.isShared(old) { return old }
        return try worker.storeNode(plaintext, id: id, kind: kind)
    }
}

/// A store error that stops the backup's pool, boxed: the pool holds a `Result` per mailbox
/// until the run commits, and a bare `RepositoryError` would make each of them that large.
final class StoreFailure: Error, Sendable {
    let error: RepositoryError
    init(_ error: RepositoryError) { self.error = error }
}

/// What one file of a run came to.
enum FileOutcome: Sendable {
    /// A new entry (the file was read). Boxed (`indirect`): an outcome is then a few words,
    /// and the run holds one per mailbox until it commits.
    indirect case entry(SnapshotManifest.FileEntry)
    /// The previous entry holds (the file is unchanged); it stays in `Previous.entries`.
    /// `newest`: it is an entry of the newest snapshot's list; `consistentAt`: its time, parsed.
    case unchanged(size: Int64, newest: Bool, consistentAt: Date?)
    case failure(BackupJob.Report.Failure)
    case vanished(String)
}

/// The prepare step of a backup: everything the workers need, gathered before any mailbox is
/// read. Holding the plan holds the run lock.
struct BackupPlan {
    let lock: RunLock
    /// This run's `locks/run-*` on the targets (prune waits for it).
    let runRecord: BackupRunRecord
    let repository: Repository
    let writer: BackupWriter
    /// The mailboxes to back up, in id order.
    let mailboxes: [MailStore.Mailbox]
    /// What the listing found and left out (for the report and the exit status).
    let skipped: [MailStore.Skipped]
    /// Each mailbox's newest entry in a snapshot every healthy target holds (to skip
    /// unchanged files and compare changed ones), and the newest list's nodes.
    let previous: BackupWriter.Previous
    /// What an interrupted run of this store had stored, newer than `previous` (the journal).
    let resume: [String: SnapshotManifest.FileEntry]
    /// What the catch-up copied to targets that lacked snapshots, per target.
    let caughtUp: [String: SyncJob.TargetReport]
    let host: String
    let storePath: String
    let options: BackupJob.Options
    let imageOptions: ImageOptions

    /// Takes the run lock, opens the repository and the writer (presence cache brought up to
    /// date), lists the mailboxes and finds their previous entries.
    static func prepare(_ configuration: Configuration, secrets: SecretSources,
                        options: BackupJob.Options, logger: Logger) throws(CoreError) -> BackupPlan {
        let options = options.spooling(to: configuration.stateDirectory + "/spool")
        let lock = try RunLock(stateDirectory: configuration.stateDirectory, job: "backup", wait: options.waitForLock)
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, logger: logger)
        let host = configuration.hostName
        // First the run record, then the marks: a prune that marks after the record exists
        // waits for this run; one that marked before is seen here, and its packs not reused.
        let runRecord = BackupRunRecord(stores: repository.stores, host: host, storePath: configuration.store.path,
                                        lifetime: TimeInterval(configuration.prune.backupExpiry.seconds))
        let condemned: (packs: Set<PackID>, failures: [String: RepositoryError])
        do { condemned = PruneMarks.condemned(on: runRecord.holders, keys: try repository.derivedKeys()) } catch { throw CoreError(error) }
        // A target that missed runs gets their snapshots (and packs) first, so that this run's
        // previous snapshot is on every target and what those runs stored is not stored again.
        let caughtUp = SyncJob.catchUp(repository, stateDirectory: configuration.stateDirectory,
                                       progress: options.progress)
        let writer: BackupWriter
        do { writer = try BackupWriter(repository: repository,
                                       cacheFolder: "\(configuration.stateDirectory)/cache/\(repository.id)",
                                       compressionLevel: BackupJob.zstdLevel(options.compression ?? .standard),
                                       packSize: options.packBytes, condemned: condemned.packs,
                                       failedAtStart: runRecord.failures.merging(condemned.failures) { first, _ in first })
        } catch { throw CoreError(error) }
        let listing = try MailStore.list(root: configuration.store.path, include: configuration.store.include)
        var mailboxes = listing.mailboxes
        var skipped = listing.skipped
        if !options.mailboxes.isEmpty {
            let wanted = Set(options.mailboxes)
            let known = Set(mailboxes.map(\.id)).union(skipped.map(\.path))
            if let unknown = options.mailboxes.first(where: { !known.contains($0) }) {
                let unread = skipped.filter { $0.reason == .unreadableFolder }.map(\.path)
                throw CoreError(.backupUnknownMailbox, message: "mailbox \(unknown) is not in the mail store \(configuration.store.path) (mailbox ids are paths relative to it, as drctl snapshots lists them)"
                                + (unread.isEmpty ? "" : "; these folders of the store could not be read: \(unread.joined(separator: ", "))"))
            }
            mailboxes = mailboxes.filter { wanted.contains($0.id) }
            skipped = skipped.filter { wanted.contains($0.path) }
        }
        let previous: BackupWriter.Previous
        do {
            previous = try writer.previous(host: host, storePath: configuration.store.path,
                                           mailboxes: Set(mailboxes.map(\.id)))
        } catch {
            throw CoreError(error)
        }
        // A killed run's journal: each mailbox it finished is compared with what it stored
        // (newer than the last snapshot), so what reached every target is not stored again.
        let wanted = Set(mailboxes.map(\.id))
        let resume = writer.cache.journaled(store: configuration.store.path).filter { path, entry in
            guard wanted.contains(path) else { return false }
            guard let old = previous.entries.entry(path)?.entry else { return true }
            return entry.consistentAt > old.consistentAt
        }
        var imageOptions = options.imageOptions
        if imageOptions.pageSize == nil, let fallback = configuration.store.fallbackPageSize {
            imageOptions.pageSize = fallback
        }
        imageOptions.storeRoot = configuration.store.path
        return BackupPlan(lock: lock, runRecord: runRecord, repository: repository, writer: writer, mailboxes: mailboxes,
                          skipped: skipped, previous: previous, resume: resume, caughtUp: caughtUp, host: host,
                          storePath: configuration.store.path,
                          options: options, imageOptions: imageOptions)
    }
}

/// The aggregate step of a backup: the workers' outcomes, counted for the manifest's statistics
/// and the report, and handed to the list builder in path order at commit. Only the entries
/// of files read again are held here; an unchanged mailbox's is read from `Previous.entries`
/// when the list is built.
struct BackupTally {
    /// One per mailbox of the plan, in its order (nil: not taken, the pool stopped).
    let outcomes: [FileOutcome?]
    var failures: [BackupJob.Report.Failure] = []
    /// Mailboxes deleted after the store was listed.
    var vanished: [String] = []
    /// Files, image bytes, bytes read, unchanged files (the writer's counts are added at commit).
    var statistics = SnapshotManifest.Statistics()
    /// Entries reused unchanged from the newest snapshot's list, and every other entry
    /// (`BackupWriter.sameList`).
    var reusedFromNewest = 0
    var others = 0
    /// The mailboxes read again (their ids).
    var readAgain: [String] = []
    /// What the status after the run needs of the entries (`StatusJob.Known`).
    var facts = StatusJob.EntryFacts()

    init(_ outcomes: [FileOutcome?], mailboxes: [MailStore.Mailbox]) {
        self.outcomes = outcomes
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .entry(let entry):
                statistics.imageBytes += entry.size
                statistics.bytesRead += entry.size
                others += 1
                readAgain.append(entry.path)
                facts.add(path: entry.path, consistentAt: Timestamps.parse(entry.consistentAt))
            case .unchanged(let size, let newest, let consistentAt):
                statistics.imageBytes += size
                statistics.filesUnchanged += 1
                if newest { reusedFromNewest += 1 } else { others += 1 }
                facts.add(path: mailboxes[index].id, consistentAt: consistentAt)
            case .failure(let failure):
                failures.append(failure)
            case .vanished(let id):
                vanished.append(id)
            case nil:
                break
            }
        }
        statistics.files = reusedFromNewest + others
    }

    /// Calls `add` with every entry of the run in byte-wise path order: the new ones held
    /// here, the unchanged ones decoded from `previous` one at a time.
    func forEachEntryInPathOrder(mailboxes: [MailStore.Mailbox], previous: PreviousEntries,
                                 _ add: (SnapshotManifest.FileEntry) throws(RepositoryError) -> Void) throws(RepositoryError) {
        // The listing sorts by String order, which is byte-wise for most names; the list needs
        // byte-wise order (canonically equivalent names are two files).
        var order = Array(mailboxes.indices)
        let sorted = zip(mailboxes, mailboxes.dropFirst()).allSatisfy { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        if !sorted { order.sort { mailboxes[$0].id.utf8.lexicographicallyPrecedes(mailboxes[$1].id.utf8) } }
        var held = previous.inOrder
        for index in order {
            switch outcomes[index] {
            case .entry(let entry):
                try add(entry)
            case .unchanged:
                let id = mailboxes[index].id
                guard let found = held.entry(id) else {
                    throw RepositoryError(.repositoryInternal, message: "mailbox \(id) was found unchanged, but its previous entry cannot be read back to build the mailbox list")
                }
                try add(found)
            default:
                break
            }
        }
    }
}
