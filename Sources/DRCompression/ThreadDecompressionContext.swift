internal import CZstd
import Glibc

/// One zstd decompression context per thread, kept for the thread's life.
///
/// `ZSTD_decompress` creates and frees a context on every call: a heap allocation of about
/// 100 KiB and its set-up, which costs five times the decompression of a 4 KiB page itself
/// (measured here with libzstd 1.5.4: 10.6 µs per page against 1.8 µs with a reused context).
/// Restore and `check --read-data` decompress every compressed page of a plain mailbox one by
/// one, on a few worker threads, so each thread keeps its own context; the thread's exit frees it.
enum ThreadDecompressionContext {
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { context in
            if let context { ZSTD_freeDCtx(OpaquePointer(context)) }
        }
        return created == 0 ? key : nil
    }()

    /// This thread's context, created on first use; nil if zstd or the key could not provide
    /// one (the caller then decompresses with a context of its own).
    static func current() -> OpaquePointer? {
        guard let key else { return nil }
        if let existing = pthread_getspecific(key) { return OpaquePointer(existing) }
        guard let created = ZSTD_createDCtx() else { return nil }
        guard pthread_setspecific(key, UnsafeRawPointer(created)) == 0 else {
            ZSTD_freeDCtx(created)
            return nil
        }
        return created
    }
}
