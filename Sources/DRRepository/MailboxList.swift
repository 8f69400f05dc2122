import DRBase

// # Mailbox lists (format 2)
//
// A snapshot's mailboxes are a content-defined search tree ("prolly tree") of blobs of kind
// `list`, so that finding one mailbox reads one node per level, a run that changes 1 % of the
// mailboxes stores only the nodes on the paths to them (every other node has the same
// plaintext, so the same id, and is reused by ref), and reading the whole list streams.
//
// ## Node
// All integers are little-endian.
// ```
// node  = "DRL2" ‖ u8 level ‖ pack table ‖ u32 n ‖ n × item
// ```
// The pack table is the one of "Refs" (`RefCoding`): u16 p ‖ p × 32-byte pack id, naming
// the packs of the node's refs in order of first use. Level 0 is a leaf, whose items are
// entries; a node of level ≥ 1 is interior, whose items are children:
// ```
// child = u16 len ‖ first path (UTF-8) ‖ u64 entries under the child ‖ ref
// ```
// The ref (`RefCoding.append`, indexing this node's pack table) names a node of level − 1
// (kind `list`); the first path is the path of the first entry under it.
// ```
// entry = u16 len ‖ path (UTF-8)
//       ‖ u8 kind          (0 "sqlite", 1 "file")
//       ‖ u8 snapshotMode  (0 "wal-live", 1 "wal-offline", 2 "rollback", 3 "not-sqlite")
//       ‖ u32 mode ‖ u64 size ‖ u32 pageSize ‖ u64 pageCount ‖ u64 chunks
//       ‖ u16 len ‖ consistentAt (UTF-8) ‖ u16 len ‖ consistency (UTF-8)
//       ‖ root ref (kind `tree`)
//       ‖ sourceState: u64 size ‖ u64 mtimeNanoseconds ‖ u64 ctimeNanoseconds ‖ u64 inode ‖ u64 device
//         ‖ u8 flags ‖ each present WAL field as u64, in flag order
// ```
// Signed values (size, pageCount, chunks, and sourceState's size and times) are stored as
// their 64-bit two's-complement bit pattern. Flags: bit 0 walSize present, bit 1
// walMtimeNanoseconds, bit 2 walCtimeNanoseconds, bit 3 walInode, bit 4 journalPresent;
// bits 5–7 are zero. An entry's `unchanged` is not stored (it reads as false).
//
// A node is damaged when: the magic differs; an unknown kind or snapshotMode value, a
// nonzero reserved flag bit or a ref flag other than 0 or 1 appears; a ref's pack index is
// past the table; a length runs past the end; bytes follow the last item; a string is not
// valid UTF-8; a path fails `SnapshotManifest.pathProblem`; the paths of a leaf, or the first
// paths of an interior node, are not strictly increasing (byte-wise); an interior node has no
// children, a child counts no entries, or the counts of a node overflow u64.
//
// ## Tree
// Paths are strictly increasing in byte-wise (UTF-8) order across the whole list. A reader
// checks, besides each node: a child's level is its parent's minus one; the child's first path
// is the first path its parent gives for it; the entries under a child are as many as its
// parent says; paths increase across leaves; the plaintext's keyed id is the ref's id.
//
// ## Cut rule (content-defined)
// Let h(path) be the last 8 bytes, read big-endian (ChunkID's word `d`), of the keyed
// BLAKE2b-256 chunk id of the UTF-8 bytes of "drctl-list-boundary\0" + path. Entries are cut
// into leaves, in order:
// - a leaf that holds at least 2 entries ends after an entry whose h & 0x1 == 0 (about 3
//   entries per leaf), and a leaf of 32 entries ends;
// - an entry that would make the leaf's plaintext exceed 64 KiB starts a new leaf instead
//   (unless the leaf is empty: one entry longer than that is a leaf of its own).
// Each level ℓ ≥ 1 cuts the sequence of level ℓ − 1 nodes: a node that holds at least 4
// children ends after a child whose last path p has (h(p) >> ℓ) & 0x1 == 0 (about 5
// children), and a node of 64 children ends; from level 64 up (past h's bits) only at 64
// children. Level ℓ is built only while level ℓ − 1 has more than one node; the single node
// of the top level is the root, recorded in the manifest with the entry count. An empty list
// is one leaf with no entries.
//
// Why these numbers: a run that changes 1 % of the mailboxes rewrites each changed leaf and
// the nodes above it, and a changed mailbox falls in a node with probability proportional to
// the node's size, so what counts is the size of the nodes it lands in. With a bare "h has k
// zero bits" cut, node sizes are geometric and that size-biased mean is twice the mean; the
// minimums make sizes tight (2 + about 1 entries, 4 + about 1 children). Measured on 100,000
// mailboxes with 1 % changed per run (`MailboxListTuning`), per unchanged mailbox, after the
// first and the 30th run, zstd payload / as written to a pack: this rule 15.2 / 17.8 and
// 16.6 / 19.1 bytes; about 4 entries per leaf and 8 children without minimums 19.9 / 21.7
// and 22.6 / 24.4. Cuts depend on paths only, so a run that changes entries moves no
// boundary; inserting or deleting one mailbox moves at most the next few boundaries of each
// level (where the minimums make the cut follow the previous one), so the rest of the list
// keeps its bytes.

