import DRBase
package import DRConfig
import DRCrypto
package import DRIPPseudonym
package import DRLogAnonymizer
import DRRepository
package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The per-day keys of log anonymization (docs/LOGS.md, "Keys, retention and GDPR").
///
/// A day's keys come from the log master key (`[logs] key_file`, or `key_credential` under
/// systemd) and that day's random 32-byte salt, `<state>/logs/days/YYYY-MM-DD.salt` (mode 0600,
/// created on first use, write-once and fsync'd). Neither alone gives a day's key. Once a day
/// has left the retention window its salt is overwritten, fsync'd and unlinked, and
/// `<state>/logs/destroyed.json` records when: from then on nobody, not even the holder of the
/// master key, can recompute that day's pseudonyms.
package struct LogDayKeyStore {
    package let configuration: Configuration

    package init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The label of the day-key derivation; part of the format, never to be changed.
    static let label = "drctl-log-day-v1"
    static let saltLength = 32

    var folder: String { configuration.stateDirectory + "/logs" }
    var daysFolder: String { folder + "/days" }
    func saltPath(_ day: String) -> String { "\(daysFolder)/\(day).salt" }
    var destroyedPath: String { folder + "/destroyed.json" }

    /// The keys of UTC day `day` ("YYYY-MM-DD"), creating the day's salt on first use, with
    /// ipcrypt-pfx's IP key.
    package func keys(forDay day: String) throws(CoreError) -> LogPseudonymKeys {
        try keys(forDay: day, method: Self.method(configuration.logs.anonymize.ip))
    }

    /// The IP key's method for `[logs.anonymize] ip` (truncation uses no IP key; it gets
    /// ipcrypt-pfx's, which it never reads).
    package static func method(_ configured: Configuration.Logs.Anonymization.IPMethod) -> PrefixPreservingMethod {
        configured == .cryptoPan ? .cryptoPan : .ipcryptPfx
    }

    /// The keys of `day` with the IP key of `method` (each method has its own subkey).
    package func keys(forDay day: String, method: PrefixPreservingMethod, now: Date = LogClock.now()) throws(CoreError) -> LogPseudonymKeys {
        try checkDay(day, now: now)
        let master = try masterKey()
        let salt = try salt(forDay: day)
        let dayKey = try Self.dayKey(master: master, day: day, salt: salt)
        do {
            let ip = try KeyDerivation.subkey(from: dayKey, purpose: method == .ipcryptPfx ? "log-ip-pfx" : "log-ip-pan")
            if method == .ipcryptPfx {
                // Equal halves would make ipcrypt-pfx the identity (a 2^-128 chance; refused,
                // never used).
                let equal = ip.withUnsafeBytes { raw in (0..<16).allSatisfy { raw[$0] == raw[$0 + 16] } }
                if equal { throw CoreError(.logsKey, message: "day \(day): the derived ipcrypt-pfx key has equal halves; delete \(saltPath(day)) to draw a new salt") }
            }
            let token = try KeyDerivation.subkey(from: dayKey, purpose: "log-token")
            return LogPseudonymKeys(ip: ip, token: token)
        } catch let error as CoreError {
            throw error
        } catch {
            throw CoreError(error)
        }
    }

    /// day key = BLAKE2b-256(key = master, "drctl-log-day-v1" ‖ 0x00 ‖ ASCII(day) ‖ 0x00 ‖ salt).
    static func dayKey(master: borrowing SecureBytes, day: String, salt: borrowing SecureBytes) throws(CoreError) -> SecureBytes {
        do {
            var hasher = try Blake2bHasher(key: master, outputLength: 32)
            hasher.update(Array(label.utf8) + [0] + Array(day.utf8) + [0])
            salt.withUnsafeBytes { hasher.update($0) }
            var key = try SecureBytes(count: 32)
            // Straight into secure memory (the buffer is the SecureBytes' own, stable
            // allocation); the day key never exists as an ordinary array.
            let out = key.withUnsafeMutableBytes { $0 }
            hasher.finalize(into: out)
            return key
        } catch {
            throw CoreError(error)
        }
    }

    // MARK: - Days

    /// The day number of `day` when its key may be made now: a real day, not in the future,
    /// not destroyed, inside the retention window.
    @discardableResult
    package func checkDay(_ day: String, now: Date = LogClock.now()) throws(CoreError) -> Int64 {
        guard let number = LogDay.number(day) else {
            throw CoreError(.logsDay, message: "\"\(day)\" is not a day: write it YYYY-MM-DD (a UTC day, e.g. 2026-12-07)")
        }
        let today = LogDay.number(ofSeconds: Int64(now.timeIntervalSince1970.rounded(.down)))
        if number > today {
            throw CoreError(.logsDay, message: "day \(day) is in the future (today is \(LogDay.text(today)) UTC): no key is made for it")
        }
        if let destroyed = try destroyedDays()[day] {
            throw CoreError(.logsDayDestroyed, message: "the key of day \(day) was destroyed at \(destroyed), when the day left the retention window ([logs] retain = \(configuration.logs.retain)); its pseudonyms can no longer be recomputed by anyone")
        }
        if isExpired(number, now: now) {
            throw CoreError(.logsDay, message: "day \(day) is older than the retention window ([logs] retain = \(configuration.logs.retain)): its key is destroyed by the next drctl logs retain, and is not made or used any more")
        }
        return number
    }

    /// Whether day `number` has left the window: its last second is older than `retain`.
    package func isExpired(_ number: Int64, now: Date) -> Bool {
        (number + 1) * 86_400 + configuration.logs.retain.seconds <= Int64(now.timeIntervalSince1970.rounded(.down))
    }

    /// Destroyed days and when, from `destroyed.json`.
    package func destroyedDays() throws(CoreError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: destroyedPath) else {
            if SecretFiles.exists(destroyedPath) {
                throw CoreError(.logsState, message: "\(destroyedPath) cannot be read; check its owner and mode (drctl's user reads it)", context: ErrorContext(file: destroyedPath))
            }
            return [:]
        }
        guard let record = try? JSONDecoder().decode(DestroyedRecord.self, from: data) else {
            throw CoreError(.logsState, message: "\(destroyedPath) is not the record drctl writes (JSON {\"destroyed\": {day: time}}); restore it from the journal of this host or repair it by hand — drctl will not guess which days were destroyed", context: ErrorContext(file: destroyedPath))
        }
        return record.destroyed
    }

    struct DestroyedRecord: Codable {
        var destroyed: [String: String]
    }

    /// Days that have a salt now.
    package func presentDays() throws(CoreError) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: daysFolder) else { return [] }
        return names.compactMap { name in
            guard name.hasSuffix(".salt") else { return nil }
            let day = String(name.dropLast(5))
            return LogDay.isValid(day) ? day : nil
        }.sorted()
    }

    /// Destroys the salt of every day that has left the window; returns the days destroyed now.
    ///
    /// Order, so that a kill at any step leaves nothing half done for long: the salt is
    /// overwritten with zeros and fsync'd; the day is recorded in `destroyed.json`; the salt
    /// is unlinked and the folder fsync'd. A salt found again for a recorded day (a kill
    /// between the record and the unlink) is destroyed by the next run.
    package func destroyExpired(now: Date = LogClock.now()) throws(CoreError) -> [String] {
        var destroyedNow: [String] = []
        var record = DestroyedRecord(destroyed: try destroyedDays())
        for day in try presentDays() {
            guard let number = LogDay.number(day), isExpired(number, now: now) else { continue }
            let path = saltPath(day)
            try overwrite(path)
            if record.destroyed[day] == nil {
                record.destroyed[day] = Timestamps.format(now)
                try save(record)
            }
            if unlink(path) != 0 && errno != ENOENT {
                throw CoreError(.logsState, message: "cannot unlink the salt of day \(day), \(path): \(errnoDescription(errno))", context: ErrorContext(file: path))
            }
            _ = Folders.sync(daysFolder)
            destroyedNow.append(day)
        }
        return destroyedNow
    }

    private func overwrite(_ path: String) throws(CoreError) {
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw CoreError(.logsState, message: "cannot open the salt \(path) to destroy it: \(errnoDescription(errno))", context: ErrorContext(file: path))
        }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? max(Int(info.st_size), Self.saltLength) : Self.saltLength
        let zeros = [UInt8](repeating: 0, count: size)
        if FileIO.writeAll(fd, zeros, at: 0) != 0 || fsync(fd) != 0 {
            throw CoreError(.logsState, message: "cannot overwrite the salt \(path): \(errnoDescription(errno))", context: ErrorContext(file: path))
        }
    }

    private func save(_ record: DestroyedRecord) throws(CoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            let data = try encoder.encode(record)
            try AtomicFile.write(Array(data), to: destroyedPath, mode: 0o600, .replace, creatingFoldersWithMode: 0o700)
        } catch let error as BaseError {
            throw CoreError(.logsState, message: "cannot record destroyed day keys in \(destroyedPath): \(error.message)", context: ErrorContext(file: destroyedPath))
        } catch {
            throw CoreError(.logsState, message: "cannot record destroyed day keys in \(destroyedPath): \(error)", context: ErrorContext(file: destroyedPath))
        }
    }

    // MARK: - Secrets

    /// The day's salt, created with 32 random bytes when the day has none yet.
    private func salt(forDay day: String) throws(CoreError) -> SecureBytes {
        let path = saltPath(day)
        if !SecretFiles.exists(path) {
            do {
                let fresh = try SecureBytes.random(count: Self.saltLength)
                try fresh.writeNewSecretFile(path: path, purpose: "log day salt")
            } catch where error.code == .cryptoSecretFileExists {
                // Another drctl made it first: use theirs.
            } catch {
                throw CoreError(error)
            }
        }
        let salt: SecureBytes
        do {
            salt = try SecureBytes.readSecretFile(path: path, purpose: "log day salt", trimTrailingNewline: false)
        } catch {
            throw CoreError(error)
        }
        guard salt.count == Self.saltLength else {
            throw CoreError(.logsState, message: "the salt of day \(day), \(path), holds \(salt.count) bytes instead of \(Self.saltLength): it is damaged. Its day's pseudonyms cannot be recomputed; move it away (a new salt starts new pseudonyms for that day)", context: ErrorContext(file: path))
        }
        return salt
    }

    /// The log master key: `[logs] key_file` or the file of `key_credential`.
    private func masterKey() throws(CoreError) -> SecureBytes {
        let path: String
        if let name = configuration.logs.keyCredential {
            guard let directory = RepositoryCredentials.directory else {
                throw CoreError(.secretCredential, message: "[logs] key_credential = \"\(name)\" is set, but $CREDENTIALS_DIRECTORY is not: this command runs outside a systemd unit that passes credentials. Add LoadCredential=\(name):/etc/drctl/logs.key to the unit's [Service] section")
            }
            path = directory + "/" + name
        } else if let file = configuration.logs.keyFile {
            path = file
        } else {
            throw CoreError(.logsKey, message: "no log master key is configured: set key_file (drctl init creates it) or key_credential under [logs]")
        }
        let text: SecureBytes
        do {
            text = try SecureBytes.readSecretFile(path: path, purpose: "log master key file", trimTrailingNewline: true)
        } catch {
            let known = CoreError(error)
            if known.code == .cryptoSecretFileMissing {
                throw CoreError(.logsKey, message: "\(known.message). Run drctl init to create it, or point [logs] key_file at the key you kept", context: ErrorContext(file: path))
            }
            throw known
        }
        do {
            return try KeyFileFormat.decode(text, origin: path)
        } catch {
            throw CoreError(.logsKey, message: "log master key file \(path): 64 hex digits (32 bytes) expected; \(error.message)", context: ErrorContext(file: path))
        }
    }
}

extension LogDayKeyStore {
    /// One day of `drctl logs keys`.
    package struct Day: Sendable, Codable {
        package var day: String
        /// "present" (its salt exists), "destroyed", or "expired" (past the window; destroyed
        /// by the next retain).
        package var state: String
        package var destroyed: String?
        /// When the key will be destroyed (the day's end plus `[logs] retain`).
        package var destroyedAfter: String?
    }

    /// Every day with a salt or a destruction record, oldest first.
    package func listing(now: Date = LogClock.now()) throws(CoreError) -> [Day] {
        var days: [String: Day] = [:]
        for (day, time) in try destroyedDays() {
            days[day] = Day(day: day, state: "destroyed", destroyed: time)
        }
        for day in try presentDays() {
            guard let number = LogDay.number(day) else { continue }
            let after = Date(timeIntervalSince1970: Double((number + 1) * 86_400 + configuration.logs.retain.seconds))
            days[day] = Day(day: day, state: isExpired(number, now: now) ? "expired" : "present",
                            destroyed: days[day]?.destroyed, destroyedAfter: Timestamps.format(after))
        }
        return days.values.sorted { $0.day < $1.day }
    }
}
