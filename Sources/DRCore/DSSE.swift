import DRBase
import DRCrypto
import Foundation

/// A DSSE envelope (Dead Simple Signing Envelope, protocol v1, secure-systems-lab/dsse): the
/// signature covers PAE(payloadType, payload), never the JSON around it, so that a verifier
/// needs no canonical JSON. docs/AUDIT.md gives the format an independent verifier follows.
package struct DSSEEnvelope: Sendable, Equatable {
    package struct Signature: Sendable, Codable, Equatable {
        /// A hint only (the key's fingerprint): a verifier decides by its pinned key.
        package var keyid: String
        /// Base64 (standard alphabet, padded) of the 64-byte Ed25519 signature.
        package var sig: String
        package init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    package var payloadType: String
    package var payload: [UInt8]
    package var signatures: [Signature]

    package init(payloadType: String, payload: [UInt8], signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes,
    /// decimal without leading zeros.
    package static func pae(type: String, body: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return Array("DSSEv1 \(typeBytes.count) ".utf8) + typeBytes + Array(" \(body.count) ".utf8) + body
    }

    /// An envelope signed by `signer`, or with no signature when there is none (the
    /// configuration has no signing key; `verify` then names the report as unsigned).
    package static func sign(payloadType: String, payload: [UInt8], signer: DrillSigner?) -> DSSEEnvelope {
        var signatures: [Signature] = []
        if let signer {
            let sig = signer.key.sign(pae(type: payloadType, body: payload))
            signatures.append(Signature(keyid: signer.keyid, sig: Base64.encode(sig)))
        }
        return DSSEEnvelope(payloadType: payloadType, payload: payload, signatures: signatures)
    }

    /// Whether any signature verifies under `publicKey` (keyid is not consulted: it is a hint,
    /// and an attacker can write any).
    package func isSigned(by publicKey: [UInt8]) -> Bool {
        let message = Self.pae(type: payloadType, body: payload)
        return signatures.contains { signature in
            guard let bytes = Self.base64(signature.sig) else { return false }
            return Ed25519.verify(signature: bytes, message: message, publicKey: publicKey)
        }
    }

    /// The stored form: compact JSON, sorted keys, one final newline. What is hashed for the
    /// chain is the file's exact bytes, whatever a reader thinks of the JSON.
    package func encoded() throws(CoreError) -> [UInt8] {
        let wire = Wire(payload: Base64.encode(payload), payloadType: payloadType, signatures: signatures)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(wire)) + [UInt8(ascii: "\n")]
        } catch {
            throw CoreError(.internalDefect, message: "a DSSE envelope could not be encoded: \(error)")
        }
    }

    /// Parses an envelope; nil when it is not JSON of the DSSE shape or its base64 is invalid.
    /// Unknown fields are ignored, both base64 alphabets accepted, as the spec asks.
    package static func decode(_ bytes: [UInt8]) -> DSSEEnvelope? {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(bytes)),
              let payload = base64(wire.payload) else { return nil }
        return DSSEEnvelope(payloadType: wire.payloadType, payload: payload, signatures: wire.signatures)
    }

    static func base64(_ text: String) -> [UInt8]? {
        Base64.decode(text) ?? Base64.decode(text, alphabet: .urlSafe)
    }

    private struct Wire: Codable {
        var payload: String
        var payloadType: String
        var signatures: [Signature]
    }
}

/// The drill signing key, loaded once for a report and its heads.
package final class DrillSigner: Sendable {
    let key: Ed25519SigningKey
    package let publicKey: [UInt8]
    package let keyid: String

    /// Loads `[drill] signing_key_file` (a 32-byte seed, mode 0600).
    package init(seedFile path: String) throws(CoreError) {
        do {
            key = try Ed25519SigningKey.load(seedFile: path)
        } catch {
            throw CoreError(error)
        }
        publicKey = key.publicKey
        keyid = DrillSigningKey.fingerprint(publicKey)
    }
}

/// The drill signing key's public half and its fingerprint.
package enum DrillSigningKey {
    /// keyid: the lower-case hex SHA-256 of the raw 32-byte public key.
    package static func fingerprint(_ publicKey: [UInt8]) -> String {
        SHA256.hexDigest(publicKey)
    }

    /// The public key of `[drill] signing_key_file` (a 32-byte seed, mode 0600).
    package static func publicKey(seedFile path: String) throws(CoreError) -> [UInt8] {
        try DrillSigner(seedFile: path).publicKey
    }

    /// The text form of a public key file (what `report public-key` prints): comment lines
    /// starting with `#`, and one line of 64 hex digits.
    package static func publicKeyFileText(_ publicKey: [UInt8]) -> String {
        "# drctl drill report public key (Ed25519), keyid \(fingerprint(publicKey))\n\(Hex.encode(publicKey))\n"
    }

    /// Reads a public key file: the first line that is not empty and not a `#` comment must
    /// be 64 hex digits.
    package static func readPublicKeyFile(_ path: String) throws(CoreError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CoreError(.reportNoPublicKey, message: "public key file \(path) cannot be read (does it exist?); write one with drctl report public-key > FILE on the signing host",
                            context: ErrorContext(file: path))
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let line, line.count == 64, let key = Hex.decode(line) else {
            throw CoreError(.reportPublicKey, message: "public key file \(path) does not hold a line of 64 hex digits (an Ed25519 public key, as drctl report public-key prints it)",
                            context: ErrorContext(file: path))
        }
        return key
    }
}
