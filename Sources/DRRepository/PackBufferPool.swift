import Synchronization

/// Data-pack buffers handed back once every target has taken their pack, for the next pack.
///
/// A pack buffer is 18 MiB, above glibc's mmap threshold (`ProcessMemory`): each new one was
/// a fresh mapping, zeroed by the kernel page by page as the pack filled, and unmapped after
/// its upload — 6–10 % of a full backup's CPU samples. A reused buffer is already mapped and
/// faulted in. Peak memory is unchanged: a buffer is made only when none is free, so no more
/// exist than were ever in use at once (as before), and at most `limit` wait here.
final class PackBufferPool: Sendable {
    /// Bytes each buffer reserves.
    let capacity: Int
    private let limit: Int
    private let free = Mutex<[[UInt8]]>([])

    init(capacity: Int, limit: Int) {
        self.capacity = capacity
        self.limit = limit
    }

    /// An empty buffer of at least `capacity` bytes reserved.
    func take() -> [UInt8] {
        if var buffer = free.withLock({ $0.popLast() }) {
            // The pool held the only reference: emptied in place, its memory kept.
            buffer.removeAll(keepingCapacity: true)
            return buffer
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// Keeps `buffer` for a later pack if it is of the pool's size (a pack that outgrew its
    /// reservation, or a node pack's smaller one, is left to be freed).
    func give(_ buffer: [UInt8]) {
        guard buffer.capacity >= capacity, buffer.capacity <= capacity + capacity / 2 else { return }
        free.withLock { free in
            if free.count < limit { free.append(buffer) }
        }
    }
}

/// A sealed pack's bytes, shared by every target's upload lane; the last lane to let go
/// gives the buffer back to the pool.
final class SharedPackBytes: Sendable {
    let bytes: [UInt8]
    private let pool: PackBufferPool

    init(_ bytes: [UInt8], pool: PackBufferPool) {
        self.bytes = bytes
        self.pool = pool
    }

    deinit { pool.give(bytes) }
}
