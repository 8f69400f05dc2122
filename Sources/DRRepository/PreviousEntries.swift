/// The previous entries a backup compares its mailboxes with, held compactly: each entry in
/// the list's own entry coding (`ListCoding`, so a round trip gives the entry back equal as
/// stored) after a u32 index into a table of packs, all in one buffer, found by binary search
/// on the path.
///
/// Why: a `[String: FileEntry]` of 100,000 entries took 82 MiB (a 330-byte entry in each of
/// 262,144 slots) plus three heap strings per entry, the largest part of a nothing-changed
/// backup's peak after the worker pool's results (docs/PROFILES.md, "Backup memory per
/// mailbox"). Coded, an entry of the scale store's is about 180 bytes and no allocation.
/// An entry is decoded when a worker asks for it (once per mailbox) and when the new list is
/// built (once per unchanged mailbox).
package struct PreviousEntries: Sendable {
    /// Where one entry's bytes start, and whether it comes from the newest snapshot's list
    /// (`BackupWriter.sameList` reuses that list only if every entry of the run is one of its).
    private struct Slot: Sendable {
        var start: Int
        var newest: Bool
    }

    /// Each entry: u32 pack index (into `packs`) ‖ the entry as a list leaf codes it, its
    /// root ref's pack index 0.
    private var bytes: [UInt8] = []
    /// In byte-wise path order once `inserting` returns (entries come in path order from one
    /// list, and out of order from older ones).
    private var slots: [Slot] = []
    /// The packs of the entries' roots (a few hundred for 100,000 mailboxes: roots lie in the
    /// tree-node packs of the runs that wrote them).
    private var packs: [PackID] = []
    private var packIndex: [PackID: UInt32] = [:]

    package init() {}

    package var count: Int { slots.count }
    package var isEmpty: Bool { slots.isEmpty }
    /// The bytes its arrays take (capacity; the pack table aside), for the tests and profiles.
    package var heldBytes: Int { bytes.capacity + slots.capacity * MemoryLayout<Slot>.stride }

    /// Adds entries (paths not held yet) and sorts the slots by path if they came out of order.
    /// - Parameter newest: whether they are entries of the newest snapshot's list.
    package mutating func inserting(newest: Bool,
                                    _ add: ((SnapshotManifest.FileEntry) -> Void) throws(RepositoryError) -> Void) throws(RepositoryError) {
        var ordered = true
        // The last entry's start, not its path: a slice would keep a second reference to
        // `bytes`, and every append would copy the whole buffer.
        var last = slots.last?.start
        try add { entry in
            let start = bytes.count
            let pack: UInt32
            if let known = packIndex[entry.root.pack] {
                pack = known
            } else {
                pack = UInt32(packs.count)
                packs.append(entry.root.pack)
                packIndex[entry.root.pack] = pack
            }
            LittleEndian.append(pack, to: &bytes)
            ListCoding.append(entry, packIndex: 0, to: &bytes)
            slots.append(Slot(start: start, newest: newest))
            if let previous = last, ordered, !pathBytes(at: previous).lexicographicallyPrecedes(pathBytes(at: start)) { ordered = false }
            last = start
        }
        if !ordered {
            let buffer = bytes
            slots.sort { Self.path(in: buffer, at: $0.start).lexicographicallyPrecedes(Self.path(in: buffer, at: $1.start)) }
        }
        // Growth by doubling may leave up to half the buffer unused for the whole run: given
        // back when it is more than a quarter.
        Self.shrink(&bytes)
        Self.shrink(&slots)
    }

    /// A copy of exactly its size when more than a quarter is unused (`Array(slice)` of a
    /// whole array would share the buffer instead).
    private static func shrink<Element>(_ array: inout [Element]) {
        guard array.capacity > array.count + array.count / 3 else { return }
        var copy: [Element] = []
        copy.reserveCapacity(array.count)
        copy.append(contentsOf: array)
        array = copy
    }

    /// The entry of `path`, and whether it comes from the newest snapshot's list.
    package func entry(_ path: String) -> (entry: SnapshotManifest.FileEntry, newest: Bool)? {
        guard let index = index(of: path), let entry = entry(at: slots[index].start) else { return nil }
        return (entry, slots[index].newest)
    }

    package func contains(_ path: String) -> Bool { index(of: path) != nil }

    /// Finds entries for paths asked in increasing byte-wise order by walking the slots once
    /// (a comparison or two per path, where `entry(_:)` searches the whole table).
    package struct InOrder {
        private let entries: PreviousEntries
        private var next = 0

        init(_ entries: PreviousEntries) { self.entries = entries }

        /// The entry of `path`; `path` must follow every path asked before.
        package mutating func entry(_ path: String) -> SnapshotManifest.FileEntry? {
            var key = path
            return key.withUTF8 { (wanted: UnsafeBufferPointer<UInt8>) -> SnapshotManifest.FileEntry? in
                while next < entries.slots.count, entries.pathBytes(at: entries.slots[next].start).lexicographicallyPrecedes(wanted) {
                    next += 1
                }
                guard next < entries.slots.count, entries.pathBytes(at: entries.slots[next].start).elementsEqual(wanted) else { return nil }
                return entries.entry(at: entries.slots[next].start)
            }
        }
    }

    package var inOrder: InOrder { InOrder(self) }

    /// Every path held, in byte-wise order.
    package func forEachPath(_ body: (String) -> Void) {
        for slot in slots { body(String(decoding: pathBytes(at: slot.start), as: UTF8.self)) }
    }

    private func index(of path: String) -> Int? {
        var key = path
        return key.withUTF8 { (wanted: UnsafeBufferPointer<UInt8>) -> Int? in
            var low = 0, high = slots.count
            while low < high {
                let middle = (low + high) / 2
                if wanted.lexicographicallyPrecedes(pathBytes(at: slots[middle].start)) { high = middle } else { low = middle + 1 }
            }
            guard low > 0, pathBytes(at: slots[low - 1].start).elementsEqual(wanted) else { return nil }
            return low - 1
        }
    }

    private func entry(at start: Int) -> SnapshotManifest.FileEntry? {
        var reader = RefCoding.Reader(bytes, offset: start)
        // Never fails for bytes this struct coded; if it did, the mailbox would be read again
        // (no entry), which is always safe. Paths were checked when the list was read.
        guard let pack = reader.u32(), Int(pack) < packs.count,
              let entry = try? ListCoding.entry(from: &reader, packs: [packs[Int(pack)]], checkingPath: false) else { return nil }
        return entry
    }

    private func pathBytes(at start: Int) -> ArraySlice<UInt8> { Self.path(in: bytes, at: start) }

    /// u32 pack index (4) ‖ u16 path length ‖ path.
    private static func path(in bytes: [UInt8], at start: Int) -> ArraySlice<UInt8> {
        let at = start + 4
        let length = Int(bytes[at]) | Int(bytes[at + 1]) << 8
        return bytes[(at + 2)..<(at + 2 + length)]
    }
}
