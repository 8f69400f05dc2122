internal import CZstd
import DRBase

/// One-shot zstd (RFC 8878) compression and bounded decompression.
package enum Zstd {
    /// zstd's levels: 1 (fastest) … 19 (22 with ultra), negative for faster still.
    package static let defaultLevel = 3
    package static var maximumLevel: Int { Int(ZSTD_maxCLevel()) }

    /// Compresses `input` into one zstd frame (with its content size and a checksum).
    package static func compress(_ input: UnsafeRawBufferPointer, level: Int = defaultLevel) throws(CompressionError) -> [UInt8] {
        let context = try CompressionContext(level: level, checksum: true)
        return try context.compress(input)
    }

    /// Compresses `input` into one zstd frame (with its content size and a checksum).
    package static func compress(_ input: [UInt8], level: Int = defaultLevel) throws(CompressionError) -> [UInt8] {
        try input.withBytes { (raw) throws(CompressionError) in try compress(raw, level: level) }
    }

    /// Decompresses one or more concatenated zstd frames, producing at most `maxOutput` bytes.
    ///
    /// The bound refuses decompression bombs: a small object that claims (or turns out) to
    /// expand past what the caller expects is an error, found without allocating the excess.
    /// - Throws: `compression.corrupt` for damaged or truncated input,
    ///   `compression.output-too-large` past `maxOutput`.
    package static func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws(CompressionError) -> [UInt8] {
        precondition(maxOutput >= 0, "negative maxOutput")
        guard input.count > 0 else { throw CompressionError.corrupt("empty input, not a zstd frame") }
        // The frame header may announce the size: refuse early, and allocate once.
        var capacity = min(maxOutput, max(input.count * 4, 4096))
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        if declared == ZSTD_CONTENTSIZE_ERROR {
            throw CompressionError.corrupt("not a zstd frame")
        } else if declared != ZSTD_CONTENTSIZE_UNKNOWN {
            if declared > UInt64(maxOutput) { throw CompressionError.tooLarge(limit: maxOutput) }
            capacity = Int(declared)
        }
        let stream = try ZstdDecompressionStream(maxOutput: maxOutput)
        var output: [UInt8] = []
        output.reserveCapacity(capacity)
        try stream.decompress(input) { piece in output.append(contentsOf: piece) }
        try stream.finish()
        return output
    }

    /// Decompresses one or more concatenated zstd frames, producing at most `maxOutput` bytes.
    package static func decompress(_ input: [UInt8], maxOutput: Int) throws(CompressionError) -> [UInt8] {
        try input.withBytes { (raw) throws(CompressionError) in try decompress(raw, maxOutput: maxOutput) }
    }

    static func check(_ code: Int, _ what: String) throws(CompressionError) -> Int {
        if ZSTD_isError(code) != 0 {
            throw CompressionError.library(what, errorName(code))
        }
        return code
    }

    static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "error \(code)" }
        return String(cString: name)
    }
}

/// A reusable one-shot compression context (zstd's CCtx), so that compressing many small
/// chunks does not allocate zstd's tables for each. Not thread-safe: one per task.
final class CompressionContext {
    private let context: OpaquePointer

    init(level: Int, checksum: Bool) throws(CompressionError) {
        guard let context = ZSTD_createCCtx() else {
            throw CompressionError.library("context creation", "out of memory")
        }
        self.context = context
        _ = try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(clamping: level)),
                           "setting the compression level \(level)")
        _ = try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0),
                           "enabling checksums")
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses into a new array sized by zstd's worst-case bound.
    func compress(_ input: UnsafeRawBufferPointer) throws(CompressionError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var code = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialised in
            code = ZSTD_compress2(context, buffer.baseAddress, bound, input.baseAddress, input.count)
            initialised = ZSTD_isError(code) != 0 ? 0 : code
        }
        _ = try Zstd.check(code, "compression")
        return output
    }

    /// Compresses into at most `capacity` bytes; nil when the result would not fit, which
    /// zstd detects as soon as its output passes the capacity (early out for data that does
    /// not shrink).
    func compress(_ input: UnsafeRawBufferPointer, capacity: Int) throws(CompressionError) -> [UInt8]? {
        guard capacity > 0 else { return nil }
        var code = 0
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialised in
            code = ZSTD_compress2(context, buffer.baseAddress, capacity, input.baseAddress, input.count)
            initialised = ZSTD_isError(code) != 0 ? 0 : code
        }
        if ZSTD_isError(code) != 0 {
            if ZSTD_getErrorCode(code) == ZSTD_error_dstSize_tooSmall { return nil }
            _ = try Zstd.check(code, "compression")
        }
        return output
    }
}
