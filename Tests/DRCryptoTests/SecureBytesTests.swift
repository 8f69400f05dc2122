import DRBase
@testable import DRCrypto
import Foundation
import Synchronization
import Testing

/// Records the bytes of each allocation at the moment `SecureBytes` hands it back for freeing.
final class ReleaseRecorder: Sendable {
    private let released = Mutex<[[UInt8]]>([])

    var snapshots: [[UInt8]] { released.withLock { $0 } }

    /// The production allocator, with a look at the memory between the wipe and `sodium_free`.
    var allocator: SecureAllocator {
        SecureAllocator(
            allocate: { count in SecureAllocator.sodium.allocate(count) },
            release: { pointer, count in
                let bytes = Array(UnsafeRawBufferPointer(start: pointer, count: count))
                self.released.withLock { $0.append(bytes) }
                SecureAllocator.sodium.release(pointer, count)
            })
    }
}

@Suite("SecureBytes")
struct SecureBytesTests {
    @Test("a key is wiped over its whole allocation before the memory is freed")
    func wipedOnRelease() throws {
        let recorder = ReleaseRecorder()
        var key = try SecureBytes(count: 32, allocator: recorder.allocator)
        key.withUnsafeMutableBytes { raw in
            for index in raw.indices { raw[index] = UInt8(truncatingIfNeeded: 0xA5 &+ index) }
        }
        // While alive, the secret is really there (so the check below can fail).
        #expect(key.withUnsafeBytes { raw in raw.allSatisfy { $0 != 0 } })
        #expect(recorder.snapshots.isEmpty)
        _ = consume key
        let snapshots = recorder.snapshots
        #expect(snapshots.count == 1)
        #expect(snapshots.first?.count == 32)
        #expect(snapshots.first?.allSatisfy { $0 == 0 } == true)
    }

    @Test("copies and derived buffers are wiped too; an empty secret still releases cleanly")
    func wipedVariants() throws {
        let recorder = ReleaseRecorder()
        do {
            var empty = try SecureBytes(count: 0, allocator: recorder.allocator)
            #expect(empty.count == 0)
            let emptyCount = empty.withUnsafeMutableBytes { $0.count }
            #expect(emptyCount == 0)
            var big = try SecureBytes(count: 5000, allocator: recorder.allocator)
            big.withUnsafeMutableBytes { raw in _ = raw.initializeMemory(as: UInt8.self, repeating: 0xFF) }
            #expect(big.withUnsafeBytes { $0.allSatisfy { $0 == 0xFF } })
        }
        let snapshots = recorder.snapshots
        #expect(snapshots.map(\.count).sorted() == [1, 5000])
        #expect(snapshots.allSatisfy { $0.allSatisfy { $0 == 0 } })
    }

    @Test("new memory is zeroed; random memory is not; copies are equal and independent")
    func basics() throws {
        let zero = try SecureBytes(count: 64)
        #expect(zero.count == 64)
        #expect(zero.withUnsafeBytes { $0.allSatisfy { $0 == 0 } })
        let random = try SecureBytes.random(count: 64)
        let randomIsZero = random.constantTimeEquals(zero)
        #expect(!randomIsZero)
        var copy = try random.copy()
        let copyEqual = copy.constantTimeEquals(random)
        #expect(copyEqual)
        copy.withUnsafeMutableBytes { $0[0] ^= 1 }
        let changedEqual = copy.constantTimeEquals(random)
        #expect(!changedEqual)
        let short = try SecureBytes(count: 63)
        let shortEqual = short.constantTimeEquals(zero)
        #expect(!shortEqual)
        let fromBytes = try secret([1, 2, 3])
        #expect(fromBytes.withUnsafeBytes { Array($0) } == [1, 2, 3])
        #expect(throws: CryptoError.self) { _ = try SecureBytes(count: -1) }
    }

    @Test("ConstantTime.equals and SecureRandom.bytes")
    func helpers() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32 && a != b)
        #expect(SecureRandom.bytes(0).isEmpty)
    }
}

@Suite("readSecretFile")
struct SecretFileTests {
    @Test("a group- or world-readable file is refused, with the fix in the message")
    func refusesOpenMode() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660] {
            let path = try directory.file("repository-\(String(mode, radix: 8)).pass", contents: Array("hunter2\n".utf8), mode: mode)
            let error = #expect(throws: (any Error).self) {
                _ = try SecureBytes.readSecretFile(path: path, purpose: "repository password file", trimTrailingNewline: true)
            }
            let message = (error as? any DRError)?.message ?? ""
            #expect(message.contains("chmod 600"))
            #expect(message.contains(path))
            #expect((error as? any DRError)?.exitStatus == .configuration)
        }
    }

    @Test("a 0600 file is read; one trailing newline (LF or CRLF) is trimmed on request")
    func readsPrivateFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let cases: [(String, Bool, String)] = [
            ("hunter2\n", true, "hunter2"),
            ("hunter2\n", false, "hunter2\n"),
            ("hunter2\r\n", true, "hunter2"),
            ("hunter2", true, "hunter2"),
            ("two lines\n\n", true, "two lines\n"),
            (" spaces kept \n", true, " spaces kept "),
        ]
        for (index, (contents, trim, expected)) in cases.enumerated() {
            let path = try directory.file("secret\(index)", contents: Array(contents.utf8), mode: 0o600)
            let secret = try SecureBytes.readSecretFile(path: path, purpose: "test secret", trimTrailingNewline: trim)
            #expect(secret.withUnsafeBytes { Array($0) } == Array(expected.utf8))
        }
        // Binary keys with every byte value, at the size limit.
        let binary = (0..<SecureBytes.maximumSecretFileSize).map { UInt8(truncatingIfNeeded: $0) }
        let path = try directory.file("binary.key", contents: binary, mode: 0o400)
        let key = try SecureBytes.readSecretFile(path: path, purpose: "key file", trimTrailingNewline: false)
        #expect(key.withUnsafeBytes { Array($0) } == binary)
    }

    @Test("an empty file, or one holding only a newline, is an error naming the file")
    func emptyFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        for contents in ["", "\n"] {
            let path = try directory.file("empty\(contents.count)", contents: Array(contents.utf8), mode: 0o600)
            let error = #expect(throws: CryptoError.self) {
                _ = try SecureBytes.readSecretFile(path: path, purpose: "repository password file", trimTrailingNewline: true)
            }
            #expect(error?.code == .cryptoSecretFileEmpty)
            #expect(error?.message.contains(path) == true)
        }
    }

    @Test("missing, oversized and non-regular files are refused")
    func otherRefusals() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let missing = directory.path + "/nope"
        let missingError = #expect(throws: (any Error).self) {
            _ = try SecureBytes.readSecretFile(path: missing, purpose: "key file", trimTrailingNewline: false)
        }
        #expect((missingError as? any DRError)?.exitStatus == .noInput)
        let big = try directory.file("big", contents: [UInt8](repeating: 0x41, count: SecureBytes.maximumSecretFileSize + 1), mode: 0o600)
        let bigError = #expect(throws: CryptoError.self) {
            _ = try SecureBytes.readSecretFile(path: big, purpose: "key file", trimTrailingNewline: false)
        }
        #expect(bigError?.code == .cryptoSecretFileTooLarge)
        #expect(chmod(directory.path, 0o700) == 0)
        #expect(throws: (any Error).self) {
            _ = try SecureBytes.readSecretFile(path: directory.path, purpose: "key file", trimTrailingNewline: false)
        }
    }
}
