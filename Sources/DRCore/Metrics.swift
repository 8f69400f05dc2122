import DRBase
package import DRConfig
import DRRepository
package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What one step of a run did, for the metrics: a whole step (`target` nil) or its part on
/// one target. `drctl backup` records its own; `drctl run` records each of its steps.
package struct StepOutcome: Sendable, Codable, Equatable {
    /// `backup`, `forget`, `prune`, `drill`, `logs`.
    package var step: String
    /// Nil: the whole step.
    package var target: String?
    package var ok: Bool
    /// When it ended.
    package var finished: Date
    package var durationSeconds: Double
    /// New data the step added to the repository (before compression and encryption).
    package var bytesAdded: Int64?
    /// Bytes it wrote to the target.
    package var bytesStored: Int64?
    /// Mailboxes it could not back up.
    package var mailboxesFailed: Int?

    package init(step: String, target: String? = nil, ok: Bool, finished: Date, durationSeconds: Double,
                 bytesAdded: Int64? = nil, bytesStored: Int64? = nil, mailboxesFailed: Int? = nil) {
        self.step = step
        self.target = target
        self.ok = ok
        self.finished = finished
        self.durationSeconds = durationSeconds
        self.bytesAdded = bytesAdded
        self.bytesStored = bytesStored
        self.mailboxesFailed = mailboxesFailed
    }

    /// A backup's outcomes: the whole step (ok when every mailbox reached at least one
    /// target: success or degraded; the new data it added) and one per target (ok when it
    /// took the snapshot; what it was sent).
    package static func backup(_ report: BackupJob.Report, finished: Date = Date()) -> [StepOutcome] {
        let whole = StepOutcome(step: "backup", ok: report.snapshot != nil && report.exitStatus != .failure,
                                finished: finished, durationSeconds: report.durationSeconds,
                                bytesAdded: report.newChunkBytes,
                                bytesStored: report.targets.filter(\.ok).map(\.storedBytes).max(),
                                mailboxesFailed: report.failures.count + report.skipped.count)
        return [whole] + report.targets.map { target in
            StepOutcome(step: "backup", target: target.name, ok: target.ok && report.snapshot != nil, finished: finished,
                        durationSeconds: report.durationSeconds, bytesStored: target.storedBytes)
        }
    }
}

/// What the metrics remember between runs, in `<[state] path>/metrics.json`: per step and
/// target the last run and the last success (so that a failed run leaves the last success
/// time where it was), run and failure counts, and the last status measured.
package struct MetricsState: Sendable, Codable, Equatable {
    package struct Series: Sendable, Codable, Equatable {
        package var step: String
        package var target: String?
        package var runs: Int64
        package var failures: Int64
        package var lastRun: StepOutcome
        package var lastSuccess: StepOutcome?
    }

    /// The figures of the last `drctl status` (or the status a run measured).
    package struct Status: Sendable, Codable, Equatable {
        package struct Target: Sendable, Codable, Equatable {
            package var name: String
            package var available: Bool
            package var newestSnapshot: Date?
        }
        package var measured: Date
        package var snapshots: Int
        package var objectiveSeconds: Int64
        package var worstMailbox: String?
        /// When the worst mailbox's newest restorable snapshot ended; nil when a mailbox has
        /// never been backed up (or there is no snapshot).
        package var restorablePoint: Date?
        package var neverBackedUp: Int
        package var targets: [Target]

        package init(_ report: StatusJob.Report) {
            measured = Timestamps.parse(report.time) ?? Date()
            snapshots = report.snapshots
            objectiveSeconds = report.rpo.objectiveSeconds
            worstMailbox = report.rpo.worstMailbox
            restorablePoint = report.rpo.exposureSeconds == nil ? nil : report.rpo.worstRestorablePoint.flatMap(Timestamps.parse)
            neverBackedUp = report.rpo.neverBackedUp.count
            targets = report.targets.map {
                Target(name: $0.name, available: $0.available, newestSnapshot: $0.newestSnapshot.flatMap { Timestamps.parse($0.time) })
            }
        }
    }

    package static let currentFormat = 1
    package var format = currentFormat
    package var series: [Series] = []
    package var status: Status?

    package init() {}

    /// Adds a run's outcomes; forgets the series of targets no longer configured.
    package mutating func merge(_ outcomes: [StepOutcome], status: StatusJob.Report?, targets: Set<String>) {
        for var outcome in outcomes {
            // Kept to the millisecond, as the state file holds it: the file's reader must
            // see the same time as this run's.
            outcome.finished = Timestamps.parse(Timestamps.format(outcome.finished)) ?? outcome.finished
            let index = series.firstIndex { $0.step == outcome.step && $0.target == outcome.target }
            var entry = index.map { series[$0] }
                ?? Series(step: outcome.step, target: outcome.target, runs: 0, failures: 0, lastRun: outcome, lastSuccess: nil)
            entry.runs += 1
            if !outcome.ok { entry.failures += 1 }
            entry.lastRun = outcome
            if outcome.ok { entry.lastSuccess = outcome }
            if let index { series[index] = entry } else { series.append(entry) }
        }
        series.removeAll { $0.target.map { !targets.contains($0) } ?? false }
        if let status { self.status = Status(status) }
        self.status?.targets.removeAll { !targets.contains($0.name) }
    }
}

