import DRBase
import DRConfig
import DRImage
import DRRepository
import DRSQLite
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The checks of one mailbox restored into the scratch folder, after the restore itself
/// (which authenticated every chunk and checked every tree node against the recorded root).
struct DrillChecks {
    var checks: [DrillResults.Check] = []
    var cipher: String?
    var journal: String?
    /// The canary's newest time, when this is the canary and it could be read.
    var canaryNewest: Date?

    /// - Parameter canary: whether this mailbox is the canary (its newest row is read).
    static func run(_ file: String, entry: SnapshotManifest.FileEntry, drill: Configuration.Drill,
                    canary: Bool) -> DrillChecks {
        var result = DrillChecks()
        result.journal = DrillCandidate.journal(snapshotMode: entry.snapshotMode)
        let header = readHeader(file)
        let facts = header.map(HeaderFacts.init)
        let isDatabase = entry.kind == "sqlite"
        if let facts, isDatabase { result.cipher = facts.cipher == .plain ? "plain" : facts.cipher == .unknown ? "unknown" : "encrypted" }
        if !isDatabase { result.cipher = "none" }
        result.checks.append(sizeAndPages(file, entry: entry, facts: facts))
        if isDatabase, let facts {
            if facts.cipher == .plain {
                result.checks += plainChecks(file)
            } else {
                // Without the key: the bytes must look like an encrypted page 1 (random from
                // byte 16 on, or SQLite3MultipleCiphers' plaintext tail), not text or zeros.
                let verdict: DrillResults.Verdict = facts.otherFormat || facts.cipher == .unknown ? .fail : .pass
                result.checks.append(.init(name: "encrypted-header", verdict: verdict,
                                           detail: verdict == .pass ? "page 1 looks encrypted (\(facts.cipher.rawValue)); content checks need the key: verify_command"
                                               : "page 1 is neither a plain SQLite header nor encrypted-looking bytes"))
            }
        }
        if let command = drill.verifyCommand, drill.verifyMailboxes.contains(where: { Glob.matches($0, entry.path) }) {
            result.checks.append(runHook(command, file: file))
        }
        if canary {
            let (check, newest) = readCanary(file)
            result.checks.append(check)
            result.canaryNewest = newest
        }
        return result
    }

