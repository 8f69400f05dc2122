internal import CSodium
import DRBase
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where `SecureBytes` gets and returns its memory: `sodium_malloc`/`sodium_free` in
/// production. A seam so that a test can look at the bytes between the wipe and the free.
struct SecureAllocator: Sendable {
    /// Returns `count` bytes (count ≥ 1) or nil.
    var allocate: @Sendable (_ count: Int) -> UnsafeMutableRawPointer?
    /// Called by `SecureBytes.deinit` after it has wiped all `count` bytes.
    var release: @Sendable (_ pointer: UnsafeMutableRawPointer, _ count: Int) -> Void

    /// Guard pages before and after, a canary, `mlock`ed so it is never swapped out, and
    /// excluded from core dumps where the kernel supports `MADV_DONTDUMP`.
    static let sodium = SecureAllocator(
        allocate: { count in
            guard let pointer = sodium_malloc(count) else { return nil }
            // sodium_malloc ignores a failed mlock; asking again (mlock does not nest, so
            // this changes nothing when it worked) tells whether the key can be swapped out.
            if sodium_mlock(pointer, count) != 0 { SecureMemory.recordLockFailure() }
            return pointer
        },
        release: { pointer, _ in sodium_free(pointer) })
}

/// Whether every secret so far is in memory the kernel will not swap out.
///
/// libsodium keeps going when `mlock` fails (RLIMIT_MEMLOCK too low, no CAP_IPC_LOCK); the
/// keys then work but may reach swap. drctl says so instead of claiming locked memory it
/// does not have: `drctl` prints a warning when `lockFailures` is not zero.
package enum SecureMemory {
    private static let failures = Atomic<Int>(0)

    /// Secrets allocated since start whose memory could not be locked.
    package static var lockFailures: Int { failures.load(ordering: .relaxed) }

    static func recordLockFailure() {
        failures.add(1, ordering: .relaxed)
    }
}

