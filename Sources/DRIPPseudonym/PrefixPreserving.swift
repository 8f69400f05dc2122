import DRBase

/// Keyed, prefix-preserving pseudonyms of IP addresses: output bit i is input bit i XOR a
/// keyed function of the input bits before it, so two addresses that share an n-bit prefix
/// share an n-bit prefix after, and no more. IPv4 stays IPv4, IPv6 stays IPv6.
package enum PrefixPreservingMethod: String, Sendable, CaseIterable {
    /// draft-denis-ipcrypt's ipcrypt-pfx.
    case ipcryptPfx = "ipcrypt-pfx"
    /// Crypto-PAn (Xu, Fan, Ammar, Moon 2002), as the reference code; IPv6 as its later ports.
    case cryptoPan = "crypto-pan"
}

package enum PseudonymKeyError: Error, Equatable {
    /// Not 32 bytes.
    case length
    /// ipcrypt-pfx with equal halves: the output would equal the input.
    case equalHalves
}

/// One key of one method, ready to map addresses (its AES key schedules expanded once).
package final class PrefixPreservingPseudonyms {
    private let method: PrefixPreservingMethod
    private let first: AES128Block
    /// ipcrypt-pfx: AES under the second key half. Crypto-PAn: unused.
    private let second: AES128Block?
    /// Crypto-PAn: AES_K(key[16..<32]).
    private let pad: [UInt8]

    /// - Parameter key: 32 bytes (see docs/LOGS.md for how each method splits it).
    package init(method: PrefixPreservingMethod, key: [UInt8]) throws(PseudonymKeyError) {
        guard key.count == 32, let first = AES128Block(key: Array(key[0..<16])) else { throw .length }
        self.method = method
        self.first = first
        switch method {
        case .ipcryptPfx:
            guard key[0..<16] != key[16..<32] else { throw .equalHalves }
            second = AES128Block(key: Array(key[16..<32]))
            pad = []
        case .cryptoPan:
            second = nil
            pad = first.encrypt(Array(key[16..<32]))
        }
    }

    package func pseudonym(of address: IPAddress) -> IPAddress {
        switch method {
        case .ipcryptPfx: return ipcryptPfx(address)
        case .cryptoPan: return cryptoPan(address)
        }
    }

    /// ipcrypt-pfx (draft-denis-ipcrypt, "ipcrypt-pfx"): bit positions count from the least
    /// significant bit of byte 15 (0) to the most significant of byte 0 (127); the PRF input
    /// starts as a single 1 just above the (empty) prefix and takes each original bit in at the
    /// bottom as it goes.
    private func ipcryptPfx(_ address: IPAddress) -> IPAddress {
        guard let second else { return address }
        let input = address.bytes
        var output = input
        var padded = [UInt8](repeating: 0, count: 16)
        let start: Int
        if address.isIPv4 {
            start = 96
            padded[3] = 0x01
            padded[14] = 0xFF
            padded[15] = 0xFF
        } else {
            start = 0
            padded[15] = 0x01
        }
        for position in start..<128 {
            let bitPosition = 127 - position
            let e1 = first.encrypt(padded)
            let e2 = second.encrypt(padded)
            let cipherBit = (e1[15] ^ e2[15]) & 1
            let byteIndex = 15 - bitPosition / 8
            let bitInByte = bitPosition % 8
            output[byteIndex] ^= cipherBit << bitInByte
            let originalBit = (input[byteIndex] >> bitInByte) & 1
            // Shift the whole 128-bit input left by one, the original bit coming in at the bottom.
            var carry = originalBit
            for index in stride(from: 15, through: 0, by: -1) {
                let out = padded[index] >> 7
                padded[index] = padded[index] << 1 | carry
                carry = out
            }
        }
        if address.isIPv4 {
            output[10] = 0xFF
            output[11] = 0xFF
        }
        return IPAddress(bytes: output)
    }

    /// Crypto-PAn: for bit pos (0 = most significant of the address), AES of the address's
    /// first pos bits followed by the pad's remaining bits; the most significant bit of that
    /// block's first byte is XORed into bit pos. IPv4 over its 32 bits, IPv6 over 128.
    private func cryptoPan(_ address: IPAddress) -> IPAddress {
        let bits = address.isIPv4 ? 32 : 128
        let value = address.isIPv4 ? Array(address.bytes[12..<16]) : address.bytes
        var mask = [UInt8](repeating: 0, count: value.count)
        for position in 0..<bits {
            // first `position` bits of the address, then the pad's bits from `position` on.
            var block = pad
            for bit in 0..<position {
                let byte = bit / 8, shift = 7 - bit % 8
                let addressBit = (value[byte] >> shift) & 1
                block[byte] = block[byte] & ~(1 << shift) | addressBit << shift
            }
            let otp = first.encrypt(block)[0] >> 7
            mask[position / 8] |= otp << (7 - position % 8)
        }
        let mapped = zip(value, mask).map { $0 ^ $1 }
        if address.isIPv4 {
            return IPAddress(bytes: Array(address.bytes[0..<12]) + mapped)
        }
        return IPAddress(bytes: mapped)
    }
}
