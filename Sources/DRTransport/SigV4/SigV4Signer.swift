package import DRCrypto
import DRBase

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for requests signed in the Authorization
/// header, as S3 and S3-compatible servers (SeaweedFS, radosgw) check it.
///
/// Implemented here rather than left to curl: curl's built-in signer does not send
/// `x-amz-content-sha256`, which radosgw requires. Proven against AWS's published test
/// suite and the S3 documentation's worked examples (Tests/DRTransportTests).
package struct SigV4Signer: Sendable {
    package let credentials: SigV4Credentials
    package let region: String
    package let service: String
    package let rules: SigV4URIRules

    package static let algorithm = "AWS4-HMAC-SHA256"

    package init(credentials: SigV4Credentials, region: String, service: String = "s3",
                 rules: SigV4URIRules = .s3) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.rules = rules
    }

    /// `20150830/us-east-1/s3/aws4_request`.
    package func credentialScope(_ time: SigV4Timestamp) -> String {
        "\(time.dateStamp)/\(region)/\(service)/aws4_request"
    }

    /// Signs `request` at `time`.
    ///
    /// The signer owns the headers that carry the signature's own inputs: any `x-amz-date`,
    /// `x-amz-content-sha256`, `x-amz-security-token` or `authorization` in the request is
    /// replaced by the signer's, so that what is signed and what is sent cannot differ.
    /// Under S3 rules `x-amz-content-sha256` is always sent and signed (radosgw requires
    /// it); the session token, when there is one, is always signed too.
    /// - Precondition: the request has a `host` header (SigV4 requires it signed).
    /// - Throws: `CryptoError` only when secure memory for the derived keys is exhausted.
    package func sign(_ request: SigV4Request, at time: SigV4Timestamp) throws(CryptoError) -> SigV4Signature {
        try sign(request, at: time, key: signingKey(dateStamp: time.dateStamp))
    }

    /// `sign(_:at:)` with the day's signing key derived once by the caller
    /// (`signingKey(dateStamp:)` of `time.dateStamp`): the derivation is four HMACs in fresh
    /// secure memory, which a client sending hundreds of requests should not repeat for each.
    package func sign(_ request: SigV4Request, at time: SigV4Timestamp, key: borrowing SecureBytes) throws(CryptoError) -> SigV4Signature {
        let owned: Set<String> = ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization"]
        var headers = request.headers.filter { !owned.contains(SigV4Encoding.asciiLowercased($0.name)) }
        precondition(headers.contains { SigV4Encoding.asciiLowercased($0.name) == "host" },
                     "a SigV4 request needs a host header")
        var added: [(name: String, value: String)] = [("x-amz-date", time.amzDate)]
        if rules == .s3 { added.append(("x-amz-content-sha256", request.payload.headerValue)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        headers += added

        let canonicalHeaders = SigV4Encoding.canonicalHeaders(headers)
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            request.method,
            SigV4Encoding.canonicalURI(request.path, rules: rules),
            SigV4Encoding.canonicalQuery(request.query),
            canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            request.payload.headerValue,
        ].joined(separator: "\n")

        let scope = credentialScope(time)
        let stringToSign = [Self.algorithm, time.amzDate, scope,
                            SHA256.hexDigest(utf8: canonicalRequest)].joined(separator: "\n")
        let signature = Hex.encode(try HMACSHA256.authenticate(Array(stringToSign.utf8), key: key))
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return SigV4Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign,
                              signedHeaders: signedHeaders, signature: signature,
                              authorization: authorization,
                              headers: added + [("authorization", authorization)])
    }

    /// The signing key of a day: HMAC chain over "AWS4" + secret, date, region, service and
    /// `aws4_request`. Every link stays in secure memory; the secret is read in place.
    package func signingKey(dateStamp: String) throws(CryptoError) -> SecureBytes {
        let prefix = Array("AWS4".utf8)
        var first = try SecureBytes(count: prefix.count + credentials.secretAccessKey.count)
        first.withUnsafeMutableBytes { out in
            out.copyBytes(from: prefix)
            credentials.secretAccessKey.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: raw)
            }
        }
        let date = try HMACSHA256.deriveKey(Array(dateStamp.utf8), key: first)
        let regionKey = try HMACSHA256.deriveKey(Array(region.utf8), key: date)
        let serviceKey = try HMACSHA256.deriveKey(Array(service.utf8), key: regionKey)
        return try HMACSHA256.deriveKey(Array("aws4_request".utf8), key: serviceKey)
    }
}

/// The result of signing: the intermediate texts (for tests and for diagnosing a
/// `SignatureDoesNotMatch`, whose response carries the server's canonical request) and
/// the headers to add to the request.
package struct SigV4Signature: Sendable {
    /// May contain the session token: never log it (see `description`).
    package let canonicalRequest: String
    package let stringToSign: String
    package let signedHeaders: String
    package let signature: String
    package let authorization: String
    /// `x-amz-date`, `x-amz-content-sha256` (S3 rules), `x-amz-security-token` (with a
    /// session token) and `authorization`, to send with the request's own headers.
    package let headers: [(name: String, value: String)]
}

extension SigV4Signature: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The signed header names and the signature: no header values (a session token).
    package var description: String { "SigV4Signature(signed headers \(signedHeaders), signature \(signature))" }
    package var debugDescription: String { description }
    package var customMirror: Mirror {
        Mirror(self, children: ["signedHeaders": signedHeaders, "signature": signature], displayStyle: .struct)
    }
}

extension SigV4Signer: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    package var description: String {
        "SigV4Signer(\(service) in \(region), \(credentials.description))"
    }
    package var debugDescription: String { description }
    package var customMirror: Mirror {
        Mirror(self, children: ["credentials": credentials.description, "region": region, "service": service],
               displayStyle: .struct)
    }
}
