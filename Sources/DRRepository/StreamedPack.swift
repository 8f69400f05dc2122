import DRBase

/// A data pack written to folder targets piece by piece while a backup worker fills it, so
/// that no pack is ever whole in memory.
///
/// A whole-pack writer (`PackWriter`) holds up to 18 MiB per worker, and each finished pack
/// waits whole in every target's queue: four packs of 16 MiB in flight were most of a full
/// backup's peak memory (97 MiB against restic's 85 on the plain store, docs/BENCHMARKS.md),
/// and each new pack buffer was fresh memory the kernel had to zero (8 % of a plain backup's
/// CPU samples). Here the blobs go into 4 MiB pieces taken from `DirectWriteBuffers` (mapped
/// once, reused); a full piece is handed to every target's upload lane and written to the
/// pack's temporary file from that same memory with direct I/O (`AtomicFile`), then the buffer
/// returns to the pool. The pack's tail (sealed header, length, magic) ends the last piece, and
/// that target's uploader then commits the file: fsync, link(2) under its name, folder fsync,
/// exactly as `ObjectStore.put(ifAbsent:)` stores a whole pack. The bytes on the target are the
/// same as a `PackWriter` would produce.
///
/// Only for runs whose every target takes objects in pieces (`ObjectStore.takesPieces`:
/// folders). An S3 PUT needs its body's length and hash before the first byte, so packs for
/// S3 stay whole. Not thread-safe: one per worker.
final class StreamedPack {
    let id: PackID
    /// Bytes appended so far (blobs, then the tail once finished).
    private(set) var size = 0
    private(set) var entries: [BlobEntry] = []
    /// The piece being filled; taken from the pool at the first byte, so that an open pack
    /// that never receives a blob holds no buffer.
    private var piece: PackPiece?
    var isEmpty: Bool { entries.isEmpty }

    init(id: PackID = .random()) {
        self.id = id
    }

    /// Appends a sealed blob; each piece it fills is handed to `ship`.
    func append(_ blob: SealedBlob, ship: (PackPiece) throws(RepositoryError) -> Void) throws(RepositoryError) -> BlobRef {
        var entry = blob.entry
        entry.offset = UInt32(size)
        entries.append(entry)
        try blob.bytes.withBytes { (raw) throws(RepositoryError) in try write(raw, ship: ship) }
        return entry.ref(in: id)
    }

    /// Appends the tail and hands over the last piece, marked as such (it may hold only part
    /// of the tail, or nothing, when the pack ends on a piece boundary).
    /// - Returns: the tail's length (the pack's own overhead).
    func finish(keys: RepositoryKeys, ship: (PackPiece) throws(RepositoryError) -> Void) throws(RepositoryError) -> Int {
        let tail = try PackWriter.tail(entries: entries, id: id, keys: keys)
        try tail.withBytes { (raw) throws(RepositoryError) in try write(raw, ship: ship) }
        let last = piece ?? PackPiece(pack: id, offset: size)
        piece = nil
        last.endsPack(size: size)
        try ship(last)
        return tail.count
    }

    private func write(_ bytes: UnsafeRawBufferPointer, ship: (PackPiece) throws(RepositoryError) -> Void) throws(RepositoryError) {
        var done = 0
        while done < bytes.count {
            let current = piece ?? PackPiece(pack: id, offset: size)
            piece = current
            done += current.fill(from: UnsafeRawBufferPointer(rebasing: bytes[done...]))
            size = current.offset + current.count
            if current.isFull {
                piece = nil
                try ship(current)
            }
        }
    }
}

/// Up to 4 MiB of one pack, at `offset` in it, on its way to every target's uploader. Its
/// memory is a `DirectWriteBuffers` buffer (aligned for direct I/O), given back when the last
/// target is done with it. Filled by one worker, then only read: shared by the lanes.
final class PackPiece: @unchecked Sendable {
    let pack: PackID
    /// Where the piece's first byte lies in the pack.
    let offset: Int
    private(set) var count = 0
    /// Set on the pack's last piece: the pack's whole size. Its uploader commits the object
    /// after writing it.
    private(set) var packSize: Int?
    private let buffer: UnsafeMutableRawPointer
    private let pooled: Bool
    static let capacity = DirectWriteBuffers.size

    init(pack: PackID, offset: Int = 0) {
        self.pack = pack
        self.offset = offset
        if let buffer = DirectWriteBuffers.take() {
            self.buffer = buffer
            pooled = true
        } else {
            // No mapping to be had: ordinary memory, which AtomicFile then stages.
            buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 4096)
            pooled = false
        }
    }

    deinit {
        if pooled { DirectWriteBuffers.give(buffer) } else { buffer.deallocate() }
    }

    var isFull: Bool { count == Self.capacity }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer, count: count) }

    /// Copies as much of `source` as fits; returns how much.
    fileprivate func fill(from source: UnsafeRawBufferPointer) -> Int {
        let taken = min(source.count, Self.capacity - count)
        if taken > 0 { (buffer + count).copyMemory(from: source.baseAddress!, byteCount: taken) }
        count += taken
        return taken
    }

    fileprivate func endsPack(size: Int) { packSize = size }
}
