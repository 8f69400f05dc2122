import Foundation
import Testing

/// `drctl logs ip`: the published ipcrypt-pfx and Crypto-PAn vectors through the binary, the
/// prefix property on addresses of our own, and the refusals.
@Suite("drctl logs ip")
struct LogsIPTests {
    struct Vectors: Decodable {
        struct Case: Decodable {
            var method: String
            var key: String
            var pairs: [[String]]
        }
        var cases: [Case]
    }

    static func vectors() throws -> Vectors {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/ip-pseudonyms.json").path
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The address's bits, most significant first (32 for IPv4, 128 for IPv6).
    static func bits(_ text: String) -> [Int] {
        if text.contains(":") {
            var address = in6_addr()
            _ = inet_pton(AF_INET6, text, &address)
            return withUnsafeBytes(of: address) { raw in raw.flatMap { byte in (0..<8).map { Int(byte >> (7 - $0) & 1) } } }
        }
        var address = in_addr()
        _ = inet_pton(AF_INET, text, &address)
        return withUnsafeBytes(of: address.s_addr) { raw in raw.flatMap { byte in (0..<8).map { Int(byte >> (7 - $0) & 1) } } }
    }

    /// How many leading bits two addresses share.
    static func sharedPrefix(_ a: String, _ b: String) -> Int { zip(bits(a), bits(b)).prefix { $0 == $1 }.count }

    static func pseudonyms(_ home: TemporaryHome, key: String, method: String, _ addresses: [String]) throws -> [String] {
        let file = try home.secretFile("key-\(UUID().uuidString.prefix(8))", key + "\n")
        let result = try home.drctl(["logs", "ip", "--method", method, "--raw-key-file", file] + addresses)
        try #require(result.status == 0, "drctl logs ip failed (\(result.status)): \(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test("every published ipcrypt-pfx and Crypto-PAn vector, through the binary")
    func publishedVectors() throws {
        let home = try TemporaryHome()
        let vectors = try Self.vectors()
        var checked = 0
        for vector in vectors.cases {
            let got = try Self.pseudonyms(home, key: vector.key, method: vector.method, vector.pairs.map { $0[0] })
            #expect(got == vector.pairs.map { $0[1] }, "\(vector.method) key \(vector.key.prefix(8))…")
            checked += vector.pairs.count
        }
        #expect(checked == 101, "\(checked) pairs")
        #expect(Set(vectors.cases.map(\.method)) == ["ipcrypt-pfx", "crypto-pan"])
    }

    @Test("prefixes are kept exactly: a shared /n stays a shared /n and no more; IPv4 stays IPv4")
    func prefixPreservation() throws {
        let home = try TemporaryHome()
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let inputs = ["192.0.2.1", "192.0.2.200", "192.0.3.1", "198.51.100.7", "10.0.0.1", "10.128.0.1",
                      "2001:db8::1", "2001:db8::ff", "2001:db8:1::1", "2001:db9::1", "fe80::1"]
        for method in ["ipcrypt-pfx", "crypto-pan"] {
            let outputs = try Self.pseudonyms(home, key: key, method: method, inputs)
            try #require(outputs.count == inputs.count)
            for (input, output) in zip(inputs, outputs) {
                #expect(input.contains(":") == output.contains(":"), "\(method): \(input) → \(output)")
                #expect(input != output, "\(method): \(input) unchanged")
            }
            for i in inputs.indices {
                for j in inputs.indices where i < j && inputs[i].contains(":") == inputs[j].contains(":") {
                    #expect(Self.sharedPrefix(inputs[i], inputs[j]) == Self.sharedPrefix(outputs[i], outputs[j]),
                            "\(method): \(inputs[i]) and \(inputs[j]) share \(Self.sharedPrefix(inputs[i], inputs[j])) bits, their pseudonyms \(Self.sharedPrefix(outputs[i], outputs[j]))")
                }
            }
        }
    }

    @Test("refused: a key of equal halves for ipcrypt-pfx, a short key, a readable key file, a non-address")
    func refusals() throws {
        let home = try TemporaryHome()
        let half = String(repeating: "ab", count: 16)
        let equal = try home.secretFile("equal.key", half + half + "\n")
        let result = try home.drctl(["logs", "ip", "--raw-key-file", equal, "192.0.2.1"])
        #expect(result.status == 78 && result.stderr.contains("halves are equal"), "\(result.status): \(result.stderr)")
        let short = try home.secretFile("short.key", half + "\n")
        #expect(try home.drctl(["logs", "ip", "--raw-key-file", short, "192.0.2.1"]).status == 78)
        let good = try home.secretFile("good.key", half + String(repeating: "cd", count: 16) + "\n")
        let notAnAddress = try home.drctl(["logs", "ip", "--raw-key-file", good, "192.0.2.300"])
        #expect(notAnAddress.status == 64 && notAnAddress.stderr.contains("192.0.2.300"), "\(notAnAddress.stderr)")
        let open = "\(home.root)/open.key"
        try (half + String(repeating: "cd", count: 16)).write(toFile: open, atomically: true, encoding: .utf8)
        chmod(open, 0o644)
        let refused = try home.drctl(["logs", "ip", "--raw-key-file", open, "192.0.2.1"])
        #expect(refused.status == 78, "a key file readable by others was used: \(refused.stderr)")
        #expect(!refused.stderr.contains(half), "the key appeared in a message")
    }
}
