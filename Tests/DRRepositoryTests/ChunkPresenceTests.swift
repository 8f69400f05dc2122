import DRBase
import Foundation
import Testing

@testable import DRRepository

@Suite("chunk presence cache")
struct ChunkPresenceTests {
    static func index(_ ids: [ChunkID], pack: String) -> IndexObject {
        IndexObject(packs: [.init(pack: pack, length: 100, entries: ids.map {
            BlobEntry(kind: .data, compressed: false, id: $0, offset: 0, length: 60, rawLength: 20)
        })])
    }

    static func id(_ n: Int) -> ChunkID {
        ChunkID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: n >> (($0 % 4) * 8)) ^ UInt8($0) })
    }

    @Test("merges index objects per target, forgets a target whose index object vanished, survives a reopen")
    func mergeAndForget() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("presence-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/presence.sqlite"
        let pack = String(repeating: "ab", count: 32)
        let objects = ["index/1": Self.index([Self.id(1), Self.id(2)], pack: pack),
                       "index/2": Self.index([Self.id(3)], pack: pack)]
        var loads = 0
        let load = { (name: String) throws(RepositoryError) -> IndexObject in
            loads += 1
            guard let object = objects[name] else {
                throw RepositoryError(.transportNotFound, message: "no \(name)")
            }
            return object
        }
        do {
            let cache = try ChunkPresence(path: path)
            let a = try cache.bit(for: "a"), b = try cache.bit(for: "b")
            #expect(a != b)
            _ = try cache.synchronize(target: "a", names: ["index/1", "index/2"], packs: [pack: 100], load: load)
            _ = try cache.synchronize(target: "b", names: ["index/1"], packs: [pack: 100], load: load)
            #expect(try cache.targets(holding: Self.id(1)) == a | b)
            #expect(try cache.targets(holding: Self.id(3)) == a)
            #expect(try cache.targets(holding: Self.id(4)) == 0)
            #expect(try cache.indexedPacks(of: "a") == [pack])
        }
        #expect(loads == 3)
        // Reopened: nothing is read again.
        let cache = try ChunkPresence(path: path)
        _ = try cache.synchronize(target: "a", names: ["index/1", "index/2"], packs: [pack: 100], load: load)
        #expect(loads == 3)
        // index/2 vanished from target a (a prune rewrote it): a's knowledge is rebuilt.
        _ = try cache.synchronize(target: "a", names: ["index/1"], packs: [pack: 100], load: load)
        #expect(loads == 4)
        let a = try cache.bit(for: "a"), b = try cache.bit(for: "b")
        #expect(try cache.targets(holding: Self.id(3)) == 0)
        #expect(try cache.targets(holding: Self.id(1)) == a | b)
    }

    @Test("an index object a run writes is recorded without being read back by the next run")
    func recordWritten() throws {
        let cache = try ChunkPresence(path: ":memory:")
        let a = try cache.bit(for: "a"), b = try cache.bit(for: "b")
        let pack = String(repeating: "cd", count: 32)
        let object = Self.index([Self.id(7), Self.id(8)], pack: pack)
        try cache.record(indexObject: object, named: "index/new", target: "a")
        #expect(try cache.targets(holding: Self.id(7)) == a)
        try cache.record(indexObject: object, named: "index/new", target: "b")
        #expect(try cache.targets(holding: Self.id(8)) == a | b)
        #expect(try cache.indexedPacks(of: "b") == [pack])
        var loads = 0
        for target in ["a", "b"] {
            _ = try cache.synchronize(target: target, names: ["index/new"], packs: [pack: 100]) { (_) throws(RepositoryError) -> IndexObject in
                loads += 1
                return IndexObject(packs: [])
            }
        }
        #expect(loads == 0)
    }

    @Test("a damaged cache file is rebuilt, not fatal")
    func damagedCache() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("presence-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        let cache = try ChunkPresence(path: path)
        #expect(try cache.targets(holding: Self.id(1)) == 0)
        try cache.record(indexObject: Self.index([Self.id(1)], pack: String(repeating: "ef", count: 32)),
                         named: "index/x", target: "a")
        #expect(try cache.targets(holding: Self.id(1)) == cache.bit(for: "a"))
    }
}