/// A decoded mailbox-list node.
package enum ListNode: Sendable, Equatable {
    case leaf([SnapshotManifest.FileEntry])
    case interior(level: Int, [Child])

    /// One child of an interior node: the first path under it, how many entries it holds
    /// (so a reader can check the count, and a caller can skip it knowing what it skips).
    package struct Child: Sendable, Equatable {
        package var firstPath: String
        package var count: UInt64
        package var ref: BlobRef

        package init(firstPath: String, count: UInt64, ref: BlobRef) {
            self.firstPath = firstPath
            self.count = count
            self.ref = ref
        }
    }

    package var level: Int {
        switch self {
        case .leaf: 0
        case .interior(let level, _): level
        }
    }
}

/// The byte coding of list nodes (the format above).
enum ListCoding {
    static let magic = Array("DRL2".utf8)
    static let kinds = ["sqlite", "file"]
    static let snapshotModes = ["wal-live", "wal-offline", "rollback", "not-sqlite"]
    /// magic ‖ level ‖ table count ‖ n, without the table's pack ids.
    static let headerSize = 4 + 1 + 2 + 4
    static let packIDSize = 32
    /// An entry without its three strings and its WAL fields.
    static let fixedEntrySize = 2 + 1 + 1 + 4 + 8 + 4 + 8 + 8 + 2 + 2 + RefCoding.refSize + 5 * 8 + 1
    /// A child without its path.
    static let fixedChildSize = 2 + 8 + RefCoding.refSize

    // MARK: Encoding

    /// Why `entry` cannot be written, if it cannot: its values must be ones a reader accepts.
    static func encodingProblem(_ entry: SnapshotManifest.FileEntry) -> String? {
        if let problem = SnapshotManifest.pathProblem(entry.path) { return "has a path that \(problem)" }
        if !kinds.contains(entry.kind) { return "has an unknown kind \(entry.kind.debugDescription)" }
        if !snapshotModes.contains(entry.snapshotMode) {
            return "has an unknown snapshot mode \(entry.snapshotMode.debugDescription)"
        }
        if UInt32(exactly: entry.pageSize) == nil { return "has a page size \(entry.pageSize) outside 0...\(UInt32.max)" }
        if entry.consistentAt.utf8.count > Int(UInt16.max) || entry.consistency.utf8.count > Int(UInt16.max) {
            return "has a consistency text longer than \(UInt16.max) bytes"
        }
        return nil
    }

    /// The encoded size of `entry` (valid by `encodingProblem`).
    static func entrySize(_ entry: SnapshotManifest.FileEntry) -> Int {
        let state = entry.sourceState
        let walFields = [state.walSize != nil, state.walMtimeNanoseconds != nil,
                         state.walCtimeNanoseconds != nil, state.walInode != nil].filter { $0 }.count
        return fixedEntrySize + entry.path.utf8.count + entry.consistentAt.utf8.count
            + entry.consistency.utf8.count + 8 * walFields
    }

    static func encodeLeaf(_ entries: [SnapshotManifest.FileEntry]) -> [UInt8] {
        let table = RefCoding.packTable(entries.map(\.root))
        var out = header(level: 0, packs: table.packs, count: entries.count)
        for entry in entries { append(entry, packIndex: table.index[entry.root.pack]!, to: &out) }
        return out
    }

    static func encodeInterior(level: Int, children: [ListNode.Child]) -> [UInt8] {
        precondition((1...Int(UInt8.max)).contains(level), "a list node's level fits a byte")
        let table = RefCoding.packTable(children.map(\.ref))
        var out = header(level: level, packs: table.packs, count: children.count)
        for child in children {
            appendString(child.firstPath, to: &out)
            LittleEndian.append(child.count, to: &out)
            RefCoding.append(child.ref, packIndex: table.index[child.ref.pack]!, to: &out)
        }
        return out
    }

