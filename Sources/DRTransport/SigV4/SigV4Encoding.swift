/// The text transformations of SigV4's canonical request (URI encoding, path, query and
/// header canonicalisation), apart from any key or hash.
enum SigV4Encoding {
    /// RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Percent-encodes every byte of the UTF-8 form outside the unreserved set, with
    /// upper-case hex (`%2F` for `/`, `%20` for a space: never `+`).
    static func uriEncode(_ text: some StringProtocol) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHex[Int(byte >> 4)])
                out.append(upperHex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical URI: `/` kept between segments, each segment encoded once; generic
    /// rules remove dot segments and merge empty ones first. An empty path is `/`.
    static func canonicalURI(_ path: String, rules: SigV4URIRules) -> String {
        let segments: [Substring]
        switch rules {
        case .s3:
            segments = path.split(separator: "/", omittingEmptySubsequences: false)
        case .generic:
            segments = normalizedSegments(path)
        }
        let encoded = segments.map { uriEncode($0) }.joined(separator: "/")
        if encoded.isEmpty { return "/" }
        return encoded.hasPrefix("/") ? encoded : "/" + encoded
    }

    /// RFC 3986 §5.2.4 dot-segment removal, with runs of `/` merged, keeping a leading and
    /// a trailing slash (`//example//` → `/example/`, `/example/..` → `/`).
    private static func normalizedSegments(_ path: String) -> [Substring] {
        var stack: [Substring] = []
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for part in parts {
            switch part {
            case ".": continue
            case "..": if !stack.isEmpty { stack.removeLast() }
            default: stack.append(part)
            }
        }
        // A path that ends in a directory (`/`, `/.`, `/..`) keeps its trailing slash.
        let last = parts.last
        let trailingSlash = path.hasSuffix("/") || last == "." || last == ".."
        var result: [Substring] = [""] + stack
        if trailingSlash && !stack.isEmpty { result.append("") }
        return result
    }

    /// The canonical query string: names and values encoded, pairs sorted by encoded name
    /// and then encoded value (byte order), joined as `name=value&…`; a name without value
    /// still gets its `=`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (uriEncode($0.name), uriEncode($0.value)) }
            .sorted { lhs, rhs in
                lhs.0 != rhs.0 ? Array(lhs.0.utf8).lexicographicallyPrecedes(rhs.0.utf8)
                               : Array(lhs.1.utf8).lexicographicallyPrecedes(rhs.1.utf8)
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// A header value as signed: leading and trailing whitespace removed, each inner run of
    /// spaces and tabs collapsed to one space (quoted strings are not special, per AWS).
    static func canonicalHeaderValue(_ value: String) -> String {
        var out: [UInt8] = []
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out.append(UInt8(ascii: " ")); pendingSpace = false }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Header names lower-cased (ASCII only: HTTP field names are tokens), values of a
    /// repeated name joined with `,` in their order, sorted by name.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for header in headers {
            let name = asciiLowercased(header.name)
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(canonicalHeaderValue(header.value))
        }
        return order.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
            .map { ($0, values[$0]!.joined(separator: ",")) }
    }

    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
