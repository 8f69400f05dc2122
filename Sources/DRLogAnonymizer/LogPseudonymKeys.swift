package import DRCrypto

/// The keys one day's log anonymization uses, each 32 bytes in locked, zeroed memory.
///
/// Where they come from is the key store's business (a day key derived from the log master key
/// and that day's random salt, docs/LOGS.md "Keys"; or a raw key file for checking vectors);
/// the anonymizer only uses them, so that pseudonyms link within one day and not across days.
package struct LogPseudonymKeys: ~Copyable, Sendable {
    /// The IP method's key as the method takes it (ipcrypt-pfx: two AES-128 keys that must
    /// differ; Crypto-PAn: the AES key and the pad's seed).
    package let ip: SecureBytes
    /// The key of the keyed BLAKE2b that turns e-mail addresses, usernames and session ids into
    /// short tokens.
    package let token: SecureBytes

    package init(ip: consuming SecureBytes, token: consuming SecureBytes) {
        self.ip = ip
        self.token = token
    }
}
