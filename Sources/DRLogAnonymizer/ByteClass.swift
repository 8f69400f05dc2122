/// Byte classes the scanner asks about at every byte: one table lookup instead of ranges.
/// Bytes ≥ 0x80 (UTF-8 sequences, or invalid bytes) count as letters, so a UTF-8 address
/// (SMTPUTF8, IDN) is scanned whole, and invalid bytes pass through as they are.
enum ByteClass {
    static let digit: UInt8 = 1
    static let hex: UInt8 = 2
    static let letter: UInt8 = 4
    /// Characters of an address's local part (RFC 5322 atext and '.'), without '/', '?' and '`'
    /// so that a URL path before an address is not swallowed.
    static let local: UInt8 = 8
    /// Characters of a domain name.
    static let domain: UInt8 = 16
    /// Base64 (both alphabets).
    static let base64: UInt8 = 32
    /// Punctuation that can introduce something the scanner looks at (letters and digits are
    /// looked at where a word starts).
    static let trigger: UInt8 = 64

    /// The high bit of each of eight bytes.
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Of eight bytes (the first in the low bits), the high bit of each that is a letter (of
    /// class `letter`: A–Z, a–z or ≥ 0x80), with no branch and no table: `b | 0x20` is in a…z
    /// exactly for the ASCII letters, and the two comparisons are subtractions that cannot
    /// borrow from the next byte.
    @inline(__always) static func letters(_ bytes: UInt64) -> UInt64 {
        let low = (bytes | 0x2020_2020_2020_2020) & 0x7F7F_7F7F_7F7F_7F7F
        let atLeastA = ((low | highBits) &- 0x6161_6161_6161_6161) & highBits
        let atMostZ = ((0x7A7A_7A7A_7A7A_7A7A | highBits) &- low) & highBits
        return (atLeastA & atMostZ) | (bytes & highBits)
    }

    static let table: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for byte in 0..<256 {
            var value: UInt8 = 0
            let c = UInt8(byte)
            let isDigit = c >= 0x30 && c <= 0x39
            let isUpper = c >= 0x41 && c <= 0x5A
            let isLower = c >= 0x61 && c <= 0x7A
            if isDigit { value |= digit }
            if isDigit || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) { value |= hex }
            if isUpper || isLower || c >= 0x80 { value |= letter }
            if isDigit || isUpper || isLower || c >= 0x80 || Array("!#$%&'*+-=^_{|}~.".utf8).contains(c) { value |= local }
            if isDigit || isUpper || isLower || c >= 0x80 || c == 0x2D || c == 0x2E || c == 0x5F { value |= domain }
            if isDigit || isUpper || isLower || c == 0x2B || c == 0x2F || c == 0x2D || c == 0x5F { value |= base64 }
            if Array(":@=(<".utf8).contains(c) { value |= trigger }
            table[byte] = value
        }
        return table
    }()
}

extension UInt8 {
    @inline(__always) var isDigit: Bool { self &- 0x30 < 10 }
    @inline(__always) var isLetterOrDigit: Bool { (self | 0x20) &- 0x61 < 26 || self &- 0x30 < 10 || self >= 0x80 }
    @inline(__always) func isClass(_ mask: UInt8) -> Bool { ByteClass.table[Int(self)] & mask != 0 }
    @inline(__always) var lowercased: UInt8 { self &- 0x41 < 26 ? self | 0x20 : self }
    @inline(__always) var hexValue: Int? {
        switch self {
        case 0x30...0x39: Int(self - 0x30)
        case 0x41...0x46: Int(self - 0x41 + 10)
        case 0x61...0x66: Int(self - 0x61 + 10)
        default: nil
        }
    }
}
