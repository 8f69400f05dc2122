// TEMPORARY: replaced by MailboxList.swift (branch list). One leaf, no cut rule.
import DRBase

package struct MailboxListBuilder {
    private var entries: [SnapshotManifest.FileEntry] = []
    private let keys: RepositoryKeys
    private let store: any NodeStoring
    package init(keys: RepositoryKeys, reusable: [ChunkID: BlobRef], store: any NodeStoring) {
        self.keys = keys
        self.store = store
    }
    package mutating func add(_ entry: SnapshotManifest.FileEntry) throws(RepositoryError) { entries.append(entry) }
    package mutating func finish() throws(RepositoryError) -> (root: BlobRef, count: Int, nodesStored: Int, bytesStored: Int) {
        let plain = StubCodec.encode(entries)
        let ref = try store.storeNode(plain, id: keys.chunkID(of: plain), kind: .list)
        return (ref, entries.count, 1, plain.count)
    }
}

package enum MailboxList {
    package static func forEach(root: BlobRef, reader: any BlobReading, keys: RepositoryKeys, context: String,
                                visit: (BlobRef, _ level: Int) throws(RepositoryError) -> Bool,
                                entry: (SnapshotManifest.FileEntry) throws(RepositoryError) -> Void) throws(RepositoryError) {
        guard try visit(root, 0) else { return }
        for item in try StubCodec.decode(try reader.read(root, context: context)) { try entry(item) }
    }
    package static func find(_ path: String, root: BlobRef, reader: any BlobReading, keys: RepositoryKeys,
                             context: String) throws(RepositoryError) -> SnapshotManifest.FileEntry? {
        try StubCodec.decode(try reader.read(root, context: context)).first { $0.path == path }
    }
}

extension MailboxList {
    package static func decodeNode(_ plaintext: [UInt8]) throws(RepositoryError) -> [SnapshotManifest.FileEntry] {
        try StubCodec.decode(plaintext)
    }
}

enum StubCodec {
    static func encode(_ entries: [SnapshotManifest.FileEntry]) -> [UInt8] {
        var out: [UInt8] = []
        func str(_ s: String) { let b = Array(s.utf8); LittleEndian.append(UInt32(b.count), to: &out); out += b }
        func num(_ v: Int64) { LittleEndian.append(UInt64(bitPattern: v), to: &out) }
        LittleEndian.append(UInt32(entries.count), to: &out)
        for e in entries {
            str(e.path); str(e.kind); num(e.size); num(Int64(e.mode)); str(e.snapshotMode); num(Int64(e.pageSize))
            num(Int64(e.pageCount)); str(e.consistentAt); str(e.consistency); num(Int64(e.chunks))
            RefCoding.appendTable([e.root.pack], to: &out); RefCoding.append(e.root, packIndex: 0, to: &out)
            let s = e.sourceState
            num(s.size); num(s.mtimeNanoseconds); num(s.ctimeNanoseconds); num(Int64(bitPattern: s.inode)); num(Int64(bitPattern: s.device))
            num(s.walSize ?? -1); num(s.walMtimeNanoseconds ?? -1); num(s.walCtimeNanoseconds ?? -1); num(s.walInode.map { Int64(bitPattern: $0) } ?? -1)
            out.append(s.journalPresent ? 1 : 0)
        }
        return out
    }
    static func decode(_ bytes: [UInt8]) throws(RepositoryError) -> [SnapshotManifest.FileEntry] {
        var r = RefCoding.Reader(bytes)
        let bad = RepositoryError(.repositoryBadTree, message: "bad stub list")
        func str(_ r: inout RefCoding.Reader) throws(RepositoryError) -> String {
            guard let n = r.u32(), let b = r.take(Int(n)), let s = String(validating: b, as: UTF8.self) else { throw bad }
            return s
        }
        func num(_ r: inout RefCoding.Reader) throws(RepositoryError) -> Int64 { guard let v = r.u64() else { throw bad }; return Int64(bitPattern: v) }
        guard let count = r.u32() else { throw bad }
        var out: [SnapshotManifest.FileEntry] = []
        for _ in 0..<count {
            let path = try str(&r), kind = try str(&r), size = try num(&r), mode = try num(&r), sm = try str(&r)
            let ps = try num(&r), pc = try num(&r), ca = try str(&r), co = try str(&r), ch = try num(&r)
            guard let packs = r.packTable(), let root = r.ref(kind: .tree, packs: packs) else { throw bad }
            let a = try num(&r), b = try num(&r), c = try num(&r), d = try num(&r), e = try num(&r)
            let f = try num(&r), g = try num(&r), h = try num(&r), i = try num(&r)
            guard let j = r.u8() else { throw bad }
            let state = FileState(size: a, mtimeNanoseconds: b, ctimeNanoseconds: c, inode: UInt64(bitPattern: d), device: UInt64(bitPattern: e),
                                  walSize: f < 0 ? nil : f, walMtimeNanoseconds: g < 0 ? nil : g, walCtimeNanoseconds: h < 0 ? nil : h,
                                  walInode: i < 0 ? nil : UInt64(bitPattern: i), journalPresent: j == 1)
            out.append(.init(path: path, kind: kind, size: size, mode: UInt32(mode), snapshotMode: sm, pageSize: Int(ps),
                             pageCount: Int(pc), consistentAt: ca, consistency: co, root: root, chunks: Int(ch),
                             sourceState: state, unchanged: false))
        }
        return out
    }
}
