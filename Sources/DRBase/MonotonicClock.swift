#if canImport(Glibc)
import Glibc
#endif

/// The monotonic clock (CLOCK_MONOTONIC: never jumps with the wall clock) and sleeping on it,
/// for timeouts, back-off between retries, rate limits and durations in reports.
package enum MonotonicClock {
    package static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    package static func milliseconds() -> Int64 { Int64(nanoseconds() / 1_000_000) }

    /// Sleeps at least `nanoseconds` (resumed after a signal until the time has passed).
    package static func sleep(nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// The wall clock, for what must be dated in real time (request signatures, retention dates),
/// never for measuring durations.
package enum WallClock {
    package static func secondsSince1970() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
