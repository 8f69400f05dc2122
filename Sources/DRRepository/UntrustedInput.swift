import DRBase
import DRCrypto
import DRCompression

/// The repository's parsers of untrusted bytes, each reachable with bytes a fuzzer chose.
///
/// Objects on a target are sealed, so mutated bytes would only ever exercise the envelope's
/// tag check. These entry points seal the fuzzer's plaintext with a scratch key first and then
/// parse it through the same `open`/`decode` a restore uses, so the plaintext parsers (index
/// records, pack headers, manifests, key objects, tree nodes) see hostile input — the input a
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

    /// A pack header's entries, framed as the tail of a pack (header ‖ length ‖ `DRP1`).
    package static func parsePackHeader(_ plain: [UInt8], body: [UInt8], keys: RepositoryKeys) throws(RepositoryError) {
        let header = try ObjectEnvelope.seal(plain, kind: .packHeader, name: "", key: keys.pack)
        var pack = body + header
        let length = UInt32(header.count)
        pack += [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)]
        pack += Array("DRP1".utf8)
        let entries = try PackReader.header(of: pack, name: "fuzz", target: "fuzz", keys: keys)
        try PackReader.checkTiling(entries, pack: pack, name: "fuzz", target: "fuzz")
    }

    /// Raw bytes as a whole pack (trailer, header length and all).
    package static func parsePack(_ pack: [UInt8], keys: RepositoryKeys) throws(RepositoryError) {
        let entries = try PackReader.header(of: pack, name: "fuzz", target: "fuzz", keys: keys)
        try PackReader.checkTiling(entries, pack: pack, name: "fuzz", target: "fuzz")
    }

    /// A key object (plain JSON on the target).
    package static func parseKeyObject(_ bytes: [UInt8]) throws(RepositoryError) {
        _ = try KeyObject.decode(bytes, name: "keys/fuzz", target: "fuzz")
    }

    /// A chunk-tree node (after its blob is opened).
    package static func parseTreeNode(_ bytes: [UInt8]) throws(RepositoryError) {
        _ = try ChunkTreeNode.parse(bytes)
    }

    /// Valid examples of each (and a few edge cases), to start mutating from.
    package static func seeds() -> [String: [[UInt8]]] {
        var entryBytes: [UInt8] = []
        BlobEntry(kind: .data, compressed: false, id: ChunkID(bytes: Array(repeating: 0xAB, count: 32)),
                  offset: 0, length: 64, rawLength: 24).encode(into: &entryBytes)
        var header = Array("DRH1".utf8)
        LittleEndian.append(UInt32(1), to: &header)
        header += entryBytes
        let tree = ChunkTreeNode.encode(level: 1, children: [ChunkID(bytes: Array(repeating: 1, count: 32)),
                                                              ChunkID(bytes: Array(repeating: 2, count: 32))])
        let key = #"{"created":"2026-12-02T00:00:00.000Z","format":"drctl-key-v1","host":"h","kdf":{"algorithm":"argon2id13","memLimit":8388608,"opsLimit":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="},"kind":"passphrase","repository":"r","user":"u","wrappedKey":"AAAA"}"#
        let manifest = #"{"format":1,"host":"h","time":"2026-12-02T00:00:00.000Z","storePath":"/srv/mail","files":[{"path":"a.sqlite","kind":"sqlite","size":4096,"mode":384,"snapshotMode":"wal-live","pageSize":4096,"pageCount":1,"consistentAt":"2026-12-02T00:00:00.000Z","consistency":"x","root":"00"}],"statistics":{}}"#
        return [
            "pack-header": [header, Array(header.prefix(8))],
            "tree-node": [tree],
            "key-object": [Array(key.utf8)],
            "manifest": [Array(manifest.utf8), Array("{}".utf8)],
        ]
    }
}
