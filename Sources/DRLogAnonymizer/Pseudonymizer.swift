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
    /// Recent tokens by kind and (lower-cased) value: mail logs repeat the same few thousand.
    private var tokens: [[UInt8]: [UInt8]] = [:]
    private static let cacheLimit = 1 << 16

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
    func token(_ kind: TokenKind, _ value: UnsafeBufferPointer<UInt8>, prefix: String) -> [UInt8] {
        var lookup = [UInt8]()
        lookup.reserveCapacity(value.count + 1)
        lookup.append(kind.rawValue)
        for byte in value { lookup.append(byte.lowercased) }
        if let known = tokens[lookup] { return known }
        let digest = hash(lookup)
        var text = Array(prefix.utf8)
        let digits = Array("0123456789abcdef".utf8)
        for byte in digest.prefix(6) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        remember(lookup, text)
        return text
    }

    /// A session id of the same length in the same (base64) alphabet: the ids stay linkable
    /// within the day, and no longer encode the client's address and port.
    func sessionToken(_ value: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var lookup = [TokenKind.session.rawValue]
        lookup.append(contentsOf: value)
        if let known = tokens[lookup] { return known }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var text: [UInt8] = []
        var digest: [UInt8] = []
        while text.count < value.count {
            digest = hash(lookup + digest)
            for byte in digest where text.count < value.count { text.append(alphabet[Int(byte & 63)]) }
        }
        remember(lookup, text)
        return text
    }

    private func hash(_ data: [UInt8]) -> [UInt8] {
        // Fails only for key or output lengths out of range; the token key is 32 bytes.
        (try? Blake2b.hash(data, key: tokenKey, outputLength: 32)) ?? [UInt8](repeating: 0, count: 32)
    }

    private func remember(_ key: [UInt8], _ value: [UInt8]) {
        if tokens.count >= Self.cacheLimit { tokens.removeAll(keepingCapacity: true) }
        tokens[key] = value
    }
}
