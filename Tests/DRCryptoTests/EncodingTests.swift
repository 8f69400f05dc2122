import DRBase
import Foundation
import Testing

/// RFC 4648 section 10 test vectors.
let rfc4648: [(String, String, String)] = [
    ("", "", ""),
    ("f", "Zg==", "66"),
    ("fo", "Zm8=", "666f"),
    ("foo", "Zm9v", "666f6f"),
    ("foob", "Zm9vYg==", "666f6f62"),
    ("fooba", "Zm9vYmE=", "666f6f6261"),
    ("foobar", "Zm9vYmFy", "666f6f626172"),
]

@Suite("Hex and Base64")
struct EncodingTests {
    @Test("RFC 4648 section 10 vectors", arguments: rfc4648.indices)
    func rfc4648Vectors(_ index: Int) {
        let (plain, base64, base16) = rfc4648[index]
        let bytes = Array(plain.utf8)
        #expect(Base64.encode(bytes) == base64)
        #expect(Base64.decode(base64) == bytes)
        #expect(Hex.encode(bytes) == base16)
        #expect(Hex.decode(base16) == bytes)
        #expect(Hex.decode(base16.uppercased()) == bytes)
        #expect(Base64.decode(base64.replacingOccurrences(of: "=", with: "")) == bytes)
    }

    @Test("URL-safe alphabet and unpadded output")
    func urlSafe() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xfe]
        #expect(Base64.encode(bytes) == "+//+")
        #expect(Base64.encode(bytes, alphabet: .urlSafe) == "-__-")
        #expect(Base64.decode("-__-", alphabet: .urlSafe) == bytes)
        #expect(Base64.decode("-__-") == nil)
        #expect(Base64.encode([0x66], padded: false) == "Zg")
    }

    @Test("malformed input is rejected", arguments: ["Z", "Zg=", "Zh==", "Zm9v\n", "Zm 9v", "====", "Zg==Zg=="])
    func base64Malformed(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test("malformed hex is rejected", arguments: ["0", "0g", "0x00", " 00", "zz"])
    func hexMalformed(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }

    @Test("every byte value round-trips")
    func allBytes() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Base64.decode(Base64.encode(bytes, alphabet: .urlSafe, padded: false), alphabet: .urlSafe) == bytes)
    }
}
