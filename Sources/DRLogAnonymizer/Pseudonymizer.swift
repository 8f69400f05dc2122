import DRConfig
import DRCrypto
import DRIPPseudonym

/// The methods, per kind of personal data, with their caches: IP addresses through a keyed
/// prefix-preserving map or truncation; addresses, usernames and session ids through keyed
/// BLAKE2b tokens (stable while the key is, i.e. within one day); secrets through a marker.
final class Pseudonymizer {
    let options: Configuration.Logs.Anonymization
    private let prefixPreserving: PrefixPreservingPseudonyms?
    /// Keyed BLAKE2b under the token key, its key block compressed once (DRCrypto keeps the
    /// key-equivalent state in secure memory): every token and session id is one hash.
    private let tokenHasher: Blake2bKeyedState
    /// Recent tokens, direct-mapped (a newer token replacing an older one in its slot: constant
    /// memory), 2^18 slots of one 64-byte cache line each, so that a lookup touches one line:
    /// bytes 0–7 the FNV key, 8 the value's length + 1 (0: empty), 9–14 the token's six digest
    /// bytes, 15 the kind, 16–63 the lower-cased value (at most 48 bytes; longer values are
    /// hashed every time). Bytes 15 ..< 16 + length are exactly BLAKE2b's input, so a miss
    /// builds it in place. Mail logs repeat the same users and addresses all day.
    private let slots: UnsafeMutableRawPointer
    private static let slotBits = 18
    private static let slotSize = 64
    private static let longestCached = 48

    static let redacted = Array("[REDACTED]".utf8)

    init(options: Configuration.Logs.Anonymization, keys: borrowing LogPseudonymKeys) throws(LogAnonymizerError) {
        self.options = options
        do {
            tokenHasher = try Blake2bKeyedState(key: keys.token, outputLength: 32)
        } catch {
            throw LogAnonymizerError(.keyUnusable, "the token key could not be copied into locked memory: \(error)")
        }
        switch options.ip {
        case .truncate:
            prefixPreserving = nil
        case .ipcryptPfx, .cryptoPan:
            let method: PrefixPreservingMethod = options.ip == .ipcryptPfx ? .ipcryptPfx : .cryptoPan
            do {
                // Read in place from locked memory: no copy of the key in ordinary memory.
                prefixPreserving = try keys.ip.withUnsafeBytes { raw throws(PseudonymKeyError) in
                    try PrefixPreservingPseudonyms(method: method, key: raw)
                }
            } catch {
                throw LogAnonymizerError(.keyUnusable, error == .equalHalves
                    ? "the IP key's two halves are equal, which makes ipcrypt-pfx the identity; make a new random key"
                    : "the IP key is not 32 bytes")
            }
        }
        // Last, so that a refused key leaves nothing allocated.
        // Zero-filled (an all-zero slot is empty: its length byte is 0), on huge pages where
        // the kernel gives them (a lookup at random in 16 MiB then seldom misses the TLB).
        slots = CacheMemory.allocate(byteCount: Self.slotSize << Self.slotBits)
    }

    func ipv4(_ address: UInt32) -> UInt32 {
        if let prefixPreserving { return prefixPreserving.pseudonymIPv4(address) }
        let bits = options.ipv4Prefix
        return bits == 0 ? 0 : address & (UInt32.max << (32 - bits))
    }

    func ipv6(_ address: UInt128) -> UInt128 {
        if let prefixPreserving { return prefixPreserving.pseudonymIPv6(address) }
        let bits = options.ipv6Prefix
        return bits == 0 ? 0 : address & (UInt128.max << (128 - bits))
    }

    /// Requests the cache line that `ipv4(address)` reads (nothing for truncation); the result
    /// is to be folded into a value the caller keeps, so that the load stays.
    @inline(__always) func touchIPv4(_ address: UInt32) -> UInt64 {
        prefixPreserving?.touchIPv4(address) ?? 0
    }

    @inline(__always) func touchIPv6(_ address: UInt128) -> UInt64 {
        prefixPreserving?.touchIPv6(address) ?? 0
    }

    /// Requests the token cache line `appendToken(kind, value, …)` reads.
    @inline(__always) func touchToken(_ kind: TokenKind, _ value: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard value.count <= Self.longestCached else { return 0 }
        return slot(ByteHash.of(value, seed: UInt64(kind.rawValue), lowercased: true)).load(as: UInt64.self)
    }

