/// Reading and writing IP addresses as bytes, in the textual forms logs use, without String.
enum IPText {
    /// A dotted or dashed IPv4 address at `start`: four numbers of one to three digits, each at
    /// most 255, joined by one separator ('.' or '-'), not followed by a fifth such number
    /// (version strings and OIDs stay) nor by more digits.
    static func ipv4(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
        -> (value: UInt32, end: Int, separator: UInt8, padded: Bool)? {
        var index = start
        var value: UInt32 = 0
        var separator: UInt8 = 0
        var padded = true
        var leadingZero = false
        for part in 0..<4 {
            var number: UInt32 = 0
            var digits = 0
            while index < end, p[index].isDigit {
                if digits == 3 { return nil }
                number = number * 10 + UInt32(p[index] - 0x30)
                digits += 1
                index += 1
            }
            if digits == 0 || number > 255 { return nil }
            if digits != 3 { padded = false }
            if digits > 1 && p[index - digits] == 0x30 { leadingZero = true }
            value = value << 8 | number
            if part < 3 {
                guard index + 1 < end else { return nil }
                let next = p[index]
                if part == 0 {
                    guard next == 0x2E || next == 0x2D else { return nil }
                    separator = next
                } else if next != separator {
                    return nil
                }
                index += 1
            }
        }
        if index + 1 < end, p[index] == separator, p[index + 1].isDigit { return nil }
        return (value, index, separator, padded && leadingZero)
    }

    static func appendIPv4(_ value: UInt32, separator: UInt8, padded: Bool, reversed: Bool, to out: inout [UInt8]) {
        // Written into 15 bytes on the stack and appended once: an append per digit costs a
        // uniqueness and a capacity check each.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            let text = buffer.baseAddress!
            var count = 0
            for part in 0..<4 {
                if part > 0 { text[count] = separator; count += 1 }
                let shift = reversed ? 8 * part : 8 * (3 - part)
                let number = Int(value >> UInt32(shift) & 0xFF)
                let hundreds = number / 100, tens = number / 10 % 10
                if hundreds > 0 || padded { text[count] = UInt8(0x30 + hundreds); count += 1 }
                if hundreds > 0 || tens > 0 || padded { text[count] = UInt8(0x30 + tens); count += 1 }
                text[count] = UInt8(0x30 + number % 10)
                count += 1
            }
            out.append(contentsOf: UnsafeBufferPointer(start: text, count: count))
        }
    }

    static func appendDecimal(_ number: Int, width: Int, to out: inout [UInt8]) {
        let hundreds = number / 100, tens = number / 10 % 10, ones = number % 10
        if hundreds > 0 || width >= 3 { out.append(UInt8(0x30 + hundreds)) }
        if hundreds > 0 || tens > 0 || width >= 2 { out.append(UInt8(0x30 + tens)) }
        out.append(UInt8(0x30 + ones))
    }

    struct IPv6 {
        var value: UInt128
        var end: Int
        var uppercase: Bool
        /// All eight groups written with four digits each.
        var exploded: Bool
        /// Where a trailing dotted IPv4 part starts (`::ffff:192.0.2.1`), if any.
        var dottedStart: Int?
    }

    /// An IPv6 address spanning exactly `start..<end` (RFC 4291 text: groups of 1–4 hex digits,
    /// at most one `::`, optionally a dotted IPv4 tail).
    static func ipv6(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> IPv6? {
        var groups: [UInt16] = []
        groups.reserveCapacity(8)
        var gap: Int?
        var index = start
        var uppercase = false
        var allFour = true
        var dottedStart: Int?
        if index + 1 < end, p[index] == 0x3A {
            guard p[index + 1] == 0x3A else { return nil }
            gap = 0
            index += 2
        }
        while index < end {
            // A dotted IPv4 tail?
            var look = index
            while look < end, p[look].isDigit { look += 1 }
            if look < end, p[look] == 0x2E {
                guard groups.count <= 6, let v4 = ipv4(p, index, end), v4.separator == 0x2E, v4.end == end else { return nil }
                dottedStart = index
                groups.append(UInt16(v4.value >> 16))
                groups.append(UInt16(v4.value & 0xFFFF))
                index = end
                break
            }
            var group = 0
            var digits = 0
            while index < end, let digit = p[index].hexValue {
                if digits == 4 { return nil }
                if p[index] >= 0x41 && p[index] <= 0x46 { uppercase = true }
                group = group << 4 | digit
                digits += 1
                index += 1
            }
            if digits == 0 { return nil }
            if digits != 4 { allFour = false }
            groups.append(UInt16(group))
            if groups.count > 8 { return nil }
            if index == end { break }
            guard p[index] == 0x3A else { return nil }
            index += 1
            if index < end, p[index] == 0x3A {
                guard gap == nil else { return nil }
                gap = groups.count
                index += 1
                if index == end { break }
            } else if index == end {
                return nil
            }
        }
        if groups.isEmpty { return nil }
        if let gap {
            guard groups.count <= 7 else { return nil }
            groups.insert(contentsOf: [UInt16](repeating: 0, count: 8 - groups.count), at: gap)
        } else if groups.count != 8 {
            return nil
        }
        var value: UInt128 = 0
        for group in groups { value = value << 16 | UInt128(group) }
        return IPv6(value: value, end: end, uppercase: uppercase, exploded: gap == nil && allFour && dottedStart == nil,
                    dottedStart: dottedStart)
    }

    /// RFC 5952 text (the longest run of two or more zero groups as `::`), or all eight groups
    /// of four digits; upper-case hex when the original was.
    static func appendIPv6(_ value: UInt128, uppercase: Bool, exploded: Bool, to out: inout [UInt8]) {
        let digits: StaticString = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
        func group(_ index: Int) -> Int { Int(truncatingIfNeeded: value >> UInt128(16 * (7 - index))) & 0xFFFF }
        var best = (start: -1, length: 0)
        if !exploded {
            var index = 0
            while index < 8 {
                if group(index) == 0 {
                    var end = index
                    while end < 8 && group(end) == 0 { end += 1 }
                    if end - index > best.length && end - index >= 2 { best = (index, end - index) }
                    index = end
                } else {
                    index += 1
                }
            }
        }
        var index = 0
        while index < 8 {
            if index == best.start {
                out.append(0x3A)
                out.append(0x3A)
                index += best.length
                continue
            }
            if index > 0 && index != best.start + best.length { out.append(0x3A) }
            let bits = group(index)
            var started = exploded
            for shift in stride(from: 12, through: 0, by: -4) {
                let nibble = bits >> shift & 15
                if nibble != 0 || started || shift == 0 {
                    out.append(digits.utf8Start[nibble])
                    started = true
                }
            }
            index += 1
        }
    }
}