    private static func header(level: Int, packs: [PackID], count: Int) -> [UInt8] {
        var out = magic
        out.append(UInt8(level))
        RefCoding.appendTable(packs, to: &out)
        LittleEndian.append(UInt32(count), to: &out)
        return out
    }

    /// One entry (internal: `PreviousEntries` holds entries in this coding).
    static func append(_ entry: SnapshotManifest.FileEntry, packIndex: UInt16, to out: inout [UInt8]) {
        appendString(entry.path, to: &out)
        out.append(UInt8(kinds.firstIndex(of: entry.kind)!))
        out.append(UInt8(snapshotModes.firstIndex(of: entry.snapshotMode)!))
        LittleEndian.append(entry.mode, to: &out)
        LittleEndian.append(UInt64(bitPattern: entry.size), to: &out)
        LittleEndian.append(UInt32(entry.pageSize), to: &out)
        LittleEndian.append(UInt64(bitPattern: Int64(entry.pageCount)), to: &out)
        LittleEndian.append(UInt64(bitPattern: Int64(entry.chunks)), to: &out)
        appendString(entry.consistentAt, to: &out)
        appendString(entry.consistency, to: &out)
        RefCoding.append(entry.root, packIndex: packIndex, to: &out)
        append(entry.sourceState, to: &out)
    }

