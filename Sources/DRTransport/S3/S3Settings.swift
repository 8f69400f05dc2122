/// How requests name the bucket: in the path (`https://host/bucket/key`, what S3-compatible
/// servers expect) or in the host name (`https://bucket.host/key`, AWS's preferred form).
package enum S3Addressing: String, Sendable, Equatable {
    case path
    case virtualHost = "virtual"
}

/// Object Lock retention written on every object of a target whose bucket has Object Lock.
package struct S3Retention: Sendable, Equatable {
    package enum Mode: String, Sendable, Equatable {
        case compliance = "COMPLIANCE"
        case governance = "GOVERNANCE"
    }
    package var mode: Mode
    package var days: Int

    package init(mode: Mode, days: Int) {
        self.mode = mode
        self.days = days
    }
}

/// Everything an S3 target needs besides its credentials.
package struct S3Settings: Sendable, Equatable {
    package var targetName: String
    /// `https://host[:port][/base path]`.
    package var endpoint: String
    package var bucket: String
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    package var prefix: String
    package var region: String
    package var addressing: S3Addressing
    package var caFile: String?
    package var allowInsecureHTTP: Bool
    package var requestTimeoutMilliseconds: Int
    /// Bytes per second for all uploads to this target together; nil: no cap.
    package var uploadLimit: Int64?
    /// Requests in flight to this target at once.
    package var concurrency: Int
    /// Objects larger than this are uploaded in parts of this size (S3: 5 MiB to 5 GiB).
    package var partSize: Int
    package var retention: S3Retention?
    package var retry: RetryPolicy
    /// Keys per ListObjectsV2 page (S3's maximum, 1000; smaller in tests of pagination).
    package var listPageSize = 1000

    package init(targetName: String, endpoint: String, bucket: String, prefix: String, region: String,
                 addressing: S3Addressing = .path, caFile: String? = nil, allowInsecureHTTP: Bool = false,
                 requestTimeoutMilliseconds: Int = 120_000, uploadLimit: Int64? = nil, concurrency: Int = 4,
                 partSize: Int = 16 << 20, retention: S3Retention? = nil, retry: RetryPolicy = RetryPolicy()) {
        self.targetName = targetName
        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.addressing = addressing
        self.caFile = caFile
        self.allowInsecureHTTP = allowInsecureHTTP
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        self.uploadLimit = uploadLimit
        self.concurrency = max(1, concurrency)
        self.partSize = max(5 << 20, partSize)
        self.retention = retention
        self.retry = retry
    }

    /// `s3://bucket/prefix`, for messages.
    package var location: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }
}

/// Where requests go: scheme, host and base path from the endpoint, the bucket placed by the
/// addressing style. The `host` header is set from here and signed, so what is signed is
/// exactly what is sent.
struct S3Location: Sendable {
    let scheme: String
    /// Host with `:port` when one was given.
    let authority: String
    let basePath: String
    let bucket: String
    let prefix: String
    let addressing: S3Addressing

    init?(endpoint: String, bucket: String, prefix: String, addressing: S3Addressing) {
        let lower = endpoint.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        let rest = endpoint.dropFirst(scheme.count + 3)
        let authority = String(rest.prefix { $0 != "/" })
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var base = String(rest.dropFirst(authority.count))
        while base.hasSuffix("/") { base.removeLast() }
        self.scheme = scheme
        // Default ports are left out of the host header, as HTTP clients send it.
        var shown = authority.lowercased()
        if scheme == "https", shown.hasSuffix(":443") { shown.removeLast(4) }
        if scheme == "http", shown.hasSuffix(":80") { shown.removeLast(3) }
        self.authority = shown
        basePath = base
        self.bucket = bucket
        self.prefix = prefix
        self.addressing = addressing
    }

    /// The object key in the bucket of a repository object name.
    func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix)/\(name)" }

    /// The repository object name of a key under the prefix, or nil for a key outside it.
    func name(ofKey key: String) -> String? {
        if prefix.isEmpty { return key }
        guard key.hasPrefix(prefix + "/") else { return nil }
        return String(key.dropFirst(prefix.count + 1))
    }

    var host: String { addressing == .virtualHost ? "\(bucket).\(authority)" : authority }

    /// The unencoded path of a key (nil: the bucket itself).
    func path(key: String?) -> String {
        let bucketPart = addressing == .virtualHost ? "" : "/\(bucket)"
        guard let key else { return basePath + bucketPart + (bucketPart.isEmpty ? "/" : "") }
        return basePath + bucketPart + "/" + key
    }

    /// The URL of a signed request (path and query encoded as they were signed).
    func url(for request: SigV4Request) -> String {
        let query = request.encodedQuery
        return "\(scheme)://\(host)\(request.encodedPath)" + (query.isEmpty ? "" : "?\(query)")
    }
}
