import DRBase
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
        if let fast = parseWritten(text) { return fast }
        return parseAny(text)
    }

    /// The form drctl writes, `2026-11-28T03:00:00.250Z`, read without Foundation's
    /// formatter: a backup parses two or three times per mailbox, and the formatter's 6–9 µs a
    /// call was 17 % of an unchanged backup of 10,000 mailboxes (docs/BENCHMARKS.md, "The
    /// frequent timer"). Nil for anything else (including an impossible date such as
    /// February 30th), which the general parser then judges.
    static func parseWritten(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 24, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54, bytes[13] == 0x3A,
              bytes[16] == 0x3A, bytes[19] == 0x2E, bytes[23] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 0x30
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              let millisecond = number(20..<23),
              (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        guard (1...CivilDate.daysInMonth(year: Int64(year), month: Int64(month))).contains(Int64(day)) else { return nil }
        let days = CivilDate.days(year: Int64(year), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return Date(timeIntervalSince1970: Double(seconds) + Double(millisecond) / 1000)
    }

    /// Any RFC 3339 time this type accepts (see `parse`).
    static func parseAny(_ text: String) -> Date? {
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
