/// Deterministic mutations of byte strings: the same seed gives the same inputs on every
/// machine, so a failure in CI is reproduced by its seed and index alone.
package struct Mutator {
    private var state: UInt64

    package init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64: small, fast and good enough to pick positions and values.
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    package mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }

    /// Values that make parsers trip: boundaries of the integer sizes headers use.
    static let interesting: [UInt32] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x200, 0x400, 0x1000, 0x8000, 0xFFFF,
                                        0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]

    /// One to four mutations of `input`: bit flips, byte sets, interesting 16/32-bit values
    /// (both byte orders: SQLite is big-endian, drctl's formats little-endian), truncation,
    /// insertion, duplication of a run, and splicing another input in.
    package mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) {
            switch below(9) {
            case 0 where !bytes.isEmpty:
                bytes[below(bytes.count)] ^= UInt8(1) << UInt8(below(8))
            case 1 where !bytes.isEmpty:
                bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: next())
            case 2 where bytes.count >= 2:
                let value = Self.interesting[below(Self.interesting.count)]
                let at = below(bytes.count - 1)
                let bigEndian = next() & 1 == 0
                bytes[at] = UInt8(truncatingIfNeeded: bigEndian ? value >> 8 : value)
                bytes[at + 1] = UInt8(truncatingIfNeeded: bigEndian ? value : value >> 8)
            case 3 where bytes.count >= 4:
                let value = Self.interesting[below(Self.interesting.count)]
                let at = below(bytes.count - 3)
                let order: [UInt32] = next() & 1 == 0 ? [24, 16, 8, 0] : [0, 8, 16, 24]
                for (index, shift) in order.enumerated() { bytes[at + index] = UInt8(truncatingIfNeeded: value >> shift) }
            case 4 where !bytes.isEmpty:
                bytes.removeSubrange(below(bytes.count)...)
            case 5:
                let count = 1 + below(16)
                let at = below(bytes.count + 1)
                bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
            case 6 where !bytes.isEmpty:
                let start = below(bytes.count)
                let run = bytes[start..<min(bytes.count, start + 1 + below(64))]
                bytes.insert(contentsOf: run, at: below(bytes.count + 1))
            case 7 where !other.isEmpty && !bytes.isEmpty:
                let cut = below(bytes.count)
                bytes = Array(bytes[..<cut]) + other[below(other.count)...]
            default:
                if !bytes.isEmpty { bytes.remove(at: below(bytes.count)) }
            }
        }
        return bytes
    }
}
