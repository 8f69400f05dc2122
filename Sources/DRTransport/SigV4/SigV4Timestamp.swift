import DRBase
/// The instant a request is signed, in SigV4's two forms: `20150830T123600Z` (the
/// `x-amz-date` header and the string to sign) and `20150830` (the credential scope).
///
/// Computed from Unix seconds with the proleptic Gregorian calendar in UTC (no time zone
/// database, no locale: a signature must not depend on the host's settings).
package struct SigV4Timestamp: Sendable, Equatable {
    /// `yyyyMMdd'T'HHmmss'Z'`.
    package let amzDate: String
    /// `yyyyMMdd`, the first eight characters of `amzDate`.
    package var dateStamp: String { String(amzDate.prefix(8)) }

    /// Parses an `x-amz-date` value; nil unless it is exactly `yyyyMMdd'T'HHmmss'Z'`.
    package init?(amzDate: String) {
        let bytes = Array(amzDate.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"),
              bytes[0..<8].allSatisfy(Self.isDigit), bytes[9..<15].allSatisfy(Self.isDigit) else { return nil }
        self.amzDate = amzDate
    }

    /// The timestamp of `seconds` since 1970-01-01T00:00:00Z (fractions are dropped:
    /// SigV4 has a resolution of one second).
    package init(secondsSince1970 seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilDate.civil(fromDays: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        amzDate = yearText + two(month) + two(day) + "T" + two(secondOfDay / 3600)
            + two(secondOfDay / 60 % 60) + two(secondOfDay % 60) + "Z"
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

}
