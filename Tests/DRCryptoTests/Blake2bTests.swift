import DRBase
@testable import DRCrypto
import Testing

struct Blake2bVector: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    let key: String
    let outputLength: Int
    let output: String
    var testDescription: String { name }
}

struct Blake2bVectors: Decodable { let vectors: [Blake2bVector] }

let blake2bVectors: [Blake2bVector] = (try? loadVectors("blake2b", as: Blake2bVectors.self).vectors) ?? []

@Suite("BLAKE2b")
struct Blake2bTests {
    @Test("the fixture is loaded")
    func fixtureLoaded() {
        #expect(blake2bVectors.count >= 14)
        #expect(blake2bVectors.contains { $0.name.hasPrefix("RFC 7693") })
        #expect(blake2bVectors.filter { !$0.key.isEmpty }.count >= 5)
    }

    @Test("one-shot hash matches the published vector", arguments: blake2bVectors)
    func oneShot(_ vector: Blake2bVector) throws {
        let input = try hex(vector.input)
        let expected = try hex(vector.output)
        if vector.key.isEmpty {
            #expect(Blake2b.hash(input, outputLength: vector.outputLength) == expected)
        } else {
            let key = try secret(hex(vector.key))
            #expect(try Blake2b.hash(input, key: key, outputLength: vector.outputLength) == expected)
        }
    }

    @Test("streaming in uneven pieces matches the published vector", arguments: blake2bVectors)
    func streaming(_ vector: Blake2bVector) throws {
        let input = try hex(vector.input)
        var hasher: Blake2bHasher
        if vector.key.isEmpty {
            hasher = try Blake2bHasher(outputLength: vector.outputLength)
        } else {
            let key = try secret(hex(vector.key))
            hasher = try Blake2bHasher(key: key, outputLength: vector.outputLength)
        }
        var offset = 0
        var piece = 1
        while offset < input.count {
            let end = min(input.count, offset + piece)
            hasher.update(Array(input[offset..<end]))
            offset = end
            piece = piece * 3 + 1   // 1, 4, 13, 40, 121, … crosses the 128-byte block edge
        }
        #expect(hasher.finalize() == (try hex(vector.output)))
    }

    @Test("a keyed hash differs from the unkeyed one and depends on the key")
    func keyMatters() throws {
        let data = Array("chunk".utf8)
        let key1 = try SecureBytes.random(count: 32)
        let key2 = try SecureBytes.random(count: 32)
        let a = try Blake2b.hash(data, key: key1)
        #expect(a != Blake2b.hash(data))
        #expect(a != (try Blake2b.hash(data, key: key2)))
        #expect(a.count == 32)
    }

    @Test("out-of-range key and output lengths are errors, not crashes")
    func lengths() throws {
        let short = try SecureBytes.random(count: 8)
        #expect(throws: CryptoError.self) { _ = try Blake2b.hash([1], key: short) }
        let key = try SecureBytes.random(count: 32)
        let error = #expect(throws: CryptoError.self) { _ = try Blake2b.hash([1], key: key, outputLength: 65) }
        #expect(error?.code == .cryptoInvalidLength)
        #expect(throws: CryptoError.self) { _ = try Blake2bHasher(outputLength: 8) }
    }
}
