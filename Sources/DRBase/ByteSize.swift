/// Byte counts as text, in binary units, the one place drctl turns sizes into words.
///
/// Two styles, for two readers: `format` is approximate, for people reading a report
/// ("1.5 MiB"); `exact` is the configuration's notation ("256MiB"), which `parse` reads back.
package enum ByteSize {
    /// "512 B", "1.5 KiB", "3.2 GiB": the largest unit (up to TiB) that leaves at least 1, one
    /// decimal.
    ///
    /// In integers, rounding half to even on the exact quotient — what printf's "%.1f" does
    /// with the binary value — so there is no floating-point rounding to second-guess.
    package static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var unit = 0
        var divisor: Int64 = 1
        while unit < units.count - 1 && bytes / divisor >= 1024 {
            divisor *= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let remainder = (bytes % divisor) * 10
        var tenths = bytes / divisor * 10 + remainder / divisor
        let rest = remainder % divisor
        if rest * 2 > divisor || (rest * 2 == divisor && tenths % 2 == 1) { tenths += 1 }
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// "256MiB", "1GiB", "512KiB": the largest of GiB, MiB, KiB that divides `bytes`, else a
    /// number of bytes ("1000B"). Exact: `parse(exact(n)) == n`.
    package static func exact(_ bytes: Int) -> String {
        for (unit, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes != 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)B"
    }

    /// Reads the configuration's notation: a whole number directly followed by B, KiB, MiB,
    /// GiB or TiB. Nil for anything else, a negative number, or a value that overflows.
    package static func parse(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40), ("B", 1)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            guard let value = Int(text.dropLast(unit.count)), value >= 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        return nil
    }
}
