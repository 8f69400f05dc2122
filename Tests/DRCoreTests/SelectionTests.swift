import DRBase
import DRCore
import DRRepository
import Foundation
import Testing

@Suite("mailbox globs")
struct GlobTests {
    @Test("** crosses folders, * and ? stay within one", arguments: [
        ("**/*.sqlite", "a.sqlite", true),
        ("**/*.sqlite", "users/al/alice.sqlite", true),
        ("**/*.sqlite", "users/alice.sqlite-wal", false),
        ("users/*.sqlite", "users/alice.sqlite", true),
        ("users/*.sqlite", "users/x/alice.sqlite", false),
        ("users/?.db", "users/a.db", true),
        ("users/?.db", "users/ab.db", false),
        ("**/*.sqlite", "users/.hidden.sqlite", false),
    ])
    func matches(pattern: String, path: String, expected: Bool) {
        #expect(Glob.matches(pattern, path) == expected)
    }
}

@Suite("point in time")
struct PointInTimeTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("RFC 3339 forms and relative forms")
    func parses() throws {
        #expect(try PointInTime.parse("2026-11-28T03:00:00Z", now: now) == Date(timeIntervalSince1970: 1_795_834_800))
        #expect(try PointInTime.parse("2026-11-28T04:00:00+01:00", now: now) == Date(timeIntervalSince1970: 1_795_834_800))
        #expect(try PointInTime.parse("2026-11-28T03:00:00.250Z", now: now) == Date(timeIntervalSince1970: 1_795_834_800.25))
        #expect(try PointInTime.parse("now", now: now) == now)
        #expect(try PointInTime.parse("2h ago", now: now) == now.addingTimeInterval(-7200))
        #expect(try PointInTime.parse("3d ago", now: now) == now.addingTimeInterval(-3 * 86400))
    }

    @Test("nonsense is refused with an example of what works", arguments: ["yesterday", "2026-13-01", "2 hours ago", ""])
    func refuses(text: String) {
        #expect(throws: CoreError.self) { try PointInTime.parse(text, now: now) }
    }
}

@Suite("choosing images to restore")
struct CatalogueTests {
    static func file(_ path: String, at time: String) -> SnapshotManifest.FileEntry {
        SnapshotManifest.FileEntry(path: path, kind: "sqlite", size: 4096, mode: 0o600, snapshotMode: "wal-live",
                                   pageSize: 4096, pageCount: 1, consistentAt: time, consistency: "",
                                   root: .placeholder, chunks: 1,
                                   sourceState: .init(size: 0, mtimeNanoseconds: 0, ctimeNanoseconds: 0, inode: 0, device: 0,
                                                      walSize: nil, walMtimeNanoseconds: nil, walCtimeNanoseconds: nil,
                                                      walInode: nil, journalPresent: false),
                                   unchanged: false)
    }

    static func manifest(_ time: String, _ files: [SnapshotManifest.FileEntry]) -> SnapshotManifest {
        SnapshotManifest(time: time, host: "h", storePath: "/s",
                         mailboxes: .init(count: files.count, root: .placeholder), statistics: .init(),
                         wholeStore: false, failed: [])
    }

    static let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)
    /// The snapshots' lists, as the catalogue reads them through `SnapshotEntries`.
    static let entries = MemoryEntries([
        a: [file("alice", at: "2026-11-28T01:00:00.100Z"), file("bob", at: "2026-11-28T01:00:00.200Z")],
        b: [file("alice", at: "2026-11-28T02:00:00.100Z")],
    ])

    /// Two runs; the second backed up only alice.
    static let catalogue = SnapshotCatalogue([
        (name: "snapshots/" + a, manifest: manifest("2026-11-28T01:00:00.000Z", entries.lists[a] ?? [])),
        (name: "snapshots/" + b, manifest: manifest("2026-11-28T02:00:00.000Z", entries.lists[b] ?? [])),
    ])

    static let scope = SnapshotScope(host: "h", storePath: "/s")

    static func pick(_ time: String, _ mailboxes: [String] = []) throws -> [String: String] {
        let date = try PointInTime.parse(time)
        let chosen = try catalogue.select(.pointInTime(date), mailboxes: mailboxes, scope: scope, entries: entries)
        return Dictionary(uniqueKeysWithValues: chosen.images.map { ($0.entry.path, String($0.snapshot.id.prefix(1))) })
    }

    @Test("exactly at, just before and just after a consistency point")
    func boundaries() throws {
        #expect(try Self.pick("2026-11-28T02:00:00.100Z") == ["alice": "b", "bob": "a"])
        #expect(try Self.pick("2026-11-28T02:00:00.099Z") == ["alice": "a", "bob": "a"])
        #expect(try Self.pick("2026-11-28T02:00:00.101Z") == ["alice": "b", "bob": "a"])
        #expect(try Self.pick("2026-11-28T01:00:00.150Z") == ["alice": "a"])
    }

    @Test("before the first snapshot: a clear error naming the earliest one")
    func beforeFirst() throws {
        do {
            _ = try Self.pick("2026-11-28T00:59:59Z", ["alice"])
            Issue.record("expected an error")
        } catch let error as CoreError {
            #expect(error.code == .restoreNoSnapshot)
            #expect(error.message.contains("2026-11-28T01:00:00.000Z"))
        }
    }

    @Test("snapshots are ordered by their instant, not by the text of their time (another writer's offset or precision)")
    func orderedByInstant() throws {
        // 11:00+02:00 is 09:00Z: earlier than 10:00Z although its text sorts after it. (Text
        // order would give a, d, c, b.)
        let catalogue = SnapshotCatalogue([
            (name: "snapshots/" + Self.a, manifest: Self.manifest("2026-11-28T10:00:00.000Z", [])),
            (name: "snapshots/" + Self.b, manifest: Self.manifest("2026-11-28T11:00:00+02:00", [])),
            (name: "snapshots/" + String(repeating: "c", count: 64), manifest: Self.manifest("2026-11-28T10:00:00.5Z", [])),
            (name: "snapshots/" + String(repeating: "d", count: 64), manifest: Self.manifest("2026-11-28T10:00:00.25Z", [])),
        ])
        #expect(catalogue.items.map { String($0.id.prefix(1)) } == ["b", "a", "d", "c"])
    }

    @Test("a snapshot id prefix selects that snapshot; ambiguous or unknown prefixes are refused")
    func byID() throws {
        let chosen = try Self.catalogue.select(.snapshot("aaaa"), mailboxes: [], scope: Self.scope, entries: Self.entries)
        #expect(chosen.images.map(\.entry.path) == ["alice", "bob"])
        #expect(throws: CoreError.self) { try Self.catalogue.select(.snapshot("cccc"), mailboxes: [], scope: Self.scope, entries: Self.entries) }
        #expect(throws: CoreError.self) { try Self.catalogue.select(.snapshot("a"), mailboxes: [], scope: Self.scope, entries: Self.entries) }
    }
}

@Suite("check data selection")
struct DataSelectionTests {
    @Test("N/T and P% parse; nonsense is refused")
    func parse() throws {
        #expect(try CheckJob.DataSelection.parse("2/7") == .group(2, of: 7))
        #expect(try CheckJob.DataSelection.parse("10%") == .percent(10))
        for bad in ["0/7", "8/7", "7", "0%", "101%", "x/y"] {
            #expect(throws: CoreError.self) { try CheckJob.DataSelection.parse(bad) }
        }
    }
}
