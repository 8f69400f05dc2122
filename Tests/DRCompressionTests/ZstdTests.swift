import DRBase
import DRCompression
import Testing

/// Deterministic pseudo-random bytes (SplitMix64), incompressible like encrypted pages.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var out: [UInt8] = []
    out.reserveCapacity(count + 8)
    while out.count < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        withUnsafeBytes(of: z.littleEndian) { out.append(contentsOf: $0) }
    }
    return Array(out.prefix(count))
}

/// Mail-like text: repetitive headers and prose.
func mailText(_ count: Int) -> [UInt8] {
    var text: [UInt8] = []
    var n = 0
    while text.count < count {
        n += 1
        text += Array("""
            Received: from mx\(n % 7).example.net by mail.example.org (Postfix) id \(n * 7919)
            From: Alice <alice@example.net>
            To: Bob <bob@example.org>
            Subject: quarterly report \(n)
            Message-ID: <\(n * 104_729)@example.net>

            Hello Bob, please find the quarterly report attached. Regards, Alice.

            """.utf8)
    }
    return Array(text.prefix(count))
}

@Suite("Zstd")
struct ZstdTests {
    @Test("one-shot round trips", arguments: [0, 1, 2, 100, 65536, 1 << 20])
    func roundTrip(_ size: Int) throws {
        for input in [mailText(size), randomBytes(size, seed: UInt64(size))] {
            let compressed = try Zstd.compress(input)
            #expect(compressed.count > 0)
            #expect(try Zstd.decompress(compressed, maxOutput: size) == input)
        }
    }

    @Test("1 MiB of text compresses well at several levels")
    func ratio() throws {
        let input = mailText(1 << 20)
        for level in [1, 3, 9, 19] {
            let compressed = try Zstd.compress(input, level: level)
            #expect(compressed.count < input.count / 10, "level \(level): \(compressed.count) bytes")
            #expect(try Zstd.decompress(compressed, maxOutput: input.count) == input)
        }
    }

    @Test("decompresses a frame written by the zstd 1.5.4 command-line tool")
    func foreignFrame() throws {
        // printf 'hello, drctl\n' | zstd -q -c
        let frame = try #require(Hex.decode("28b52ffd045869000068656c6c6f2c20647263746c0a3d150720"))
        #expect(try Zstd.decompress(frame, maxOutput: 100) == Array("hello, drctl\n".utf8))
        let stream = try ZstdDecompressionStream()
        var output: [UInt8] = []
        for byte in frame { output += try stream.decompress([byte]) }
        try stream.finish()
        #expect(output == Array("hello, drctl\n".utf8))
    }

    @Test("corrupt, truncated and foreign input is a clear error")
    func corrupt() throws {
        let input = mailText(200_000)
        let compressed = try Zstd.compress(input)
        var damaged = compressed
        damaged[damaged.count / 2] ^= 0xFF
        let error = #expect(throws: CompressionError.self) { _ = try Zstd.decompress(damaged, maxOutput: input.count) }
        #expect(error?.code == .compressionCorrupt)
        #expect(error?.exitStatus == .dataError)
        let truncated = Array(compressed.prefix(compressed.count - 10))
        let truncatedError = #expect(throws: CompressionError.self) { _ = try Zstd.decompress(truncated, maxOutput: input.count) }
        #expect(truncatedError?.code == .compressionCorrupt)
        #expect(truncatedError?.message.contains("truncated") == true)
        #expect(throws: CompressionError.self) { _ = try Zstd.decompress(Array("not zstd at all".utf8), maxOutput: 100) }
        #expect(throws: CompressionError.self) { _ = try Zstd.decompress([], maxOutput: 100) }
    }

    @Test("a decompression bomb is refused at maxOutput, with or without a declared size")
    func bomb() throws {
        let zeros = [UInt8](repeating: 0, count: 64 << 20)   // 64 MiB
        let declared = try Zstd.compress(zeros, level: 19)
        #expect(declared.count < 10_000)
        let error = #expect(throws: CompressionError.self) { _ = try Zstd.decompress(declared, maxOutput: 1 << 20) }
        #expect(error?.code == .compressionOutputTooLarge)
        // A streamed frame does not declare its size: the limit must hold while decoding.
        let stream = try ZstdCompressionStream(level: 3)
        var undeclared = try stream.compress(zeros)
        undeclared += try stream.finish()
        let streamError = #expect(throws: CompressionError.self) { _ = try Zstd.decompress(undeclared, maxOutput: 1 << 20) }
        #expect(streamError?.code == .compressionOutputTooLarge)
        // At exactly the right limit it decodes.
        #expect(try Zstd.decompress(undeclared, maxOutput: zeros.count).count == zeros.count)
    }

