/// The IP finders: IPv6 in every textual form, IPv4 dotted or dashed (also reversed inside a
/// host name, and zero-padded), twelve-digit and hex host-name forms; plus card-like numbers,
/// which start like the numbers they are told apart from.
extension LineScanner {
    /// IPv6 at `i`: the longest run of hex digits, ':' and '.' that parses, trimmed back at a
    /// ':' or '.' when the whole run does not (`::ffff:192.0.2.1:25`, a sentence's final dot).
    /// A zone id (`%eth0`) or prefix length (`/64`) after it stays as written.
    func ipv6(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ to: Int) -> Int? {
        if p[i] != 0x3A {
            // An address that starts with a group (1–4 hex digits) has a ':' right after it;
            // most words that start with a hex digit stop here.
            var k = i
            while k < to, k - i < 4, has(p[k], ByteClass.hex) { k += 1 }
            guard k < to, p[k] == 0x3A else { return nil }
        }
        var end = i
        var colons = 0
        var double = false
        while end < to, end - i < 46 {
            let c = p[end]
            if c == 0x3A {
                colons += 1
                if end > i && p[end - 1] == 0x3A { double = true }
            } else if c != 0x2E && c.hexValue == nil {
                break
            }
            end += 1
        }
        // Eight groups need seven colons; fewer need "::". Times (04:29:39) have neither.
        guard colons >= 2, double || colons >= 7 else { return nil }
        if end < to, p[end].isLetterOrDigit { return nil }
        var stop = end
        while stop > i {
            if let address = IPText.ipv6(p, i, stop) {
                replaceIPv6(address, i)
                return address.end
            }
            stop -= 1
            while stop > i, p[stop] != 0x3A && p[stop] != 0x2E { stop -= 1 }
        }
        return nil
    }

    private func replaceIPv6(_ address: IPText.IPv6, _ start: Int) {
        // `::ffff:a.b.c.d` keeps its form: the IPv4 method on the dotted part, the prefix as written.
        if let dotted = address.dottedStart, address.value >> 32 == 0xFFFF {
            replace(dotted, address.end, .ipv4,
                    deferred: .ipv4(UInt32(truncatingIfNeeded: address.value), .text(separator: 0x2E, padded: false, reversed: false)))
            return
        }
        replace(start, address.end, .ipv6, deferred: .ipv6(address.value, uppercase: address.uppercase, exploded: address.exploded))
    }

    /// IPv4 at `i`, dotted or dashed; reversed when the name ends in `.in-addr.arpa` or is
    /// followed by `[address]` holding the same four numbers the other way round (Postfix's
    /// `client=4.3.2.1.pool.example[1.2.3.4]`); zero-padded numbers stay zero-padded.
    func ipv4(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ from: Int, _ to: Int) -> Int? {
        guard let found = IPText.ipv4(p, i, to) else { return nil }
        // After it: more of a host name? Then it sits inside one.
        var reversed = false
        var inName = i > from && p[i - 1].isLetterOrDigit || (i > from && (p[i - 1] == 0x2D || p[i - 1] == 0x2E))
        if found.end + 1 < to, p[found.end] == 0x2E || p[found.end] == 0x2D, p[found.end + 1].isLetterOrDigit {
            inName = true
            var k = found.end
            while k < to, has(p[k], ByteClass.domain) { k += 1 }
            if matches(p, found.end, k, ".in-addr.arpa") || matches(p, found.end, k, ".in-addr.arpa.") {
                reversed = true
            } else if k + 1 < to, p[k] == 0x5B, let bracket = IPText.ipv4(p, k + 1, to), bracket.value == found.value.byteSwapped {
                reversed = true
            }
        }
        if found.separator == 0x2D { inName = true }
        replace(i, found.end, inName ? .ipInHostName : .ipv4,
                deferred: .ipv4(found.value, .text(separator: found.separator, padded: found.padded, reversed: reversed)))
        return found.end
    }

