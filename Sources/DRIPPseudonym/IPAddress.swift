#if canImport(Glibc)
import Glibc
#endif

/// An IP address as 16 bytes (IPv4 as IPv4-mapped IPv6, `::ffff:a.b.c.d`), the form both
/// prefix-preserving methods work on.
package struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    package var bytes: [UInt8]

    package init(bytes: [UInt8]) {
        precondition(bytes.count == 16)
        self.bytes = bytes
    }

    /// Dotted IPv4 or any RFC 4291 IPv6 text (inet_pton's grammar); nil for anything else.
    package init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let value = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            bytes = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + value
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        bytes = withUnsafeBytes(of: v6) { Array($0) }
    }

    /// Whether it is an IPv4 address (IPv4-mapped).
    package var isIPv4: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF }

    /// Dotted IPv4 when mapped, else RFC 5952 IPv6 (lower case, the longest zero run compressed).
    package var description: String {
        if isIPv4 { return bytes[12..<16].map(String.init).joined(separator: ".") }
        var groups: [Int] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(Int(bytes[index]) << 8 | Int(bytes[index + 1])) }
        // The longest run of two or more zero groups (the first of equal ones) becomes "::".
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > best.length && end - index >= 2 { best = (index, end - index) }
                index = end
            } else {
                index += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[0..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
