import DRBase
package import DRCrypto

/// The objects `drctl logs retain` writes beside the repository, under `logs/` on every target
/// (docs/REPOSITORY.md, "Retained logs"):
///
///     logs/<YYYY-MM-DD>/<64 hex digits>
///
/// The day is the UTC day whose log key anonymized the file; the hex name is the keyed
/// BLAKE2b-256 (subkey `logs-name`) of the original file's content (after decompression), so a
/// file retained twice — a re-run after a kill, or `mail.log.1` again as `mail.log.2.zst` — gets
/// the same name and is never stored twice, and the name says nothing about the content to
/// anyone without the repository key. The object is an envelope of kind "L" sealed with the
/// subkey `logs`, the associated data binding it to its own key; its plaintext is zstd, and
/// decompresses to one JSON header line and then the anonymized log lines.
package final class RetainedLogKeys: Sendable {
    let seal: SecureBytes
    let name: SecureBytes

    init(master: borrowing SecureBytes) throws(RepositoryError) {
        do {
            seal = try KeyDerivation.subkey(from: master, purpose: "logs")
            name = try KeyDerivation.subkey(from: master, purpose: "logs-name")
        } catch {
            throw RepositoryError(error)
        }
    }

    /// A hasher that names an original file from its content, fed in pieces.
    package func nameHasher() throws(RepositoryError) -> Blake2bHasher {
        do { return try Blake2bHasher(key: name, outputLength: 32) } catch { throw RepositoryError(error) }
    }

    /// Seals an object's plaintext (already compressed) for its object key.
    package func seal(_ plaintext: [UInt8], key: String) throws(RepositoryError) -> [UInt8] {
        try ObjectEnvelope.seal(plaintext, kind: .retainedLog, name: key, key: seal)
    }

    /// Opens an object read from `target`; fails unless it is intact and belongs under `key`.
    package func open(_ bytes: [UInt8], key: String, target: String) throws(RepositoryError) -> [UInt8] {
        try ObjectEnvelope.open(bytes, kind: .retainedLog, name: key, target: target, key: seal)
    }
}

extension Repository {
    /// The keys of the retained logs, derived from this repository's master key.
    package func retainedLogKeys() throws(RepositoryError) -> RetainedLogKeys {
        try RetainedLogKeys(master: masterKey)
    }
}

/// The object keys of retained logs.
package enum RetainedLogName {
    package static let prefix = "logs/"

    package static func key(day: String, name: String) -> String { "\(prefix)\(day)/\(name)" }

    /// The day and hex name of `logs/<day>/<hex>`, or nil for anything else (a stray object is
    /// never read, deleted or counted).
    package static func parse(_ key: String) -> (day: String, name: String)? {
        guard key.hasPrefix(prefix) else { return nil }
        let parts = key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, LogDay.isValid(String(parts[0])), parts[1].count == 64,
              parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}
