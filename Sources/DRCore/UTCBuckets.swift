import DRBase
package import Foundation

/// The calendar buckets of a moment, in UTC: what keep_hourly … keep_yearly count. UTC, not
/// the host's zone, so that every host of a repository and every run (summer time or not)
/// puts a snapshot in the same bucket; an operator in UTC+2 sees a "day" that runs from 02:00
/// to 02:00 local time.
///
/// Computed from the days since 1970 (Howard Hinnant's civil-date algorithms), not with a
/// `Calendar`: no locale or zone database can change the answer.
package struct UTCBuckets: Equatable, Sendable {
    /// "2026-12-01T03"
    package var hour: String
    /// "2026-12-01"
    package var day: String
    /// ISO 8601 week, "2026-W48": weeks start on Monday, and week 1 is the one holding the
    /// year's first Thursday (so 2027-01-01, a Friday, is in 2026-W53).
    package var week: String
    /// "2026-12"
    package var month: String
    /// "2026"
    package var year: String

    package init(_ date: Date) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = Self.floorDivide(seconds, 86_400)
        let hour = (seconds - days * 86_400) / 3600
        let (y, m, d) = Self.civil(fromDays: days)
        year = Self.pad(y, 4)
        month = year + "-" + Self.pad(Int64(m), 2)
        day = month + "-" + Self.pad(Int64(d), 2)
        self.hour = day + "T" + Self.pad(hour, 2)
        // Monday = 0 (1970-01-01 was a Thursday); the week's Thursday decides its year.
        let weekday = days - Self.floorDivide(days + 3, 7) * 7 + 3
        let thursday = days - weekday + 3
        let isoYear = Self.civil(fromDays: thursday).year
        let number = (thursday - Self.days(fromCivil: isoYear, 1, 1)) / 7 + 1
        week = Self.pad(isoYear, 4) + "-W" + Self.pad(number, 2)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(abs(value))
        return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The proleptic Gregorian date of a day number (0 = 1970-01-01).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let date = CivilDate.civil(fromDays: days)
        return (date.year, Int(date.month), Int(date.day))
    }

    /// The day number of a proleptic Gregorian date.
    static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        CivilDate.days(year: year, month: Int64(month), day: Int64(day))
    }
}
