package import Foundation

/// Timestamps as drctl writes and reads them: RFC 3339 in UTC with milliseconds
/// ("2026-11-28T03:00:00.250Z"), in manifests, key objects and the repository config. One
/// fixed width and zone, so that they sort as text.
///
/// Here, with the repository format, because that is where they are stored; the jobs use the
/// same for their reports and for the times operators type.
///
/// The milliseconds are done here, not by `ISO8601FormatStyle`: it truncates a Date's
/// Double, and reads ".999" back as .998 and a bit, so its format of its own parse drifts
/// by a millisecond.
package enum Timestamps {
    /// The moment truncated to the millisecond (a written time is never later than the
    /// moment), after rounding to the microsecond so that a Date read back from text is not
    /// truncated a whole millisecond short.
    package static func format(_ date: Date) -> String {
        let milliseconds = ((date.timeIntervalSince1970 * 1_000_000).rounded() / 1000).rounded(.down)
        let seconds = (milliseconds / 1000).rounded(.down)
        let fraction = Int(milliseconds - seconds * 1000)
        let whole = Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle())
        let digits = String(fraction)
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Now, formatted.
    package static func now() -> String { format(Date()) }

    /// RFC 3339 with or without fractional seconds (up to nine digits), in UTC ("Z") or with
    /// an offset ("+01:00"); nil for anything else.
    package static func parse(_ text: String) -> Date? {
        var whole = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let digits = text[text.index(after: dot)...].prefix { ("0"..."9").contains($0) }
            guard (1...9).contains(digits.count), let value = Int(digits) else { return nil }
            var scale = 1.0
            for _ in 0..<digits.count { scale *= 10 }
            fraction = Double(value) / scale
            whole = String(text[..<dot] + text[digits.endIndex...])
        }
        guard let date = try? Date(whole, strategy: Date.ISO8601FormatStyle()) else { return nil }
        return Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded() + fraction)
    }
}
