import DRBase

/// MD5 (RFC 1321), for S3 only: `Content-MD5` on uploads (S3 requires it, or a newer checksum
/// header that older servers lack, when an object is written under Object Lock) and the
/// comparison of a returned ETag with what was sent.
///
/// MD5 is broken for collision resistance and never authenticates anything here: the
/// repository's objects are authenticated by their AEAD tags and content addresses. It only
/// catches damage in transit and a server that stored other bytes than it was sent. libsodium
/// has no MD5, and one small function does not justify linking libcrypto for it.
package enum MD5 {
    package static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }

    package static func hash(_ data: ArraySlice<UInt8>) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }

    package static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476)
        let whole = data.count / 64 * 64
        var offset = 0
        while offset < whole {
            compress(&state, UnsafeRawBufferPointer(rebasing: data[offset..<offset + 64]))
            offset += 64
        }
        // The tail, 0x80, zeros to 56 mod 64, then the length in bits, little-endian.
        var tail = [UInt8](data[whole...])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        let bits = UInt64(data.count) &* 8
        for index in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index)))) }
        tail.withUnsafeBytes { bytes in
            for start in stride(from: 0, to: bytes.count, by: 64) {
                compress(&state, UnsafeRawBufferPointer(rebasing: bytes[start..<start + 64]))
            }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for word in [state.0, state.1, state.2, state.3] {
            for shift in stride(from: 0, to: 32, by: 8) { digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return digest
    }

    package static func hexDigest(_ data: [UInt8]) -> String { Hex.encode(hash(data)) }

    /// Base64 of the digest, as `Content-MD5` carries it.
    package static func base64Digest(_ data: ArraySlice<UInt8>) -> String { Base64.encode(hash(data)) }

    private static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]

    /// RFC 1321's table T: floor(abs(sin(i + 1)) × 2^32).
    private static let constants: [UInt32] = [
        0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
        0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
        0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
        0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
        0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
        0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
        0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
        0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
    ]

    private static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32), _ block: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { words in
            for index in 0..<16 {
                words[index] = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
            }
            var (a, b, c, d) = state
            constants.withUnsafeBufferPointer { table in
                for round in 0..<64 {
                    var f: UInt32
                    let g: Int
                    switch round >> 4 {
                    case 0: f = (b & c) | (~b & d); g = round
                    case 1: f = (d & b) | (~d & c); g = (5 &* round &+ 1) & 15
                    case 2: f = b ^ c ^ d; g = (3 &* round &+ 5) & 15
                    default: f = c ^ (b | ~d); g = (7 &* round) & 15
                    }
                    f = f &+ a &+ table[round] &+ words[g]
                    a = d
                    d = c
                    c = b
                    let shift = shifts[(round >> 4) << 2 | round & 3]
                    b = b &+ ((f << shift) | (f >> (32 - shift)))
                }
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
        }
    }
}
