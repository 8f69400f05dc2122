internal import CSQLite
package import DRBase

#if canImport(Glibc)
import Glibc
#endif

/// Errors of local SQLite databases (drctl's caches; never the mailboxes, which drctl only
/// reads as files).
package enum SQLiteDomain: ErrorDomain {}
package typealias SQLiteError = DomainError<SQLiteDomain>

extension DomainError where Domain == SQLiteDomain {
    /// A failure that says nothing against the file (another connection holds a lock past
    /// the busy timeout, the disk is full, memory ran out): a cache is kept for a later
    /// command. Anything else (`SQLITE_CORRUPT`, `SQLITE_NOTADB`, a file that cannot be
    /// opened or read) means the file is beyond use.
    package var isTransient: Bool {
        guard case .library("sqlite", let status)? = underlying else { return false }
        return [SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_NOMEM, SQLITE_INTERRUPT]
            .contains(Int32(truncatingIfNeeded: status) & 0xFF)
    }
}

/// A plain (unencrypted) SQLite database drctl owns, such as the node cache or check's node verdicts.
///
/// One connection, used by one thread at a time (callers serialize; the type is not Sendable
/// on purpose). Statements are prepared once and reused.
package final class SQLiteDatabase {
    private var handle: OpaquePointer?
    package let path: String

    /// Opens (creating) the database at `path` with mode 0600.
    package init(path: String) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        handle = db
        guard status == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            handle = nil
            throw SQLiteError(.sqliteOpen, message: "cannot open the local database \(path): \(message)")
        }
        sqlite3_extended_result_codes(db, 1)
        // SQLite creates files with the umask's mode; drctl's own are private (its -wal and
        // -shm take the database file's mode).
        if path != ":memory:" { _ = chmod(path, 0o600) }
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (schema, pragmas, BEGIN/COMMIT).
    package func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &error)
        if status != SQLITE_OK {
            let text = error.map { String(cString: $0) } ?? "error \(status)"
            sqlite3_free(error)
            throw failure(text, status: status)
        }
    }

    package func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw failure(String(cString: sqlite3_errmsg(handle)), status: status)
        }
        return Statement(statement, database: self)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    package func transaction<R, E: Error>(_ body: () throws(E) -> R) throws -> R {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    func failure(_ text: String, status: Int32) -> SQLiteError {
        let full = status == SQLITE_FULL || status == SQLITE_IOERR
        return SQLiteError(full ? .sqliteIo : .sqliteError, message: "local database \(path): \(text)",
                           context: ErrorContext(file: path), underlying: .library("sqlite", Int(status)))
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// A prepared statement: bind, step, read columns, reset.
    package final class Statement {
        private let statement: OpaquePointer
        private unowned let database: SQLiteDatabase

        init(_ statement: OpaquePointer, database: SQLiteDatabase) {
            self.statement = statement
            self.database = database
        }

        deinit { sqlite3_finalize(statement) }

        package func bind(_ index: Int32, blob: [UInt8]) {
            blob.withUnsafeBytes { raw in
                _ = sqlite3_bind_blob(statement, index, raw.baseAddress, Int32(raw.count), CSQLite_TRANSIENT())
            }
        }

        package func bind(_ index: Int32, int: Int64) {
            sqlite3_bind_int64(statement, index, int)
        }

        package func bind(_ index: Int32, text: String) {
            sqlite3_bind_text(statement, index, text, -1, CSQLite_TRANSIENT())
        }

        /// Steps once: true when a row is available, false when done.
        package func step() throws(SQLiteError) -> Bool {
            let status = sqlite3_step(statement)
            switch status {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw database.failure(database.lastMessage, status: status)
            }
        }

        package func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

        package func text(_ column: Int32) -> String {
            guard let pointer = sqlite3_column_text(statement, column) else { return "" }
            return String(cString: pointer)
        }

        package func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }

        /// Clears bindings and rewinds, ready for the next use.
        package func reset() {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
    }
}