    static func readHeader(_ file: String) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: file) else { return nil }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 100)).map { Array($0) }
    }

    static func fileSize(_ file: String) -> Int64? {
        var info = stat()
        return stat(file, &info) == 0 ? Int64(info.st_size) : nil
    }

    /// Size against the entry and the header: a plain database's header page count × page
    /// size = file size; an encrypted one (no readable header) a whole number of the entry's
    /// pages; a file that is not SQLite its recorded size.
    static func sizeAndPages(_ file: String, entry: SnapshotManifest.FileEntry,
                             facts: HeaderFacts?) -> DrillResults.Check {
        let name = "size-and-pages"
        guard let size = fileSize(file) else { return .init(name: name, verdict: .unknown, detail: "the restored file cannot be examined") }
        guard size == entry.size else {
            return .init(name: name, verdict: .fail, detail: "\(size) bytes restored, the snapshot recorded \(entry.size)")
        }
        guard entry.kind == "sqlite" else {
            return .init(name: name, verdict: .pass, detail: "not SQLite: \(size) bytes as recorded")
        }
        let pageSize = facts?.pageSize ?? entry.pageSize
        guard pageSize > 0 else {
            return .init(name: name, verdict: .unknown, detail: "the page size is unknown without the key and was not recorded")
        }
        if let stated = facts?.pageSize, entry.pageSize > 0, stated != entry.pageSize {
            return .init(name: name, verdict: .fail, detail: "the header states pages of \(stated) bytes, the snapshot recorded \(entry.pageSize)")
        }
        guard size % Int64(pageSize) == 0 else {
            return .init(name: name, verdict: .fail, detail: "\(size) bytes is not a whole number of \(pageSize)-byte pages")
        }
        let pages = Int(size / Int64(pageSize))
        if let headerPages = facts?.pageCount, headerPages != pages {
            return .init(name: name, verdict: .fail, detail: "the header states \(headerPages) pages of \(pageSize) bytes, the file holds \(pages)")
        }
        if entry.pageCount > 0, entry.pageCount != pages {
            return .init(name: name, verdict: .fail, detail: "\(pages) pages restored, the snapshot recorded \(entry.pageCount)")
        }
        return .init(name: name, verdict: .pass, detail: "\(pages) pages × \(pageSize) bytes = \(size) bytes"
                     + (facts?.pageCount != nil ? ", as the header states" : ", as recorded"))
    }

    /// `PRAGMA integrity_check` and the row count of every ordinary table, through DRSQLite,
    /// on the scratch copy (never the live mailbox).
    static func plainChecks(_ file: String) -> [DrillResults.Check] {
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: file)
            // The restored schema is data, not code to trust.
            try database.execute("PRAGMA trusted_schema = OFF")
        } catch {
            return [.init(name: "integrity-check", verdict: .fail, detail: error.message),
                    .init(name: "row-counts", verdict: .fail, detail: error.message)]
        }
        var checks: [DrillResults.Check] = []
        do {
            let statement = try database.prepare("PRAGMA integrity_check")
            var lines: [String] = []
            while try statement.step() { lines.append(statement.text(0)) }
            let ok = lines == ["ok"]
            checks.append(.init(name: "integrity-check", verdict: ok ? .pass : .fail,
                                detail: ok ? "ok" : lines.prefix(5).joined(separator: "; ")))
        } catch {
            checks.append(.init(name: "integrity-check", verdict: .fail, detail: error.message))
        }
        do {
            let tables = try database.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
            var names: [String] = []
            while try tables.step() { names.append(tables.text(0)) }
            var counts: [String] = []
            for name in names {
                let count = try database.prepare("SELECT count(*) FROM \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"")
                _ = try count.step()
                counts.append("\(name)=\(count.int(0))")
            }
            checks.append(.init(name: "row-counts", verdict: .pass,
                                detail: counts.isEmpty ? "no tables" : counts.joined(separator: ", ")))
        } catch {
            checks.append(.init(name: "row-counts", verdict: .fail, detail: error.message))
        }
        return checks
    }

    /// The canary's newest time (the table `canary(time TEXT)` that `drctl canary` writes).
    static func readCanary(_ file: String) -> (DrillResults.Check, Date?) {
        do {
            let database = try SQLiteDatabase(path: file)
            let statement = try database.prepare("SELECT max(time) FROM canary")
            guard try statement.step(), let newest = Timestamps.parse(statement.text(0)) else {
                return (.init(name: "canary", verdict: .fail, detail: "the restored canary holds no time"), nil)
            }
            return (.init(name: "canary", verdict: .pass, detail: "newest canary write \(Timestamps.format(newest))"), newest)
        } catch {
            return (.init(name: "canary", verdict: .fail, detail: "the restored canary cannot be read: \(error.message)"), nil)
        }
    }

    /// Lines of the hook's output kept in the report.
    static let hookLines = 5
    /// A hook that runs longer is stopped (and its check fails).
    static let hookTimeout: Double = 600

    /// Runs `[drill] verify_command` with the restored path appended: exit 0 passes, any other
    /// fails, a hook that cannot be started is unknown. Its first lines are recorded.
    static func runHook(_ command: [String], file: String) -> DrillResults.Check {
        let name = "verify-command"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + [file]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .init(name: name, verdict: .unknown, detail: "\(command[0]) could not be started: \(error.localizedDescription)")
        }
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + hookTimeout, execute: timer)
        // Read to the end (a full pipe would block the hook), keep the first lines only.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        let lines = String(decoding: data.prefix(64 << 10), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
            .prefix(hookLines).joined(separator: " | ")
        let status = process.terminationStatus
        let killed = process.terminationReason == .uncaughtSignal
        let verdict: DrillResults.Verdict = !killed && status == 0 ? .pass : .fail
        return .init(name: name, verdict: verdict,
                     detail: (killed ? "stopped by signal \(status)" : "exit status \(status)") + (lines.isEmpty ? "" : ": " + lines))
    }
}
