/// A UTC day as `YYYY-MM-DD`, the unit of log keys and of log retention.
package enum LogDay {
    /// Whether `text` is a real day written `YYYY-MM-DD` (so "2026-02-30" is not).
    package static func isValid(_ text: String) -> Bool {
        number(text) != nil
    }

    /// Days since 1970-01-01 of `YYYY-MM-DD`, or nil.
    package static func number(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func digits(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10),
              (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: year, month: month) else { return nil }
        return CivilDate.days(year: year, month: month, day: day)
    }

    /// `YYYY-MM-DD` of a day number.
    package static func text(_ number: Int64) -> String {
        let (year, month, day) = CivilDate.civil(fromDays: number)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + "-" + two(month) + "-" + two(day)
    }

    /// The UTC day of a moment given in seconds since 1970.
    package static func number(ofSeconds seconds: Int64) -> Int64 {
        seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    }
}
