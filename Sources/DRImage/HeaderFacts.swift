/// What the first 100 bytes of an image say without its key, for readers above this module
/// (the restore drill checks a restored image against them; `DatabaseHeader` stays internal).
package struct HeaderFacts: Sendable, Equatable {
    package var cipher: CipherGuess
    /// The page size the plaintext header states (nil when encrypted or unreadable).
    package var pageSize: Int?
    /// The page count the header states, only when valid (plain databases whose
    /// version-valid-for equals the change counter).
    package var pageCount: Int?
    /// WAL (2/2) or rollback, when readable.
    package var walMode: Bool?
    /// Neither a database nor an encrypted one: text or another format.
    package var otherFormat: Bool

    package init(_ firstBytes: [UInt8]) {
        let header = DatabaseHeader(firstBytes)
        cipher = header.cipher
        pageSize = header.pageSize
        pageCount = header.headerPageCount.map(Int.init)
        walMode = header.walMode
        otherFormat = header.looksLikeOtherFormat
    }
}
