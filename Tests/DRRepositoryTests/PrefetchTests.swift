import DRBase
import DRCrypto
import DRTransport
import Foundation
import Synchronization
import Testing

@testable import DRRepository

#if canImport(Glibc)
import Glibc
#endif

/// Reads asked for ahead (`ObjectStore.prefetch`): a folder target starts reading the range
/// into the page cache at once, and a restore's reader asks for each group's ranges while it
/// still works on the group before.
@Suite("reads asked for ahead")
struct PrefetchTests {
    /// The share of `path`'s pages in the page cache (mincore over a read-only mapping).
    static func residency(_ path: String) throws -> Double {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        var info = stat()
        try #require(fstat(fd, &info) == 0)
        let size = Int(info.st_size)
        let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        try #require(map != MAP_FAILED)
        defer { munmap(map, size) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        try #require(mincore(map, size, &vector) == 0)
        return Double(vector.filter { $0 & 1 == 1 }.count) / Double(vector.count)
    }

    /// Drops `path`'s clean pages from the page cache.
    static func evict(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        close(fd)
    }

    @Test("a folder target starts reading an evicted object into the page cache when asked")
    func folderReadsAhead() throws {
        let scratch = try ScratchRepository()
        let store = FileObjectStore(targetName: "scratch", root: scratch.folder)
        let key = "data/ab/" + String(repeating: "ab", count: 32)
        try store.put(key, SecureRandom.bytes(8 << 20), ifAbsent: true)
        let path = "\(scratch.folder)/\(key)"
        Self.evict(path)
        let before = try Self.residency(path)
        try #require(before < 0.5, "the temporary folder's file system kept \(before) of the pages that DONTNEED drops (tmpfs?): this test needs a disk-backed TMPDIR")

        store.prefetch(key, offset: 0, length: nil)
        // The kernel reads asynchronously: wait for it, at most 10 s.
        var after = try Self.residency(path)
        let deadline = Date().addingTimeInterval(10)
        while after < 0.99, Date() < deadline {
            usleep(10_000)
            after = try Self.residency(path)
        }
        #expect(after >= 0.99, "after prefetch, \(after) of the object is in the page cache (before: \(before))")

        // A range: the pages outside it stay out.
        Self.evict(path)
        store.prefetch(key, offset: 0, length: 1 << 20)
        var head = 0.0
        let second = Date().addingTimeInterval(10)
        while head < 1.0 / 8.0 * 0.99, Date() < second {
            usleep(10_000)
            head = try Self.residency(path)
        }
        #expect(head >= 1.0 / 8.0 * 0.99 && head < 0.5, "a 1 MiB prefetch of an 8 MiB object left \(head) of it cached")
    }

    @Test("a hint for a missing object, a symbolic link, a FIFO or a path outside the target does nothing and never blocks")
    func hintsNeverFail() throws {
        let scratch = try ScratchRepository()
        let store = FileObjectStore(targetName: "scratch", root: scratch.folder)
        try FileManager.default.createDirectory(atPath: "\(scratch.folder)/data/cd", withIntermediateDirectories: true)
        let fifo = "data/cd/" + String(repeating: "cd", count: 32)
        try #require(mkfifo("\(scratch.folder)/\(fifo)", 0o600) == 0)
        let link = "data/cd/" + String(repeating: "ce", count: 32)
        try #require(symlink("/etc/hostname", "\(scratch.folder)/\(link)") == 0)
        // Each returns at once (a FIFO opened for reading without O_NONBLOCK would wait for a
        // writer forever).
        store.prefetch(fifo, offset: 0, length: nil)
        store.prefetch(link, offset: 0, length: nil)
        store.prefetch("data/ef/" + String(repeating: "ef", count: 32), offset: 0, length: nil)
        store.prefetch("../outside", offset: 0, length: nil)
        store.prefetch("config", offset: -5, length: -1)
        // And the reads still say what each is.
        #expect(throws: TransportError.self) { _ = try store.get(fifo) }
        #expect(throws: TransportError.self) { _ = try store.get(link) }
    }

    @Test("a restore's reader asks for the next group's ranges before it reads the group in hand")
    func readerAsksAhead() throws {
        let scratch = try ScratchRepository()
        let store = RecordingStore(FileObjectStore(targetName: "scratch", root: scratch.folder))
        // Three packs of 24 blobs of 16 KiB, read in groups of 64 KiB: many groups, each
        // in one pack or across two.
        var refs: [BlobRef] = []
        var plains: [[UInt8]] = []
        for _ in 0..<3 {
            var pack = PackWriter(id: .random())
            for _ in 0..<24 {
                let plain = SecureRandom.bytes(16 << 10)
                plains.append(plain)
                refs.append(pack.append(try SealedBlob(plain, id: scratch.keys.chunkID(of: plain), kind: .data,
                                                       keys: scratch.keys, compressor: nil)))
            }
            let finished = try pack.finish(keys: scratch.keys)
            try store.put(finished.id.objectName, finished.bytes, ifAbsent: true)
        }
        let reader = TargetBlobReader(store: store, keys: scratch.keys, cache: nil, groupBytes: 64 << 10)
        var seen: [[UInt8]] = []
        try reader.forEachPlaintext(refs, context: "test") { seen.append(Array($0)) }
        #expect(seen == plains)

        let events = store.events
        let reads = events.filter { !$0.hint }
        let hints = events.filter(\.hint)
        #expect(reads.count >= 18)
        // Every read but the first group's was hinted, with the same range, before the read
        // of the group before it.
        var firstGroupReads = 0
        for (position, event) in events.enumerated() where !event.hint {
            if let hinted = events[..<position].firstIndex(where: { $0.hint && $0.key == event.key && $0.offset == event.offset && $0.length == event.length }) {
                // Hinted while another read was still to come before this one.
                #expect(events[hinted..<position].contains { !$0.hint }, "read of \(event.key)@\(event.offset) was hinted only right before it")
            } else {
                firstGroupReads += 1
            }
        }
        #expect(firstGroupReads <= 2, "\(firstGroupReads) reads were never asked for ahead")
        #expect(hints.count == reads.count - firstGroupReads)
    }
}

/// A folder target that also notes every ranged read and hint, in order (a spy around the
/// real store: the bytes come from disk).
final class RecordingStore: ObjectStore, @unchecked Sendable {
    struct Event: Equatable {
        let hint: Bool
        let key: String
        let offset: Int64
        let length: Int64
    }

