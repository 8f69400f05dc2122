import DRBase
import DRCrypto

/// What `init`, `drctl targets` and every run learn about an S3 target before trusting it.
package struct S3TargetProbe: Sendable, Equatable, Codable {
    package enum ObjectLock: String, Sendable, Codable {
        /// The bucket has Object Lock enabled.
        case enabled
        /// The server supports it, the bucket does not have it.
        case disabled
        /// The server does not implement it.
        case unsupported
    }
    package var objectLock: ObjectLock
    /// What an anonymous (unsigned) request could do: "list", "read"; empty when nothing.
    package var anonymousAccess: [String]
}

extension S3ObjectStore {
    /// A signed one-key listing of the repository's prefix: proves the endpoint, the bucket,
    /// the credentials and the clock in one request, with the error that says which is wrong.
    package func checkAccess() throws(TransportError) {
        let query: [(name: String, value: String)] = [("list-type", "2"), ("max-keys", "1"), ("prefix", client.location.key(""))]
        let response = try client.send(.init(method: "GET", key: nil, query: query, purpose: "first listing"))
        guard response.status == 200 else { throw failure(response, key: nil, doing: "first listing of the bucket") }
    }

    /// Whether the bucket has Object Lock (GetObjectLockConfiguration).
    package func probeObjectLock() throws(TransportError) -> S3TargetProbe.ObjectLock {
        let response = try client.send(.init(method: "GET", key: nil, query: [("object-lock", "")], purpose: "Object Lock probe"))
        if response.status == 200 {
            let root = try? S3XML.parse(response.body)
            return root?.text(of: "ObjectLockEnabled") == "Enabled" ? .enabled : .disabled
        }
        let code = S3ErrorBody(response.body)?.code ?? ""
        if response.status == 501 || code == "NotImplemented" { return .unsupported }
        if response.status == 404 || code.hasPrefix("ObjectLockConfigurationNotFound") || code == "InvalidBucketState" {
            return .disabled
        }
        if response.status == 400 || response.status == 405 { return .unsupported }
        throw failure(response, key: nil, doing: "Object Lock probe")
    }

    /// Whether the server refuses a second PUT with `If-None-Match: *` (412). Writes one small
    /// probe object under the prefix (twice) and deletes it.
    package func probeConditionalWrites() throws(TransportError) -> Bool {
        let key = client.location.key("probe/if-none-match-\(Hex.encode(SecureRandom.bytes(8)))")
        let body = ArraySlice(Array("drctl probe: may be deleted\n".utf8))
        let headers: [(name: String, value: String)] = [("if-none-match", "*"), ("content-md5", Base64.encode(MD5.hash(body)))]
        let first = try client.send(.init(method: "PUT", key: key, headers: headers, body: body, purpose: "conditional-write probe"))
        guard first.status == 200 else { throw failure(first, key: key, doing: "conditional-write probe") }
        let second = try client.send(.init(method: "PUT", key: key, headers: headers, body: body, purpose: "conditional-write probe"))
        _ = try? client.send(.init(method: "DELETE", key: key, purpose: "removal of the probe object"))
        return second.status == 412
    }

    /// What anonymous requests can do: an unsigned listing of the bucket and an unsigned GET of
    /// the repository's `config`. A bucket that answers either is public: its objects are
    /// encrypted, but their number, sizes and times still tell an outsider about the store.
    package func probeAnonymousAccess() throws(TransportError) -> [String] {
        var allowed: [String] = []
        let list = try client.send(.init(method: "GET", key: nil, query: [("list-type", "2"), ("max-keys", "1")],
                                         anonymous: true, purpose: "anonymous listing probe"))
        if list.status == 200 { allowed.append("list") }
        let read = try client.send(.init(method: "GET", key: client.location.key("config"), maxResponseBytes: 1 << 20,
                                         anonymous: true, purpose: "anonymous read probe"))
        // A missing key answers 404 NoSuchKey only to someone allowed to read the bucket; a
        // private bucket answers 403 for missing and present keys alike.
        if read.status == 200 || (read.status == 404 && S3ErrorBody(read.body)?.code == "NoSuchKey") { allowed.append("read") }
        return allowed
    }
}
