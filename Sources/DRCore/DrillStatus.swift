import DRBase
import DRRepository
package import Foundation

/// The last restore drill's outcome, as `drctl status` and the metrics show it.
///
/// The interface between drills and their readers is one small file, written by each drill
/// (issue 12) after its full report: `<[drill] report_dir>/latest.json`, replaced atomically,
///
///     {"time": "2026-11-28T03:00:00.000Z", "verdict": "pass"}
///
/// `time` is when the drill finished (RFC 3339), `verdict` `pass`, `fail` or `unknown`; other keys are
/// ignored here (a drill may add the name of its full report). No file: no drill yet.
package enum DrillStatus {
    package static let fileName = "latest.json"

    package enum Verdict: String, Sendable, Codable, Equatable {
        case pass
        case fail
        /// A check could not run (issue 12: unknown is never a pass).
        case unknown
    }

    package struct Latest: Sendable, Codable, Equatable {
        /// When the drill finished, RFC 3339.
        package var time: String
        package var verdict: Verdict

        package init(time: String, verdict: Verdict) {
            self.time = time
            self.verdict = verdict
        }

        package var date: Date? { Timestamps.parse(time) }
    }

    package static func path(reportDirectory: String) -> String {
        reportDirectory + "/" + fileName
    }

    /// The last drill's time and verdict; nil when no drill has written its summary yet.
    /// A summary that is there but unreadable or malformed is an error naming the file.
    package static func latest(reportDirectory: String) throws(CoreError) -> Latest? {
        let path = path(reportDirectory: reportDirectory)
        guard let data = try SmallFile.read(path, limit: 64 << 10, what: "the last drill's summary") else { return nil }
        let malformed = CoreError(.statusDrillReport, message: "the last drill's summary \(path) is not a JSON object {\"time\": RFC 3339, \"verdict\": \"pass\", \"fail\" or \"unknown\"}; the next drill rewrites it (or remove it)",
                                  context: ErrorContext(file: path))
        guard let latest = try? JSONDecoder().decode(Latest.self, from: data), latest.date != nil else { throw malformed }
        return latest
    }

    /// Records a drill's outcome (for the drill job): written whole or not at all, readable by
    /// the monitoring that reads the reports.
    package static func record(_ latest: Latest, reportDirectory: String) throws(CoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes: Data
        do { bytes = try encoder.encode(latest) } catch { throw CoreError(.internalDefect, message: "the drill summary could not be encoded: \(error)") }
        do {
            try AtomicFile.write(Array(bytes), to: path(reportDirectory: reportDirectory), mode: 0o644, .replace,
                                 creatingFoldersWithMode: 0o700)
        } catch {
            throw CoreError(error.code, message: "cannot write the drill summary: \(error.message)", context: error.context,
                            underlying: error.underlying)
        }
    }
}
