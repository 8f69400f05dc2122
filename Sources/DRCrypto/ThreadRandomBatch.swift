internal import CSodium
import DRBase
import Glibc

/// Random bytes for nonces, fetched from the kernel 4 KiB at a time per thread.
///
/// Every sealed blob takes a fresh 24-byte random nonce. Asked for one by one, libsodium makes
/// one getrandom(2) system call per nonce: 336,000 calls in a full backup of 850 MiB
/// (docs/PROFILES.md), each with the kernel's per-call set-up of its generator. The bytes are
/// the same bytes from the same kernel generator when fetched 4,096 at a time, and each is
/// used once, so the nonces are exactly as unpredictable and as unique as before; only the
/// system calls are fewer (one per 170 nonces). Nonces are public (they are stored beside the
/// ciphertext), so the batch needs no locked memory.
///
/// Per thread (a pthread key, freed at the thread's exit), so that the backup's workers share
/// no lock. drctl never forks without exec (a forked copy would repeat the parent's unused
/// bytes): child processes start through posix_spawn.
enum ThreadRandomBatch {
    static let capacity = 4096

    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { batch in free(batch) }
        return created == 0 ? key : nil
    }()

    /// Calls `body` with `count` (≤ 256) fresh random bytes, which it must not keep.
    static func withBytes<R, E: Error>(_ count: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        precondition(count > 0 && count <= 256, "a batch hands out small pieces")
        guard let batch = current() else {
            // No per-thread batch to be had: fetch these bytes alone.
            return try SecureRandom.bytes(count).withBytes { (raw) throws(E) in try body(raw) }
        }
        let header = MemoryLayout<Int>.stride
        var used = batch.load(as: Int.self)
        if used + count > capacity {
            randombytes_buf(batch + header, capacity)
            used = 0
        }
        batch.storeBytes(of: used + count, as: Int.self)
        return try body(UnsafeRawBufferPointer(start: batch + header + used, count: count))
    }

    /// This thread's batch (a used count, then `capacity` bytes), made and filled on first
    /// use; nil when it cannot be allocated or kept.
    private static func current() -> UnsafeMutableRawPointer? {
        guard let key else { return nil }
        if let existing = pthread_getspecific(key) { return existing }
        guard let batch = malloc(MemoryLayout<Int>.stride + capacity) else { return nil }
        guard pthread_setspecific(key, batch) == 0 else {
            free(batch)
            return nil
        }
        // Marked as used up: the first request fills it.
        batch.storeBytes(of: capacity, as: Int.self)
        return batch
    }
}
