import DRBase
import DRCrypto
import DRCompression

/// The repository's parsers of untrusted bytes, each reachable with bytes a fuzzer chose.
///
/// Objects on a target are sealed, so mutated bytes would only ever exercise the envelope's
/// tag check. These entry points seal the fuzzer's plaintext with a scratch key first and then
/// parse it through the same `open`/`decode` a restore uses, so the plaintext parsers (pack
/// headers, manifests, key objects, tree and list nodes) see hostile input — the input a
/// key holder on another host could write. Used by `drctl-fuzz` and the mutation tests.
package enum UntrustedInput {
    /// Subkeys of a fixed, public master key: for harnesses only, never for a repository.
    package static func scratchKeys() throws(RepositoryError) -> RepositoryKeys {
        var master: SecureBytes
        do { master = try SecureBytes(count: 32) } catch { throw RepositoryError(error) }
        master.withUnsafeMutableBytes { raw in
            for index in raw.indices { raw[index] = UInt8(truncatingIfNeeded: index &* 7 &+ 1) }
        }
        return try RepositoryKeys(master: master)
    }

    /// A sealed object of `kind` as a target would hold it, named by its content address.
    private static func sealed(_ plain: [UInt8], kind: ObjectEnvelope.Kind, key: borrowing SecureBytes,
                               prefix: String) throws(RepositoryError) -> (name: String, bytes: [UInt8]) {
        let bytes = try ObjectEnvelope.seal(plain, kind: kind, name: "", key: key)
        return (prefix + ContentAddress.of(bytes), bytes)
    }

    /// A manifest's JSON (compressed and sealed here as the writer does).
    package static func parseManifest(_ json: [UInt8], keys: RepositoryKeys) throws(RepositoryError) {
        let compressed: [UInt8]
        do { compressed = try Zstd.compress(json, level: 1) } catch { throw RepositoryError(error) }
        let object = try sealed(compressed, kind: .manifest, key: keys.manifest, prefix: "snapshots/")
        _ = try SnapshotManifest.open(object.bytes, name: object.name, target: "fuzz", keys: keys)
    }

    /// The pack id the harnesses' packs are named with.
    static let fuzzPack = PackID(bytes: Array(repeating: 0x5A, count: 32))

    /// A pack header's entries (before zstd), framed as the tail of a pack (header ‖ length ‖
    /// `DRP2`).
    package static func parsePackHeader(_ plain: [UInt8], body: [UInt8], keys: RepositoryKeys) throws(RepositoryError) {
        let compressed: [UInt8]
        do { compressed = try Zstd.compress(plain, level: 1) } catch { throw RepositoryError(error) }
        let header = try ObjectEnvelope.seal(compressed, kind: .packHeader, name: fuzzPack.hex, key: keys.pack)
        var pack = body + header
        let length = UInt32(header.count)
        pack += [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)]
        pack += PackReader.magic
        _ = try PackReader.header(of: pack, id: fuzzPack, target: "fuzz", keys: keys)
    }

    /// Raw bytes as a whole pack (trailer, header length and all).
    package static func parsePack(_ pack: [UInt8], keys: RepositoryKeys) throws(RepositoryError) {
        _ = try PackReader.header(of: pack, id: fuzzPack, target: "fuzz", keys: keys)
    }

    /// A key object (plain JSON on the target).
    package static func parseKeyObject(_ bytes: [UInt8]) throws(RepositoryError) {
        _ = try KeyObject.decode(bytes, name: "keys/fuzz", target: "fuzz")
    }

    /// A mailbox-list node (after its blob is opened).
    package static func parseListNode(_ bytes: [UInt8]) throws(RepositoryError) {
        _ = try MailboxList.decodeNode(bytes)
    }

    /// A chunk-tree node (after its blob is opened).
    package static func parseTreeNode(_ bytes: [UInt8]) throws(RepositoryError) {
        _ = try ChunkTreeNode.parse(bytes)
    }

    /// A valid leaf of the mailbox list with one entry.
    static func listSeed() -> [UInt8] {
        guard let keys = try? scratchKeys() else { return [] }
        final class Capture: NodeStoring {
            var plain: [UInt8] = []
            func storeNode(_ plaintext: [UInt8], id: ChunkID, kind: BlobKind) throws(RepositoryError) -> BlobRef {
                plain = plaintext
                return BlobRef(id: id, kind: kind, compressed: false, pack: UntrustedInput.fuzzPack, offset: 0,
                               length: UInt32(plaintext.count + 40), rawLength: UInt32(plaintext.count))
            }
        }
        let capture = Capture()
        var builder = MailboxListBuilder(keys: keys, reusable: [:], store: capture)
        let root = BlobRef(id: ChunkID(bytes: Array(repeating: 3, count: 32)), kind: .tree, compressed: true,
                           pack: fuzzPack, offset: 4096, length: 200, rawLength: 300)
        let state = FileState(size: 4096, mtimeNanoseconds: 1, ctimeNanoseconds: 2, inode: 3, device: 4, walSize: 0,
                              walMtimeNanoseconds: 5, walCtimeNanoseconds: 6, walInode: 7, journalPresent: false)
        try? builder.add(SnapshotManifest.FileEntry(path: "users/a.sqlite", kind: "sqlite", size: 4096, mode: 0o600,
                                                    snapshotMode: "wal-live", pageSize: 4096, pageCount: 1,
                                                    consistentAt: "2026-12-02T00:00:00.000Z", consistency: "salt 1 2 frame 3",
                                                    root: root, chunks: 1, sourceState: state, unchanged: false))
        _ = try? builder.finish()
        return capture.plain
    }

    /// Valid examples of each (and a few edge cases), to start mutating from.
    package static func seeds() -> [String: [[UInt8]]] {
        var entryBytes: [UInt8] = []
        BlobEntry(kind: .data, compressed: false, id: ChunkID(bytes: Array(repeating: 0xAB, count: 32)),
                  offset: 0, length: 64, rawLength: 24).encode(into: &entryBytes)
        var header = Array("DRH2".utf8)
        LittleEndian.append(UInt32(1), to: &header)
        header += entryBytes
        let child = { (byte: UInt8) in
            BlobRef(id: ChunkID(bytes: Array(repeating: byte, count: 32)), kind: .data, compressed: false,
                    pack: fuzzPack, offset: UInt32(byte) * 100, length: 100, rawLength: 60)
        }
        let tree = ChunkTreeNode.encode(level: 1, children: [child(1), child(2)])
        let key = #"{"created":"2026-12-02T00:00:00.000Z","format":"drctl-key-v1","host":"h","kdf":{"algorithm":"argon2id13","memLimit":8388608,"opsLimit":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="},"kind":"passphrase","repository":"r","user":"u","wrappedKey":"AAAA"}"#
        let manifest = #"{"failed":[{"code":"image.io","error":"x","path":"b.sqlite"}],"format":2,"host":"h","mailboxes":{"count":1,"root":{"compressed":false,"id":"\#(String(repeating: "ab", count: 32))","length":100,"offset":0,"pack":"\#(fuzzPack.hex)","rawLength":60}},"statistics":{"bytesRead":0,"durationSeconds":1,"files":1,"filesUnchanged":0,"imageBytes":4096,"newChunkBytes":0,"newChunks":0,"storedBytes":0},"storePath":"/srv/mail","time":"2026-12-02T00:00:00.000Z","wholeStore":true}"#
        return [
            "pack-header": [header, Array(header.prefix(8))],
            "tree-node": [tree],
            "list-node": [listSeed()],
            "key-object": [Array(key.utf8)],
            "manifest": [Array(manifest.utf8), Array("{}".utf8)],
        ]
    }
}
