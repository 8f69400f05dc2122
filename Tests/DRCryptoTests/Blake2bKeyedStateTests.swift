import DRBase
@testable import DRCrypto
import Testing

@Suite("BLAKE2b with a precomputed key block")
struct Blake2bKeyedStateTests {
    @Test("digests equal the one-shot keyed hash for every length around the block edges, on both paths",
          arguments: [16, 32, 64], [true, false])
    func sameDigests(outputLength: Int, precompute: Bool) throws {
        let key = try SecureBytes.random(count: 32)
        let hasher = try Blake2bKeyedState(key: key, outputLength: outputLength, precompute: precompute)
        // With libsodium 1.0.x's state layout, which the precomputation relies on, the fast path
        // is taken when asked for.
        let precomputed = hasher.precomputed
        #expect(precomputed == precompute)
        let message = (0..<400).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        for length in 0...400 {
            let data = Array(message[0..<length])
            var fast = [UInt8](repeating: 0, count: outputLength)
            data.withUnsafeBytes { raw in fast.withUnsafeMutableBytes { hasher.hash(raw, into: $0.baseAddress!) } }
            #expect(fast == (try Blake2b.hash(data, key: key, outputLength: outputLength)), "length \(length)")
        }
    }

    @Test("each hash starts afresh: the same message twice gives the same digest, another key another one")
    func independentHashes() throws {
        let key = try SecureBytes.random(count: 32)
        let other = try SecureBytes.random(count: 32)
        let hasher = try Blake2bKeyedState(key: key)
        let otherHasher = try Blake2bKeyedState(key: other)
        func digest(_ hasher: borrowing Blake2bKeyedState, _ text: String) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 32)
            Array(text.utf8).withUnsafeBytes { raw in out.withUnsafeMutableBytes { hasher.hash(raw, into: $0.baseAddress!) } }
            return out
        }
        let first = digest(hasher, "ujane")
        _ = digest(hasher, "a much longer message than the first one, to leave other bytes in the scratch state")
        #expect(digest(hasher, "ujane") == first)
        #expect(digest(otherHasher, "ujane") != first)
        #expect(first == (try Blake2b.hash(Array("ujane".utf8), key: key)))
    }

    @Test("the key and output lengths are checked as for the one-shot hash")
    func lengths() throws {
        let short = try SecureBytes.random(count: 8)
        #expect(throws: CryptoError.self) { _ = try Blake2bKeyedState(key: short) }
        let key = try SecureBytes.random(count: 32)
        let error = #expect(throws: CryptoError.self) { _ = try Blake2bKeyedState(key: key, outputLength: 65) }
        #expect(error?.code == .cryptoInvalidLength)
    }
}
