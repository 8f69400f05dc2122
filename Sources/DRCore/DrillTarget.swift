import DRBase
import DRConfig
import DRRepository
import DRTransport
import Foundation

/// One target's part of a drill: the selected mailboxes restored from this target alone (its
/// own snapshot records, its own packs, no node cache), each verified, timed and measured.
struct DrillTarget {
    let name: String
    let store: (any ObjectStore)?
    /// Why the target could not be opened, when it could not.
    let unavailable: String?
    let repository: Repository
    let keys: RepositoryKeys
    let scope: SnapshotScope
    let point: Date
    let scratch: String
    let drill: Configuration.Drill
    /// The whole store's size at the point (for the projection).
    let storeBytes: Int64

    struct Outcome {
        var result: DrillResults.TargetResult
        var deviations: [DrillResults.Deviation]
        var canaryNewest: Date?
        var ciphers: [String: String]
    }

    /// Errors that say the target could not be asked (not that it answered wrongly): the
    /// checks behind them could not run, so they are unknown, never a pass and never a fail.
    static let unreachableCodes: Set<ErrorCode> = [
        .transportNetwork, .transportServer, .transportTLS, .transportAuth, .transportClockSkew, .transportNoBucket,
        .transportPermission, .transportIo, .transportProtocol, .restoreNoTarget, .repositoryAllTargetsFailed,
    ]

    static func verdict(of code: ErrorCode) -> DrillResults.Verdict {
        unreachableCodes.contains(code) ? .unknown : .fail
    }

    func run(_ mailboxes: [String], canary: String?) -> Outcome {
        guard let store else { return unreachable(mailboxes, cause: unavailable ?? "the target could not be opened") }
        // The fixed cost of a restore from this target: its snapshot records listed and read.
        let overheadClock = ContinuousClock.now
        let catalogue: SnapshotCatalogue
        do {
            catalogue = try SnapshotCatalogue.gather(repository, stores: [store], keys: keys)
        } catch {
            return unreachable(mailboxes, cause: error.message, code: error.code)
        }
        let overhead = Elapsed.seconds(since: overheadClock)
        let destination: Destination
        do {
            destination = try Destination(scratch, owner: nil)
        } catch {
            return unreachable(mailboxes, cause: error.message, code: .drillScratch)
        }
        let entries = TargetEntries(stores: [store], keys: keys, cache: nil)
        let reader = TargetBlobReader(store: store, keys: keys, cache: nil)
        var outcome = Outcome(result: .init(name: name, verdict: .unknown, error: nil, mailboxes: [], throughputBytesPerSecond: nil,
                                            projectedFullRestoreSeconds: nil, projectionAssumptions: []),
                              deviations: [], canaryNewest: nil, ciphers: [:])
        var fetchSeconds = 0.0, verifySeconds = 0.0, fetchedBytes: Int64 = 0
        for path in mailboxes {
            let mailbox = drillMailbox(path, isCanary: path == canary, catalogue: catalogue, entries: entries, reader: reader,
                                       destination: destination, outcome: &outcome)
            if let timing = mailbox.timing {
                fetchSeconds += timing.fetchSeconds
                verifySeconds += timing.verifySeconds
                fetchedBytes += mailbox.bytes
            }
            outcome.result.mailboxes.append(mailbox)
        }
        var result = outcome.result
        result.verdict = DrillResults.Verdict.combined(result.mailboxes.map(\.verdict))
        if fetchSeconds > 0, fetchedBytes > 0 {
            let throughput = Double(fetchedBytes) / fetchSeconds
            let verifyRate = verifySeconds > 0 ? Double(fetchedBytes) / verifySeconds : nil
            result.throughputBytesPerSecond = throughput
            result.projectedFullRestoreSeconds = overhead + Double(storeBytes) / throughput
                + (verifyRate.map { Double(storeBytes) / $0 } ?? 0)
            result.projectionAssumptions = [
                String(format: "fixed overhead %.3f s: this target's snapshot records listed and read, as measured", overhead),
                "store size \(storeBytes) bytes: every mailbox of the recovery point (the canary left out)",
                String(format: "restore throughput %.0f bytes/s: %lld bytes fetched, authenticated and written in %.3f s, one mailbox at a time", throughput, fetchedBytes, fetchSeconds),
                verifyRate.map { String(format: "verification %.0f bytes/s, as measured on the drilled mailboxes", $0) }
                    ?? "verification time not measurable (too fast) and left out",
                "the drilled mailboxes are representative of the store's; no parallelism (a real restore runs one mailbox per core, so this is an upper bound)",
            ]
        }
        outcome.result = result
        return outcome
    }

