import DRBase
internal import DRLibcrypto

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
///
/// Both methods make output bit k a function of the key and the first k input bits only, so
/// each bit is computed on its own from the prefix before it (the PRF input of ipcrypt-pfx after
/// k rounds is the start block shifted left k bits with the k original bits below it; Crypto-PAn's
/// is the k bits followed by the pad's rest). That lets the pseudonyms of shared prefixes be
/// cached: mail logs repeat addresses and their /24 and /64 networks heavily. Not thread-safe
/// (the caches): one instance per stream.
package final class PrefixPreservingPseudonyms {
    private let method: PrefixPreservingMethod
    private let first: AES128Block
    /// ipcrypt-pfx: AES under the second key half. Crypto-PAn: unused.
    private let second: AES128Block?
    /// Crypto-PAn: AES_K(key[16..<32]) as a big-endian number.
    private let pad: UInt128

    /// Recent addresses and networks (2^18 slots each, about 13 MiB in all: constant memory).
    private let v4Addresses = DirectMappedCache<UInt32, UInt32>(log2Slots: 18)
    private let v4Prefixes = DirectMappedCache<UInt32, UInt32>(log2Slots: 16)
    private let v6Addresses = DirectMappedCache<UInt128, UInt128>(log2Slots: 16)
    private let v6Prefixes = DirectMappedCache<UInt64, UInt64>(log2Slots: 16)

    /// - Parameter key: 32 bytes (see docs/LOGS.md for how each method splits it).
    ///   It is read in place (the caller's locked memory: a `SecureBytes`), never copied into
    ///   ordinary memory; OpenSSL keeps the expanded AES key schedules in its own contexts.
    package init(method: PrefixPreservingMethod, key: UnsafeRawBufferPointer) throws(PseudonymKeyError) {
        guard key.count == 32, let first = AES128Block(key: UnsafeRawBufferPointer(rebasing: key[0..<16])) else {
            throw .length
        }
        self.method = method
        self.first = first
        switch method {
        case .ipcryptPfx:
            guard !(0..<16).allSatisfy({ key[$0] == key[$0 + 16] }) else { throw .equalHalves }
            second = AES128Block(key: UnsafeRawBufferPointer(rebasing: key[16..<32]))
            pad = 0
        case .cryptoPan:
            second = nil
            var seed: UInt128 = 0
            for index in 16..<32 { seed = seed << 8 | UInt128(key[index]) }
            pad = first.encrypt(seed)
        }
    }

    package func pseudonym(of address: IPAddress) -> IPAddress {
        var value: UInt128 = 0
        for byte in address.bytes { value = value << 8 | UInt128(byte) }
        let mapped: UInt128
        if address.isIPv4 {
            mapped = UInt128(0xFFFF) << 32 | UInt128(pseudonymIPv4(UInt32(truncatingIfNeeded: value)))
        } else {
            mapped = pseudonymIPv6(value)
        }
        return IPAddress(bytes: (0..<16).map { UInt8(truncatingIfNeeded: mapped >> (8 * (15 - $0))) })
    }

    /// Requests the cache line `pseudonymIPv4(address)` reads first (see DirectMappedCache.touch).
    @inline(__always)
    package func touchIPv4(_ address: UInt32) -> UInt64 { v4Addresses.touch(address) }

    /// Requests the cache line `pseudonymIPv6(address)` reads first.
    @inline(__always)
    package func touchIPv6(_ address: UInt128) -> UInt64 { v6Addresses.touch(address) }

    /// The pseudonym of an IPv4 address given as a 32-bit number (first octet most significant).
    package func pseudonymIPv4(_ address: UInt32) -> UInt32 {
        if let known = v4Addresses[address] { return known }
        let network = address >> 8
        let top: UInt32
        if let known = v4Prefixes[network] {
            top = known
        } else {
            top = mask(UInt128(address), bits: 32, from: 0, to: 24, ipv4: true)
            v4Prefixes[network] = top
        }
        let low: UInt32 = mask(UInt128(address), bits: 32, from: 24, to: 32, ipv4: true)
        let result = address ^ (top | low)
        v4Addresses[address] = result
        return result
    }

    /// The pseudonym of an IPv6 address given as a 128-bit number (first byte most significant).
    package func pseudonymIPv6(_ address: UInt128) -> UInt128 {
        if let known = v6Addresses[address] { return known }
        let network = UInt64(truncatingIfNeeded: address >> 64)
        let top: UInt64
        if let known = v6Prefixes[network] {
            top = known
        } else {
            let high: UInt128 = mask(address, bits: 128, from: 0, to: 64, ipv4: false)
            top = UInt64(truncatingIfNeeded: high >> 64)
            v6Prefixes[network] = top
        }
        let low: UInt128 = mask(address, bits: 128, from: 64, to: 128, ipv4: false)
        let result = address ^ (UInt128(top) << 64 | low)
        v6Addresses[address] = result
        return result
    }

    /// The XOR mask's bits `from..<to` (counted from the most significant of `bits`), placed
    /// where they apply in a `bits`-wide number. Each bit's PRF input depends only on the
    /// address bits before it, so all inputs are built first and encrypted in one call per key.
    private func mask<T: FixedWidthInteger>(_ address: UInt128, bits: Int, from: Int, to: Int, ipv4: Bool) -> T {
        let count = to - from
        guard count > 0 else { return 0 }
        // Inputs and both ciphers' outputs on the stack (at most 3 × 128 blocks, 6 KiB): no heap
        // array, no generic metadata lookup per miss.
        return withUnsafeTemporaryAllocation(of: UInt128.self, capacity: 3 * count) { buffer in
            let inputs = buffer.baseAddress!
            let first = inputs + count
            let second = first + count
            for k in from..<to { inputs[k - from] = block(address, bits: bits, k: k, ipv4: ipv4).bigEndian }
            self.first.encrypt(inputs, into: first, count: count)
            if let cipher = self.second { cipher.encrypt(inputs, into: second, count: count) }
            var result: UInt128 = 0
            for k in from..<to {
                let one = UInt128(bigEndian: first[k - from])
                let set: Bool
                switch method {
                // ipcrypt-pfx: the least significant bit of AES(K1, p) XOR AES(K2, p).
                case .ipcryptPfx: set = (one ^ UInt128(bigEndian: second[k - from])) & 1 == 1
                // Crypto-PAn: the most significant bit of AES(K, input).
                case .cryptoPan: set = one >> 127 == 1
                }
                if set { result |= 1 << (bits - 1 - k) }
            }
            return T(truncatingIfNeeded: result)
        }
    }

    /// The PRF input for output bit k: a function of the first k bits of `address`.
    private func block(_ address: UInt128, bits: Int, k: Int, ipv4: Bool) -> UInt128 {
        let prefix: UInt128 = k == 0 ? 0 : address >> (bits - k)
        switch method {
        case .ipcryptPfx:
            // ipcrypt-pfx (draft-denis-ipcrypt): IPv4 starts from byte 3 = 01 and bytes 14–15 =
            // ff ff, IPv6 from byte 15 = 01; after k rounds that start is shifted left k bits and
            // the k original bits fill the bottom.
            let start: UInt128 = ipv4 ? (1 << 96 | 0xFFFF) : 1
            return start << k | prefix
        case .cryptoPan:
            // Crypto-PAn: the first k address bits (at the top of the block), then the pad's rest.
            guard k > 0 else { return pad }
            let keep: UInt128 = ~UInt128(0) << (128 - k)
            return (prefix << (128 - k) & keep) | (pad & ~keep)
        }
    }
}
