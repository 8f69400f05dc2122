import DRBase
import DRCrypto

/// Reads an S3 target's credentials file: a TOML file of mode 0600 (or a systemd credential)
/// holding `access_key_id`, `secret_access_key` and, for temporary credentials,
/// `session_token`.
///
/// The file is read straight into locked memory and parsed there: the secret key goes from
/// that buffer into its own `SecureBytes` and never exists as a `String` or a Swift array.
/// That is why this is not the configuration's TOML parser (which builds `String`s): it
/// accepts the subset a credentials file needs — `key = "value"` or `key = 'value'` lines,
/// comments and blank lines — and every error names the file and line but never a value.
package enum S3CredentialsFile {
    package static let keys = ["access_key_id", "secret_access_key", "session_token"]

    /// - Parameters:
    ///   - path: the file (`credentials_file`, or `$CREDENTIALS_DIRECTORY/NAME`).
    ///   - target: the target's name, for messages.
    package static func load(path: String, target: String) throws(TransportError) -> SigV4Credentials {
        let contents: SecureBytes
        do {
            contents = try SecureBytes.readSecretFile(path: path, purpose: "credentials file of target \(target)",
                                                      trimTrailingNewline: false)
        } catch {
            let reason = (error as? any DRError)?.message ?? "\(error)"
            throw TransportError(.targetCredentials, message: "target \(target): \(reason)",
                                 context: ErrorContext(target: target, file: path))
        }
        return try parse(contents, path: path, target: target)
    }

    static func parse(_ contents: borrowing SecureBytes, path: String, target: String) throws(TransportError) -> SigV4Credentials {
        let found: Found = try contents.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(TransportError) -> Found in
            var scanner = Scanner(bytes: raw, path: path, target: target)
            return try scanner.scan()
        }
        func fail(_ text: String) -> TransportError {
            TransportError(.targetCredentials, message: "target \(target): credentials file \(path): \(text)",
                           context: ErrorContext(target: target, file: path))
        }
        guard let idRange = found.ranges["access_key_id"] else {
            throw fail("no access_key_id; expected access_key_id = \"…\" and secret_access_key = \"…\" (and session_token = \"…\" for temporary credentials)")
        }
        guard let secretRange = found.ranges["secret_access_key"] else {
            throw fail("no secret_access_key; expected access_key_id = \"…\" and secret_access_key = \"…\"")
        }
        var secret: SecureBytes
        do { secret = try SecureBytes(count: secretRange.count) } catch { throw fail(error.message) }
        let accessKeyID: String = contents.withUnsafeBytes { String(decoding: $0[idRange], as: UTF8.self) }
        let token: String? = found.ranges["session_token"].map { range in
            contents.withUnsafeBytes { String(decoding: $0[range], as: UTF8.self) }
        }
        contents.withUnsafeBytes { source in
            secret.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[secretRange])) }
        }
        // An access key id is printable ASCII without spaces (AWS: 16–128 [A-Z0-9]); anything
        // else is more likely a pasted secret in the wrong field: refuse without echoing it.
        guard accessKeyID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw fail("access_key_id holds spaces or characters outside printable ASCII; is a secret in the wrong field?")
        }
        return SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: token)
    }

    struct Found {
        var ranges: [String: Range<Int>] = [:]
    }

    /// A line scanner over the file's bytes in locked memory; records where each value is.
    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        let path: String
        let target: String
        var index = 0
        var line = 1

        init(bytes: UnsafeRawBufferPointer, path: String, target: String) {
            self.bytes = bytes
            self.path = path
            self.target = target
        }

        func fail(_ text: String) -> TransportError {
            TransportError(.targetCredentials, message: "target \(target): credentials file \(path) line \(line): \(text)",
                           context: ErrorContext(target: target, file: path, line: line))
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipBlanks() {
            while let byte = current, byte == 0x20 || byte == 0x09 { index += 1 }
        }

        /// Past a comment, then the end of the line (or of the file).
        mutating func endOfLine() throws(TransportError) {
            skipBlanks()
            if current == UInt8(ascii: "#") {
                while let byte = current, byte != 0x0a { index += 1 }
            }
            if current == 0x0d { index += 1 }
            guard let byte = current else { return }
            guard byte == 0x0a else { throw fail("unexpected text after the value; one key = \"value\" per line") }
            index += 1
            line += 1
        }

        mutating func scan() throws(TransportError) -> Found {
            var found = Found()
            while index < bytes.count {
                skipBlanks()
                guard let byte = current else { break }
                if byte == 0x0a || byte == 0x0d || byte == UInt8(ascii: "#") {
                    try endOfLine()
                    continue
                }
                let keyStart = index
                while let byte = current, Self.isBareKey(byte) { index += 1 }
                guard index > keyStart else {
                    throw fail("expected a key (access_key_id, secret_access_key or session_token); this file holds only key = \"value\" lines and comments")
                }
                let key = String(decoding: bytes[keyStart..<index], as: UTF8.self)
                guard S3CredentialsFile.keys.contains(key) else {
                    throw fail("unknown key \(key): expected access_key_id, secret_access_key or session_token")
                }
                guard found.ranges[key] == nil else { throw fail("\(key) is set twice") }
                skipBlanks()
                guard current == UInt8(ascii: "=") else { throw fail("expected = after \(key)") }
                index += 1
                skipBlanks()
                guard let quote = current, quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                    throw fail("the value of \(key) must be a quoted string: \(key) = \"…\"")
                }
                index += 1
                let valueStart = index
                while let byte = current, byte != quote {
                    if byte == 0x0a || byte == 0x0d { throw fail("the value of \(key) has no closing quote on its line") }
                    // Credentials are base64 or alphanumeric: no escapes are needed, and a
                    // backslash read literally would silently sign with the wrong secret.
                    if byte == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                        throw fail("the value of \(key) holds a backslash; write it in single quotes ('…') so it is taken literally")
                    }
                    if byte < 0x20 || byte == 0x7f { throw fail("the value of \(key) holds a control character") }
                    index += 1
                }
                guard current == quote else { throw fail("the value of \(key) has no closing quote") }
                guard index > valueStart else { throw fail("\(key) is empty") }
                found.ranges[key] = valueStart..<index
                index += 1
                try endOfLine()
            }
            return found
        }

        static func isBareKey(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}
