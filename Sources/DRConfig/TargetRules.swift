/// What a target's name, url and endpoint must look like, apart from where they are written:
/// each rule returns the value, or the text of what is wrong, for the decoder to report at the
/// key's line.
package enum TargetRules {
    /// The text of a broken rule (without the section and key, which the decoder adds).
    struct Violation: Error {
        let text: String
    }

    /// Lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63:
    /// names appear in messages, commands and the repository's object names.
    static func isValidName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 63,
              ("a"..."z").contains(first) || ("0"..."9").contains(first) else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// `url` with the user-info part of its authority (`KEY:SECRET@`) replaced by `***@`, for
    /// every message that shows a URL: a secret key pasted into a URL must not be echoed to a
    /// terminal, a log or a CI transcript.
    package static func masked(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(rest[at...])
    }

    /// `s3://bucket/prefix` or `file:///absolute/path`.
    static func location(of rawURL: String) -> Result<Configuration.Target.Location, Violation> {
        let expected = "expected s3://bucket/prefix or file:///absolute/path"
        let url = masked(rawURL)
        if url != rawURL {
            return .failure(Violation(text: "\(quoted(url)): credentials do not belong in the target URL (they were not echoed here); put them in credentials_file, a file of mode 0600"))
        }
        if url.hasPrefix("file://") {
            let rest = String(url.dropFirst("file://".count))
            guard rest.hasPrefix("/") else {
                return .failure(Violation(text: "\(quoted(url)): a file URL needs an absolute path, with three slashes: file:///mnt/backup (file://HOST/… is not supported)"))
            }
            let path = Paths.normalize(rest)
            guard path != "/" else {
                return .failure(Violation(text: "\(quoted(url)): the root folder cannot be a target; name a folder, like file:///mnt/backup/drctl"))
            }
            return .success(.file(path: path))
        }
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst("s3://".count)
            let bucket = String(rest.prefix { $0 != "/" })
            let prefixPart = rest.dropFirst(bucket.count)
            if let why = bucketProblem(bucket) {
                return .failure(Violation(text: "\(quoted(url)): bucket \(quoted(bucket)) \(why)"))
            }
            let segments = prefixPart.split(separator: "/", omittingEmptySubsequences: false)
                .dropFirst() // the empty part before the first "/"
            let trimmed = segments.last == "" ? Array(segments.dropLast()) : Array(segments)
            if trimmed.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
                return .failure(Violation(text: "\(quoted(url)): the prefix must not contain empty, . or .. segments; \(expected)"))
            }
            return .success(.s3(bucket: bucket, prefix: trimmed.joined(separator: "/")))
        }
        if let schemeEnd = url.firstRange(of: "://") {
            return .failure(Violation(text: "\(quoted(url)): unsupported scheme \(quoted(String(url[..<schemeEnd.lowerBound]))) — \(expected)"))
        }
        return .failure(Violation(text: "\(quoted(url)) is not a URL: \(expected)"))
    }

    /// Why an S3 bucket name is invalid (AWS naming rules), or nil.
    static func bucketProblem(_ bucket: String) -> String? {
        let scalars = Array(bucket.unicodeScalars)
        let rules = "bucket names are 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
        guard (3...63).contains(scalars.count) else { return "has \(scalars.count) characters: \(rules)" }
        let allowed = scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
        guard allowed else { return "has characters that are not allowed: \(rules)" }
        guard let first = scalars.first, let last = scalars.last,
              first != "." && first != "-" && last != "." && last != "-" else { return "must start and end with a letter or digit: \(rules)" }
        if bucket.contains("..") { return "must not contain two adjacent periods" }
        let parts = bucket.split(separator: ".")
        if parts.count == 4 && parts.allSatisfy({ UInt8($0) != nil }) { return "must not look like an IP address" }
        if bucket.hasPrefix("xn--") { return "must not start with xn--" }
        return nil
    }

    /// Whether two targets store into the same place: the same folder, or the same bucket and
    /// prefix at the same endpoint. One bucket name at two providers (or two regions of one
    /// provider with their own endpoints) is two places.
    static func samePlace(_ a: Configuration.Target, _ b: Configuration.Target) -> Bool {
        guard a.location == b.location else { return false }
        guard a.location.isS3 else { return true }
        func endpoint(_ target: Configuration.Target) -> String {
            var text = (target.endpoint ?? "").lowercased()
            while text.hasSuffix("/") { text.removeLast() }
            return text
        }
        return endpoint(a) == endpoint(b)
    }

    /// Why an S3 endpoint URL is refused, or nil: https (plain http only when the target says
    /// `allow_insecure_http = true`, for a test server), a host, an optional port, no
    /// credentials, query or fragment.
    static func endpointProblem(_ rawText: String, allowInsecureHTTP: Bool = false) -> String? {
        let text = masked(rawText)
        if text != rawText {
            return "\(quoted(text)): credentials do not belong in the endpoint URL (they were not echoed here); put them in credentials_file"
        }
        let lower = text.lowercased()
        let isHTTPS = lower.hasPrefix("https://")
        guard isHTTPS || lower.hasPrefix("http://") else {
            return "\(quoted(text)): expected an https:// URL like \"https://s3.eu-central-1.example.net\""
        }
        let rest = lower.dropFirst(isHTTPS ? 8 : 7)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") {
            return "credentials do not belong in the endpoint URL; put them in credentials_file"
        }
        if rest.contains("?") || rest.contains("#") {
            return "\(quoted(text)): the endpoint must not have a query or fragment"
        }
        var host = Substring(authority)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                return "\(quoted(text)): unterminated IPv6 address: expected ]"
            }
            let after = host[host.index(after: close)...]
            port = after.hasPrefix(":") ? after.dropFirst() : (after.isEmpty ? nil : after)
            host = host[...close]
        } else if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else {
            return "\(quoted(text)): the endpoint has no host name"
        }
        if let port, UInt16(port).map({ $0 > 0 }) != true {
            return "\(quoted(text)): invalid port \(quoted(String(port))): expected 1 to 65535"
        }
        if !isHTTPS && !allowInsecureHTTP {
            return "\(quoted(text)): plain http:// is refused — use https:// (SigV4 hides the secret key, but not the traffic, and a man in the middle could block or replay requests); for a test server on loopback, add allow_insecure_http = true to this target (every command then warns)"
        }
        if !isHTTPS && !["127.0.0.1", "localhost", "[::1]"].contains(String(host).lowercased()) {
            return "\(quoted(text)): plain http:// is refused for \(host) even with allow_insecure_http: it is for a test server on this host (127.0.0.1, localhost, [::1]); anything that crosses a network takes https://"
        }
        return nil
    }
}

extension Configuration.Target.Location {
    package var isS3: Bool {
        if case .s3 = self { return true }
        return false
    }
}
