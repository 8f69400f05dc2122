internal import CSodium

/// One-time, thread-safe initialisation of libsodium.
///
/// A global `let` is initialised exactly once, on first use, under the runtime's
/// `swift_once`, so `sodium_init` runs once however many threads arrive together.
enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    /// Initialises libsodium if needed; throws if it cannot be.
    static func ready() throws(CryptoError) {
        guard initialised else { throw CryptoError.libraryUnavailable }
    }

    /// For functions that have no error path of their own (hashing, random bytes): libsodium
    /// fails to initialise only without a usable random source, where continuing is unsafe.
    static func require() {
        precondition(initialised, "libsodium could not be initialised (no usable random source)")
    }
}
