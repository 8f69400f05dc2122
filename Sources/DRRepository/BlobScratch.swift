/// The buffers one reader opens blobs into, reused from blob to blob: a restore or
/// `check --read-data` opens every page of every mailbox, and a new array for each decrypted
/// payload and each decompressed page (plus its associated data) was an allocation and a
/// free per 4 KiB, and a fresh heap page to touch for every larger one. Not thread-safe: one
/// per reader or worker.
package final class BlobScratch {
    /// Decrypted payloads of compressed blobs (before decompression).
    private var payloadBuffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Plaintexts: decrypted uncompressed blobs, decompressed compressed ones.
    private var plainBuffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// The largest buffer kept between blobs: a data chunk is at most 4 MiB (the content-defined
    /// chunker's maximum), so only a node of unusual size or a hostile ref asks for more; such
    /// a buffer is given back at the next request for a smaller one.
    static let keptBytes = 4 << 20 + 4096

    package init() {}

    deinit {
        payloadBuffer.deallocate()
        plainBuffer.deallocate()
    }

    /// `count` bytes of the payload buffer (contents undefined), valid until the next call.
    func payload(count: Int) -> UnsafeMutableRawBufferPointer { Self.take(&payloadBuffer, count) }

    /// `count` bytes of the plaintext buffer (contents undefined), valid until the next call.
    func plain(count: Int) -> UnsafeMutableRawBufferPointer { Self.take(&plainBuffer, count) }

    private static func take(_ buffer: inout UnsafeMutableRawBufferPointer, _ count: Int) -> UnsafeMutableRawBufferPointer {
        if buffer.count < count || (buffer.count > keptBytes && count <= keptBytes) {
            buffer.deallocate()
            // At least 64 KiB, so that pages of growing sizes do not reallocate one by one.
            buffer = .allocate(byteCount: max(count, 64 << 10), alignment: 16)
        }
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
    }
}

extension BlobEntry {
    /// Calls `body` with a blob's associated data (`associatedData(kind:compressed:id:rawLength:)`,
    /// the same 42 bytes) built on the stack instead of in an array: one per blob opened.
    static func withAssociatedData<R, E: Error>(kind: BlobKind, compressed: Bool, id: ChunkID, rawLength: UInt32,
                                                _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeTemporaryAllocation(byteCount: 42, alignment: 8) { raw in
            raw.copyBytes(from: "DRB1".utf8)
            raw[4] = kind.rawValue
            raw[5] = compressed ? 1 : 0
            raw.storeBytes(of: id.a.bigEndian, toByteOffset: 6, as: UInt64.self)
            raw.storeBytes(of: id.b.bigEndian, toByteOffset: 14, as: UInt64.self)
            raw.storeBytes(of: id.c.bigEndian, toByteOffset: 22, as: UInt64.self)
            raw.storeBytes(of: id.d.bigEndian, toByteOffset: 30, as: UInt64.self)
            raw.storeBytes(of: rawLength.littleEndian, toByteOffset: 38, as: UInt32.self)
            return Result { () throws(E) -> R in try body(UnsafeRawBufferPointer(raw)) }
        }
        return try result.get()
    }
}