    /// Finds, restores and checks one mailbox; deviations go into `outcome`.
    private func drillMailbox(_ path: String, isCanary: Bool, catalogue: SnapshotCatalogue, entries: TargetEntries,
                              reader: TargetBlobReader, destination: Destination, outcome: inout Outcome) -> DrillResults.MailboxResult {
        let found: (snapshot: SnapshotCatalogue.Item, entry: SnapshotManifest.FileEntry)
        do throws(CoreError) {
            let choice = try catalogue.select(.pointInTime(point), mailboxes: [path], scope: scope, entries: entries)
            guard let first = choice.images.first else { throw CoreError(.restoreNoSnapshot, message: "no image of \(path) on target \(name)") }
            found = first
        } catch {
            let verdict = Self.verdict(of: error.code)
            outcome.deviations.append(.init(target: name, mailbox: path, object: error.context.object, check: "restore", verdict: verdict,
                                            cause: error.message))
            return .init(path: path, snapshot: nil, consistentAt: nil, cipher: nil, journal: nil, bytes: 0, timing: nil,
                         checks: [.init(name: "restore", verdict: verdict, detail: error.message)], verdict: verdict)
        }
        let entry = found.entry
        let fetchClock = ContinuousClock.now
        do {
            let folder = try destination.folder(for: entry.path)
            _ = try RestoreJob.restoreFile(entry, from: reader, into: folder, options: RestoreJob.Options())
        } catch {
            let failure = CoreError(error)
            let verdict = Self.verdict(of: failure.code)
            let checks: [DrillResults.Check] = ["chunks-authenticated", "tree-root"].map {
                .init(name: $0, verdict: verdict, detail: failure.message)
            }
            outcome.deviations.append(.init(target: name, mailbox: path, object: failure.context.object, check: "chunks-authenticated",
                                            verdict: verdict, cause: failure.message))
            return .init(path: path, snapshot: found.snapshot.id, consistentAt: entry.consistentAt, cipher: nil,
                         journal: DrillCandidate.journal(snapshotMode: entry.snapshotMode), bytes: 0, timing: nil,
                         checks: checks, verdict: verdict)
        }
        let fetch = Elapsed.seconds(since: fetchClock)
        let verifyClock = ContinuousClock.now
        let file = destination.display(entry.path)
        let checked = DrillChecks.run(file, entry: entry, drill: drill, canary: isCanary)
        let verify = Elapsed.seconds(since: verifyClock)
        var checks: [DrillResults.Check] = [
            .init(name: "chunks-authenticated", verdict: .pass, detail: "\(entry.chunks) chunks, each authenticated and checked against its id"),
            .init(name: "tree-root", verdict: .pass, detail: "every tree node matched the root \(entry.root.id.hex.prefix(16))… the snapshot records"),
        ]
        checks += checked.checks
        for check in checked.checks where check.verdict != .pass {
            outcome.deviations.append(.init(target: name, mailbox: path, object: nil, check: check.name, verdict: check.verdict,
                                            cause: check.detail ?? check.name))
        }
        if isCanary { outcome.canaryNewest = checked.canaryNewest }
        if let cipher = checked.cipher { outcome.ciphers[path] = cipher }
        return .init(path: path, snapshot: found.snapshot.id, consistentAt: entry.consistentAt, cipher: checked.cipher,
                     journal: checked.journal, bytes: entry.size,
                     timing: .init(fetchSeconds: fetch, verifySeconds: verify, totalSeconds: fetch + verify),
                     checks: checks, verdict: DrillResults.Verdict.combined(checks.map(\.verdict)))
    }

    /// Every mailbox's checks unknown: the target could not be read at all.
    private func unreachable(_ mailboxes: [String], cause: String, code: ErrorCode? = nil) -> Outcome {
        let verdict: DrillResults.Verdict = code.map { Self.verdict(of: $0) } ?? .unknown
        let results = mailboxes.map { path in
            DrillResults.MailboxResult(path: path, snapshot: nil, consistentAt: nil, cipher: nil, journal: nil, bytes: 0, timing: nil,
                                       checks: [.init(name: "restore", verdict: verdict, detail: cause)], verdict: verdict)
        }
        return Outcome(result: .init(name: name, verdict: verdict, error: cause, mailboxes: results, throughputBytesPerSecond: nil,
                                     projectedFullRestoreSeconds: nil, projectionAssumptions: []),
                       deviations: [.init(target: name, mailbox: nil, object: nil, check: "restore", verdict: verdict,
                                          cause: "target \(name) could not be drilled: \(cause)")],
                       canaryNewest: nil, ciphers: [:])
    }
}
