import DRCrypto
import DRTransport
import Foundation
import Testing

/// Fixture files are read relative to this source file, so the test target needs no
/// resource bundle (Package.swift excludes `Fixtures`).
enum SigV4Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/sigv4")
    static let suite = root.appendingPathComponent("aws-sig-v4-test-suite")

    static func text(_ url: URL) throws -> String {
        try String(contentsOf: url, encoding: .utf8)
    }

    /// Every vector of the suite: the folders that hold a `<name>.req`, by relative path
    /// (`get-vanilla`, `normalize-path/get-slash`, …), sorted.
    static func suiteVectors() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: suite.path) else { return [] }
        var names: [String] = []
        while let item = walker.nextObject() as? String {
            if item.hasSuffix(".req") { names.append((item as NSString).deletingLastPathComponent) }
        }
        return names.sorted()
    }

    /// Published example credentials (not secret).
    static func credentials(accessKeyID: String, secret: String, sessionToken: String? = nil) throws -> SigV4Credentials {
        let bytes = Array(secret.utf8)
        var key = try SecureBytes(count: bytes.count)
        key.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
        return SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: key, sessionToken: sessionToken)
    }
}

/// One `.req` file of the AWS suite: an HTTP/1.1 request as text.
///
/// The suite's request lines hold the path unencoded (`GET /example space/ HTTP/1.1`), the
/// same form `SigV4Request.path` takes; a header line that starts with white space
/// continues the previous header with another value (`get-header-value-multiline`), which
/// the canonical form joins with `,` like repeated headers.
struct SuiteRequest {
    var method: String
    var path: String
    var query: [(name: String, value: String)]
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(parsing text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        let space = try #require(requestLine.firstIndex(of: " "))
        method = String(requestLine[..<space])
        var target = String(requestLine[requestLine.index(after: space)...])
        #expect(target.hasSuffix(" HTTP/1.1"))
        target = String(target.dropLast(" HTTP/1.1".count))
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = target[target.index(after: mark)...].split(separator: "&").map { pair in
                if let equals = pair.firstIndex(of: "=") {
                    (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
                } else {
                    (String(pair), "")
                }
            }
        } else {
            path = target
            query = []
        }
        headers = []
        body = []
        while !lines.isEmpty {
            let line = lines.removeFirst()
            if line.isEmpty {
                body = Array(lines.joined(separator: "\n").utf8)
                break
            }
            if line.first == " " || line.first == "\t" {
                let previous = try #require(headers.last, "continuation line without a header")
                headers.append((previous.name, line))
                continue
            }
            let colon = try #require(line.firstIndex(of: ":"), "header line without a colon: \(line)")
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
    }

    /// Removes every header called `name` (any case) and returns the first value.
    mutating func take(_ name: String) -> String? {
        let value = headers.first { $0.name.lowercased() == name }?.value
        headers.removeAll { $0.name.lowercased() == name }
        return value
    }
}
