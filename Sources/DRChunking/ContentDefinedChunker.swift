/// Content-defined chunking (FastCDC-style gear hash with normalized chunking) for files that
/// are not SQLite databases: an insertion shifts only the chunks around it.
///
/// Boundaries depend only on the bytes, never on how the input is fed in (tested), so a file
/// read in any block sizes chunks identically.
package struct ContentDefinedChunker: Sendable {
    package let minimumSize: Int
    package let averageSize: Int
    package let maximumSize: Int
    private let maskSmall: UInt64
    private let maskLarge: UInt64

    /// The gear table: 256 pseudo-random words from a fixed SplitMix64 sequence. Fixed, so
    /// chunk boundaries are the same on every host and every version (documented in
    /// docs/REPOSITORY.md): changing it would defeat deduplication against old backups.
    static let gear: [UInt64] = {
        var state: UInt64 = 0x6472_6374_6c2d_6364  // "drctl-cd"
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }()

    private var buffer: [UInt8] = []

    /// - Parameters: sizes in bytes; `averageSize` must be a power of two.
    package init(minimumSize: Int = 256 * 1024, averageSize: Int = 1024 * 1024, maximumSize: Int = 4 * 1024 * 1024) {
        precondition(averageSize > 0 && averageSize & (averageSize - 1) == 0, "average size must be a power of two")
        precondition(minimumSize < averageSize && averageSize < maximumSize)
        self.minimumSize = minimumSize
        self.averageSize = averageSize
        self.maximumSize = maximumSize
        let bits = UInt64(averageSize.trailingZeroBitCount)
        // Normalized chunking: a stricter mask before the average size, a looser one after,
        // which narrows the size distribution around the average.
        maskSmall = (1 << (bits + 1)) - 1
        maskLarge = (1 << (bits - 1)) - 1
    }

    /// Where the scan of the current chunk stopped, and its hash there, so that feeding in
    /// small blocks does not rescan the same bytes (linear time whatever the block size).
    private var scanIndex = 0
    private var scanHash: UInt64 = 0

    /// Feeds bytes; calls `emit` for every complete chunk.
    package mutating func append<E: Error>(_ bytes: some Collection<UInt8>, emit: ([UInt8]) throws(E) -> Void) throws(E) {
        buffer.append(contentsOf: bytes)
        var start = 0
        while let cut = boundary(from: start) {
            try emit(Array(buffer[start..<cut]))
            start = cut
            scanIndex = 0
            scanHash = 0
        }
        if start > 0 { buffer.removeFirst(start) }
    }

    /// Emits what is left as the last chunk (if anything).
    package mutating func finish<E: Error>(emit: ([UInt8]) throws(E) -> Void) throws(E) {
        if !buffer.isEmpty { try emit(buffer) }
        buffer.removeAll()
        scanIndex = 0
        scanHash = 0
    }

    /// The end of the next chunk starting at `start`, or nil if more input is needed. A cut
    /// depends only on the bytes before it, so a cut found in partial input is final.
    private mutating func boundary(from start: Int) -> Int? {
        let available = buffer.count - start
        if available <= minimumSize { return nil }
        var hash = scanHash
        var index = max(start + minimumSize, start + scanIndex)
        let normal = min(start + averageSize, buffer.count)
        let end = min(start + maximumSize, buffer.count)
        while index < normal {
            hash = (hash << 1) &+ Self.gear[Int(buffer[index])]
            if hash & maskSmall == 0 { return index + 1 }
            index += 1
        }
        while index < end {
            hash = (hash << 1) &+ Self.gear[Int(buffer[index])]
            if hash & maskLarge == 0 { return index + 1 }
            index += 1
        }
        if end - start == maximumSize { return end }
        scanIndex = index - start
        scanHash = hash
        return nil
    }
}
