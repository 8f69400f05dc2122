/// A fixed-size cache that maps a key to the slot its hash picks, a newer entry replacing an
/// older one in that slot (the IP pseudonyms' caches): constant memory and time, no rehashing,
/// and no collapse when the working set outgrows it (a dictionary cleared when full would lose
/// everything at once).
///
/// Key, value and validity side by side in one slot, so that a lookup touches one cache line,
/// not one per array; the slots live in one allocation owned by this instance, so a lookup or
/// store is a load or a store (no copy-on-write check, no exclusivity check on a stored array).
/// The slots sit in `CacheMemory` (huge pages where the kernel gives them: a lookup at random
/// in several MiB then seldom misses the TLB).
/// Not thread-safe: one instance per stream, as its owner.
package final class DirectMappedCache<Key: FixedWidthInteger, Value> {
    private struct Slot {
        var key: Key
        var value: Value?
    }

    private let slots: UnsafeMutablePointer<Slot>
    private let count: Int
    private let shift: Int

    /// `1 << log2Slots` slots.
    package init(log2Slots: Int) {
        count = 1 << log2Slots
        slots = CacheMemory.allocate(byteCount: MemoryLayout<Slot>.stride * count).bindMemory(to: Slot.self, capacity: count)
        slots.initialize(repeating: Slot(key: 0, value: nil), count: count)
        shift = 64 - log2Slots
    }

    deinit {
        slots.deinitialize(count: count)
        CacheMemory.release(UnsafeMutableRawPointer(slots), byteCount: MemoryLayout<Slot>.stride * count)
    }

    @inline(__always)
    private func slot(_ key: Key) -> Int {
        // Fibonacci hashing of the key's 64-bit folds: neighbours (one /24) spread over the slots.
        var folded: UInt64 = 0
        var rest = key
        for _ in 0..<((Key.bitWidth + 63) / 64) {
            folded ^= UInt64(truncatingIfNeeded: rest)
            rest = Key.bitWidth > 64 ? rest >> 64 : 0
        }
        // The shift keeps the index below `count`.
        return Int(truncatingIfNeeded: (folded &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    /// Loads the key of `key`'s slot, so that the lookup that follows finds the slot in cache;
    /// the caller folds the value into something it keeps (else the load is dropped).
    @inline(__always)
    package func touch(_ key: Key) -> UInt64 {
        UInt64(truncatingIfNeeded: (slots + slot(key)).pointee.key)
    }

    @inline(__always)
    package subscript(key: Key) -> Value? {
        get {
            let entry = slots + slot(key)
            return entry.pointee.key == key ? entry.pointee.value : nil
        }
        set {
            (slots + slot(key)).pointee = Slot(key: key, value: newValue)
        }
    }
}
