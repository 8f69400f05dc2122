package import DRBase
package import DRConfig
import DRCompression
import DRCrypto
import DRLogAnonymizer
import DRRepository
import DRTransport
import Foundation
package import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `drctl logs retain`: rotated log files anonymized, compressed, encrypted and stored on every
/// target under `logs/`; an original deleted only once every target confirmed its copy; logs
/// and day keys older than `[logs] retain` deleted (docs/LOGS.md, "Keys, retention and GDPR").
///
/// Crash safety comes from the object names: an object's name is the keyed hash of the
/// original's content, so a re-run after a kill finds what was stored, stores only what is
/// missing, and never a second copy; the original goes only after every target confirmed.
package enum LogRetainJob {
    package struct Options: Sendable {
        package var dryRun = false
        package init() {}
    }

    package struct Report: Sendable, Codable {
        package var dryRun: Bool
        package var retained: [Retained] = []
        package var notTaken: [NotTaken] = []
        package var refused: [Refused] = []
        package var expired: [Expired] = []
        package var destroyedDays: [String] = []
        package var targets: [Target] = []
        /// Journal entries a killed run left, found at the start of this one.
        package var resumed: Int = 0
        package var durationSeconds: Double = 0

        package struct Retained: Sendable, Codable {
            package var path: String
            package var day: String
            package var object: String
            package var lines: Int
            package var originalBytes: Int64
            package var storedBytes: Int64
            /// Targets that hold the anonymized copy (confirmed after this run's upload or read back).
            package var confirmed: [String]
            package var originalDeleted: Bool
            package var note: String?
        }
        package struct NotTaken: Sendable, Codable {
            package var path: String
            package var reason: String
        }
        package struct Refused: Sendable, Codable {
            package var path: String
            package var code: ErrorCode
            package var reason: String
        }
        package struct Expired: Sendable, Codable {
            package var target: String
            package var object: String
            package var deleted: Bool
            package var reason: String?
            /// Under Object Lock: left until its retention ends (not a failure; its day key is
            /// destroyed all the same, so its pseudonyms cannot be linked back).
            package var locked: Bool = false
        }
        package struct Target: Sendable, Codable {
            package var name: String
            package var ok: Bool
            package var error: String?
            package var stored: Int = 0
        }

        /// Degraded when an original had to be kept (a target without its copy, a file refused)
        /// or an expired object could not be deleted for another reason than Object Lock.
        package var exitStatus: ExitStatus {
            if targets.contains(where: { !$0.ok }) || !refused.isEmpty
                || retained.contains(where: { !$0.originalDeleted && !dryRun })
                || expired.contains(where: { !$0.deleted && !$0.locked && !dryRun }) { return .degraded }
            return .success
        }
    }

    /// Reads a file in pieces of this size (constant memory for the input).
    static let pieceSize = 1 << 20

    package static func run(_ configuration: Configuration, secrets: SecretSources, options: Options,
                            logger: Logger) throws(CoreError) -> Report {
        let started = ContinuousClock.now
        let lock: RunLock
        do {
            lock = try RunLock(stateDirectory: configuration.stateDirectory, job: "logs")
        }
        defer { withExtendedLifetime(lock) {} }
        var report = Report(dryRun: options.dryRun)
        let now = LogClock.now()
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let store = LogDayKeyStore(configuration: configuration)
        let journal = LogRetainJournal(stateDirectory: configuration.stateDirectory)
        report.resumed = journal.entries().count

        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, logger: logger)
        let keys: RetainedLogKeys
        do { keys = try repository.retainedLogKeys() } catch { throw CoreError(error) }
        var targets: [String: Report.Target] = [:]
        for target in configuration.targets { targets[target.name] = Report.Target(name: target.name, ok: true) }
        for left in repository.unavailable {
            targets[left.target] = Report.Target(name: left.target, ok: false, error: left.error.message)
        }

        // What every reachable target holds under logs/, by hex name (a name under any day
        // counts: the same original retained again never makes a second object).
        var held: [String: [String: (key: String, size: Int64)]] = [:]
        for objectStore in repository.stores {
            do {
                var byName: [String: (key: String, size: Int64)] = [:]
                for (key, size) in try objectStore.listSizes(prefix: RetainedLogName.prefix) {
                    if let parsed = RetainedLogName.parse(key) { byName[parsed.name] = (key, size) }
                }
                held[objectStore.targetName] = byName
            } catch {
                targets[objectStore.targetName] = Report.Target(name: objectStore.targetName, ok: false, error: error.message)
            }
        }
        let usable = repository.stores.filter { held[$0.targetName] != nil }

        // 1. Expiry: objects of days past the window, from every reachable target; then the
        // day salts of those days.
        for objectStore in usable {
            for (_, entry) in held[objectStore.targetName] ?? [:] {
                guard let parsed = RetainedLogName.parse(entry.key), let number = LogDay.number(parsed.day),
                      store.isExpired(number, now: now) else { continue }
                if options.dryRun {
                    report.expired.append(.init(target: objectStore.targetName, object: entry.key, deleted: false, reason: "dry run"))
                    continue
                }
                do {
                    try objectStore.delete(entry.key)
                    held[objectStore.targetName]?[parsed.name] = nil
                    report.expired.append(.init(target: objectStore.targetName, object: entry.key, deleted: true))
                } catch {
                    report.expired.append(.init(target: objectStore.targetName, object: entry.key, deleted: false, reason: error.message,
                                                locked: error.code == .transportLocked))
                    if error.code != .transportLocked {
                        targets[objectStore.targetName]?.ok = false
                        targets[objectStore.targetName]?.error = error.message
                    }
                }
            }
        }
        if options.dryRun {
            report.destroyedDays = try store.presentDays().filter { LogDay.number($0).map { store.isExpired($0, now: now) } ?? false }
        } else {
            report.destroyedDays = try store.destroyExpired(now: now)
        }

        // 2. Rotated files.
        var candidates: [LogSources.Candidate] = []
        for path in LogSources.matches(configuration.logs.sources) {
            switch LogSources.classify(path, now: nowSeconds, settle: configuration.logs.settle.seconds) {
            case .rotated(let candidate): candidates.append(candidate)
            case .waiting(let path, let reason): report.notTaken.append(.init(path: path, reason: reason))
            case .refused(let path, let reason): report.refused.append(.init(path: path, code: .logsSource, reason: reason))
            }
        }
        candidates.sort { ($0.modified, $0.path) < ($1.modified, $1.path) }
        for candidate in candidates {
            let day = LogDay.text(LogDay.number(ofSeconds: candidate.modified))
            if options.dryRun {
                report.retained.append(.init(path: candidate.path, day: day, object: "", lines: 0, originalBytes: candidate.size,
                                             storedBytes: 0, confirmed: [], originalDeleted: false, note: "dry run"))
                continue
            }
            do {
                var result = try retain(candidate, day: day, configuration: configuration, keyStore: store, keys: keys,
                                        stores: usable, held: &held, targets: &targets, journal: journal, logger: logger)
                if result.confirmed.count == configuration.targets.count {
                    result.originalDeleted = try deleteOriginal(candidate)
                    if result.originalDeleted {
                        journal.remove(result.object)
                    } else {
                        result.note = "changed while it was being retained; it is kept and taken again by the next run"
                    }
                } else {
                    let missing = configuration.targets.map(\.name).filter { !result.confirmed.contains($0) }
                    result.note = "kept: no confirmed copy on \(missing.joined(separator: ", ")) yet; the next run completes"
                }
                report.retained.append(result)
            } catch {
                report.refused.append(.init(path: candidate.path, code: error.code, reason: error.message))
            }
        }
        report.targets = configuration.targets.compactMap { targets[$0.name] }
        report.durationSeconds = Elapsed.seconds(since: started)
        return report
    }

    /// Anonymizes, compresses and seals one file, stores it on every usable target that lacks
    /// it, and returns which targets hold a confirmed copy.
    static func retain(_ candidate: LogSources.Candidate, day: String, configuration: Configuration,
                       keyStore: LogDayKeyStore, keys: RetainedLogKeys, stores: [any ObjectStore],
                       held: inout [String: [String: (key: String, size: Int64)]],
                       targets: inout [String: Report.Target], journal: LogRetainJournal,
                       logger: Logger) throws(CoreError) -> Report.Retained {
        let path = candidate.path
        let dayKeys: LogPseudonymKeys
        do {
            dayKeys = try keyStore.keys(forDay: day)
        } catch {
            throw CoreError(error.code == .logsDay || error.code == .logsDayDestroyed ? .logsSource : error.code,
                            message: "\(path) (last modified on \(day) UTC): \(error.message). The file is left in place; delete it, or move it out of [logs] sources",
                            context: ErrorContext(file: path))
        }
        let anonymized = try LogFileReader.anonymize(candidate, configuration: configuration, keys: dayKeys, nameKeys: keys)
        let objectKey = RetainedLogName.key(day: day, name: anonymized.name)
        let header = LogObjectHeader(format: 1, day: day, source: (path as NSString).lastPathComponent,
                                     modified: Timestamps.format(Date(timeIntervalSince1970: Double(candidate.modified))),
                                     lines: anonymized.lines, originalBytes: anonymized.originalBytes,
                                     host: configuration.hostName)
        let plaintext = try header.encode() + anonymized.compressed
        let sealed: [UInt8]
        do { sealed = try keys.seal(plaintext, key: objectKey) } catch { throw CoreError(error) }
        try journal.record(LogRetainJournal.Entry(source: path, object: objectKey, started: Timestamps.now()))

        var confirmed: [String] = []
        for objectStore in stores where targets[objectStore.targetName]?.ok == true {
            let name = objectStore.targetName
            do throws(CoreError) {
                if let existing = held[name]?[anonymized.name] {
                    // Stored by an earlier run (killed before it could delete the original):
                    // read back and authenticated before it counts.
                    try verify(objectStore, key: existing.key, keys: keys)
                } else {
                    do {
                        try objectStore.put(objectKey, sealed, ifAbsent: true)
                        targets[name]?.stored += 1
                    } catch where error.kind == .exists {
                        try verify(objectStore, key: objectKey, keys: keys)
                    } catch {
                        throw CoreError(error)
                    }
                    let size: Int64?
                    do { size = try objectStore.listSizes(prefix: objectKey)[objectKey] } catch { throw CoreError(error) }
                    guard size == Int64(sealed.count) else {
                        throw CoreError(.logsIncomplete, message: "target \(name): \(objectKey) was written but is listed with \(size.map { "\($0) bytes" } ?? "no entry") instead of \(sealed.count) bytes", context: ErrorContext(target: name, object: objectKey))
                    }
                    held[name, default: [:]][anonymized.name] = (objectKey, Int64(sealed.count))
                }
                confirmed.append(name)
            } catch {
                targets[name]?.ok = false
                targets[name]?.error = error.message
                logger.warning("target \(name): \(path) not retained there: \(error.message)")
            }
        }
        return Report.Retained(path: path, day: day, object: objectKey, lines: anonymized.lines,
                               originalBytes: anonymized.originalBytes, storedBytes: Int64(sealed.count),
                               confirmed: confirmed, originalDeleted: false)
    }

    static func verify(_ objectStore: any ObjectStore, key: String, keys: RetainedLogKeys) throws(CoreError) {
        do {
            let bytes = try objectStore.get(key)
            _ = try keys.open(bytes, key: key, target: objectStore.targetName)
        } catch let error as TransportError {
            throw CoreError(error)
        } catch let error as RepositoryError {
            throw CoreError(.logsObject, message: "\(error.message); delete it from target \(objectStore.targetName) so that the next run stores it again", context: ErrorContext(target: objectStore.targetName, object: key))
        } catch {
            throw CoreError(.internalDefect, message: "\(error)")
        }
    }

    /// Unlinks the original if it is still the file that was read (same inode, size and
    /// modification time), then syncs its folder.
    static func deleteOriginal(_ candidate: LogSources.Candidate) throws(CoreError) -> Bool {
        var info = stat()
        guard lstat(candidate.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
              Int64(info.st_size) == candidate.size, Int64(info.st_mtim.tv_sec) == candidate.modified else { return false }
        guard unlink(candidate.path) == 0 else {
            throw CoreError(.logsSource, message: "\(candidate.path): every target holds its anonymized copy, but it cannot be deleted: \(errnoDescription(errno)); give drctl's user write access to its folder", context: ErrorContext(file: candidate.path))
        }
        _ = Folders.sync((candidate.path as NSString).deletingLastPathComponent)
        return true
    }
}

