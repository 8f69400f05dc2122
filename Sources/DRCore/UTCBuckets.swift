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
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), Int(month), Int(day))
    }

    /// The day number of a proleptic Gregorian date.
    static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
