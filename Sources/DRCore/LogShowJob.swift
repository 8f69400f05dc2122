import DRBase
package import DRConfig
import DRCompression
import DRRepository
import DRTransport
package import Foundation
package import Logging

/// `drctl logs show`: the retained, anonymized logs of one target, decrypted, in time order.
///
/// Objects are ordered by their original's modification time (rotations follow each other),
/// lines in file order. `--since`/`--until` go by each line's own time where it has one (an RFC
/// 3339 or syslog `Mmm dd HH:MM:SS` prefix; a syslog time takes its year from the file's day);
/// a line without one takes the time of the line before it.
package enum LogShowJob {
    package struct Options: Sendable {
        package var since: Date?
        package var until: Date?
        package var grep: String?
        package var target: String?
        package init() {}
    }

    package struct Line: Sendable, Codable {
        package var time: String?
        package var day: String
        package var source: String
        package var host: String
        package var line: String
    }

    package struct Summary: Sendable, Codable {
        package var target: String
        package var objects: Int
        package var lines: Int
    }

    package static func run(_ configuration: Configuration, secrets: SecretSources, options: Options, logger: Logger,
                            emit: (Line) throws -> Void) throws(CoreError) -> Summary {
        var expression: NSRegularExpression?
        if let pattern = options.grep {
            do { expression = try NSRegularExpression(pattern: pattern) } catch {
                throw CoreError(.logsPattern, message: "--grep \(pattern): not a regular expression (ICU syntax, as NSRegularExpression reads it): \(error.localizedDescription)")
            }
        }
        let repository = try KeyJobs.open(configuration, secrets: secrets, requireAll: false, only: options.target,
                                          use: .read, logger: logger)
        let keys: RetainedLogKeys
        do { keys = try repository.retainedLogKeys() } catch { throw CoreError(error) }
        let sinceDay = options.since.map { LogDay.number(ofSeconds: Int64($0.timeIntervalSince1970.rounded(.down))) }
        var lastError: CoreError?
        var printed = false
        for objectStore in repository.stores {
            do throws(CoreError) {
                let listed: [String]
                do { listed = try objectStore.list(prefix: RetainedLogName.prefix) } catch { throw CoreError(error) }
                // An object's lines are no newer than its day (the original's last change), so
                // days before --since hold nothing to show.
                let wanted = listed.filter { key in
                    guard let parsed = RetainedLogName.parse(key), let number = LogDay.number(parsed.day) else { return false }
                    return sinceDay.map { number >= $0 } ?? true
                }
                var objects: [(header: LogObjectHeader, key: String, body: ArraySlice<UInt8>)] = []
                for key in wanted {
                    let plaintext: [UInt8]
                    do {
                        plaintext = try keys.open(try objectStore.get(key), key: key, target: objectStore.targetName)
                    } catch let error as TransportError {
                        throw CoreError(error)
                    } catch let error as RepositoryError {
                        throw CoreError(.logsObject, message: error.message, context: ErrorContext(target: objectStore.targetName, object: key))
                    } catch {
                        throw CoreError(.internalDefect, message: "\(error)")
                    }
                    let (header, start) = try LogObjectHeader.decode(plaintext, object: key)
                    objects.append((header, key, plaintext[start...]))
                }
                objects.sort { ($0.header.modified, $0.key) < ($1.header.modified, $1.key) }
                var shown = 0
                for object in objects {
                    let text: [UInt8]
                    do {
                        text = try ZstdDecompressionStream(maxOutput: 1 << 34).decompress(Array(object.body))
                    } catch {
                        throw CoreError(.logsObject, message: "target \(objectStore.targetName): \(object.key): the lines do not decompress: \(error.message)")
                    }
                    var clock = LineClock(modified: Timestamps.parse(object.header.modified) ?? Date(timeIntervalSince1970: 0))
                    for raw in text.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast(text.last == 0x0A ? 1 : 0) {
                        let line = String(decoding: raw, as: UTF8.self)
                        let time = clock.time(of: line)
                        if let since = options.since, let time, time < since { continue }
                        if let until = options.until, let time, time > until { continue }
                        if let expression, expression.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) == nil { continue }
                        do {
                            try emit(Line(time: time.map(Timestamps.format), day: object.header.day, source: object.header.source,
                                          host: object.header.host, line: line))
                        } catch {
                            throw CoreError(.fileIo, message: "cannot write the output: \(error)")
                        }
                        shown += 1
                        printed = true
                    }
                }
                return Summary(target: objectStore.targetName, objects: objects.count, lines: shown)
            } catch {
                // Once lines are out, another target would print them again: stop here. Before
                // that, say which target failed and read the next one.
                if printed { throw error }
                logger.warning("target \(objectStore.targetName): \(error.message)")
                lastError = error
            }
        }
        throw lastError ?? CoreError(.repositoryTargetsUnavailable, message: "no target could be read")
    }

    /// The time of each line: its own prefix when it has one, else the previous line's.
    struct LineClock {
        let modified: Date
        let year: Int
        let month: Int
        var last: Date?

        init(modified: Date) {
            self.modified = modified
            let days = LogDay.number(ofSeconds: Int64(modified.timeIntervalSince1970.rounded(.down)))
            let civil = CivilDate.civil(fromDays: days)
            year = Int(civil.year)
            month = Int(civil.month)
        }

        static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

        mutating func time(of line: String) -> Date? {
            if let parsed = parse(line) { last = parsed }
            return last
        }

        func parse(_ line: String) -> Date? {
            let bytes = Array(line.utf8.prefix(40))
            // RFC 3339: "2026-12-07T04:29:39…" up to the first space.
            if bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " ") {
                let token = String(decoding: bytes.prefix { $0 != UInt8(ascii: " ") || false }, as: UTF8.self)
                if let date = Timestamps.parse(token) { return date }
                var plain = Array(bytes[0..<19])
                plain[10] = UInt8(ascii: "T")
                if let date = Timestamps.parse(String(decoding: plain, as: UTF8.self) + "Z") { return date }
            }
            // Syslog: "Dec  7 04:29:39".
            if bytes.count >= 15, let monthIndex = Self.months.firstIndex(of: String(decoding: bytes[0..<3], as: UTF8.self)),
               bytes[3] == UInt8(ascii: " ") {
                let dayText = String(decoding: bytes[4..<6], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                let clock = String(decoding: bytes[7..<15], as: UTF8.self).split(separator: ":")
                guard let day = Int64(dayText), clock.count == 3, let hour = Int64(clock[0]), let minute = Int64(clock[1]),
                      let second = Int64(clock[2]), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
                let lineMonth = monthIndex + 1
                // A December line in a file changed in January belongs to the year before.
                let lineYear = lineMonth > month ? year - 1 : year
                let days = CivilDate.days(year: Int64(lineYear), month: Int64(lineMonth), day: day)
                return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second))
            }
            return nil
        }
    }
}
