import DRBase
import DRImage
import DRSQLite
import Foundation

/// Drives the keyless image path with fuzzer bytes as the files of one mailbox.
///
/// Input layout: four little-endian 32-bit lengths (database, -wal, -shm, -journal; a length
/// of 0xFFFFFFFF means "no such file"), then the four files' bytes back to back (lengths
/// larger than what is left are cut). The harness writes them into a private folder and reads
/// the whole image, as a backup does, with short retry bounds so that a "busy" verdict comes
/// quickly. Every header the image code reads comes from these bytes.
enum ImageHarness {
    static let names = ["mailbox.sqlite", "mailbox.sqlite-wal", "mailbox.sqlite-shm", "mailbox.sqlite-journal"]

    /// One folder per process: the fuzzer runs inputs one after another.
    static let folder: String = {
        let path = NSTemporaryDirectory() + "drctl-fuzz-image-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func run(_ bytes: [UInt8]) -> FuzzTarget.Outcome {
        let files = split(bytes)
        for (index, name) in names.enumerated() {
            let path = "\(folder)/\(name)"
            unlink(path)
            if let content = files[index] {
                _ = FileManager.default.createFile(atPath: path, contents: Data(content))
            }
        }
        // An odd-length input plays a live connection too: a shared OFD lock on the -shm's
        // DMS byte (128, docs/IMAGE.md), which is what makes the image code trust and read
        // the wal-index header; without it only the offline path would ever be fuzzed.
        var holder: Int32 = -1
        if files[2] != nil, bytes.count % 2 == 1 {
            holder = open("\(folder)/\(names[2])", O_RDWR | O_CLOEXEC)
            if holder >= 0 {
                var lock = flock()
                lock.l_type = Int16(F_RDLCK)
                lock.l_whence = Int16(SEEK_SET)
                lock.l_start = 128
                lock.l_len = 1
                _ = fcntl(holder, 37 /* F_OFD_SETLK */, &lock)
            }
        }
        defer { if holder >= 0 { close(holder) } }
        var options = ImageOptions()
        options.retryTimeoutMilliseconds = 20
        options.maxSharedLockMilliseconds = 1_000
        options.stabilityAttempts = 1
        return FuzzTarget.Outcome {
            try ImageCapture.withConsistentImage(of: "\(folder)/\(names[0])", options: options) { reader in
                var buffer = [UInt8](repeating: 0, count: max(reader.metadata.pageSize, 65_536))
                var total = 0
                while true {
                    let count = try buffer.withUnsafeMutableBytes { raw in
                        Result { () throws(ImageError) -> Int in try reader.read(into: raw) }
                    }.get()
                    if count == 0 { break }
                    total += count
                    // The image is bounded by its header's page count; a lying header must not
                    // make it endless (the harness input is at most a few MiB).
                    if total > 1 << 30 { throw ImageError(.internalDefect, message: "image larger than 1 GiB from a small input") }
                }
            }
        }
    }

    static func split(_ bytes: [UInt8]) -> [[UInt8]?] {
        var lengths: [UInt32] = []
        for index in 0..<4 {
            let start = index * 4
            guard start + 4 <= bytes.count else { lengths.append(0xFFFF_FFFF); continue }
            lengths.append(UInt32(bytes[start]) | UInt32(bytes[start + 1]) << 8
                           | UInt32(bytes[start + 2]) << 16 | UInt32(bytes[start + 3]) << 24)
        }
        var offset = min(16, bytes.count)
        return lengths.map { length in
            guard length != 0xFFFF_FFFF else { return nil }
            let end = min(bytes.count, offset + Int(length))
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    static func join(_ files: [[UInt8]?]) -> [UInt8] {
        var out: [UInt8] = []
        for file in files {
            let length = file.map { UInt32($0.count) } ?? 0xFFFF_FFFF
            out += [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)]
        }
        for file in files { out += file ?? [] }
        return out
    }

    /// Real SQLite files made by SQLite itself: a WAL database captured while its connection
    /// is open (database, -wal, -shm), the same after the connection closed (no -shm), and a
    /// rollback-journal database.
    static func seeds() -> [[UInt8]] {
        let dir = NSTemporaryDirectory() + "drctl-fuzz-seeds-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func read(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { Array($0) } }
        var seeds: [[UInt8]] = []
        do {
            let wal = "\(dir)/wal.sqlite"
            let database = try SQLiteDatabase(path: wal)
            try database.execute("PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0")
            try database.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)")
            for row in 0..<20 { try database.execute("INSERT INTO m (body) VALUES ('message \(row) \(String(repeating: "x", count: 200))')") }
            seeds.append(join([read(wal), read(wal + "-wal"), read(wal + "-shm"), nil]))
            seeds.append(join([read(wal), read(wal + "-wal"), nil, nil]))
            let rollback = "\(dir)/rollback.sqlite"
            let other = try SQLiteDatabase(path: rollback)
            try other.execute("PRAGMA page_size = 1024; CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)")
            for row in 0..<5 { try other.execute("INSERT INTO m (body) VALUES ('m\(row)')") }
            seeds.append(join([read(rollback), nil, nil, nil]))
            seeds.append(join([read(rollback), nil, nil, Array(repeating: 0, count: 28)]))
        } catch {
            seeds.append(join([Array("SQLite format 3\0".utf8) + Array(repeating: 0, count: 84), nil, nil, nil]))
        }
        return seeds
    }
}