/// Secret bytes (keys, passphrases, seeds) in locked, guarded memory, wiped when released.
///
/// Non-copyable on purpose: there is exactly one owner of each secret, so exactly one place
/// where it is wiped; a copy must be asked for with `copy()`. Never move the contents into a
/// `[UInt8]`, `Data` or `String`: their copies live on in freed heap memory.
///
/// Sendable so that one key can be shared read-only by the tasks of a pipeline (for example
/// in a `final class` holder with a `let`): the memory is written only during initialisation
/// and through `mutating` methods, which the exclusivity rules keep to a single owner.
package struct SecureBytes: ~Copyable, @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer
    /// Bytes allocated (at least one, so that an empty secret still has a distinct pointer).
    private let allocated: Int
    private let allocator: SecureAllocator
    /// The number of secret bytes.
    package let count: Int

    /// `count` zero bytes in secure memory.
    package init(count: Int) throws(CryptoError) {
        try self.init(count: count, allocator: .sodium)
    }

    /// `count` zero bytes from `allocator` (tests pass their own to watch the release).
    init(count: Int, allocator: SecureAllocator) throws(CryptoError) {
        guard count >= 0 else {
            throw CryptoError(.cryptoNegativeLength, message: "a secret cannot have a negative length (\(count))")
        }
        try Sodium.ready()
        let allocated = max(count, 1)
        guard let pointer = allocator.allocate(allocated) else {
            throw CryptoError.outOfSecureMemory(allocated)
        }
        // sodium_malloc fills with 0xdb to expose use of uninitialised memory; we promise zeros.
        sodium_memzero(pointer, allocated)
        self.pointer = pointer
        self.allocated = allocated
        self.allocator = allocator
        self.count = count
    }

    /// Copies `bytes` into secure memory. The caller is responsible for wiping the source.
    package init(copying bytes: UnsafeRawBufferPointer) throws(CryptoError) {
        try self.init(count: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 {
            pointer.copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// `count` bytes from the operating system's CSPRNG, generated straight into secure memory.
    package static func random(count: Int) throws(CryptoError) -> SecureBytes {
        let result = try SecureBytes(count: count)
        if count > 0 { randombytes_buf(result.pointer, count) }
        return result
    }

    deinit {
        // The whole allocation, not just `count`: nothing of the secret may outlive us.
        sodium_memzero(pointer, allocated)
        allocator.release(pointer, allocated)
    }

    /// A second, independent copy in its own secure allocation.
    package func copy() throws(CryptoError) -> SecureBytes {
        try SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Reads the secret. The buffer is valid only inside `body`; do not copy it out.
    package func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Writes the secret in place (deriving or decrypting a key straight into secure memory).
    package mutating func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// Compares with another secret in constant time (for equal lengths); different lengths
    /// are unequal.
    package func constantTimeEquals(_ other: borrowing SecureBytes) -> Bool {
        guard count == other.count else { return false }
        if count == 0 { return true }
        return sodium_memcmp(pointer, other.pointer, count) == 0
    }

    /// The first `length` bytes as a new secret (for trimming after a read).
    func prefix(_ length: Int) throws(CryptoError) -> SecureBytes {
        precondition(length >= 0 && length <= count)
        return try SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// Internal, unchecked access for the wrappers in this module.
    var unsafePointer: UnsafeMutableRawPointer { pointer }
}

// MARK: - Secret files

extension SecureBytes {
    /// Writes these bytes to a new file of mode 0600, atomically (`AtomicFile`, write-once):
    /// the file appears whole or not at all, and its folder is fsynced.
    ///
    /// Never replaces an existing file, nor a symbolic link of that name (a key is never
    /// overwritten behind the operator's back); on a failed write nothing is kept. Missing
    /// parent folders are created with mode 0700.
    package func writeNewSecretFile(path: String, purpose: String) throws(CryptoError) {
        let file: AtomicFile
        do {
            file = try AtomicFile(path: path, mode: 0o600, creatingFoldersWithMode: 0o700)
        } catch {
            throw CryptoError(.cryptoSecretFileCreate, message: "cannot create \(purpose) \(path): \(error.message)")
        }
        do {
            // Straight from secure memory: no copy of the secret in an ordinary buffer.
            try withUnsafeBytes { (raw) throws(BaseError) in try file.write(raw) }
            try file.commit(.writeOnce)
        } catch where error.code == .fileExists {
            throw CryptoError(.cryptoSecretFileExists, message: "\(purpose) \(path) already exists: refusing to overwrite it; move it away first if you really mean to replace it")
        } catch {
            throw CryptoError(.cryptoSecretFileWrite, message: "cannot write \(purpose) \(path): \(error.message); nothing was kept")
        }
    }

    /// The largest secret file accepted: passphrases and keys are tiny, so anything larger
    /// is a wrong path (a log file, a device) rather than a secret.
    package static let maximumSecretFileSize = 64 * 1024

    /// Reads a secret file (passphrase, key, seed) straight into secure memory.
    ///
    /// The file must be private to its owner (`PrivateFile.checkMode`: no group or other
    /// permission bits), a regular file, not a symbolic link at the last component, non-empty
    /// and at most `maximumSecretFileSize` bytes. Its bytes go from read(2) into locked memory
    /// and nowhere else.
    /// - Parameters:
    ///   - purpose: what the file is, for messages ("repository password file").
    ///   - trimTrailingNewline: drop one trailing `\n` or `\r\n` (what editors and `echo` add
    ///     to a passphrase file); keep it false for binary keys.
    /// - Throws: `BaseError` from the mode check, `CryptoError` otherwise.
    package static func readSecretFile(path: String, purpose: String,
                                      trimTrailingNewline: Bool) throws -> SecureBytes {
        try PrivateFile.checkMode(path, purpose: purpose)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)
        if fd < 0 {
            let err = errno
            throw CryptoError(err == ENOENT ? .cryptoSecretFileMissing : .cryptoSecretFileOpen,
                              message: "cannot open \(purpose) \(path): \(errnoDescription(err))",
                              context: ErrorContext(file: path), underlying: .errno(err))
        }
        defer { close(fd) }
        // Check again on the descriptor we read from: the path may have been swapped between
        // the check above and open(2).
        var info = stat()
        if fstat(fd, &info) != 0 {
            let err = errno
            throw CryptoError(.cryptoSecretFileRead, message: "cannot stat \(purpose) \(path): \(errnoDescription(err))")
        }
        if (info.st_mode & S_IFMT) != S_IFREG || (info.st_mode & 0o077) != 0 {
            throw CryptoError(.cryptoSecretFileChanged, message: "\(purpose) \(path) changed while it was being opened (it is no longer a private regular file). Check who else writes to it, then run: chmod 600 \(path)")
        }

        // One byte more than the limit, to tell "exactly at the limit" from "too large".
        var buffer = try SecureBytes(count: maximumSecretFileSize + 1)
        var filled = 0
        while filled < buffer.count {
            let n = buffer.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress! + filled, raw.count - filled)
            }
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                throw CryptoError(.cryptoSecretFileRead, message: "cannot read \(purpose) \(path): \(errnoDescription(err))")
            }
            if n == 0 { break }
            filled += n
        }
        if filled > maximumSecretFileSize {
            throw CryptoError(.cryptoSecretFileTooLarge, message: "\(purpose) \(path) is larger than \(maximumSecretFileSize / 1024) KiB, so it is not a key or passphrase file: check the path")
        }
        var length = filled
        if trimTrailingNewline {
            buffer.withUnsafeBytes { raw in
                if length > 0, raw[length - 1] == UInt8(ascii: "\n") {
                    length -= 1
                    if length > 0, raw[length - 1] == UInt8(ascii: "\r") { length -= 1 }
                }
            }
        }
        if length == 0 {
            throw CryptoError(.cryptoSecretFileEmpty, message: "\(purpose) \(path) is empty\(filled > 0 ? " (only a line break)" : ""): write the secret into it, or point the configuration at the right file")
        }
        return try buffer.prefix(length)
    }
}