    /// The token cache slot of FNV key `key`.
    @inline(__always) private func slot(_ key: UInt64) -> UnsafeMutableRawPointer {
        slots + (Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - Self.slotBits)) * Self.slotSize)
    }

    enum TokenKind: UInt8 {
        case address = 0x61, username = 0x75, session = 0x73, wholeAddress = 0x77
    }

    deinit { CacheMemory.release(slots, byteCount: Self.slotSize << Self.slotBits) }

    /// Appends `prefix` and 12 lower-case hex digits of keyed BLAKE2b over the kind and the
    /// lower-cased value (so `Jane@` and `jane@` link, as mail servers treat them alike).
    func appendToken(_ kind: TokenKind, _ value: UnsafeBufferPointer<UInt8>, prefix: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        let key = ByteHash.of(value, seed: UInt64(kind.rawValue), lowercased: true)
        let digest: UnsafeMutableRawPointer
        if value.count <= Self.longestCached {
            let slot = slot(key)
            digest = slot + 9
            if !(slot.load(as: UInt64.self) == key && slot.load(fromByteOffset: 8, as: UInt8.self) == UInt8(value.count + 1)
                 && slot.load(fromByteOffset: 15, as: UInt8.self) == kind.rawValue && Self.equalLowercased(slot + 16, value)) {
                // A miss: the slot takes the new value and its digest.
                slot.storeBytes(of: key, as: UInt64.self)
                slot.storeBytes(of: UInt8(value.count + 1), toByteOffset: 8, as: UInt8.self)
                slot.storeBytes(of: kind.rawValue, toByteOffset: 15, as: UInt8.self)
                let stored = (slot + 16).assumingMemoryBound(to: UInt8.self)
                for index in 0..<value.count { stored[index] = value[index].lowercased }
                hash(UnsafeRawBufferPointer(start: slot + 15, count: value.count + 1), first: 6, into: digest)
            }
            Self.appendHex(digest, count: 6, to: &out)
        } else {
            withUnsafeTemporaryAllocation(byteCount: value.count + 1 + 6, alignment: 8) { buffer in
                let input = buffer.baseAddress! + 6
                input.storeBytes(of: kind.rawValue, as: UInt8.self)
                for index in 0..<value.count { input.storeBytes(of: value[index].lowercased, toByteOffset: index + 1, as: UInt8.self) }
                hash(UnsafeRawBufferPointer(start: input, count: value.count + 1), first: 6, into: buffer.baseAddress!)
                Self.appendHex(buffer.baseAddress!, count: 6, to: &out)
            }
        }
    }

    @inline(__always)
    private static func equalLowercased(_ stored: UnsafeMutableRawPointer, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        let bytes = stored.assumingMemoryBound(to: UInt8.self)
        for index in 0..<value.count where bytes[index] != value[index].lowercased { return false }
        return true
    }

    private static func appendHex(_ bytes: UnsafeMutableRawPointer, count: Int, to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        // Written on the stack and appended once (an append per digit checks uniqueness and
        // capacity each time).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * count) { text in
            for index in 0..<count {
                let byte = bytes.load(fromByteOffset: index, as: UInt8.self)
                text[2 * index] = digits.utf8Start[Int(byte >> 4)]
                text[2 * index + 1] = digits.utf8Start[Int(byte & 15)]
            }
            out.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    /// Appends a session id of the same length in the same (base64) alphabet: the ids stay
    /// linkable within the day, and no longer encode the client's address and port. Not
    /// cached: each connection has its own id, so a cache would only churn.
    func appendSessionToken(_ value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        // 32 bytes of digest give 32 characters (Dovecot's ids are 16 or 32); longer ones chain,
        // the count written so far appended to the input each round.
        let rounds = (value.count + 31) / 32
        withUnsafeTemporaryAllocation(byteCount: 32 + 1 + value.count + rounds, alignment: 8) { buffer in
            let digest = buffer.baseAddress!
            let input = digest + 32
            input.storeBytes(of: TokenKind.session.rawValue, as: UInt8.self)
            for index in 0..<value.count { input.storeBytes(of: value[index], toByteOffset: index + 1, as: UInt8.self) }
            var length = value.count + 1
            var written = 0
            while written < value.count {
                hash(UnsafeRawBufferPointer(start: input, count: length), first: 32, into: digest)
                // The characters over the digest's own bytes, then appended at once.
                let characters = min(32, value.count - written)
                let text = digest.assumingMemoryBound(to: UInt8.self)
                for index in 0..<characters { text[index] = alphabet.utf8Start[Int(text[index] & 63)] }
                out.append(contentsOf: UnsafeBufferPointer(start: text, count: characters))
                written = min(written + 32, value.count)
                input.storeBytes(of: UInt8(truncatingIfNeeded: written), toByteOffset: length, as: UInt8.self)
                length += 1
            }
        }
    }

    /// The first `count` bytes of keyed BLAKE2b-256 (always 32 bytes of output: the tokens are
    /// its prefix) of `data`, into `out`.
    private func hash(_ data: UnsafeRawBufferPointer, first count: Int, into out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { digest in
            tokenHasher.hash(data, into: digest.baseAddress!)
            out.copyMemory(from: digest.baseAddress!, byteCount: count)
        }
    }
}

/// FNV-1a, 64 bits, over bytes (optionally lower-cased): cache keys and keyword lookups, never
/// anything secret (the tokens themselves are keyed BLAKE2b).
enum ByteHash {
    @inline(__always)
    static func of(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt64 = 0, lowercased: Bool) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in bytes {
            hash = (hash ^ UInt64(lowercased ? byte.lowercased : byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    static func of(_ text: String) -> UInt64 {
        Array(text.utf8).withUnsafeBufferPointer { of($0, lowercased: true) }
    }
}
