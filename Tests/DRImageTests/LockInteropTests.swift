import DRBase
import Foundation
import Testing

@testable import DRImage

/// A Python process driving Debian's libsqlite3 (the real POSIX-lock owner drctl must
/// interoperate with). It runs `script`, prints READY, and waits until its stdin closes.
final class SQLiteProcess: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    init(_ script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// Reads standard output until `text` appears (or the process ends).
    func waitFor(_ text: String) -> String {
        var seen = ""
        while !seen.contains(text) {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            seen += String(decoding: data, as: UTF8.self)
        }
        return seen
    }

    /// Closes stdin (the script's signal to finish) and waits.
    func finish() -> Int32 {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs a short script to completion and returns its output.
    static func run(_ script: String, _ arguments: [String]) throws -> String {
        let child = try SQLiteProcess(script, arguments: arguments)
        let status = child.finish()
        let out = String(decoding: child.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return status == 0 ? out : "exit \(status): \(out)"
    }
}

enum Scripts {
    static let create = """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute('PRAGMA journal_mode=' + sys.argv[2])
        db.execute('CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)')
        for i in range(200): db.execute('INSERT INTO t(y) VALUES (?)', ('row %d' % i * 20,))
        db.close()
        """
    /// Holds SQLite's EXCLUSIVE lock (rollback mode) until stdin closes.
    static let holdExclusive = """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
        db.execute('BEGIN EXCLUSIVE'); db.execute("INSERT INTO t(y) VALUES ('held')")
        print('READY', flush=True); sys.stdin.read(); db.execute('COMMIT')
        """
    /// Tries to take EXCLUSIVE without waiting: prints OK or BUSY.
    static let tryExclusive = """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
        try:
            db.execute('BEGIN EXCLUSIVE'); db.execute('COMMIT'); print('OK')
        except sqlite3.OperationalError as e:
            print('BUSY', e)
        """
    /// Keeps a WAL connection open (with committed frames) until stdin closes.
    static let holdWalConnection = """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
        db.execute('PRAGMA wal_autocheckpoint=0')
        for i in range(20): db.execute("INSERT INTO t(y) VALUES ('wal')")
        print('READY', flush=True); sys.stdin.read()
        """
    /// Runs a TRUNCATE checkpoint without waiting: prints its (busy, log, checkpointed) row.
    static let truncateCheckpoint = """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
        print('ROW', db.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone())
        """
}

/// drctl takes Linux OFD locks; SQLite takes process-owned POSIX locks on the same bytes.
/// These tests check, against a real SQLite, that each sees the other's locks, and that every
/// lock is released after the snapshot, on success and on every error path.
@Suite("OFD locks against a real SQLite", .serialized)
final class LockInteropTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "drsnapshot-locks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeDatabase(_ name: String, journal: String) throws -> String {
        let path = directory + "/" + name
        let out = try SQLiteProcess.run(Scripts.create, [path, journal])
        try #require(!out.hasPrefix("exit"), "creating the database failed: \(out)")
        return path
    }

    func snapshotError(_ path: String, retryMs: Int = 300) -> ImageError? {
        var options = ImageOptions()
        options.retryTimeoutMilliseconds = retryMs
        do {
            _ = try ImageCapture.withConsistentImage(of: path, options: options) { reader throws in
                reader.metadata.pageCount
            }
            return nil
        } catch {
            return error as? ImageError
        }
    }

    @Test("SQLite's EXCLUSIVE lock blocks drctl's SHARED OFD lock, and drctl's blocks SQLite")
    func rollbackLocksInteroperate() throws {
        let database = try makeDatabase("rollback.db", journal: "DELETE")
        let holder = try SQLiteProcess(Scripts.holdExclusive, arguments: [database])
        #expect(holder.waitFor("READY").contains("READY"))
        let file = try SystemFile.open(database)
        #expect(try file.isLockedByOthers(.shared, start: DatabaseLocks.sharedFirst, length: DatabaseLocks.sharedSize))
        #expect(try file.isLockedByOthers(.exclusive, start: DatabaseLocks.reserved))
        #expect(snapshotError(database)?.code == .imageBusy)
        #expect(holder.finish() == 0)

        var insideOutcome = ""
        var pageCount = 0
        try ImageCapture.withConsistentImage(of: database) { (reader) throws in
            #expect(reader.metadata.mode == .rollback)
            pageCount = reader.metadata.pageCount
            insideOutcome = (try? SQLiteProcess.run(Scripts.tryExclusive, [database])) ?? "failed to run"
        }
        #expect(pageCount > 1)
        #expect(insideOutcome.hasPrefix("BUSY"), "SQLite took EXCLUSIVE while drctl held SHARED: \(insideOutcome)")
        let after = try SQLiteProcess.run(Scripts.tryExclusive, [database])
        #expect(after.hasPrefix("OK"), "the SHARED lock was not released: \(after)")
    }

    @Test("a pinned read mark stops a TRUNCATE checkpoint; released afterwards")
    func walReadMarkPins() throws {
        let database = try makeDatabase("wal.db", journal: "WAL")
        let holder = try SQLiteProcess(Scripts.holdWalConnection, arguments: [database])
        defer { _ = holder.finish() }
        #expect(holder.waitFor("READY").contains("READY"))
        var inside = ""
        try ImageCapture.withConsistentImage(of: database) { (reader) throws in
            #expect(reader.metadata.mode == .walLive)
            #expect(reader.metadata.overlaidPages > 0)
            inside = (try? SQLiteProcess.run(Scripts.truncateCheckpoint, [database])) ?? "failed to run"
        }
        #expect(inside.contains("ROW (1,"), "the checkpoint was not held back by the read mark: \(inside)")
        let after = try SQLiteProcess.run(Scripts.truncateCheckpoint, [database])
        #expect(after.contains("ROW (0,"), "the read mark stayed locked: \(after)")
    }

    @Test("every lock is released on error paths")
    func locksReleasedOnErrors() throws {
        // An error after SHARED was taken: the database is cut mid-page.
        let database = try makeDatabase("cut.db", journal: "DELETE")
        let size = try #require(FileManager.default.attributesOfItem(atPath: database)[.size] as? Int)
        #expect(truncate(database, off_t(size - 100)) == 0)
        #expect(snapshotError(database)?.code == .imageDbTruncated)
        #expect(try SQLiteProcess.run(Scripts.tryExclusive, [database]).hasPrefix("OK"))

        // The consumer fails mid-read.
        let healthy = try makeDatabase("healthy.db", journal: "DELETE")
        // A consumer's error of another domain passes through unchanged (not re-typed).
        struct ConsumerFailure: Error {}
        do {
            try ImageCapture.withConsistentImage(of: healthy) { (reader) throws in
                _ = try reader.readBlock(maxBytes: 4096)
                throw ConsumerFailure()
            }
            Issue.record("the consumer's error was swallowed")
        } catch {
            #expect(error is ConsumerFailure)
        }
        #expect(try SQLiteProcess.run(Scripts.tryExclusive, [healthy]).hasPrefix("OK"))

        // Reading after the closure is refused instead of reading unpinned data.
        var escaped: ImageReader?
        try ImageCapture.withConsistentImage(of: healthy) { (reader) throws in escaped = reader }
        #expect(throws: ImageError.self) { _ = try escaped?.readBlock(maxBytes: 4096) }
    }

    @Test("a wal-live error after the read mark is pinned releases READ(i), DMS and SHARED")
    func walLiveLocksReleasedOnErrors() throws {
        let database = try makeDatabase("wal-error.db", journal: "WAL")
        let holder = try SQLiteProcess(Scripts.holdWalConnection, arguments: [database])
        defer { _ = holder.finish() }
        #expect(holder.waitFor("READY").contains("READY"))
        // The -shm names committed frames but the WAL is gone: found only once everything is
        // held. The idle connection does not miss it; it is put back before that connection closes.
        let wal = database + "-wal"
        #expect(rename(wal, wal + ".away") == 0)
        let error = snapshotError(database)
        #expect(rename(wal + ".away", wal) == 0)
        #expect(error?.code == .imageShmInconsistent, "\(String(describing: error))")

        // An idle SQLite connection holds no READ(i), so any lock there would be drctl's.
        let shm = try SystemFile.open(database + "-shm", writable: true)
        for slot in 1..<WalIndexLayout.readerSlots {
            #expect(try !shm.isLockedByOthers(.exclusive, start: WalIndexLayout.readLock(slot)), "READ(\(slot)) is still locked")
        }
        // Once SQLite's connection is gone, only drctl could still hold DMS or SHARED; the -shm
        // descriptor opened above still reaches the file after SQLite's last close unlinks it.
        #expect(holder.finish() == 0)
        #expect(try !shm.isLockedByOthers(.exclusive, start: WalIndexLayout.deadManSwitch), "DMS is still locked")
        let file = try SystemFile.open(database)
        #expect(try !file.isLockedByOthers(.exclusive, start: DatabaseLocks.sharedFirst, length: DatabaseLocks.sharedSize),
                "SHARED is still held")
        // SQLite's last close checkpoints and deletes the WAL only when it gets EXCLUSIVE.
        #expect(!FileManager.default.fileExists(atPath: wal), "SQLite's last connection could not take EXCLUSIVE")
    }
}
