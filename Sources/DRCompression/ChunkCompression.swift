internal import CZstd
import DRBase

/// Per-chunk compression for the backup pipeline: "store raw when it does not shrink".
///
/// Pages of encrypted SQLite databases are indistinguishable from random bytes and never
/// shrink, so the common case must cost little: see `ChunkCompressor.Strategy`.
/// Chunk frames carry no zstd checksum (the AEAD around each chunk authenticates it).
package enum ChunkCompression {
    /// Compresses `chunk` if that saves at least `minimumSaving(for:)` bytes.
    /// - Returns: the payload to store and whether it is compressed (to be recorded beside it).
    package static func encode(_ chunk: [UInt8], level: Int = Zstd.defaultLevel) throws(CompressionError) -> (payload: [UInt8], compressed: Bool) {
        try ChunkCompressor(level: level).encode(chunk)
    }

    /// Reverses `encode`, checking that exactly `originalLength` bytes come out.
    package static func decode(payload: [UInt8], compressed: Bool, originalLength: Int) throws(CompressionError) -> [UInt8] {
        try ChunkCompressor.decode(payload: payload, compressed: compressed, originalLength: originalLength)
    }

    /// Decompresses a compressed chunk's payload into `output`, which must come out filled
    /// exactly (its count is the chunk's recorded length): restore and `check --read-data`
    /// decompress every plain page into a reader's reused buffer instead of a new array.
    /// - Throws: `compression.output-too-large` if the frame holds more than `output.count`
    ///   bytes, `compression.corrupt` if it is damaged or holds fewer (as `decode`).
    package static func decode(compressed payload: UnsafeRawBufferPointer,
                               into output: UnsafeMutableRawBufferPointer) throws(CompressionError) {
        let code: Int
        if let context = ThreadDecompressionContext.current() {
            code = ZSTD_decompressDCtx(context, output.baseAddress, output.count, payload.baseAddress, payload.count)
        } else {
            code = ZSTD_decompress(output.baseAddress, output.count, payload.baseAddress, payload.count)
        }
        if ZSTD_isError(code) != 0 {
            if ZSTD_getErrorCode(code) == ZSTD_error_dstSize_tooSmall {
                throw CompressionError.tooLarge(limit: output.count)
            }
            throw CompressionError.corrupt(Zstd.errorName(code))
        }
        guard code == output.count else {
            throw CompressionError.corrupt("a chunk decompressed to \(code) bytes, its index says \(output.count)")
        }
    }

    /// Checks that a chunk stored raw (not compressed) has its recorded length, as `decode`
    /// does for one it is given whole.
    /// - Throws: `compression.corrupt` when the lengths differ.
    package static func checkStored(length: Int, originalLength: Int) throws(CompressionError) {
        guard length == originalLength else {
            throw CompressionError.corrupt("a stored chunk is \(length) bytes, its index says \(originalLength)")
        }
    }

    /// The saving below which a chunk is stored raw: 1/32 of its size, at least 32 bytes.
    /// Less is not worth a decompression on every restore.
    package static func minimumSaving(for count: Int) -> Int { max(32, count / 32) }
}

