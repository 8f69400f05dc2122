import DRBase
package import DRConfig
import DRRepository
import DRTransport
import Foundation
package import Logging

/// `drctl drill`: restores a seeded, stratified, rotating sample of mailboxes from every target
/// independently into a private scratch folder, verifies them, measures the achieved RPO and
/// RTO against the objectives, wipes the scratch folder, and returns the results (the body of
/// the signed report). docs/ARCHITECTURE.md, "Drills", states every rule.
package enum DrillJob {
    package struct Options: Sendable {
        /// Mailboxes to drill (default `[drill] sample`).
        package var sample: Int?
        package var all = false
        /// The selection's seed (default: a random one, recorded).
        package var seed: UInt64?
        /// Drill only these targets (default: every configured one).
        package var targets: [String] = []
        /// `latest` or `random-within:DURATION`.
        package var point = "latest"
        package var scenario: String?
        package init() {}
    }

    package enum PointMode: Sendable, Equatable {
        case latest
        case randomWithin(ConfigDuration)

        package static func parse(_ text: String) throws(CoreError) -> PointMode {
            if text == "latest" { return .latest }
            if text.hasPrefix("random-within:"), let window = ConfigDuration(parsing: String(text.dropFirst("random-within:".count))),
               window.seconds > 0, window.seconds <= 365 * 86400 {
                return .randomWithin(window)
            }
            throw CoreError(.drillPoint, message: "--point \(text): give latest, or random-within:DURATION with a duration from 1s to 365d like random-within:7d")
        }
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources, options: Options,
                            logger: Logger) throws(CoreError) -> DrillResults {
        let started = Date()
        let mode = try PointMode.parse(options.point)
        let seed = options.seed ?? UInt64.random(in: UInt64.min...UInt64.max)
        var random = DrillRandom(seed: seed)
        // The point is drawn first, then the selection: the order an auditor replays.
        let point: Date
        let pointRecord: DrillResults.Point
        switch mode {
        case .latest:
            point = started
            pointRecord = .init(mode: "latest", window: nil, time: Timestamps.format(point))
        case .randomWithin(let window):
            point = started.addingTimeInterval(-random.fraction() * Double(window.seconds))
            pointRecord = .init(mode: "random-within", window: window.description, time: Timestamps.format(point))
        }
        let configured = configuration.targets.map(\.name)
        if let unknown = options.targets.first(where: { !configured.contains($0) }) {
            throw CoreError(.targetUnknown, message: "--target \(unknown): no target of that name (targets: \(configured.joined(separator: ", ")))")
        }
        let drilled = options.targets.isEmpty ? configured : configured.filter { options.targets.contains($0) }

        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, use: .read, logger: logger)
        let keys: RepositoryKeys
        do { keys = try repository.derivedKeys() } catch { throw CoreError(error) }
        let stores = repository.stores.filter { drilled.contains($0.targetName) }

        // The population: the recovery point's mailboxes, from every reachable target together.
        let catalogue: SnapshotCatalogue
        if stores.isEmpty {
            let causes = repository.unavailable.map { "\($0.target): \($0.error.message)" }.joined(separator: "; ")
            // Still a drill that happened, for drctl status: unknown, never silently nothing.
            try? DrillStatus.record(.init(time: Timestamps.format(Date()), verdict: .unknown),
                                    reportDirectory: configuration.drill.reportDirectory)
            throw CoreError(.drillUnknown, message: "no target could be opened for the drill (\(causes)); nothing was drilled")
        }
        catalogue = try SnapshotCatalogue.gather(repository, stores: stores, keys: keys)
        let scope = catalogue.scope(host: nil, configuredStore: configuration.store.path, thisHost: configuration.hostName)
        let choice: SnapshotCatalogue.Choice
        do {
            choice = try catalogue.select(.pointInTime(point), mailboxes: [], scope: scope,
                                          entries: TargetEntries(stores: stores, keys: keys, cache: nil), now: started)
        } catch where error.code == .restoreNoSnapshot {
            throw CoreError(.drillNoMailbox, message: "nothing to drill at \(Timestamps.format(point)): \(error.message)")
        }
        let canary = configuration.drill.canary
        let images = choice.images.filter { $0.entry.path != canary }
        let storeBytes = images.reduce(Int64(0)) { $0 + $1.entry.size }
        var history = DrillHistory.load(configuration.stateDirectory)
        let candidates = images.map { image in
            DrillCandidate(path: image.entry.path,
                           cipher: liveCipher(configuration.store.path, image.entry) ?? history.mailboxes[image.entry.path]?.cipher ?? "unknown",
                           journal: DrillCandidate.journal(snapshotMode: image.entry.snapshotMode),
                           size: DrillCandidate.sizeClass(image.entry.size))
        }
        let sample = options.sample ?? configuration.drill.sample
        let chosen = DrillSelection.choose(candidates, sample: sample, all: options.all,
                                           lastDrilled: history.lastDrilled, random: &random)
        let withCanary = choice.images.contains { $0.entry.path == canary }
        let selection = DrillResults.Selection(seed: seed, mode: options.all ? "all" : "sample", sample: options.all ? images.count : sample,
                                               population: images.count, strata: chosen.strata, mailboxes: chosen.mailboxes,
                                               rotated: chosen.rotated)
        logger.debug("drill: point \(pointRecord.time), seed \(seed), \(chosen.mailboxes.count) of \(images.count) mailboxes, targets \(drilled.joined(separator: ", "))")

        let scratch = try DrillScratch(stateDirectory: configuration.stateDirectory, started: started)
        var targets: [DrillResults.TargetResult] = []
        var canaryNewest: [String: Date?] = [:]
        var ciphers: [String: String] = [:]
        var deviations: [DrillResults.Deviation] = []
        for name in drilled {
            let context = DrillTarget(name: name, store: stores.first { $0.targetName == name },
                                      unavailable: repository.unavailable.first { $0.target == name }?.error.message,
                                      repository: repository, keys: keys, scope: scope, point: point,
                                      scratch: scratch.path + "/" + name, drill: configuration.drill, storeBytes: storeBytes)
            let mailboxes = chosen.mailboxes + (withCanary ? [canary].compactMap { $0 } : [])
            let outcome = context.run(mailboxes, canary: withCanary ? canary : nil)
            targets.append(outcome.result)
            deviations += outcome.deviations
            if withCanary { canaryNewest[name] = outcome.canaryNewest }
            ciphers.merge(outcome.ciphers) { old, _ in old }
        }
        let wipe = scratch.wipe()
        for problem in wipe.problems { logger.warning("drill: scratch wipe: \(problem)") }
        let finished = Date()

        // Record what was drilled (from at least one target) for rotation and coverage.
        let drilledAt = Timestamps.format(started)
        for path in chosen.mailboxes where targets.contains(where: { $0.mailboxes.contains { $0.path == path && $0.timing != nil } }) {
            history.mailboxes[path] = .init(lastDrilled: drilledAt, cipher: ciphers[path])
        }
        var warnings: [String] = []
        do { try history.save(configuration.stateDirectory) } catch { warnings.append(error.message) }
        let population = images.map(\.entry.path)
        let coverage = DrillResults.Coverage(mailboxes: population.count,
                                             last30Days: history.coverage(of: population, days: 30, now: finished),
                                             last90Days: history.coverage(of: population, days: 90, now: finished),
                                             last365Days: history.coverage(of: population, days: 365, now: finished))
        var results = DrillMeasures.assemble(
            scenario: options.scenario, started: started, finished: finished, point: pointRecord, pointTime: point,
            selection: selection, targets: targets, deviations: deviations, objectives: configuration.objectives,
            // A configured canary missing from the recovery point gives no newest write: unknown.
            canary: canary.map { ($0, canaryNewest) }, coverage: coverage,
            scratch: .init(path: scratch.path, wiped: wipe.wiped, verified: wipe.verified))
        if !wipe.verified || !wipe.wiped {
            results.deviations.append(.init(target: nil, mailbox: nil, object: nil, check: "scratch-wipe", verdict: .fail,
                                            cause: wipe.problems.joined(separator: "; ")))
            results.verdict = .fail
        }
        for warning in warnings { logger.warning("drill: \(warning)") }

        // The evidence: the results signed into the next report of the chain, stored locally
        // and on every target with the chain's head (DrillEvidence also updates latest.json,
        // which drctl status reads). A report that cannot be written is an error of the drill:
        // a drill without evidence did not happen, for an auditor.
        let recorded = try DrillEvidence.record(results, configuration: configuration, repository: repository, logger: logger)
        logger.notice("drill report \(recorded.sequence) (\(recorded.envelopeHash.prefix(12))) signed and stored in \(recorded.path)",
                      metadata: ["report": "\(recorded.sequence)"])
        return results
    }

    /// The live mailbox's cipher from its first bytes (keyless), for the strata; nil when the
    /// file cannot be read (deleted since), so history or "unknown" stands in.
    static func liveCipher(_ store: String, _ entry: SnapshotManifest.FileEntry) -> String? {
        guard entry.kind == "sqlite" else { return "none" }
        guard let header = DrillChecks.readHeader(store + "/" + entry.path), header.count >= 100 else { return nil }
        return header.starts(with: Array("SQLite format 3".utf8) + [0]) ? "plain" : "encrypted"
    }

    /// The exit status's error for results that did not pass (nil for a pass).
    package static func failure(_ results: DrillResults) -> CoreError? {
        let targets = results.targets.filter { $0.verdict != .pass }.map { "\($0.name) \($0.verdict.rawValue.uppercased())" }
        let objectives = [results.rpo.verdict != .pass ? "RPO \(results.rpo.verdict.rawValue.uppercased())" : nil,
                          results.rto.verdict != .pass ? "RTO \(results.rto.verdict.rawValue.uppercased())" : nil].compactMap { $0 }
        let what = (targets + objectives).joined(separator: ", ")
        let first = results.deviations.first.map { "; first: " + DrillMeasures.describe($0) } ?? ""
        switch results.verdict {
        case .pass: return nil
        case .fail:
            return CoreError(.drillFailed, message: "restore drill FAILED: \(what)\(first)",
                             context: ErrorContext(target: results.deviations.first?.target, object: results.deviations.first?.object,
                                                   mailbox: results.deviations.first?.mailbox))
        case .unknown:
            return CoreError(.drillUnknown, message: "restore drill UNKNOWN (a check could not run; unknown is never a pass): \(what)\(first)",
                             context: ErrorContext(target: results.deviations.first?.target))
        }
    }
}

extension DrillStatus.Verdict {
    init(_ verdict: DrillResults.Verdict) {
        switch verdict {
        case .pass: self = .pass
        case .fail: self = .fail
        case .unknown: self = .unknown
        }
    }
}
