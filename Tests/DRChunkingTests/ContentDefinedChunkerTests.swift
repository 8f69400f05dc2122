import DRChunking
import Testing

@Suite("content-defined chunking")
struct ContentDefinedChunkerTests {
    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func chunks(_ data: [UInt8], blockSize: Int, chunker: ContentDefinedChunker) -> [[UInt8]] {
        var chunker = chunker
        var out: [[UInt8]] = []
        var offset = 0
        while offset < data.count {
            let end = min(offset + blockSize, data.count)
            chunker.append(data[offset..<end]) { out.append($0) }
            offset = end
        }
        chunker.finish { out.append($0) }
        return out
    }

    static let small = ContentDefinedChunker(minimumSize: 2048, averageSize: 8192, maximumSize: 32768)

    @Test("chunks reassemble to the input and respect the size bounds",
          arguments: [1, 1000, 4096, 65536, 1 << 20])
    func reassembles(blockSize: Int) {
        let data = Self.bytes(600_000, seed: 42)
        let chunks = Self.chunks(data, blockSize: blockSize, chunker: Self.small)
        #expect(chunks.flatMap { $0 } == data)
        for chunk in chunks.dropLast() {
            #expect(chunk.count > 2048 && chunk.count <= 32768)
        }
        // Around the average: a broken mask would give all-minimum or all-maximum chunks.
        let average = data.count / chunks.count
        #expect(average > 4096 && average < 16384, "average chunk \(average)")
    }

    @Test("boundaries do not depend on how the input is fed")
    func feedIndependent() {
        let data = Self.bytes(400_000, seed: 7)
        let reference = Self.chunks(data, blockSize: data.count, chunker: Self.small).map(\.count)
        for block in [1, 17, 4096, 100_000] {
            #expect(Self.chunks(data, blockSize: block, chunker: Self.small).map(\.count) == reference)
        }
    }

    @Test("an insertion changes only the chunks around it")
    func insertionIsLocal() {
        let data = Self.bytes(500_000, seed: 99)
        var edited = data
        edited.insert(contentsOf: [1, 2, 3, 4, 5], at: 250_000)
        let before = Set(Self.chunks(data, blockSize: 65536, chunker: Self.small))
        let after = Self.chunks(edited, blockSize: 65536, chunker: Self.small)
        let changed = after.filter { !before.contains($0) }
        #expect(changed.count <= 3, "\(changed.count) of \(after.count) chunks changed")
    }

    @Test("runs of one byte are cut at the maximum size")
    func uniformInput() {
        let data = [UInt8](repeating: 0, count: 100_000)
        let chunks = Self.chunks(data, blockSize: 5000, chunker: Self.small)
        #expect(chunks.dropLast().allSatisfy { $0.count == 32768 })
        #expect(chunks.flatMap { $0 } == data)
    }
}
