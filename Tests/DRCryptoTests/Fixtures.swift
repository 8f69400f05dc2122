import DRBase
import DRCrypto
import Foundation
import Testing

/// Loads a JSON fixture from Vectors/ (published test vectors, copied as resources).
func loadVectors<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"),
                           "missing fixture Vectors/\(name).json")
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

/// Hex from a fixture; a malformed fixture fails the test rather than crashing it.
func hex(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
    try #require(Hex.decode(text), "invalid hex in fixture: \(text.prefix(16))…", sourceLocation: sourceLocation)
}

/// A private scratch directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/drctl-crypto-tests.XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(created))
    }

    func file(_ name: String, contents: [UInt8], mode: mode_t) throws -> String {
        let filePath = path + "/" + name
        #expect(FileManager.default.createFile(atPath: filePath, contents: Data(contents)))
        #expect(chmod(filePath, mode) == 0)
        return filePath
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Test keys from fixture bytes (published vectors: not secret).
func secret(_ bytes: [UInt8]) throws -> SecureBytes {
    var result = try SecureBytes(count: bytes.count)
    result.withUnsafeMutableBytes { raw in raw.copyBytes(from: bytes) }
    return result
}
