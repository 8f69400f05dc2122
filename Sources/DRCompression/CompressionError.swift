package import DRBase

/// Every failure of the compression layer. Messages name what failed and never include data.
package enum CompressionDomain: ErrorDomain {}
package typealias CompressionError = DomainError<CompressionDomain>

extension CompressionError {
    static func corrupt(_ detail: String) -> CompressionError {
        CompressionError(.compressionCorrupt, message: "compressed data is corrupt (\(detail)): the object was damaged after it was written. Run `drctl check`, or restore from another target.")
    }

    static func tooLarge(limit: Int) -> CompressionError {
        CompressionError(.compressionOutputTooLarge, message: "compressed data expands to more than the expected \(limit) bytes; refusing to continue (a damaged or hostile object)")
    }

    static func library(_ what: String, _ name: String) -> CompressionError {
        CompressionError(.compressionZstd, message: "zstd \(what) failed: \(name)")
    }
}
