import DRBase
package import DRConfig
import DRRepository
import DRSQLite
package import Foundation

/// `drctl canary`: appends the current time (UTC) to the canary mailbox, a plain SQLite
/// database in WAL mode inside the store holding `canary(time TEXT)` and nothing else (no
/// personal data, so no key). Backed up like every mailbox, it lets a drill read the achieved
/// recovery point from the restored data itself.
package enum CanaryJob {
    /// Rows kept: enough to see the cadence, small enough to stay a few pages.
    package static let keptRows = 1000

    package struct Report: Sendable, Codable {
        package var path: String
        package var time: String
        package var rows: Int64
        /// Set when the canary does not match `[store] include`: it would never be backed up.
        package var warning: String?
    }

    package static func run(_ configuration: Configuration, now: Date = Date()) throws(CoreError) -> Report {
        guard let relative = configuration.drill.canary else {
            throw CoreError(.canaryUnset, message: "[drill] canary is not set in the configuration, so there is no canary mailbox to write; add canary = \"drctl-canary.sqlite\" under [drill] (a path in the store that [store] include matches)")
        }
        let path = configuration.store.path + "/" + relative
        let time = Timestamps.format(now)
        let rows: Int64
        do {
            let database = try SQLiteDatabase(path: path)
            try database.execute("PRAGMA journal_mode = WAL")
            try database.execute("PRAGMA busy_timeout = 10000")
            try database.execute("CREATE TABLE IF NOT EXISTS canary(time TEXT NOT NULL)")
            try database.transaction { () throws(SQLiteError) in
                let insert = try database.prepare("INSERT INTO canary(time) VALUES (?)")
                insert.bind(1, text: time)
                _ = try insert.step()
                try database.execute("DELETE FROM canary WHERE rowid <= (SELECT max(rowid) FROM canary) - \(keptRows)")
            }
            let count = try database.prepare("SELECT count(*) FROM canary")
            _ = try count.step()
            rows = count.int(0)
        } catch {
            let wrapped = CoreError(error)
            throw CoreError(.canaryWrite, message: "cannot write the canary mailbox \(path): \(wrapped.message); check that [store] path exists and is writable by this user",
                            context: ErrorContext(file: path), underlying: wrapped.underlying)
        }
        return Report(path: path, time: time, rows: rows, warning: DrillNotes.canaryNotIncluded(configuration))
    }
}

/// What `config check` adds about drills (it needs the store's glob matching, which lives here).
package enum DrillNotes {
    package static func of(_ configuration: Configuration) -> [String] {
        [canaryNotIncluded(configuration)].compactMap { $0 }
    }

    static func canaryNotIncluded(_ configuration: Configuration) -> String? {
        guard let canary = configuration.drill.canary,
              !configuration.store.include.contains(where: { Glob.matches($0, canary) }) else { return nil }
        return "[drill] canary \(canary) does not match [store] include (\(configuration.store.include.joined(separator: ", "))): it is never backed up, so drills cannot read the RPO from it; add a pattern that matches it"
    }
}
