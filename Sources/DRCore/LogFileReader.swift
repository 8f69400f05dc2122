import DRBase
import DRCompression
import DRConfig
import DRCrypto
import DRLogAnonymizer
import DRRepository
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads one rotated log file (decompressing `.zst`) through `LogAnonymizer` into zstd,
/// hashing the original content on the way for the object's name.
///
/// The input is read in pieces and the anonymizer streams, so only the compressed output is
/// held in memory (a rotated mail log of 1 GiB compresses to some tens of MiB).
enum LogFileReader {
    struct Anonymized {
        var name: String
        var lines: Int
        var originalBytes: Int64
        var compressed: [UInt8]
    }

    /// The original's plain text: hashed for the name, counted, anonymized.
    private static func take(_ plain: UnsafeRawBufferPointer, hasher: inout Blake2bHasher, anonymizer: LogAnonymizer,
                             emit: (UnsafeRawBufferPointer) throws -> Void, lines: inout Int, originalBytes: inout Int64) throws {
        hasher.update(plain)
        originalBytes += Int64(plain.count)
        for byte in plain where byte == 0x0A { lines += 1 }
        try anonymizer.feed(plain, emit: emit)
    }

    static func anonymize(_ candidate: LogSources.Candidate, configuration: Configuration,
                          keys: borrowing LogPseudonymKeys, nameKeys: RetainedLogKeys) throws(CoreError) -> Anonymized {
        let path = candidate.path
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            throw CoreError(.logsSource, message: "\(path) cannot be opened: \(errnoDescription(errno)); give drctl's user read access, or leave it out of [logs] sources", context: ErrorContext(file: path))
        }
        defer { close(fd) }
        do {
            let anonymizer = try LogAnonymizer(configuration: configuration.logs, keys: keys)
            let compressor = try ZstdCompressionStream(level: Zstd.defaultLevel)
            var hasher = try nameKeys.nameHasher()
            var compressed: [UInt8] = []
            var lines = 0
            var originalBytes: Int64 = 0
            let decompressor = candidate.compression == .zstd ? try ZstdDecompressionStream() : nil
            let emit: (UnsafeRawBufferPointer) throws -> Void = { output in
                try compressor.compress(output) { piece in compressed.append(contentsOf: piece) }
            }
            // A compressed file is read in smaller pieces: what one piece decompresses to is
            // held until it is anonymized.
            var buffer = [UInt8](repeating: 0, count: decompressor == nil ? LogRetainJob.pieceSize : LogRetainJob.pieceSize / 8)
            while true {
                let count = try buffer.withUnsafeMutableBytes { raw in
                    switch FileIO.read(fd, into: raw) {
                    case .success(let count): return count
                    case .failure(let failure): throw CoreError(.logsSource, message: "\(path) cannot be read: \(errnoDescription(failure.errno))", context: ErrorContext(file: path))
                    }
                }
                if count == 0 { break }
                if let decompressor {
                    var plain: [UInt8] = []
                    try buffer.withUnsafeBytes { raw in
                        try decompressor.decompress(UnsafeRawBufferPointer(rebasing: raw[0..<count])) { piece in plain.append(contentsOf: piece) }
                    }
                    try plain.withUnsafeBytes { raw in
                        try take(raw, hasher: &hasher, anonymizer: anonymizer, emit: emit, lines: &lines, originalBytes: &originalBytes)
                    }
                } else {
                    try buffer.withUnsafeBytes { raw in
                        try take(UnsafeRawBufferPointer(rebasing: raw[0..<count]), hasher: &hasher, anonymizer: anonymizer,
                                 emit: emit, lines: &lines, originalBytes: &originalBytes)
                    }
                }
            }
            if let decompressor { try decompressor.finish() }
            try anonymizer.finish(emit: emit)
            try compressor.finish { piece in compressed.append(contentsOf: piece) }
            let digest = hasher.finalize()
            return Anonymized(name: Hex.encode(digest), lines: lines, originalBytes: originalBytes, compressed: compressed)
        } catch let error as CoreError {
            throw error
        } catch let error as CompressionError {
            throw CoreError(.logsSource, message: "\(path): \(error.message) (it ends in .zst but is not a whole zstd file); it is left in place", context: ErrorContext(file: path))
        } catch {
            throw CoreError(.logsSource, message: "\(path) could not be anonymized: \(error)", context: ErrorContext(file: path))
        }
    }
}