    @Test("streaming in odd-size pieces round trips, with flat output pieces")
    func streaming() throws {
        let input = mailText(3 << 20) + randomBytes(300_001, seed: 9) + mailText(77_777)
        let compressor = try ZstdCompressionStream(level: 5)
        var compressed: [UInt8] = []
        var largestPiece = 0
        var offset = 0
        var step = 1
        while offset < input.count {
            let end = min(input.count, offset + step)
            try input[offset..<end].withUnsafeBytes { raw in
                try compressor.compress(raw) { piece in
                    largestPiece = max(largestPiece, piece.count)
                    compressed.append(contentsOf: piece)
                }
            }
            offset = end
            step = step * 7 % 100_003 + 13
        }
        compressed += try compressor.finish()
        #expect(largestPiece <= ZstdCompressionStream.outputPieceSize)
        #expect(compressed.count < input.count / 2)

        // The one-shot decoder reads the streamed frame.
        #expect(try Zstd.decompress(compressed, maxOutput: input.count) == input)

        // And the streaming decoder, fed in other odd pieces.
        let decompressor = try ZstdDecompressionStream(maxOutput: input.count)
        var output: [UInt8] = []
        offset = 0
        step = 3
        while offset < compressed.count {
            let end = min(compressed.count, offset + step)
            output += try decompressor.decompress(Array(compressed[offset..<end]))
            offset = end
            step = step * 5 % 65_537 + 1
        }
        try decompressor.finish()
        #expect(output == input)
        #expect(decompressor.outputCount == input.count)
    }

    @Test("a streaming decoder that stops inside a frame reports truncation")
    func streamingTruncated() throws {
        let compressed = try Zstd.compress(mailText(100_000))
        let decompressor = try ZstdDecompressionStream()
        _ = try decompressor.decompress(Array(compressed.dropLast(5)))
        let error = #expect(throws: CompressionError.self) { try decompressor.finish() }
        #expect(error?.code == .compressionCorrupt)
    }
}

@Suite("ChunkCompression")
struct ChunkCompressionTests {
    @Test("random chunks are stored raw; text chunks are compressed", arguments: [4096, 16384, 65536])
    func rawOrCompressed(_ size: Int) throws {
        let random = randomBytes(size, seed: 42)
        let (rawPayload, rawCompressed) = try ChunkCompression.encode(random, level: 3)
        #expect(!rawCompressed)
        #expect(rawPayload == random)
        #expect(try ChunkCompression.decode(payload: rawPayload, compressed: false, originalLength: size) == random)

        let text = mailText(size)
        let (payload, compressed) = try ChunkCompression.encode(text, level: 3)
        #expect(compressed)
        #expect(payload.count <= size - ChunkCompression.minimumSaving(for: size))
        #expect(try ChunkCompression.decode(payload: payload, compressed: true, originalLength: size) == text)
    }

