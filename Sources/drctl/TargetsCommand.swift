import ArgumentParser
import DRBase
import DRConfig
import DRCore

struct TargetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets",
        abstract: "Show every target: reachable or not, newest snapshot, lag, size.",
        discussion: """
            One row per configured target: whether it is reachable (and, when not, the error \
            code and message), its newest snapshot, how far it lags behind the others (the \
            snapshots, keys and packs it lacks that another target holds, and how much older \
            its newest snapshot is than the newest of any target), the bytes and objects it \
            stores (from one listing: no object is downloaded, only snapshot records this \
            host has not seen before are read for their time), and, for S3, whether the \
            bucket has Object Lock (n/a for folders). Credentials never appear in a location.

            When to run it: after a backup ended with exit status 2, before and after drctl \
            sync, and from monitoring (--json).

            Exit status 0 when every target is reachable and none lags; 2 (degraded) \
            otherwise: drctl sync brings a lagging target up to date.

            Examples:
              drctl targets
              drctl targets --json
            """)

    @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

    func run() throws {
        let configuration = try global.loadConfiguration()
        global.detail("targets: " + configuration.targets.map(\.name).joined(separator: ", "))
        let report = try TargetsJob.run(configuration, secrets: global.secrets, logger: global.logger)
        if global.json {
            try Output.json(report)
        } else {
            // A listing: printed under --quiet too.
            for line in Self.table(report) { print(line) }
        }
        if report.exitStatus != .success {
            throw ExitCode(report.exitStatus.rawValue)
        }
    }

    /// The rows as a text table, then one line per unreachable target with its error.
    static func table(_ report: TargetsJob.Report) -> [String] {
        let header = ["TARGET", "REACHABLE", "NEWEST SNAPSHOT", "LAG", "STORED", "OBJECTS", "OBJECT LOCK", "LOCATION"]
        var cells: [[String]] = [header]
        for row in report.targets {
            let newest = row.newestSnapshot.map { "\($0.time) \($0.id.prefix(8))" } ?? (row.reachable ? "none" : "-")
            cells.append([row.name, row.reachable ? "yes" : "NO", newest, lag(row),
                          row.storedBytes.map { ByteSize.format($0) } ?? "-", row.objects.map(String.init) ?? "-",
                          row.objectLock, row.location])
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        var lines = cells.map { row in
            row.enumerated().map { column, text in
                column == row.count - 1 ? text : text.column(widths[column] + 2)
            }.joined()
        }
        for row in report.targets {
            if let error = row.error { lines.append("\(row.name): \(error.code.rawValue): \(error.message)") }
        }
        return lines
    }

    static func lag(_ row: TargetsJob.Row) -> String {
        guard let lag = row.lag else { return "-" }
        guard lag.lagging else { return "none" }
        var parts: [String] = []
        func count(_ n: Int, _ what: String) { if n > 0 { parts.append("\(n) \(what)\(n == 1 ? "" : "s")") } }
        count(lag.snapshots, "snapshot")
        count(lag.keys, "key")
        count(lag.packs, "pack")
        if lag.packsDiffering > 0 { parts.append("\(lag.packsDiffering) differing") }
        if let behind = lag.behindSeconds, behind >= 1 { parts.append(TargetsJob.duration(behind) + " behind") }
        return parts.joined(separator: ", ")
    }
}