    private static func append(_ state: SnapshotManifest.SourceState, to out: inout [UInt8]) {
        for word in [UInt64(bitPattern: state.size), UInt64(bitPattern: state.mtimeNanoseconds),
                     UInt64(bitPattern: state.ctimeNanoseconds), state.inode, state.device] {
            LittleEndian.append(word, to: &out)
        }
        let wal: [UInt64?] = [state.walSize.map { UInt64(bitPattern: $0) },
                              state.walMtimeNanoseconds.map { UInt64(bitPattern: $0) },
                              state.walCtimeNanoseconds.map { UInt64(bitPattern: $0) }, state.walInode]
        var flags: UInt8 = state.journalPresent ? 0x10 : 0
        for (bit, value) in wal.enumerated() where value != nil { flags |= 1 << UInt8(bit) }
        out.append(flags)
        for case let value? in wal { LittleEndian.append(value, to: &out) }
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        RefCoding.appendU16(UInt16(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    // MARK: Decoding

    /// What makes a node damaged, as a phrase for the message.
    struct Damage: Error {
        let problem: String
        init(_ problem: String) { self.problem = problem }
    }

    static func decode(_ bytes: [UInt8]) throws(Damage) -> ListNode {
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else { throw Damage("does not start with \"DRL2\"") }
        var reader = RefCoding.Reader(bytes, offset: 4)
        guard let level = reader.u8(), let packs = reader.packTable(), let count = reader.u32() else {
            throw Damage("is truncated in its header")
        }
        let node: ListNode
        if level == 0 {
            node = .leaf(try entries(Int(count), from: &reader, packs: packs))
        } else {
            node = .interior(level: Int(level), try children(Int(count), from: &reader, packs: packs))
        }
        guard reader.atEnd else { throw Damage("has \(reader.remaining) bytes after its last item") }
        return node
    }

    private static func entries(_ count: Int, from reader: inout RefCoding.Reader,
                                packs: [PackID]) throws(Damage) -> [SnapshotManifest.FileEntry] {
        var entries: [SnapshotManifest.FileEntry] = []
        // Bounded by what the bytes can hold, so that a forged count cannot reserve gigabytes.
        entries.reserveCapacity(min(count, reader.remaining / fixedEntrySize))
        for index in 0..<count {
            guard let entry = try entry(from: &reader, packs: packs) else {
                throw Damage("is truncated in entry \(index) of \(count)")
            }
            if let previous = entries.last, !precedes(previous.path, entry.path) {
                throw Damage("lists \(entry.path.debugDescription) after \(previous.path.debugDescription)")
            }
            entries.append(entry)
        }
        return entries
    }

    private static func children(_ count: Int, from reader: inout RefCoding.Reader,
                                 packs: [PackID]) throws(Damage) -> [ListNode.Child] {
        guard count > 0 else { throw Damage("is an interior node with no children") }
        var children: [ListNode.Child] = []
        children.reserveCapacity(min(count, reader.remaining / fixedChildSize))
        var total: UInt64 = 0
        for index in 0..<count {
            guard let path = try string(from: &reader), let entries = reader.u64(),
                  let ref = reader.ref(kind: .list, packs: packs) else {
                throw Damage("is truncated in child \(index) of \(count)")
            }
            try checkPath(path)
            guard entries > 0 else { throw Damage("gives child \(path.debugDescription) no entries") }
            if let previous = children.last, !precedes(previous.firstPath, path) {
                throw Damage("lists child \(path.debugDescription) after \(previous.firstPath.debugDescription)")
            }
            let (sum, overflow) = total.addingReportingOverflow(entries)
            guard !overflow else { throw Damage("counts more than 2^64 entries") }
            total = sum
            children.append(ListNode.Child(firstPath: path, count: entries, ref: ref))
        }
        return children
    }

    /// One entry, or nil when the bytes end inside it (internal: `PreviousEntries` reads its own).
    /// - Parameter checkingPath: false only for bytes coded from an entry already checked
    ///   (`PreviousEntries`): the path check is most of an entry's decoding (about 14,600
    ///   instructions of `SnapshotManifest.pathProblem` per path, callgrind).
    static func entry(from reader: inout RefCoding.Reader, packs: [PackID],
                      checkingPath: Bool = true) throws(Damage) -> SnapshotManifest.FileEntry? {
        guard let path = try string(from: &reader), let kind = reader.u8(), let mode = reader.u8() else { return nil }
        if checkingPath { try checkPath(path) }
        guard Int(kind) < kinds.count else { throw Damage("gives \(path.debugDescription) an unknown kind \(kind)") }
        guard Int(mode) < snapshotModes.count else {
            throw Damage("gives \(path.debugDescription) an unknown snapshot mode \(mode)")
        }
        guard let permissions = reader.u32(), let size = reader.u64(), let pageSize = reader.u32(),
              let pageCount = reader.u64(), let chunks = reader.u64(),
              let consistentAt = try string(from: &reader), let consistency = try string(from: &reader) else { return nil }
        let before = reader.remaining
        guard let root = reader.ref(kind: .tree, packs: packs) else {
            // A ref fails on a short read, an index past the table or unknown flags: tell which.
            throw before < RefCoding.refSize
                ? Damage("is truncated in the entry of \(path.debugDescription)")
                : Damage("gives \(path.debugDescription) an invalid root ref (pack index or flags)")
        }
        guard let state = try sourceState(from: &reader, path: path) else { return nil }
        return SnapshotManifest.FileEntry(
            path: path, kind: kinds[Int(kind)], size: Int64(bitPattern: size), mode: permissions,
            snapshotMode: snapshotModes[Int(mode)], pageSize: Int(pageSize),
            pageCount: Int(Int64(bitPattern: pageCount)), consistentAt: consistentAt, consistency: consistency,
            root: root, chunks: Int(Int64(bitPattern: chunks)), sourceState: state, unchanged: false)
    }

    private static func sourceState(from reader: inout RefCoding.Reader,
                                    path: String) throws(Damage) -> SnapshotManifest.SourceState? {
        guard let size = reader.u64(), let mtime = reader.u64(), let ctime = reader.u64(),
              let inode = reader.u64(), let device = reader.u64(), let flags = reader.u8() else { return nil }
        guard flags & 0xE0 == 0 else {
            throw Damage("gives \(path.debugDescription) source-state flags 0x\(String(flags, radix: 16)) with reserved bits set")
        }
        var wal: [UInt64?] = []
        for bit in 0..<4 {
            if flags & (1 << UInt8(bit)) == 0 {
                wal.append(nil)
            } else {
                guard let value = reader.u64() else { return nil }
                wal.append(value)
            }
        }
        return SnapshotManifest.SourceState(
            size: Int64(bitPattern: size), mtimeNanoseconds: Int64(bitPattern: mtime),
            ctimeNanoseconds: Int64(bitPattern: ctime), inode: inode, device: device,
            walSize: wal[0].map { Int64(bitPattern: $0) }, walMtimeNanoseconds: wal[1].map { Int64(bitPattern: $0) },
            walCtimeNanoseconds: wal[2].map { Int64(bitPattern: $0) }, walInode: wal[3],
            journalPresent: flags & 0x10 != 0)
    }

    /// A u16-length-prefixed UTF-8 string; nil when the bytes end inside it.
    private static func string(from reader: inout RefCoding.Reader) throws(Damage) -> String? {
        guard let length = reader.u16(), let raw = reader.take(Int(length)) else { return nil }
        guard let text = String(validating: raw, as: UTF8.self) else { throw Damage("holds a string that is not valid UTF-8") }
        return text
    }

    private static func checkPath(_ path: String) throws(Damage) {
        if let problem = SnapshotManifest.pathProblem(path) {
            throw Damage("names a mailbox path that \(problem): \(path.debugDescription)")
        }
    }

    /// Byte-wise UTF-8 order: the list's order. Not `String.<`, which compares canonically
    /// equivalent strings (a precomposed "é" and "e" + U+0301) as equal, while they are two
    /// different file names.
    static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
    static func sameBytes(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }
}

// MARK: - Building

/// Builds a mailbox list from entries in path order, storing each node as it closes.
///
/// Streaming: it holds only the open node of each level (at most 32 entries, or 64 KiB, for
/// the leaf; at most 64 children for each level above), never the whole list.
package struct MailboxListBuilder {
    /// The cut rule's parameters. Part of the format (see the top of this file); a parameter
    /// only so that tests can measure alternatives.
    struct CutRule {
        /// A leaf ends after an entry whose hash has this many low bits zero.
        var leafBits = 1
        /// A leaf ends at a boundary entry only once it holds this many entries.
        var minimumLeafEntries = 2
        var maximumLeafEntries = 32
        var maximumLeafBytes = 64 << 10
        /// A level-ℓ node ends after a child whose last path's hash has the next this many bits
        /// zero (level 1 the bits just above the leaf's, and so on up).
        var interiorBits = 1
        /// An interior node ends at a boundary child only once it holds this many children.
        var minimumFanout = 4
        var maximumFanout = 64

        func endsLeaf(_ hash: UInt64, entries: Int) -> Bool {
            entries >= maximumLeafEntries || (entries >= minimumLeafEntries && hash & mask(leafBits) == 0)
        }

        func endsNode(level: Int, after hash: UInt64, children: Int) -> Bool {
            if children >= maximumFanout { return true }
            guard children >= minimumFanout else { return false }
            let shift = leafBits + interiorBits * (level - 1)
            // Past h's bits only the maximum cuts (the minimum already makes every level shrink).
            guard shift + interiorBits <= 64 else { return false }
            return (hash >> UInt64(shift)) & mask(interiorBits) == 0
        }

        private func mask(_ bits: Int) -> UInt64 { (1 << UInt64(bits)) - 1 }
    }

    /// The open leaf.
    private struct OpenLeaf {
        var entries: [SnapshotManifest.FileEntry] = []
        var packs: Set<PackID> = []
        var entryBytes = 0
        var lastHash: UInt64 = 0

        func size(adding entry: SnapshotManifest.FileEntry, bytes: Int) -> Int {
            let packCount = packs.count + (packs.contains(entry.root.pack) ? 0 : 1)
            return ListCoding.headerSize + ListCoding.packIDSize * packCount + entryBytes + bytes
        }
    }

    /// The open node of one interior level.
    private struct OpenLevel {
        var children: [ListNode.Child] = []
        /// h of the last path under the last child: what decides the cut after it.
        var lastHash: UInt64 = 0
        /// The node has reached its cut but is not stored yet: only the next child proves
        /// that this level has more than one node, so that it is built at all.
        var closed = false
        /// Children ever added to this level (nodes made one level down).
        var added = 0
    }

    private let keys: RepositoryKeys
    private let reusable: [ChunkID: BlobRef]
    private let store: any NodeStoring
    private let rule: CutRule
    private var leaf = OpenLeaf()
    /// levels[i] is the open node of level i + 1.
    private var levels: [OpenLevel] = []
    private var lastPath: String?
    private var finished = false
    private var count = 0
    private var nodesStored = 0
    private var bytesStored = 0

    /// - Parameter reusable: the nodes of a previous list whose packs every target holds, by
    ///   id: a node with one of these ids is not stored again, its ref is used.
    package init(keys: RepositoryKeys, reusable: [ChunkID: BlobRef], store: any NodeStoring) {
        self.init(keys: keys, reusable: reusable, store: store, rule: CutRule())
    }

    init(keys: RepositoryKeys, reusable: [ChunkID: BlobRef], store: any NodeStoring, rule: CutRule) {
        self.keys = keys
        self.reusable = reusable
        self.store = store
        self.rule = rule
    }

    /// h(path) of the cut rule.
    static func boundaryHash(_ path: String, keys: RepositoryKeys) -> UInt64 {
        keys.chunkID(of: Array(("drctl-list-boundary\0" + path).utf8)).d
    }

    /// Adds the next entry; paths must be strictly increasing (byte-wise).
    package mutating func add(_ entry: SnapshotManifest.FileEntry) throws(RepositoryError) {
        guard !finished else { throw RepositoryError(.repositoryInternal, message: "a mailbox list got an entry after it was finished") }
        if let previous = lastPath, !ListCoding.precedes(previous, entry.path) {
            throw RepositoryError(.repositoryInternal, message: "the mailbox list got \(entry.path.debugDescription) after \(previous.debugDescription): entries must come in strictly increasing path order")
        }
        if let problem = ListCoding.encodingProblem(entry) {
            throw RepositoryError(.repositoryInternal, message: "the mailbox list cannot hold \(entry.path.debugDescription): it \(problem)")
        }
        let bytes = ListCoding.entrySize(entry)
        if !leaf.entries.isEmpty && leaf.size(adding: entry, bytes: bytes) > rule.maximumLeafBytes {
            try closeLeaf()
        }
        let hash = Self.boundaryHash(entry.path, keys: keys)
        leaf.entries.append(entry)
        leaf.packs.insert(entry.root.pack)
        leaf.entryBytes += bytes
        leaf.lastHash = hash
        lastPath = entry.path
        count += 1
        if rule.endsLeaf(hash, entries: leaf.entries.count) { try closeLeaf() }
    }

    /// Stores what is still open and returns the root, the number of entries, and the nodes
    /// and plaintext bytes stored (reused nodes are not counted).
    package mutating func finish() throws(RepositoryError) -> (root: BlobRef, count: Int, nodesStored: Int, bytesStored: Int) {
        guard !finished else { throw RepositoryError(.repositoryInternal, message: "a mailbox list was finished twice") }
        finished = true
        if count == 0 {
            return (try storeNode(ListCoding.encodeLeaf([])), 0, nodesStored, bytesStored)
        }
        if !leaf.entries.isEmpty { try closeLeaf() }
        var index = 0
        // The first level that got a single node holds the root: nothing was built above it,
        // since a node is stored only once the next one begins (or here).
        while levels[index].added > 1 {
            try storeOpenNode(at: index)
            index += 1
        }
        return (levels[index].children[0].ref, count, nodesStored, bytesStored)
    }

    private mutating func closeLeaf() throws(RepositoryError) {
        let ref = try storeNode(ListCoding.encodeLeaf(leaf.entries))
        let child = ListNode.Child(firstPath: leaf.entries[0].path, count: UInt64(leaf.entries.count), ref: ref)
        let hash = leaf.lastHash
        leaf = OpenLeaf()
        try addChild(child, lastHash: hash, at: 0)
    }

    /// Adds a node of level `index` to the open node of level `index + 1`.
    private mutating func addChild(_ child: ListNode.Child, lastHash: UInt64, at index: Int) throws(RepositoryError) {
        if index == levels.count { levels.append(OpenLevel()) }
        if levels[index].closed { try storeOpenNode(at: index) }
        levels[index].children.append(child)
        levels[index].lastHash = lastHash
        levels[index].added += 1
        if rule.endsNode(level: index + 1, after: lastHash, children: levels[index].children.count) {
            levels[index].closed = true
        }
    }

    private mutating func storeOpenNode(at index: Int) throws(RepositoryError) {
        let open = levels[index]
        levels[index].children.removeAll(keepingCapacity: true)
        levels[index].closed = false
        let ref = try storeNode(ListCoding.encodeInterior(level: index + 1, children: open.children))
        let total = open.children.reduce(UInt64(0)) { $0 + $1.count }
        try addChild(ListNode.Child(firstPath: open.children[0].firstPath, count: total, ref: ref),
                     lastHash: open.lastHash, at: index + 1)
    }

    private mutating func storeNode(_ plaintext: [UInt8]) throws(RepositoryError) -> BlobRef {
        let id = keys.chunkID(of: plaintext)
        if let ref = reusable[id] { return ref }
        let ref = try store.storeNode(plaintext, id: id, kind: .list)
        nodesStored += 1
        bytesStored += plaintext.count
        return ref
    }
}

// MARK: - Reading

/// Reading a snapshot's mailbox list: every node is checked as it is read, and a damaged one
/// is named with the mailboxes it holds.
package enum MailboxList {
    /// Decodes one node's plaintext (`UntrustedInput` fuzzes this).
    package static func decodeNode(_ plaintext: [UInt8]) throws(RepositoryError) -> ListNode {
        do { return try ListCoding.decode(plaintext) } catch {
            throw RepositoryError(.repositoryBadList, message: "not a valid mailbox list node: it \(error.problem)")
        }
    }

    /// Calls `entry` for every entry, depth-first in path order, and returns how many entries
    /// the list holds (counted where read, taken from the parent where a subtree is skipped).
    ///
    /// `visit` is called for each node before it is read, with the level its parent gives it
    /// (nil for the root, whose level is known only once read); returning false skips the
    /// node and everything under it (a subtree seen in another snapshot, say). The children of
    /// an interior node are read in one call, so a reader can coalesce them; memory is bounded
    /// by the depth times one node's children, never by the list.
    @discardableResult
    package static func forEach(root: BlobRef, reader: any BlobReading, keys: RepositoryKeys, context: String,
                                visit: (BlobRef, _ level: Int?) throws(RepositoryError) -> Bool,
                                entry: (SnapshotManifest.FileEntry) throws(RepositoryError) -> Void) throws(RepositoryError) -> UInt64? {
        guard try visit(root, nil) else { return nil }
        let site = Site.root(root)
        let plaintext = try read([root], sites: [site], reader: reader, context: context)[0]
        var walk = Walk(keys: keys, context: context)
        return try walk.node(plaintext, at: site, reader: reader, visit: visit, entry: entry)
    }

    /// The entry for `path`, or nil: one node read per level.
    package static func find(_ path: String, root: BlobRef, reader: any BlobReading, keys: RepositoryKeys,
                             context: String) throws(RepositoryError) -> SnapshotManifest.FileEntry? {
        var site = Site.root(root)
        while true {
            let plaintext = try read([site.ref], sites: [site], reader: reader, context: context)[0]
            switch try checkedNode(plaintext, at: site, keys: keys, context: context) {
            case .leaf(let entries):
                return search(entries, for: path, key: \.path).map { entries[$0] }
            case .interior(let level, let children):
                guard let index = search(children, for: path, key: \.firstPath, orBefore: true) else { return nil }
                site = Site(child: children, index, level: level, in: site)
            }
        }
    }

    /// The index of the item whose key is `path` (or with `orBefore`, the last one not after
    /// it), by binary search in byte-wise order.
    private static func search<Item>(_ items: [Item], for path: String, key: KeyPath<Item, String>,
                                     orBefore: Bool = false) -> Int? {
        var low = 0, high = items.count
        while low < high {
            let middle = (low + high) / 2
            if ListCoding.precedes(path, items[middle][keyPath: key]) { high = middle } else { low = middle + 1 }
        }
        // low is the first item after path; the one before it is equal to it or precedes it.
        guard low > 0 else { return nil }
        return orBefore || ListCoding.sameBytes(items[low - 1][keyPath: key], path) ? low - 1 : nil
    }

    /// Where a node stands in the list, as its parent gives it: what a reader checks it
    /// against, and what a message names when it is damaged.
    fileprivate struct Site {
        let ref: BlobRef
        /// nil for the root.
        let level: Int?
        let firstPath: String?
        let count: UInt64?
        /// The first path of the next node at this level (nil: the list's end).
        let nextPath: String?

        static func root(_ ref: BlobRef) -> Site {
            Site(ref: ref, level: nil, firstPath: nil, count: nil, nextPath: nil)
        }

        init(ref: BlobRef, level: Int?, firstPath: String?, count: UInt64?, nextPath: String?) {
            self.ref = ref
            self.level = level
            self.firstPath = firstPath
            self.count = count
            self.nextPath = nextPath
        }

        /// Child `index` of a node of `level` at `parent`.
        init(child children: [ListNode.Child], _ index: Int, level: Int, in parent: Site) {
            let child = children[index]
            self.init(ref: child.ref, level: level - 1, firstPath: child.firstPath, count: child.count,
                      nextPath: index + 1 < children.count ? children[index + 1].firstPath : parent.nextPath)
        }

        /// The mailboxes under this node, in words.
        var holds: String {
            guard let first = firstPath, let count else { return "it is the root: it holds every mailbox of the list" }
            let end = nextPath.map { " up to \($0.debugDescription) (excluded)" } ?? " to the end of the list"
            return "it holds \(count) mailboxes, from \(first.debugDescription)\(end)"
        }
    }

    /// The node at `site`, decoded and checked against what its parent says of it.
    fileprivate static func checkedNode(_ plaintext: [UInt8], at site: Site, keys: RepositoryKeys,
                                        context: String) throws(RepositoryError) -> ListNode {
        // The reader checks ids too; checked here as well because every structural check below
        // assumes the node is the one its parent names.
        guard keys.chunkID(of: plaintext) == site.ref.id else {
            throw damaged("does not match its id", at: site, context: context)
        }
        let node: ListNode
        do { node = try ListCoding.decode(plaintext) } catch {
            throw damaged(error.problem, at: site, context: context)
        }
        if let level = site.level, node.level != level {
            throw damaged("has level \(node.level) where its parent says \(level)", at: site, context: context)
        }
        if let expected = site.firstPath {
            let first: String? = switch node {
            case .leaf(let entries): entries.first?.path
            case .interior(_, let children): children.first?.firstPath
            }
            guard let first, ListCoding.sameBytes(first, expected) else {
                throw damaged("starts at \((first ?? "no entry").debugDescription) where its parent says \(expected.debugDescription)", at: site, context: context)
            }
        }
        return node
    }

    fileprivate static func damaged(_ problem: String, at site: Site, context: String) -> RepositoryError {
        let level = site.level.map { " (level \($0))" } ?? ""
        return RepositoryError(.repositoryBadList,
                               message: "\(context): mailbox list node \(site.ref.id.hex)\(level) \(problem); \(site.holds). A faulty or hostile key holder wrote it, or it is damaged",
                               context: ErrorContext(object: site.ref.id.hex))
    }

    /// Reads the nodes at `sites`; a failure is named with the mailboxes those nodes hold.
    fileprivate static func read(_ refs: [BlobRef], sites: [Site], reader: any BlobReading,
                                 context: String) throws(RepositoryError) -> [[UInt8]] {
        let plaintexts: [[UInt8]]
        do { plaintexts = try reader.read(refs, context: context) } catch {
            let what = sites.count == 1
                ? "mailbox list node \(sites[0].ref.id.hex): \(sites[0].holds)"
                : "one of \(sites.count) mailbox list nodes: they hold the mailboxes from \((sites[0].firstPath ?? "").debugDescription)" + (sites[sites.count - 1].nextPath.map { " up to \($0.debugDescription) (excluded)" } ?? " to the end of the list")
            throw RepositoryError(error.code, message: "\(error.message) (reading \(what))",
                                  context: error.context.merged(with: ErrorContext(object: sites.count == 1 ? sites[0].ref.id.hex : nil)),
                                  underlying: error.underlying)
        }
        guard plaintexts.count == refs.count else {
            throw RepositoryError(.repositoryInternal, message: "a blob reader returned \(plaintexts.count) plaintexts for \(refs.count) refs")
        }
        return plaintexts
    }

    /// One depth-first walk: the order check across leaves.
    private struct Walk {
        let keys: RepositoryKeys
        let context: String
        /// The greatest path met so far; after a skipped subtree, its first path (a lower bound).
        var previous: String?

        init(keys: RepositoryKeys, context: String) {
            self.keys = keys
            self.context = context
        }

        /// Checks and walks the node at `site`; returns the entries under it.
        mutating func node(_ plaintext: [UInt8], at site: Site, reader: any BlobReading,
                           visit: (BlobRef, _ level: Int?) throws(RepositoryError) -> Bool,
                           entry: (SnapshotManifest.FileEntry) throws(RepositoryError) -> Void) throws(RepositoryError) -> UInt64 {
            switch try MailboxList.checkedNode(plaintext, at: site, keys: keys, context: context) {
            case .leaf(let entries):
                for item in entries {
                    try follow(item.path, at: site)
                    try entry(item)
                }
                return UInt64(entries.count)
            case .interior(let level, let children):
                let sites = children.indices.map { Site(child: children, $0, level: level, in: site) }
                var wanted: [Int] = []
                for (index, child) in sites.enumerated() {
                    if try visit(child.ref, level - 1) { wanted.append(index) }
                }
                var plaintexts = wanted.isEmpty ? [] : try MailboxList.read(wanted.map { sites[$0].ref }, sites: wanted.map { sites[$0] },
                                                                        reader: reader, context: context)
                var next = 0
                for (index, child) in sites.enumerated() {
                    guard next < wanted.count, wanted[next] == index else {
                        try follow(child.firstPath!, at: child)
                        continue
                    }
                    let bytes = plaintexts[next]
                    plaintexts[next] = []  // freed as the walk moves on
                    next += 1
                    let found = try node(bytes, at: child, reader: reader, visit: visit, entry: entry)
                    guard found == child.count! else {
                        throw MailboxList.damaged("holds \(found) entries where its parent says \(child.count!)", at: child, context: context)
                    }
                }
                return children.reduce(UInt64(0)) { $0 + $1.count }  // no overflow: checked by decode
            }
        }

        /// Checks that `path` comes after every path before it in the list.
        private mutating func follow(_ path: String, at site: Site) throws(RepositoryError) {
            if let previous, !ListCoding.precedes(previous, path) {
                throw MailboxList.damaged("lists \(path.debugDescription) after \(previous.debugDescription), out of order", at: site, context: context)
            }
            previous = path
        }
    }
}