/// A reusable chunk compressor that keeps zstd's context (and its tables) between chunks.
/// Not thread-safe: one per task.
package final class ChunkCompressor {
    /// How to find out that a chunk does not shrink.
    package enum Strategy: Sendable, Equatable {
        /// Compress fully, then compare sizes (the baseline, for measurements).
        case fullCompress
        /// Compress into a buffer smaller than the chunk by the minimum saving: zstd gives up
        /// with "destination too small" instead of writing raw blocks, and nothing is copied.
        case cappedOutput
        /// First compress a sample (the first `sampleSize` bytes) at level 1 into a capped
        /// buffer; if even the sample does not shrink, store raw without touching the rest.
        /// Otherwise as `cappedOutput`. Cheapest on random data; may store raw a chunk whose
        /// start is random but whose rest would compress (a lost saving, never wrong data).
        case probe(sampleSize: Int)
    }

    package let level: Int
    package let strategy: Strategy
    private let context: CompressionContext
    private let probeContext: CompressionContext?

    /// Measured with `swift run -c release drctl-bench compression`: on random 64 KiB chunks
    /// the capped compress already runs at several GB/s (zstd skips incompressible input
    /// fast), far above encryption and hashing, while the probe costs about a tenth of the
    /// throughput on compressible chunks. So the default is the capped compress.
    package static let defaultStrategy = Strategy.cappedOutput

    package init(level: Int = Zstd.defaultLevel, strategy: Strategy = ChunkCompressor.defaultStrategy) throws(CompressionError) {
        self.level = level
        self.strategy = strategy
        context = try CompressionContext(level: level, checksum: false)
        if case .probe(let sampleSize) = strategy {
            precondition(sampleSize >= 1024, "a probe sample under 1 KiB says nothing about a chunk")
            probeContext = try CompressionContext(level: 1, checksum: false)
        } else {
            probeContext = nil
        }
    }

    /// Compresses `chunk` if that saves at least `ChunkCompression.minimumSaving(for:)` bytes.
    package func encode(_ chunk: [UInt8]) throws(CompressionError) -> (payload: [UInt8], compressed: Bool) {
        try chunk.withBytes { (raw) throws(CompressionError) in
            let limit = raw.count - ChunkCompression.minimumSaving(for: raw.count)
            guard limit > 0 else { return (chunk, false) }
            switch strategy {
            case .fullCompress:
                let output = try context.compress(raw)
                return output.count <= limit ? (output, true) : (chunk, false)
            case .cappedOutput:
                break
            case .probe(let sampleSize):
                if let probeContext, sampleSize < raw.count {
                    let sample = UnsafeRawBufferPointer(rebasing: raw[0..<sampleSize])
                    let sampleLimit = sampleSize - ChunkCompression.minimumSaving(for: sampleSize)
                    if try probeContext.compress(sample, capacity: sampleLimit) == nil {
                        return (chunk, false)
                    }
                }
            }
            if let output = try context.compress(raw, capacity: limit) {
                return (output, true)
            }
            return (chunk, false)
        }
    }

    /// The compressed payload of `chunk` if that saves at least
    /// `ChunkCompression.minimumSaving(for:)` bytes, else nil (store it raw): `encode` for a
    /// chunk that lies in a larger buffer (a backup reads ~1 MiB of pages at a time), with no
    /// copy of it made.
    package func compressed(_ raw: UnsafeRawBufferPointer) throws(CompressionError) -> [UInt8]? {
        let limit = raw.count - ChunkCompression.minimumSaving(for: raw.count)
        guard limit > 0 else { return nil }
        switch strategy {
        case .fullCompress:
            let output = try context.compress(raw)
            return output.count <= limit ? output : nil
        case .cappedOutput:
            break
        case .probe(let sampleSize):
            if let probeContext, sampleSize < raw.count {
                let sample = UnsafeRawBufferPointer(rebasing: raw[0..<sampleSize])
                let sampleLimit = sampleSize - ChunkCompression.minimumSaving(for: sampleSize)
                if try probeContext.compress(sample, capacity: sampleLimit) == nil { return nil }
            }
        }
        return try context.compress(raw, capacity: limit)
    }

    /// Reverses `encode`, checking that exactly `originalLength` bytes come out.
    /// - Throws: `compression.corrupt` if the payload is damaged or of the wrong length.
    package static func decode(payload: [UInt8], compressed: Bool, originalLength: Int) throws(CompressionError) -> [UInt8] {
        guard compressed else {
            guard payload.count == originalLength else {
                throw CompressionError.corrupt("a stored chunk is \(payload.count) bytes, its index says \(originalLength)")
            }
            return payload
        }
        var code = 0
        let output = payload.withUnsafeBytes { raw in
            [UInt8](unsafeUninitializedCapacity: originalLength) { buffer, initialised in
                if let context = ThreadDecompressionContext.current() {
                    code = ZSTD_decompressDCtx(context, buffer.baseAddress, originalLength, raw.baseAddress, raw.count)
                } else {
                    code = ZSTD_decompress(buffer.baseAddress, originalLength, raw.baseAddress, raw.count)
                }
                initialised = ZSTD_isError(code) != 0 ? 0 : code
            }
        }
        if ZSTD_isError(code) != 0 {
            if ZSTD_getErrorCode(code) == ZSTD_error_dstSize_tooSmall {
                throw CompressionError.tooLarge(limit: originalLength)
            }
            throw CompressionError.corrupt(Zstd.errorName(code))
        }
        guard output.count == originalLength else {
            throw CompressionError.corrupt("a chunk decompressed to \(output.count) bytes, its index says \(originalLength)")
        }
        return output
    }
}
