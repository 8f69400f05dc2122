internal import CZstd
import DRBase

/// Streaming zstd compression: input in pieces of any size, output in pieces of at most
/// `ZstdCompressionStream.outputPieceSize`, memory flat whatever the total size.
///
/// Not thread-safe (one per task); not `Sendable`, so the compiler enforces that.
package final class ZstdCompressionStream {
    private let stream: OpaquePointer
    private var buffer: [UInt8]
    private var finished = false

    /// The size of the pieces handed to `emit` (zstd's recommended output buffer size).
    package static var outputPieceSize: Int { ZSTD_CStreamOutSize() }

    /// - Parameter checksum: append a 32-bit content checksum that decompression verifies.
    package init(level: Int = Zstd.defaultLevel, checksum: Bool = true) throws(CompressionError) {
        guard let stream = ZSTD_createCCtx() else {
            throw CompressionError.library("context creation", "out of memory")
        }
        self.stream = stream
        buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        _ = try Zstd.check(ZSTD_CCtx_setParameter(stream, ZSTD_c_compressionLevel, Int32(clamping: level)),
                           "setting the compression level \(level)")
        _ = try Zstd.check(ZSTD_CCtx_setParameter(stream, ZSTD_c_checksumFlag, checksum ? 1 : 0),
                           "enabling checksums")
    }

    deinit { ZSTD_freeCCtx(stream) }

    /// Feeds `input`; calls `emit` with each piece of output that is ready (valid only during
    /// the call).
    package func compress(_ input: UnsafeRawBufferPointer,
                         emit: (UnsafeRawBufferPointer) throws(CompressionError) -> Void) throws(CompressionError) {
        precondition(!finished, "compress after finish")
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while inBuffer.pos < inBuffer.size {
            try step(&inBuffer, ZSTD_e_continue, emit: emit)
        }
    }

    /// Feeds `input`; returns the output that is ready (often empty: zstd buffers a block).
    package func compress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var output: [UInt8] = []
        try input.withBytes { (raw) throws(CompressionError) in
            try compress(raw) { (piece) throws(CompressionError) in output.append(contentsOf: piece) }
        }
        return output
    }

    /// Ends the frame; calls `emit` with the remaining output.
    package func finish(emit: (UnsafeRawBufferPointer) throws(CompressionError) -> Void) throws(CompressionError) {
        precondition(!finished, "finish called twice")
        var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&inBuffer, ZSTD_e_end, emit: emit) != 0 {}
        finished = true
    }

    /// Ends the frame; returns the remaining output.
    package func finish() throws(CompressionError) -> [UInt8] {
        var output: [UInt8] = []
        try finish { (piece) throws(CompressionError) in output.append(contentsOf: piece) }
        return output
    }

    /// One call of ZSTD_compressStream2; returns zstd's "bytes still to flush" hint.
    @discardableResult
    private func step(_ inBuffer: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective,
                      emit: (UnsafeRawBufferPointer) throws(CompressionError) -> Void) throws(CompressionError) -> Int {
        let capacity = buffer.count
        let (code, produced) = buffer.withUnsafeMutableBytes { raw in
            var outBuffer = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
            let code = ZSTD_compressStream2(stream, &outBuffer, &inBuffer, directive)
            return (code, outBuffer.pos)
        }
        let remaining = try Zstd.check(code, "streaming compression")
        if produced > 0 {
            try buffer.withBytes { (raw) throws(CompressionError) in
                try emit(UnsafeRawBufferPointer(rebasing: raw[0..<produced]))
            }
        }
        return remaining
    }
}

/// Streaming zstd decompression with a bound on the total output and on zstd's window
/// (memory), so that neither a damaged nor a hostile stream can exhaust memory.
package final class ZstdDecompressionStream {
    private let stream: OpaquePointer
    private var buffer: [UInt8]
    private let maxOutput: Int
    private var produced = 0
    /// zstd's hint after the last call: 0 when a frame has just been completed.
    private var pending = 0
    private var sawInput = false

    /// The largest back-reference window accepted: 2^27 = 128 MiB, zstd's own default limit,
    /// which every level up to 19 stays within.
    package static let windowLogMax = 27

    /// - Parameter maxOutput: total bytes this stream may produce; more is an error.
    package init(maxOutput: Int = Int.max) throws(CompressionError) {
        guard let stream = ZSTD_createDCtx() else {
            throw CompressionError.library("context creation", "out of memory")
        }
        self.stream = stream
        self.maxOutput = maxOutput
        buffer = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        _ = try Zstd.check(ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, Int32(Self.windowLogMax)),
                           "limiting the window size")
    }

    deinit { ZSTD_freeDCtx(stream) }

    /// Feeds compressed `input`; calls `emit` with each piece of decompressed output.
    package func decompress(_ input: UnsafeRawBufferPointer,
                           emit: (UnsafeRawBufferPointer) throws(CompressionError) -> Void) throws(CompressionError) {
        if input.count > 0 { sawInput = true }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let capacity = buffer.count
        while true {
            let consumedBefore = inBuffer.pos
            let (code, written) = buffer.withUnsafeMutableBytes { raw in
                var outBuffer = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
                let code = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                return (code, outBuffer.pos)
            }
            if ZSTD_isError(code) != 0 {
                throw CompressionError.corrupt(Zstd.errorName(code))
            }
            // A call that neither read nor wrote (the output ended exactly at a buffer
            // boundary) returns the header size of a next frame that may never come: only
            // calls that made progress say whether the stream stopped inside a frame.
            if written > 0 || inBuffer.pos > consumedBefore { pending = code }
            if written > 0 {
                if written > maxOutput - produced { throw CompressionError.tooLarge(limit: maxOutput) }
                produced += written
                try buffer.withBytes { (raw) throws(CompressionError) in
                    try emit(UnsafeRawBufferPointer(rebasing: raw[0..<written]))
                }
            }
            // Done with this input once it is consumed and zstd did not fill the buffer (a
            // full buffer may mean more output is waiting inside zstd).
            if inBuffer.pos == inBuffer.size && written < capacity { break }
        }
    }

    /// Feeds compressed `input`; returns the decompressed output it yields.
    package func decompress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var output: [UInt8] = []
        try input.withBytes { (raw) throws(CompressionError) in
            try decompress(raw) { (piece) throws(CompressionError) in output.append(contentsOf: piece) }
        }
        return output
    }

    /// Total decompressed bytes so far.
    package var outputCount: Int { produced }

    /// Checks that the input ended at the end of a frame.
    /// - Throws: `compression.corrupt` when the stream was empty or stopped inside a frame.
    package func finish() throws(CompressionError) {
        guard sawInput else { throw CompressionError.corrupt("empty input, not a zstd frame") }
        guard pending == 0 else { throw CompressionError.corrupt("truncated: the data ends inside a zstd frame") }
    }
}
