import DRBase
import Synchronization

/// A target's upload bandwidth cap (`upload_limit`): a token bucket shared by every
/// connection of the target, so the cap holds for the target as a whole, however many
/// uploads are in flight.
///
/// Tokens are bytes; they accrue at `bytesPerSecond` up to one second's worth (a burst of at
/// most one second). curl's read callback takes tokens for each block it sends and sleeps
/// when there are none, which slows that transfer without blocking the others' callbacks
/// for longer than their own share.
final class UploadPacer: Sendable {
    let bytesPerSecond: Int64
    private struct Bucket {
        var tokens: Double
        var refilled: UInt64
    }
    private let bucket: Mutex<Bucket>

    init(bytesPerSecond: Int64) {
        self.bytesPerSecond = max(1, bytesPerSecond)
        bucket = Mutex(Bucket(tokens: Double(max(1, bytesPerSecond)), refilled: MonotonicClock.nanoseconds()))
    }

    /// Takes `count` bytes' worth of tokens, sleeping until they have accrued.
    func take(_ count: Int) {
        let rate = Double(bytesPerSecond)
        let wait: UInt64 = bucket.withLock { bucket in
            let now = MonotonicClock.nanoseconds()
            bucket.tokens = min(rate, bucket.tokens + Double(now &- bucket.refilled) / 1e9 * rate)
            bucket.refilled = now
            bucket.tokens -= Double(count)
            // A debt is paid by sleeping: the next caller sees the negative balance too, so
            // concurrent transfers share the rate instead of each taking all of it.
            return bucket.tokens >= 0 ? 0 : UInt64(-bucket.tokens / rate * 1e9)
        }
        if wait > 0 { MonotonicClock.sleep(nanoseconds: wait) }
    }
}
