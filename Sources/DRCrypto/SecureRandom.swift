internal import CSodium

/// Unpredictable bytes for values that are not secret: nonces, salts, object ids.
///
/// Keys come from `SecureBytes.random(count:)` instead, which never leaves locked memory.
package enum SecureRandom {
    /// `count` bytes from the operating system's CSPRNG (getrandom(2), via libsodium).
    package static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "negative byte count")
        Sodium.require()
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            if count > 0, let base = buffer.baseAddress { randombytes_buf(base, count) }
            initialised = count
        }
    }
}

/// Comparisons whose running time does not depend on where the inputs differ.
package enum ConstantTime {
    /// True when `a` and `b` are byte-for-byte equal. Different lengths are unequal (the
    /// lengths themselves are not secret); equal lengths are compared with `sodium_memcmp`.
    package static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        Sodium.require()
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }
    }
}
