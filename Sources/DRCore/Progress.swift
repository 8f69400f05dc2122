import DRBase
import Synchronization

/// The progress line a job draws on a terminal's standard error, redrawn in place:
/// `[12/30 files] 45.2 MiB read, 3.1 MiB new, 12.0 MiB/s, ETA 0:42  users/alice.sqlite`.
///
/// Items done of the total (mailboxes, packs, snapshots, objects: `unit`), the bytes the job
/// counts as its work (`verb`: read, restored, verified, copied, deleted), the rate over the
/// last `window` seconds, and the time left: from the bytes when the job knows its total
/// bytes, else from the items. One reusable type for backup, restore, sync, check and prune.
///
/// Drawn at most every `interval` (the workers report far more often than a person reads), only
/// when enabled, which callers make true only when standard error is a terminal: nothing of it
/// reaches a pipe, a file or the journal. `finish` clears the line, leaving the terminal as the
/// command found it. Log lines written meanwhile go above it (`StatusLine`).
package final class Progress: Sendable {
    /// Seconds of history the rate is measured over: long enough to smooth one large item, short
    /// enough to follow a change of pace (a slower target, the cache warming).
    static let window = 5.0
    /// Seconds between redraws: ~10 per second.
    static let interval = 0.1

    let enabled: Bool
    let verb: String
    let unit: String
    let total: Int
    let totalBytes: Int64?
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    struct Sample: Sendable {
        var seconds: Double
        var done: Int
        var bytes: Int64
    }

    private struct State: Sendable {
        /// Oldest first; the first is at or before the window's start (the rate's base).
        var samples = [Sample(seconds: 0, done: 0, bytes: 0)]
        var lastDrawn: Double?
    }

    /// - Parameters:
    ///   - enabled: whether to draw at all (the caller's options and a terminal on standard error).
    ///   - verb: what is done to the bytes ("read", "restored", "verified", "copied", "deleted").
    ///   - total: the items to do.
    ///   - unit: what an item is, plural ("files", "packs", "snapshots", "objects").
    ///   - totalBytes: the bytes to do, if known: the time left is then estimated from the bytes.
    package init(enabled: Bool, verb: String, total: Int, unit: String = "files", totalBytes: Int64? = nil) {
        self.enabled = enabled
        self.verb = verb
        self.unit = unit
        self.total = total
        self.totalBytes = totalBytes
    }

    /// Records the work done so far and redraws the line, unless it was drawn less than
    /// `interval` ago (the last item's update is always drawn).
    /// - Parameters:
    ///   - done: items finished.
    ///   - bytes: bytes of work so far.
    ///   - current: what is being worked on (a mailbox, a target), shown at the end.
    ///   - detail: more about the bytes ("3.1 MiB new"), after the verb.
    package func update(done: Int, bytes: Int64, current: String = "", detail: String? = nil) {
        guard enabled else { return }
        let now = Elapsed.seconds(since: started)
        let text: String? = state.withLock { state in
            state.samples.append(Sample(seconds: now, done: done, bytes: bytes))
            while state.samples.count > 2 && state.samples[1].seconds <= now - Self.window {
                state.samples.removeFirst()
            }
            if let last = state.lastDrawn, now - last < Self.interval, done < total { return nil }
            state.lastDrawn = now
            return line(base: state.samples[0], now: Sample(seconds: now, done: done, bytes: bytes),
                        current: current, detail: detail)
        }
        guard let text else { return }
        StatusLine.draw(Self.fitted(text, columns: StandardStreams.errorColumns ?? 80))
    }

    /// Clears the line.
    package func finish() {
        guard enabled else { return }
        StatusLine.clear()
    }

    /// The line for the work at `now`, with the rate measured since `base`.
    func line(base: Sample, now: Sample, current: String, detail: String?) -> String {
        let seconds = now.seconds - base.seconds
        let byteRate = seconds > 0 ? Double(now.bytes - base.bytes) / seconds : 0
        let itemRate = seconds > 0 ? Double(now.done - base.done) / seconds : 0
        var left: Double?
        if let totalBytes, totalBytes > 0, byteRate > 0 {
            left = Double(max(0, totalBytes - now.bytes)) / byteRate
        } else if itemRate > 0 {
            left = Double(max(0, total - now.done)) / itemRate
        }
        if now.done >= total { left = 0 }
        var text = "[\(now.done)/\(total) \(unit)] \(ByteSize.format(now.bytes)) \(verb)"
        if let detail { text += ", " + detail }
        text += ", \(ByteSize.format(Int64(byteRate.rounded())))/s, ETA \(Self.duration(left))"
        let name = Self.printable(current)
        if !name.isEmpty { text += "  " + (name.count > 40 ? "…" + name.suffix(39) : name) }
        return text
    }

    /// "0:42", "12:05", "3:07:00"; "--" when nothing has been measured yet.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds < 100 * 3600 else { return "--" }
        let whole = Int(seconds.rounded(.up))
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(rest))" : "\(minutes):\(two(rest))"
    }

    /// A name with its control characters as `?`: a mailbox named with an escape sequence must
    /// not steer the terminal the line is drawn on.
    static func printable(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
            switch scalar.value {
            case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: "?"
            default: scalar
            }
        }))
    }

    /// The line cut to the terminal's width less one: a line that wraps cannot be redrawn in
    /// place (the carriage return goes back to the start of the last row only).
    static func fitted(_ text: String, columns: Int) -> String {
        let width = max(20, columns - 1)
        return text.count > width ? String(text.prefix(width - 1)) + "…" : text
    }
}