/// The clear header that precedes the compressed lines in a retained log object's plaintext:
/// a 4-byte big-endian length, then this JSON.
package struct LogObjectHeader: Sendable, Codable {
    package var format: Int
    package var day: String
    package var source: String
    package var modified: String
    package var lines: Int
    package var originalBytes: Int64
    package var host: String

    func encode() throws(CoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(self) else { throw CoreError(.internalDefect, message: "log object header not encodable") }
        let count = UInt32(data.count)
        return [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)] + Array(data)
    }

    /// The header and where the compressed lines start.
    static func decode(_ plaintext: [UInt8], object: String) throws(CoreError) -> (LogObjectHeader, Int) {
        guard plaintext.count >= 4 else { throw CoreError(.logsObject, message: "\(object): no header") }
        let count = Int(plaintext[0]) << 24 | Int(plaintext[1]) << 16 | Int(plaintext[2]) << 8 | Int(plaintext[3])
        guard count <= plaintext.count - 4 else { throw CoreError(.logsObject, message: "\(object): header longer than the object") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let header = try? decoder.decode(LogObjectHeader.self, from: Data(plaintext[4..<(4 + count)])) else {
            throw CoreError(.logsObject, message: "\(object): the header is not a retained-log header")
        }
        return (header, 4 + count)
    }
}
