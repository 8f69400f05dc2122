import DRBase
import DRCrypto
@testable import DRRepository
import DRTransport
import Foundation
import Testing

@Suite("this host's record of each target's packs")
struct PackRecordTests {
    static func draft() -> SnapshotManifest {
        SnapshotManifest(time: Timestamps.format(Date()), host: "h", storePath: "/s",
                         mailboxes: .init(count: 0, root: .placeholder), statistics: .init(),
                         wholeStore: true, failed: [])
    }

    static func packFiles(in folder: String) -> [String] {
        let names = (FileManager.default.subpaths(atPath: "\(folder)/data") ?? [])
        return names.filter { $0.split(separator: "/").last?.count == 64 }.map { "\(folder)/data/\($0)" }
    }

    @Test("a run that saw a lost pack and was not committed leaves the loss for the next run; a committed one clears it")
    func lossSurvivesUncommittedRun() throws {
        let scratch = try ScratchRepository()
        let cache = scratch.folder + "-cache"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try BackupWriter(repository: scratch.repository, cacheFolder: cache)
        let page = SecureRandom.bytes(4096)
        _ = try first.makeWorker().storeData(page, id: scratch.keys.chunkID(of: page), compress: false)
        _ = try first.commit(Self.draft(), inPathOrder: { _ in }, previousList: [:])
        #expect(!first.lostPacks)

        let packs = Self.packFiles(in: scratch.folder)
        try #require(!packs.isEmpty, "the first run stored no pack")
        for pack in packs { try FileManager.default.removeItem(atPath: pack) }

        let seen = try BackupWriter(repository: scratch.repository, cacheFolder: cache)
        #expect(seen.lostPacks, "the loss is seen")
        // `seen` is never committed (killed, say): the next run must see the loss again.
        let next = try BackupWriter(repository: scratch.repository, cacheFolder: cache)
        #expect(next.lostPacks, "a run that was not committed made this host forget the lost pack")
        _ = try next.commit(Self.draft(), inPathOrder: { _ in }, previousList: [:])
        let healed = try BackupWriter(repository: scratch.repository, cacheFolder: cache)
        #expect(!healed.lostPacks, "after a committed run the loss is behind us")
    }
}

@Suite("file:// ranged reads")
struct FileRangeTests {
    @Test("a range longer than the object reads what is there, without allocating the asked length")
    func rangePastTheEnd() throws {
        let scratch = try ScratchRepository()
        let store = FileObjectStore(targetName: "scratch", root: scratch.folder)
        try store.put("data/00/short", Array(0..<100), ifAbsent: true)
        // Without the bound this asks for an exabyte of zeros and dies.
        let read = try store.get("data/00/short", offset: 40, length: Int.max / 2)
        #expect(read == Array(40..<100))
        #expect(try store.get("data/00/short", offset: 200, length: 10).isEmpty)
    }
}
