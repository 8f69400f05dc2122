import DRCrypto
import Testing

@Suite("ContentAddress")
struct ContentAddressTests {
    /// BLAKE2b-256 (unkeyed, 32-byte output) reference values, as `b2sum -l 256` and
    /// Python's `hashlib.blake2b(data, digest_size=32)` give them.
    @Test("hex BLAKE2b-256 of known inputs")
    func knownValues() {
        #expect(ContentAddress.of([]) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        #expect(ContentAddress.of(Array("abc".utf8)) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
    }

    @Test("the buffer and array forms agree, also on a slice")
    func forms() {
        let bytes = Array("xxabcxx".utf8)
        let slice = bytes.withUnsafeBytes { ContentAddress.of(UnsafeRawBufferPointer(rebasing: $0[2..<5])) }
        #expect(slice == ContentAddress.of(Array("abc".utf8)))
    }
}