    /// Twelve digits, three per octet, in a host name (`001002003004.example`, `ip-001002003004`);
    /// or a card-like number (13–19 digits, alone or in groups of four, passing Luhn's check).
    func longNumber(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ from: Int, _ to: Int) -> Int? {
        var end = i
        while end < to, p[end].isDigit { end += 1 }
        let length = end - i
        let before: UInt8 = i > from ? p[i - 1] : 0x20
        let after: UInt8 = end < to ? p[end] : 0x20
        if length == 12, !after.isLetterOrDigit || after == 0x2E {
            let hostLike = before.isLetterOrDigit || before == 0x2D || before == 0x2E || after == 0x2E || after == 0x2D
            var value: UInt32 = 0
            var valid = true
            for octet in 0..<4 {
                let number = Int(p[i + 3 * octet] - 0x30) * 100 + Int(p[i + 3 * octet + 1] - 0x30) * 10 + Int(p[i + 3 * octet + 2] - 0x30)
                if number > 255 { valid = false }
                value = value << 8 | UInt32(number & 0xFF)
            }
            if valid && hostLike {
                replace(i, end, .ipInHostName, deferred: .ipv4(value, .twelveDigits))
                return end
            }
        }
        guard !before.isLetterOrDigit,
              length >= 13 || (length == 4 && end + 1 < to && (after == 0x20 || after == 0x2D) && p[end + 1].isDigit)
        else { return nil }
        // A card number: plain, or groups of four joined by one space or dash.
        var digits: [UInt8] = []
        var k = i
        var separator: UInt8 = 0
        var lastEnd = i
        while k < to, digits.count < 19 {
            var run = 0
            while k < to, p[k].isDigit, digits.count < 20 { digits.append(p[k] - 0x30); k += 1; run += 1 }
            lastEnd = k
            if run == 4, k + 1 < to, (p[k] == 0x20 || p[k] == 0x2D) && (separator == 0 || separator == p[k]), p[k + 1].isDigit,
               length == 4 {
                separator = p[k]
                k += 1
                continue
            }
            break
        }
        let afterCard: UInt8 = lastEnd < to ? p[lastEnd] : 0x20
        guard (13...19).contains(digits.count), !afterCard.isLetterOrDigit, luhn(digits) else { return nil }
        replace(i, lastEnd, Self.card, .card)
        return lastEnd
    }

    private func luhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if position % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    /// Eight hex digits as one label (or dash-separated part) of a host name, followed by more
    /// of the name: an IPv4 address in hex (`c0000207.dyn.example`, `host-c0000207.example`).
    func hexHost(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ to: Int) -> Int? {
        guard i + 9 < to, p[i + 8] == 0x2E || p[i + 8] == 0x2D else { return nil }
        var value: UInt32 = 0
        var uppercase = false
        for k in i..<(i + 8) {
            guard let digit = p[k].hexValue else { return nil }
            if p[k] >= 0x41 && p[k] <= 0x46 { uppercase = true }
            value = value << 4 | UInt32(digit)
        }
        let after = p[i + 8]
        guard after == 0x2E || after == 0x2D, has(p[i + 9], ByteClass.letter) else { return nil }
        // More of a host name must follow: a dot and a label (not a UUID's next group).
        var k = i + 8
        var dotted = false
        while k < to, has(p[k], ByteClass.domain) {
            if p[k] == 0x2E, k + 1 < to, has(p[k + 1], ByteClass.letter) { dotted = true }
            k += 1
        }
        guard dotted else { return nil }
        replace(i, i + 8, .ipInHostName, deferred: .ipv4(value, .hex(uppercase: uppercase)))
        return i + 8
    }

    /// Whether `start..<end` equals `text` (ASCII, any case).
    func matches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ text: StaticString) -> Bool {
        guard end - start == text.utf8CodeUnitCount else { return false }
        let bytes = text.utf8Start
        for k in 0..<(end - start) where p[start + k].lowercased != bytes[k] { return false }
        return true
    }

    /// Whether the bytes at `start` begin with `text` (ASCII, any case).
    func hasPrefix(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ to: Int, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard to - start >= count else { return false }
        let bytes = text.utf8Start
        for k in 0..<count where p[start + k].lowercased != bytes[k] { return false }
        return true
    }
}
