import Foundation
import Testing

@testable import DRImage

/// Keyless format checks on files made by the real libraries.
@Suite("WAL and header formats")
struct FormatTests {
    @Test("WAL checksum matches SQLite's on a real WAL; one flipped bit breaks the chain")
    func walChecksumAgainstSQLite() throws {
        let directory = NSTemporaryDirectory() + "drsnapshot-format-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/w.db"
        // Leave committed frames in the WAL: copy the files while the connection is open.
        let script = """
            import sqlite3, sys, shutil
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute('PRAGMA journal_mode=WAL'); db.execute('PRAGMA wal_autocheckpoint=0')
            db.execute('CREATE TABLE t(x)')
            for i in range(30): db.execute('INSERT INTO t VALUES (?)', (str(i) * 300,))
            shutil.copy(sys.argv[1] + '-wal', sys.argv[1] + '.walcopy')
            """
        let out = try SQLiteProcess.run(script, [database])
        try #require(!out.hasPrefix("exit"), "\(out)")
        let walPath = database + ".walcopy"
        let wal = try SystemFile.open(walPath)
        let header = try #require(WalHeader(try wal.readBytes(count: 32, at: 0)))
        let scan = try WalScanner.scan(wal: wal, header: header, mode: .recovery)
        #expect(scan.lastCommitFrame >= 30)
        #expect(scan.stopReason == nil)
        #expect(scan.databasePages >= 2)

        var bytes = try #require(FileManager.default.contents(atPath: walPath))
        bytes[32 + 24 + 7] ^= 1  // frame 1's page data
        try bytes.write(to: URL(fileURLWithPath: walPath))
        let broken = try SystemFile.open(walPath)
        #expect(throws: ImageError.self) {
            _ = try WalScanner.scan(wal: broken, header: header, mode: .pinned(mxFrame: scan.lastCommitFrame))
        }
    }

    @Test("header shapes: plain, SQLite3MultipleCiphers, SQLCipher, text")
    func headerShapes() {
        var plain = DatabaseHeader.magic + [0x10, 0x00, 2, 2, 0, 64, 32, 32]
        plain += [UInt8](repeating: 0, count: 100 - plain.count)
        let p = DatabaseHeader(plain)
        #expect(p.cipher == .plain && p.pageSize == 4096 && p.walMode == true && p.reservedBytes == 0)

        var mc = [UInt8](repeating: 0xa7, count: 16) + [0x10, 0x00, 1, 1, 32, 64, 32, 32]
        mc += [UInt8](repeating: 0x3c, count: 100 - mc.count)
        let m = DatabaseHeader(mc)
        #expect(m.cipher == .sqlite3mc && m.pageSize == 4096 && m.walMode == false && m.reservedBytes == 32)

        let random = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) | 0x80 }
        #expect(DatabaseHeader(random).cipher == .sqlcipher)
        #expect(DatabaseHeader(Array(String(repeating: "From alice@example.org\n", count: 8).utf8)).looksLikeOtherFormat)
    }
}
