import DRBase
import DRCrypto
import DRTransport
import Foundation
import Testing

@testable import DRRepository

/// Only a wrapping whose tag does not verify means "this secret is not the key": every other
/// failure of a key object is reported as what it is (a damaged object, no locked memory), so
/// an operator is never told to check a passphrase that is right.
@Suite("key unwrapping")
struct KeyUnwrapTests {
    @Test("a damaged wrapping is an error of its own, a wrong secret is nil, the right one opens")
    func unwrapDistinguishesDamageFromWrongKey() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("drctl-unwrap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = FileObjectStore(targetName: "scratch", root: folder)
        let right = try UnlockSecret(keyFileContents: try KeyFileFormat.generate(), origin: "right")
        let wrong = try UnlockSecret(keyFileContents: try KeyFileFormat.generate(), origin: "wrong")
        _ = try Repository.create(on: [store], secret: right,
                                  cost: Argon2Cost(opsLimit: 1, memLimit: 8 << 20), createdBy: "test")
        let object = try #require(try Repository.listKeys(in: store).entries.first).object

        #expect(try Repository.unwrap(object, secret: right) != nil)
        #expect(try Repository.unwrap(object, secret: wrong) == nil)

        var damaged = object
        damaged.wrappedKey = Base64.encode(Array(repeating: 7, count: 10))
        do {
            _ = try Repository.unwrap(damaged, secret: right)
            Issue.record("a truncated wrapping was taken for a wrong key")
        } catch {
            #expect(error.code == .cryptoTruncated)
            #expect(error.exitStatus == .dataError)
        }
    }
}
