import DRBase
import DRCrypto
package import DRTransport

/// Where a blob lives.
package struct BlobLocation: Sendable, Equatable {
    package var pack: String
    package var entry: BlobEntry
}

/// `index/<id>`: which blobs each pack holds. Rebuildable from the pack headers.
///
/// Plaintext (then sealed in a DRC1 envelope of kind `I` with the "index" subkey):
/// ```
/// "DRI1" ‖ u32 LE packCount ‖ packCount × ( packID (32) ‖ u64 LE packLength ‖ u32 LE n ‖ n × BlobEntry )
/// ```
/// The object's name is `index/` + hex BLAKE2b-256 of its stored bytes.
package struct IndexObject: Sendable, Equatable {
    package struct PackRecord: Sendable, Equatable {
        package var pack: String
        package var length: UInt64
        package var entries: [BlobEntry]
    }
    package var packs: [PackRecord]

    package init(packs: [PackRecord]) { self.packs = packs }

    func seal(keys: RepositoryKeys) throws(RepositoryError) -> (name: String, bytes: [UInt8]) {
        var plain = Array("DRI1".utf8)
        LittleEndian.append(UInt32(packs.count), to: &plain)
        for record in packs {
            guard let id = Hex.decode(record.pack), id.count == 32 else {
                throw RepositoryError(.repositoryInternal, message: "bad pack id \(record.pack)")
            }
            plain.append(contentsOf: id)
            LittleEndian.append(record.length, to: &plain)
            LittleEndian.append(UInt32(record.entries.count), to: &plain)
            for entry in record.entries { entry.encode(into: &plain) }
        }
        let sealed = try ObjectEnvelope.seal(plain, kind: .index, name: "", key: keys.index)
        return ("index/" + ContentAddress.of(sealed), sealed)
    }

    static func open(_ bytes: [UInt8], name: String, target: String,
                     keys: RepositoryKeys) throws(RepositoryError) -> IndexObject {
        let damaged = { (why: String) in
            RepositoryError(.repositoryIndexDamaged, message: "target \(target): index object \(name) is damaged: \(why); run drctl check --read-data to see what it affects (the next backup indexes the packs it names again from their own headers), then remove it")
        }
        guard "index/" + ContentAddress.of(bytes) == name else {
            throw damaged("its content does not match its name")
        }
        let plain = try ObjectEnvelope.open(bytes, kind: .index, name: "", target: target, key: keys.index)
        guard plain.count >= 8, Array(plain[0..<4]) == Array("DRI1".utf8) else { throw damaged("bad magic") }
        let count = Int(LittleEndian.uint32(plain[...], at: 4))
        var offset = 8
        var packs: [PackRecord] = []
        for _ in 0..<count {
            guard offset + 44 <= plain.count else { throw damaged("truncated") }
            let pack = Hex.encode(plain[offset..<(offset + 32)])
            let length = LittleEndian.uint64(plain[...], at: offset + 32)
            let n = Int(LittleEndian.uint32(plain[...], at: offset + 40))
            offset += 44
            guard offset + n * BlobEntry.encodedSize <= plain.count else { throw damaged("truncated") }
            var entries: [BlobEntry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                guard let entry = BlobEntry.decode(plain[offset..<(offset + BlobEntry.encodedSize)]) else {
                    throw damaged("invalid entry")
                }
                entries.append(entry)
                offset += BlobEntry.encodedSize
            }
            packs.append(PackRecord(pack: pack, length: length, entries: entries))
        }
        guard offset == plain.count else { throw damaged("trailing bytes") }
        return IndexObject(packs: packs)
    }
}

/// The in-memory view of one target's index objects: blob id → location.
///
/// Compact, because it holds an entry per chunk of the whole repository: pack ids are
/// interned, a location is 17 bytes, so an entry costs about 60 bytes with the table's
/// overhead (measured by scripts/bench; the first version cost 330).
package struct BlobIndex: Sendable {
    private struct Location: Sendable {
        var pack: UInt32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32
        var flags: UInt8   // bit 0: compressed; bits 1…: kind
    }
    private var table: [ChunkID: Location] = [:]
    private var packNames: [String] = []
    private var packNumbers: [String: UInt32] = [:]
    /// Packs the index objects name, with their recorded lengths.
    package private(set) var packs: [String: UInt64] = [:]

    package init() {}

    package mutating func add(_ object: IndexObject) {
        add(object, held: nil)
    }

    /// - Parameter held: the target's packs as listed (id → size); a record of a pack not
    ///   held with the size it records is left out, so that a chunk stored again elsewhere
    ///   (after the pack was lost) is found where it really is.
    mutating func add(_ object: IndexObject, held: [String: Int64]?) {
        for record in object.packs {
            if let held, held[record.pack] != Int64(record.length) { continue }
            packs[record.pack] = record.length
            let number: UInt32
            if let known = packNumbers[record.pack] {
                number = known
            } else {
                number = UInt32(packNames.count)
                packNames.append(record.pack)
                packNumbers[record.pack] = number
            }
            for entry in record.entries where table[entry.id] == nil {
                table[entry.id] = Location(pack: number, offset: entry.offset, length: entry.length,
                                           rawLength: entry.rawLength,
                                           flags: (entry.compressed ? 1 : 0) | (entry.kind.rawValue << 1))
            }
        }
    }

    package func contains(_ id: ChunkID) -> Bool { table[id] != nil }

    package subscript(id: ChunkID) -> BlobLocation? {
        guard let location = table[id], let kind = BlobKind(rawValue: location.flags >> 1) else { return nil }
        return BlobLocation(pack: packNames[Int(location.pack)],
                            entry: BlobEntry(kind: kind, compressed: location.flags & 1 == 1, id: id,
                                             offset: location.offset, length: location.length,
                                             rawLength: location.rawLength))
    }

    /// The ids the index places in each pack (one pass over the table).
    package func idsByPack() -> [String: Set<ChunkID>] {
        var result: [String: Set<ChunkID>] = [:]
        for (id, location) in table { result[packNames[Int(location.pack)], default: []].insert(id) }
        return result
    }

    /// Index objects that could not be read or opened while loading (left out, each naming
    /// its target and object).
    package private(set) var damaged: [RepositoryError] = []

    /// Every index object of one target, merged (read one object at a time), believing only
    /// the packs the target's `data/` listing shows with their recorded size. A damaged one is
    /// left out and recorded in `damaged`, never thrown: the others still locate their blobs
    /// (a backup indexes the packs it named again from their headers), and what only it
    /// located is then looked for on another target.
    package static func load(from store: any ObjectStore, keys: RepositoryKeys) throws(RepositoryError) -> BlobIndex {
        var index = BlobIndex()
        let names: [String]
        var held: [String: Int64] = [:]
        do throws(TransportError) {
            names = try store.list(prefix: "index/")
            for (name, size) in try store.listSizes(prefix: "data/") {
                if let id = PackNaming.id(fromObjectName: name) { held[id] = size }
            }
        } catch {
            throw RepositoryError(error)
        }
        for name in names {
            do throws(RepositoryError) {
                let bytes: [UInt8]
                do { bytes = try store.get(name) } catch { throw RepositoryError(error) }
                index.add(try IndexObject.open(bytes, name: name, target: store.targetName, keys: keys), held: held)
            } catch {
                var tagged = error
                tagged.context = error.context.merged(with: ErrorContext(target: store.targetName, object: name))
                index.damaged.append(tagged)
            }
        }
        return index
    }
}
