import DRBase
package import Foundation

/// How long since `start`, in seconds (for reports).
enum Elapsed {
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// RFC 3339 timestamps in UTC with milliseconds, as stored in manifests (sortable as text).
package enum Timestamps {
    package static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    package static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}

/// A one-line progress display on a terminal's standard error, redrawn in place.
final class Progress: Sendable {
    let enabled: Bool
    let total: Int
    init(enabled: Bool, total: Int) {
        self.enabled = enabled
        self.total = total
    }

    func update(done: Int, current: String, read: Int64, new: Int64, verb: String = "read") {
        guard enabled else { return }
        let name = current.count > 40 ? "…" + current.suffix(39) : current
        let added = verb == "read" ? ", \(ByteCount.format(new)) new" : ""
        StandardStreams.writeError("\r\u{1B}[K[\(done)/\(total)] \(ByteCount.format(read)) \(verb)\(added)  \(name)")
    }

    func finish() {
        guard enabled else { return }
        StandardStreams.writeError("\r\u{1B}[K")
    }
}

/// Human-readable byte counts (binary units).
package enum ByteCount {
    package static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\(String(format: "%.1f", value)) \(units[unit])"
    }
}
