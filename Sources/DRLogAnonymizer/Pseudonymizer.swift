import DRConfig
import DRCrypto
import DRIPPseudonym

/// The methods, per kind of personal data, with their caches: IP addresses through a keyed
/// prefix-preserving map or truncation; addresses, usernames and session ids through keyed
/// BLAKE2b tokens (stable while the key is, i.e. within one day); secrets through a marker.
final class Pseudonymizer {
    let options: Configuration.Logs.Anonymization
    private let prefixPreserving: PrefixPreservingPseudonyms?
    private let tokenKey: SecureBytes
    /// Recent tokens by a hash of kind and (lower-cased) value, the value kept to verify a hit:
    /// mail logs repeat the same few thousand, and hashing the bytes once here is much cheaper
    /// than a dictionary keyed by byte arrays.
    struct Cached {
        var value: [UInt8]
        var text: [UInt8]
    }

    /// A direct-mapped cache (as DRIPPseudonym's, but concrete, so that the hot lookups are
    /// not generic calls across modules): 2^18 slots, a newer token replacing an older one.
    struct TokenCache {
        private struct Entry {
            var key: UInt64 = 0
            var cached: Cached?
        }
        // Key and value side by side: a lookup touches one cache line, not two.
        private var entries = [Entry](repeating: Entry(), count: 1 << 18)

        @inline(__always) private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 46) }

        subscript(key: UInt64) -> Cached? {
            get {
                let index = slot(key)
                return entries[index].key == key ? entries[index].cached : nil
            }
            set {
                entries[slot(key)] = Entry(key: key, cached: newValue)
            }
        }
    }

    private var tokens = TokenCache()

    static let redacted = Array("[REDACTED]".utf8)

    init(options: Configuration.Logs.Anonymization, keys: borrowing LogPseudonymKeys) throws(LogAnonymizerError) {
        self.options = options
        do {
            tokenKey = try keys.token.copy()
        } catch {
            throw LogAnonymizerError(.keyUnusable, "the token key could not be copied into locked memory: \(error)")
        }
        switch options.ip {
        case .truncate:
            prefixPreserving = nil
        case .ipcryptPfx, .cryptoPan:
            let method: PrefixPreservingMethod = options.ip == .ipcryptPfx ? .ipcryptPfx : .cryptoPan
            // The AES key schedules are built from a short-lived copy, wiped right after.
            var raw = keys.ip.withUnsafeBytes { Array($0) }
            defer { for index in raw.indices { raw[index] = 0 } }
            do {
                prefixPreserving = try PrefixPreservingPseudonyms(method: method, key: raw)
            } catch {
                throw LogAnonymizerError(.keyUnusable, error == .equalHalves
                    ? "the IP key's two halves are equal, which makes ipcrypt-pfx the identity; make a new random key"
                    : "the IP key is not 32 bytes")
            }
        }
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

    enum TokenKind: UInt8 {
        case address = 0x61, username = 0x75, session = 0x73, wholeAddress = 0x77
    }

    /// `prefix` and 12 lower-case hex digits of keyed BLAKE2b over the kind and the lower-cased
    /// value (so `Jane@` and `jane@` link, as mail servers treat them alike).
    func token(_ kind: TokenKind, _ value: UnsafeBufferPointer<UInt8>, prefix: StaticString) -> [UInt8] {
        let key = ByteHash.of(value, seed: UInt64(kind.rawValue), lowercased: true)
        if let hit = tokens[key], hit.value.count == value.count + 1,
           hit.value.withUnsafeBufferPointer({ cached in (0..<value.count).allSatisfy { cached[$0 + 1] == value[$0].lowercased } }) {
            return hit.text
        }
        var lookup = [UInt8]()
        lookup.reserveCapacity(value.count + 1)
        lookup.append(kind.rawValue)
        for byte in value { lookup.append(byte.lowercased) }
        let digest = hash(lookup)
        var text = Array(UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        let digits = Array("0123456789abcdef".utf8)
        for byte in digest.prefix(6) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        remember(key, lookup, text)
        return text
    }

    /// A session id of the same length in the same (base64) alphabet: the ids stay linkable
    /// within the day, and no longer encode the client's address and port. Not cached: each
    /// connection has its own id, so a cache would only churn.
    func sessionToken(_ value: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var lookup = [TokenKind.session.rawValue]
        lookup.append(contentsOf: value)
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        // 32 bytes of digest give 32 characters (Dovecot's ids are 16 or 32); longer ones chain.
        var text: [UInt8] = []
        text.reserveCapacity(value.count)
        while text.count < value.count {
            for byte in hash(lookup) where text.count < value.count { text.append(alphabet.utf8Start[Int(byte & 63)]) }
            lookup.append(UInt8(truncatingIfNeeded: text.count))
        }
        return text
    }

    private func hash(_ data: [UInt8]) -> [UInt8] {
        // Fails only for key or output lengths out of range; the token key is 32 bytes.
        (try? Blake2b.hash(data, key: tokenKey, outputLength: 32)) ?? [UInt8](repeating: 0, count: 32)
    }

    private func remember(_ key: UInt64, _ value: [UInt8], _ text: [UInt8]) {
        tokens[key] = Cached(value: value, text: text)
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