    let base: FileObjectStore
    private let log = Mutex<[Event]>([])
    var events: [Event] { log.withLock { $0 } }

    init(_ base: FileObjectStore) { self.base = base }

    var targetName: String { base.targetName }
    var location: String { base.location }
    func put(_ key: String, _ bytes: [UInt8], ifAbsent: Bool) throws(TransportError) { try base.put(key, bytes, ifAbsent: ifAbsent) }
    func get(_ key: String, maxBytes: Int64) throws(TransportError) -> [UInt8] { try base.get(key, maxBytes: maxBytes) }
    func get(_ key: String, offset: Int64, length: Int) throws(TransportError) -> [UInt8] {
        log.withLock { $0.append(Event(hint: false, key: key, offset: offset, length: Int64(length))) }
        return try base.get(key, offset: offset, length: length)
    }
    func read(_ key: String, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        log.withLock { $0.append(Event(hint: false, key: key, offset: offset, length: Int64(buffer.count))) }
        return try base.read(key, offset: offset, into: buffer)
    }
    func prefetch(_ key: String, offset: Int64, length: Int64?) {
        log.withLock { $0.append(Event(hint: true, key: key, offset: offset, length: length ?? -1)) }
        base.prefetch(key, offset: offset, length: length)
    }
    func exists(_ key: String) throws(TransportError) -> Bool { try base.exists(key) }
    func list(prefix: String) throws(TransportError) -> [String] { try base.list(prefix: prefix) }
    func listSizes(prefix: String) throws(TransportError) -> [String: Int64] { try base.listSizes(prefix: prefix) }
    func delete(_ key: String) throws(TransportError) { try base.delete(key) }
    func incompleteWrites() throws(TransportError) -> [IncompleteWrite] { try base.incompleteWrites() }
    func removeIncompleteWrite(_ write: IncompleteWrite) throws(TransportError) { try base.removeIncompleteWrite(write) }
}
