/// A fixed-size cache that maps a key to the slot its hash picks, a newer entry replacing an
/// older one in that slot (the IP pseudonyms' and the log tokens' caches): constant memory and time, no rehashing, and no collapse when the
/// working set outgrows it (a dictionary cleared when full would lose everything at once).
package struct DirectMappedCache<Key: FixedWidthInteger, Value> {
    private var keys: [Key]
    private var values: [Value?]
    private let shift: Int

    /// `1 << log2Slots` slots.
    package init(log2Slots: Int) {
        keys = [Key](repeating: 0, count: 1 << log2Slots)
        values = [Value?](repeating: nil, count: 1 << log2Slots)
        shift = 64 - log2Slots
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
        return Int(truncatingIfNeeded: (folded &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    @inline(__always)
    package subscript(key: Key) -> Value? {
        get {
            let index = slot(key)
            return keys[index] == key ? values[index] : nil
        }
        set {
            let index = slot(key)
            keys[index] = key
            values[index] = newValue
        }
    }
}
