/// Lower-case hexadecimal, as used for object ids, chunk ids and test vectors.
///
/// Only for non-secret bytes: the results are ordinary `String`s and `[UInt8]`s, whose copies
/// cannot be wiped. Secret material stays in DRCrypto's `SecureBytes`.
package enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Encodes bytes as lower-case hexadecimal, two characters per byte.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hexadecimal (either case); nil when the length is odd or a character is not a
    /// hex digit. No whitespace or `0x` prefix is accepted.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Base64 (RFC 4648 section 4) and its URL- and file-name-safe alphabet (section 5).
///
/// Only for non-secret bytes, like `Hex`.
package enum Base64 {
    package enum Alphabet: Sendable {
        /// `A–Z a–z 0–9 + /`
        case standard
        /// `A–Z a–z 0–9 - _` (safe in URLs and file names)
        case urlSafe
    }

    private static let standardTable: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlSafeTable: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes bytes; `padded` appends `=` up to a multiple of four characters.
    package static func encode(_ bytes: some Collection<UInt8>, alphabet: Alphabet = .standard,
                              padded: Bool = true) -> String {
        let table = alphabet == .standard ? standardTable : urlSafeTable
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out.append(table[Int(group >> 18 & 63)])
            out.append(table[Int(group >> 12 & 63)])
            out.append(table[Int(group >> 6 & 63)])
            out.append(table[Int(group & 63)])
            index += 3
        }
        let rest = input.count - index
        if rest == 1 {
            let group = UInt32(input[index]) << 16
            out.append(table[Int(group >> 18 & 63)])
            out.append(table[Int(group >> 12 & 63)])
            if padded { out.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "=")]) }
        } else if rest == 2 {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            out.append(table[Int(group >> 18 & 63)])
            out.append(table[Int(group >> 12 & 63)])
            out.append(table[Int(group >> 6 & 63)])
            if padded { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes Base64 in the given alphabet; nil on any character outside it, on whitespace,
    /// on a wrong length, on misplaced padding, or on non-zero bits after the last byte (so
    /// that each byte string has exactly one accepted encoding). Padding is optional.
    package static func decode(_ text: some StringProtocol, alphabet: Alphabet = .standard) -> [UInt8]? {
        var chars = Array(text.utf8)
        if chars.count % 4 == 0, chars.last == UInt8(ascii: "=") {
            chars.removeLast()
            if chars.last == UInt8(ascii: "=") { chars.removeLast() }
        }
        if chars.count % 4 == 1 { return nil }
        let (c62, c63) = alphabet == .standard
            ? (UInt8(ascii: "+"), UInt8(ascii: "/")) : (UInt8(ascii: "-"), UInt8(ascii: "_"))
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for char in chars {
            let value: UInt8
            switch char {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = char - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = char - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = char - UInt8(ascii: "0") + 52
            case c62: value = 62
            case c63: value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero, or two different strings would decode alike.
        if accumulator != 0 { return nil }
        return out
    }
}

// MARK: - Typed-throws byte access (for the wrappers of C libraries in this package)

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps a typed error: the standard library's is only `rethrows`,
    /// which turns `throws(CryptoError)` into `any Error`.
    package func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBytes { raw in
            Result { () throws(E) -> R in try body(raw) }
        }
        return try result.get()
    }
}
