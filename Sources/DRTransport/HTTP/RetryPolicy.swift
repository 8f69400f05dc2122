import DRBase

/// When and how long to wait before trying a request again.
///
/// Exponential back-off with full jitter (each wait uniform in [0, min(cap, base × 2^n)]), as
/// AWS recommends for S3: after a burst of 503 `SlowDown`, clients that all waited the same
/// time would return all at once. Only requests that are safe to repeat are retried (every
/// S3 request drctl sends is: GET, HEAD, LIST, DELETE, and PUT of an immutable object whose
/// name is its content or random); the overall `deadline` bounds the sum of attempts.
package struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    package var maxAttempts: Int
    package var baseMilliseconds: Int
    package var capMilliseconds: Int
    /// No new attempt starts after this long since the first.
    package var deadlineMilliseconds: Int

    package init(maxAttempts: Int = 8, baseMilliseconds: Int = 200, capMilliseconds: Int = 20_000,
                 deadlineMilliseconds: Int = 15 * 60_000) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseMilliseconds = max(1, baseMilliseconds)
        self.capMilliseconds = max(self.baseMilliseconds, capMilliseconds)
        self.deadlineMilliseconds = deadlineMilliseconds
    }

    /// The wait before attempt `attempt + 1`, after `attempt` (1-based) failed; `random` is
    /// uniform in [0, 1).
    func backoffMilliseconds(after attempt: Int, random: Double) -> Int {
        let exponent = min(attempt - 1, 20)
        let ceiling = min(capMilliseconds, baseMilliseconds << exponent)
        return Int(Double(ceiling) * random)
    }

    /// Attempts for a connection that is refused (nothing listens): about 1.5 s of waiting in
    /// all, enough for a server that restarts, while a target that is down is left out at once
    /// (the run goes on degraded, and `sync` or the next backup completes the target).
    static let refusedAttempts = 5

    /// HTTP statuses that say "try again": throttling and server-side failures. 501 (not
    /// implemented) is an answer, not a failure.
    static func isRetryable(status: Int) -> Bool {
        status == 429 || status == 408 || (status >= 500 && status != 501)
    }
}
