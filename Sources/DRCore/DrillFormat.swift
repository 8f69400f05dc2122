import DRBase
import DRRepository
import Foundation

/// Figures of a drill report in words for people: durations in the largest unit that reads
/// well, times in UTC, shares as percentages. Plain text: the HTML escapes it like any value.
enum DrillFormat {
    /// "0.04 s", "12.3 s", "4 min 5 s", "2 h 5 min", "3 d 4 h".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "\(seconds) s" }
        let sign = seconds < 0 ? "−" : ""
        let value = abs(seconds)
        if value < 10 { return sign + String(format: "%.2f s", value) }
        if value < 60 { return sign + String(format: "%.1f s", value) }
        let whole = Int64(value.rounded())
        if whole < 3600 { return sign + pair(whole / 60, "min", whole % 60, "s") }
        if whole < 86_400 { return sign + pair(whole / 3600, "h", whole % 3600 / 60, "min") }
        return sign + pair(whole / 86_400, "d", whole % 86_400 / 3600, "h")
    }

    static func duration(_ seconds: Double?, missing: String = "not measured") -> String {
        seconds.map { duration($0) } ?? missing
    }

    private static func pair(_ major: Int64, _ majorUnit: String, _ minor: Int64, _ minorUnit: String) -> String {
        minor == 0 ? "\(major) \(majorUnit)" : "\(major) \(majorUnit) \(minor) \(minorUnit)"
    }

    /// "2026-12-07 03:00:00 UTC" for a time drctl wrote; any other text as it is (the reader
    /// then sees exactly what the report holds).
    static func time(_ text: String) -> String {
        guard let date = Timestamps.parse(text) else { return text }
        return utc(date, seconds: true) + " UTC"
    }

    /// "2026-12-07 03:00" (or with ":ss"), in UTC.
    static func utc(_ date: Date, seconds: Bool = false) -> String {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let base = String(format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
        return seconds ? base + String(format: ":%02d", c.second ?? 0) : base
    }

    /// "12-07" or "12-07 03:00": an axis label, as short as the span of the axis allows.
    static func axisLabel(_ date: Date, withTime: Bool) -> String {
        let c = calendar.dateComponents([.month, .day, .hour, .minute], from: date)
        let day = String(format: "%02d-%02d", c.month ?? 0, c.day ?? 0)
        return withTime ? day + String(format: " %02d:%02d", c.hour ?? 0, c.minute ?? 0) : day
    }

    /// "37.5 %".
    static func percent(_ share: Double) -> String {
        String(format: "%.1f %%", share * 100)
    }

    /// "45.2 MiB/s".
    static func throughput(_ bytesPerSecond: Double?) -> String {
        guard let bytesPerSecond, bytesPerSecond.isFinite, bytesPerSecond >= 0 else { return "not measured" }
        return ByteSize.format(Int64(min(bytesPerSecond, 9e18))) + "/s"
    }

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }()
}