/// The Prometheus metrics of this host's runs: `record` merges a run's outcomes into the
/// state file and, when `[metrics] textfile` is set, rewrites the textfile from it.
package enum Metrics {
    package static let stateFileName = "metrics.json"

    /// Updates `<[state] path>/metrics.json` with `outcomes` (and `status`, when measured),
    /// then rewrites the textfile when one is configured. Runs of this host take turns
    /// (a lock beside the state file), so that two timers never lose each other's outcome.
    package static func record(_ outcomes: [StepOutcome], status: StatusJob.Report?, configuration: Configuration,
                               now: Date = Date()) throws(CoreError) {
        let folder = configuration.stateDirectory
        let created = Folders.create(folder)
        if created != 0 {
            throw CoreError(created == EACCES ? .filePermission : .fileIo,
                            message: "cannot create the state folder \(folder) for the metrics: \(errnoDescription(created)); check [state] path")
        }
        let lock = try StateLock(folder + "/metrics.lock")
        defer { withExtendedLifetime(lock) {} }
        var state = try load(folder)
        state.merge(outcomes, status: status, targets: Set(configuration.targets.map(\.name)))
        try save(state, folder)
        if let textfile = configuration.metrics.textfile {
            let drill = try? DrillStatus.latest(reportDirectory: configuration.drill.reportDirectory)
            try writeTextfile(MetricsFamilies.all(state, drill: drill, now: now), to: textfile)
        }
    }

    /// The state, or an empty one when there is none yet. One that cannot be decoded (cut
    /// short, or of a newer drctl) is started afresh with a warning: metrics must not stop a
    /// backup, and the next runs fill it again.
    package static func load(_ folder: String) throws(CoreError) -> MetricsState {
        let path = folder + "/" + stateFileName
        guard let data = try SmallFile.read(path, limit: 16 << 20, what: "the metrics state file") else { return MetricsState() }
        if let state = try? decoder.decode(MetricsState.self, from: data), state.format == MetricsState.currentFormat {
            return state
        }
        StandardStreams.writeError("drctl: warning: the metrics state file \(path) is not one this drctl reads; starting it afresh (the last success times of earlier runs are lost from the metrics)\n")
        return MetricsState()
    }

    static func save(_ state: MetricsState, _ folder: String) throws(CoreError) {
        let path = folder + "/" + stateFileName
        let data: Data
        do { data = try encoder.encode(state) } catch {
            throw CoreError(.internalDefect, message: "the metrics state could not be encoded: \(error)")
        }
        do {
            try AtomicFile.write(Array(data), to: path, mode: 0o600, .replace, creatingFoldersWithMode: 0o700)
        } catch {
            throw CoreError(error.code, message: "cannot write the metrics state file: \(error.message)",
                            context: error.context, underlying: error.underlying)
        }
    }

    /// Rewrites the textfile whole: a temporary file beside it (`.tmp-…`, which the textfile
    /// collector ignores, as it reads `*.prom` only), then rename(2), so that a scrape never
    /// sees half a file. World-readable: node_exporter runs as its own user.
    static func writeTextfile(_ families: [PrometheusText.Family], to path: String) throws(CoreError) {
        do {
            try AtomicFile.write(Array(PrometheusText.render(families).utf8), to: path, mode: 0o644, .replace)
        } catch {
            throw CoreError(error.code, message: "cannot write the metrics textfile \(path) ([metrics] textfile): \(error.message); create its folder (node_exporter's --collector.textfile.directory) writable by drctl's user, or change the key",
                            context: error.context, underlying: error.underlying)
        }
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamps.format(date))
        }
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamps.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return decoder
    }
}

/// An exclusive flock(2) held while it lives, waiting for another holder (the critical
/// sections are a read and two small writes).
final class StateLock {
    private let fd: Int32

    init(_ path: String) throws(CoreError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw CoreError(.lockOpen, message: "cannot open \(path): \(errnoDescription(errno)); check the [state] folder")
        }
        while flock(fd, LOCK_EX) != 0 {
            let err = errno
            if err == EINTR { continue }
            close(fd)
            throw CoreError(.lockOpen, message: "cannot lock \(path): \(errnoDescription(err))")
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
