package import DRBase
import DRConfig
import DRImage
import DRRepository
import Foundation

/// One parser of untrusted bytes, as a fuzzer drives it: any input, and the parser either
/// accepts it or rejects it with a drctl error — never a crash, a hang or a foreign error.
package struct FuzzTarget: Sendable {
    /// What a run of the parser ended with.
    package enum Outcome: Sendable {
        case accepted
        /// A clear, drctl-shaped refusal (the property the mutation tests check).
        case rejected(code: ErrorCode, message: String)
        /// An error that is not a `DRError`: a parser leaking a foreign error is a finding.
        case foreign(String)
    }

    package let name: String
    /// What the bytes are, for `drctl-fuzz --list`.
    package let summary: String
    package let run: @Sendable ([UInt8]) -> Outcome
    /// Valid inputs to start from.
    package let seeds: @Sendable () -> [[UInt8]]
}

extension FuzzTarget.Outcome {
    init(_ body: () throws -> Void) {
        do {
            try body()
            self = .accepted
        } catch let error as any DRError {
            self = .rejected(code: error.code, message: error.message)
        } catch {
            self = .foreign("\(type(of: error)): \(error)")
        }
    }
}

/// Every parser of untrusted bytes drctl has: the files of a mail store (written by the mail
/// server's account), the objects of a target (written by any host holding the key, or by
/// whoever holds the storage credentials), and the configuration file.
package enum FuzzTargets {
    package static let all: [FuzzTarget] = [toml, keyObject, listNode, packHeader, pack, manifest, treeNode, image]

    package static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    static let keys: RepositoryKeys? = try? UntrustedInput.scratchKeys()
    static let repositorySeeds = UntrustedInput.seeds()

    static let toml = FuzzTarget(
        name: "toml", summary: "a configuration file (TOML)",
        run: { bytes in .init { _ = try TOML.parse(String(decoding: bytes, as: UTF8.self), path: "fuzz.toml") } },
        seeds: { [Array(Configuration.exampleText.utf8), Array("a = [1, [2, {b = \"c\"}]]\n[t.u]\nv = 1979-05-27T07:32:00Z\n".utf8)] })

    static let keyObject = FuzzTarget(
        name: "key-object", summary: "a key object (keys/<id>, JSON)",
        run: { bytes in .init { try UntrustedInput.parseKeyObject(bytes) } },
        seeds: { repositorySeeds["key-object"] ?? [] })

    static let listNode = FuzzTarget(
        name: "list-node", summary: "a node of a snapshot's mailbox list (after its blob is opened)",
        run: { bytes in .init { try UntrustedInput.parseListNode(bytes) } },
        seeds: { repositorySeeds["list-node"] ?? [] })

    static let packHeader = FuzzTarget(
        name: "pack-header", summary: "a pack header's entries (after its envelope), framed as a pack's tail",
        run: { bytes in
            .init {
                guard let keys else { return }
                try UntrustedInput.parsePackHeader(bytes, body: Array(repeating: 0x5A, count: 64), keys: keys)
            }
        },
        seeds: { repositorySeeds["pack-header"] ?? [] })

    static let pack = FuzzTarget(
        name: "pack", summary: "a whole pack as stored (trailer, header length, sealed header)",
        run: { bytes in .init { guard let keys else { return }; try UntrustedInput.parsePack(bytes, keys: keys) } },
        seeds: { [Array("DRP2".utf8), Array(repeating: 0, count: 8) + Array("DRP2".utf8)] })

    static let manifest = FuzzTarget(
        name: "manifest", summary: "a snapshot record's JSON (snapshots/<id>, after zstd and its envelope)",
        run: { bytes in .init { guard let keys else { return }; try UntrustedInput.parseManifest(bytes, keys: keys) } },
        seeds: { repositorySeeds["manifest"] ?? [] })

    static let treeNode = FuzzTarget(
        name: "tree-node", summary: "a chunk-tree node (after its blob is opened)",
        run: { bytes in .init { try UntrustedInput.parseTreeNode(bytes) } },
        seeds: { repositorySeeds["tree-node"] ?? [] })

    static let image = FuzzTarget(
        name: "image", summary: "a mailbox with its -wal, -shm and -journal (database header, WAL header and frames, wal-index, hot journal)",
        run: { bytes in ImageHarness.run(bytes) },
        seeds: { ImageHarness.seeds() })
}
