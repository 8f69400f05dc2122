import DRBase
/// Consistent, self-contained images of live SQLite files, made without their keys.
///
/// The image is the database file with the last committed WAL version of each page laid over
/// it (or, for a crashed rollback writer, the hot journal's original pages), cut to the
/// committed database size. It is streamed page by page: nothing is copied to a temporary file.
/// See docs/IMAGE.md for the protocol, the lock offsets and the error codes.
package enum ImageCapture {
    /// Pins a consistent state of `path`, lets `body` read it, and releases every lock and pin
    /// on every path (also when `body` throws).
    ///
    /// - Important: `body` may be called more than once: when the file changes under a copy
    ///   that cannot be protected by a lock (a file that is not SQLite, an encrypted database
    ///   that turns out to be in WAL mode), the snapshot is retried from the start, so `body`
    ///   must start its output afresh each time (truncate, reset its chunker).
    /// - Throws: `ImageError`; errors of other domains that `body` throws (the repository's,
    ///   when a backup stores what it reads) are passed on unchanged, never re-typed, so the
    ///   caller catches each by its own type.
    package static func withConsistentImage<R>(
        of path: String, options: ImageOptions = ImageOptions(),
        _ body: (ImageReader) throws -> R
    ) throws -> R {
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(max(0, options.retryTimeoutMilliseconds)) * 1_000_000
        var unstableCopies = 0
        var backoff: UInt32 = 200
        while true {
            do {
                let session = try ImageSession.open(path: path, options: options)
                defer { session.release() }
                let reader = ImageReader(session: session)
                let result = try body(reader)
                try session.finish()
                return result
            } catch let error as ImageError {
                guard error.isTransient else { throw error }
                if error.code == .imageUnstable {
                    unstableCopies += 1
                    if unstableCopies >= max(1, options.stabilityAttempts) {
                        throw error.with(message: error.message + " (gave up after \(unstableCopies) copies)")
                    }
                }
                if monotonicNanoseconds() >= deadline {
                    throw error.with(message: error.message + " (still so after retrying for \(options.retryTimeoutMilliseconds) ms)")
                }
                sleepMicroseconds(backoff)
                backoff = min(backoff * 2, 10_000)
            }
        }
    }
}

/// Reads an image sequentially in whole pages.
///
/// Valid only inside the `withConsistentImage` closure; reading after it returns throws.
package final class ImageReader {
    private let session: ImageSession
    /// The next page to be read (1-based); `pageCount + 1` at the end.
    package private(set) var nextPage: Int = 1
    private var scratch: [UInt8] = []

    init(session: ImageSession) {
        self.session = session
    }

    package var metadata: ImageMetadata { session.metadata }

    /// Bytes of the image read so far.
    package var position: Int64 {
        min(Int64(nextPage - 1) * Int64(session.metadata.pageSize), session.metadata.imageSize)
    }

    /// Reads the next whole pages into `buffer` (as many as fit; it must hold at least one
    /// page) and returns the number of bytes written: a multiple of the page size, except the
    /// last block of a file that is not SQLite; 0 at the end of the image.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        let meta = session.metadata
        guard nextPage <= meta.pageCount else {
            try session.finish()
            return 0
        }
        let pageSize = meta.pageSize
        guard let base = buffer.baseAddress, buffer.count >= pageSize else {
            throw ImageError(.imageBufferTooSmall, message: "\(meta.path): the read buffer (\(buffer.count) bytes) is smaller than one page (\(pageSize) bytes)")
        }
        try session.checkReadable()
        let maxPages = buffer.count / pageSize
        var pages = 0
        var bytes = 0
        while pages < maxPages && nextPage <= meta.pageCount {
            let page = UInt32(nextPage)
            if let (file, offset) = session.overlay(page) {
                let got = try file.read(into: base + bytes, count: pageSize, at: offset)
                if got != pageSize {
                    throw session.shortRead(file: file, page: nextPage)
                }
                pages += 1
                nextPage += 1
                bytes += pageSize
                continue
            }
            // A run of pages that come straight from the database file: one read.
            var run = 1
            while pages + run < maxPages && nextPage + run <= meta.pageCount
                    && session.overlay(page + UInt32(run)) == nil {
                run += 1
            }
            let offset = Int64(nextPage - 1) * Int64(pageSize)
            var want = run * pageSize
            if meta.mode == .notSQLite {
                want = Int(min(Int64(want), meta.imageSize - offset))
            }
            let got = try session.database.read(into: base + bytes, count: want, at: offset)
            if got != want {
                throw session.shortRead(file: session.database, page: nextPage + got / pageSize)
            }
            pages += run
            nextPage += run
            bytes += want
        }
        if nextPage > meta.pageCount {
            try session.finish()
        }
        return bytes
    }

    /// Reads up to `maxBytes` (rounded down to whole pages, at least one page) into a new array;
    /// empty at the end.
    package func readBlock(maxBytes: Int) throws(ImageError) -> [UInt8] {
        let pageSize = session.metadata.pageSize
        let size = max(pageSize, maxBytes / pageSize * pageSize)
        if scratch.count != size {
            scratch = [UInt8](repeating: 0, count: size)
        }
        let got = try withMutableBytes(&scratch) { (raw) throws(ImageError) -> Int in
            try read(into: raw)
        }
        return Array(scratch[0..<got])
    }
}