    @Test("every strategy gives the same decision and decodable output")
    func strategies() throws {
        let chunks = [randomBytes(65536, seed: 1), mailText(65536), [UInt8](repeating: 7, count: 65536), [1, 2, 3], []]
        for strategy: ChunkCompressor.Strategy in [.fullCompress, .cappedOutput, .probe(sampleSize: 4096)] {
            let compressor = try ChunkCompressor(level: 3, strategy: strategy)
            let decisions = try chunks.map { chunk in
                let (payload, compressed) = try compressor.encode(chunk)
                #expect(try ChunkCompressor.decode(payload: payload, compressed: compressed,
                                                   originalLength: chunk.count) == chunk)
                return compressed
            }
            #expect(decisions == [false, true, true, false, false], "\(strategy)")
        }
    }

    @Test("a chunk that zstd shrinks by less than the minimum saving is stored raw")
    func barelyShrinks() throws {
        // Random bytes with a compressible tail, sized so zstd saves something, but < 1/32.
        let limit = ChunkCompression.minimumSaving(for: 65536)
        var found = false
        for tail in stride(from: 800, through: 2000, by: 200) {
            let chunk = randomBytes(65536 - tail, seed: 5) + [UInt8](repeating: 0, count: tail)
            let saving = chunk.count - (try Zstd.compress(chunk)).count
            guard saving > 0 && saving < limit else { continue }
            found = true
            let (payload, compressed) = try ChunkCompression.encode(chunk, level: 3)
            #expect(!compressed, "tail \(tail), saving \(saving)")
            #expect(payload == chunk)
        }
        #expect(found, "no chunk with a small positive saving was found")
    }

    @Test("decode checks lengths and refuses damaged payloads")
    func decodeChecks() throws {
        let text = mailText(65536)
        let (payload, _) = try ChunkCompression.encode(text, level: 3)
        let short = #expect(throws: CompressionError.self) {
            _ = try ChunkCompression.decode(payload: payload, compressed: true, originalLength: 65535)
        }
        #expect(short?.code == .compressionOutputTooLarge)
        #expect(throws: CompressionError.self) {
            _ = try ChunkCompression.decode(payload: payload, compressed: true, originalLength: 65537)
        }
        var damaged = payload
        damaged[damaged.count / 2] ^= 0x55
        #expect(throws: CompressionError.self) {
            let out = try ChunkCompression.decode(payload: damaged, compressed: true, originalLength: 65536)
            // Without a checksum in chunk frames, damage may also decode to other bytes of the
            // right length; the AEAD around every chunk is what catches that in the pipeline.
            if out != text { throw CompressionError(.compressionCorrupt, message: "mismatch") }
        }
        #expect(throws: CompressionError.self) {
            _ = try ChunkCompression.decode(payload: [1, 2, 3], compressed: false, originalLength: 4)
        }
    }

    @Test("decoding into a caller's buffer fills it exactly, and refuses the same payloads with the same errors")
    func decodeIntoBuffer() throws {
        let text = mailText(65536)
        let (payload, compressed) = try ChunkCompression.encode(text, level: 3)
        #expect(compressed)
        func decode(_ payload: [UInt8], length: Int) throws(CompressionError) -> [UInt8] {
            var out = [UInt8](repeating: 0xEE, count: length)
            let result: Result<Void, CompressionError> = payload.withUnsafeBytes { raw in
                out.withUnsafeMutableBytes { output in
                    Result { () throws(CompressionError) in try ChunkCompression.decode(compressed: raw, into: output) }
                }
            }
            try result.get()
            return out
        }
        #expect(try decode(payload, length: 65536) == text)
        // The same page twice on one thread: the reused context gives the same bytes.
        #expect(try decode(payload, length: 65536) == text)
        let short = #expect(throws: CompressionError.self) { _ = try decode(payload, length: 65535) }
        #expect(short?.code == .compressionOutputTooLarge)
        let long = #expect(throws: CompressionError.self) { _ = try decode(payload, length: 65537) }
        #expect(long?.code == .compressionCorrupt)
        let junk = #expect(throws: CompressionError.self) { _ = try decode([1, 2, 3], length: 4) }
        #expect(junk?.code == .compressionCorrupt)
        // A stored (raw) chunk is only checked for its length.
        #expect(throws: Never.self) { try ChunkCompression.checkStored(length: 4, originalLength: 4) }
        let stored = #expect(throws: CompressionError.self) { try ChunkCompression.checkStored(length: 3, originalLength: 4) }
        #expect(stored?.code == .compressionCorrupt)
    }
}

/// Chunk decoding keeps one zstd context per thread (ThreadDecompressionContext): a damaged
/// chunk must not leave that context unable to decode the next one, on any thread.
@Suite("chunk decoding with per-thread contexts")
struct ChunkDecodingContextTests {
    @Test("a damaged chunk, then good ones, on the same threads; many threads at once")
    func damagedThenGood() async throws {
        let pages = (0..<8).map { Array(mailText(4096 + $0 * 512)) }
        let encoded = try pages.map { try ChunkCompression.encode($0) }
        #expect(encoded.allSatisfy { $0.compressed })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for round in 0..<200 {
                        let index = (worker + round) % pages.count
                        var damaged = encoded[index].payload
                        damaged[damaged.count / 2] ^= 0xFF
                        damaged.removeLast(3)
                        let failed: Bool
                        do {
                            _ = try ChunkCompression.decode(payload: damaged, compressed: true,
                                                            originalLength: pages[index].count)
                            failed = false
                        } catch {
                            failed = true
                        }
                        #expect(failed, "a damaged chunk was decoded")
                        let decoded = try ChunkCompression.decode(payload: encoded[index].payload, compressed: true,
                                                                  originalLength: pages[index].count)
                        #expect(decoded == pages[index])
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
