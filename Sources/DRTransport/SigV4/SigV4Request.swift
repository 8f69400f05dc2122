/// Which URI rules a signature follows.
///
/// S3 differs from the other AWS services in its canonical URI: the path is used exactly as
/// the object key gives it (no removal of `.`/`..` segments, no merging of `//`, since
/// `a//b` and `a/./b` are distinct keys), each segment URI-encoded once. The generic rules
/// normalise the path first (RFC 3986 §5.2.4, empty segments merged), as AWS's generic test
/// suite expects; drctl itself only ever signs with `.s3`.
package enum SigV4URIRules: Sendable {
    case s3
    case generic
}

/// What `x-amz-content-sha256` and the last line of the canonical request say about the body.
package enum SigV4Payload: Sendable, Equatable {
    /// The lower-case hex SHA-256 of the body (a "signed payload": the server checks it).
    case sha256Hex(String)
    /// The literal `UNSIGNED-PAYLOAD`: the body is not covered by the signature (S3 allows
    /// it over TLS; drctl uses it only where there is no body it could hash beforehand).
    case unsigned

    /// The SHA-256 of the empty body (GET, HEAD, DELETE).
    package static let empty = SigV4Payload.sha256Hex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

    /// The value for the canonical request and the `x-amz-content-sha256` header.
    package var headerValue: String {
        switch self {
        case .sha256Hex(let hex): hex
        case .unsigned: "UNSIGNED-PAYLOAD"
        }
    }
}

/// One HTTP request to be signed, as the client will send it.
///
/// - `path` is the unencoded path (for S3 `/bucket/key` or `/key`, the key as stored, with
///   spaces, UTF-8 and reserved characters as they are); the signer encodes it, and
///   `encodedPath` gives the same encoding for the request line, so the two cannot differ.
/// - `query` holds unencoded names and values; a name without value is `("lifecycle", "")`.
/// - `headers` are every header that will be sent and signed, `host` included; repeated
///   names are allowed (their values are joined with `,` in order). The signer adds
///   `x-amz-date`, `x-amz-content-sha256` (S3 rules) and `x-amz-security-token`.
package struct SigV4Request: Sendable {
    package var method: String
    package var path: String
    package var query: [(name: String, value: String)]
    package var headers: [(name: String, value: String)]
    package var payload: SigV4Payload

    package init(method: String, path: String, query: [(name: String, value: String)] = [],
                 headers: [(name: String, value: String)], payload: SigV4Payload = .empty) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payload = payload
    }

    /// The path as it goes into the request line: each segment percent-encoded once, which
    /// is also what the S3 canonical URI holds.
    package var encodedPath: String { SigV4Encoding.canonicalURI(path, rules: .s3) }

    /// The query as it goes into the request line (sorted, encoded like the signature's).
    package var encodedQuery: String { SigV4Encoding.canonicalQuery(query) }
}
