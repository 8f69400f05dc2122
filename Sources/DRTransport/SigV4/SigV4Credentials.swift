package import DRCrypto

/// The credentials one S3 target signs with.
///
/// The secret access key lives in `SecureBytes` (locked memory, wiped on release) and is
/// read only to derive the first key of SigV4's chain. Nothing of the secret, and nothing of
/// the session token (a bearer credential), appears in `description`, `debugDescription`,
/// `dump()` or string interpolation: those all go through the redacting conformances below.
/// A class so that one copy of the secret serves every worker of a target.
package final class SigV4Credentials: Sendable {
    /// The access key id: not secret (it is sent in every Authorization header).
    package let accessKeyID: String
    /// The secret access key, never copied out of secure memory.
    let secretAccessKey: SecureBytes
    /// The session token of temporary credentials (STS), sent as `x-amz-security-token`.
    let sessionToken: String?

    /// - Parameter secretAccessKey: consumed; the caller keeps no copy.
    package init(accessKeyID: String, secretAccessKey: consuming SecureBytes, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Whether the credentials are temporary ones with a session token.
    package var hasSessionToken: Bool { sessionToken != nil }
}

extension SigV4Credentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key id and whether there is a token; never the secret or the token.
    package var description: String {
        "SigV4Credentials(access key id \(accessKeyID), secret redacted\(sessionToken == nil ? "" : ", session token redacted"))"
    }

    package var debugDescription: String { description }

    /// `dump()` and debuggers' mirrors would otherwise list the stored properties.
    package var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID, "secretAccessKey": "<redacted>",
                                "sessionToken": sessionToken == nil ? "none" : "<redacted>"],
               displayStyle: .class)
    }
}
