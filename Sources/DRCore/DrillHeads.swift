import DRBase
import DRCrypto
package import DRTransport
import Foundation
package import Logging

/// The chain heads a target holds (`reports/head-<sequence>`, one per report, written once).
package enum DrillHeads {
    package struct Head: Sendable {
        package var object: String
        package var bytes: [UInt8]
        package var envelope: DSSEEnvelope
        package var payload: DrillHeadPayload
    }

    /// The sequences of the heads on `store`, ascending.
    package static func sequences(on store: any ObjectStore) throws(TransportError) -> [(sequence: Int, object: String)] {
        try store.list(prefix: DrillReportNames.targetFolder + "head-")
            .compactMap { name in DrillReportNames.parseHead(name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }
    }

    /// Reads and checks one head: a DSSE envelope of a head payload whose sequence is its
    /// name's, signed by `publicKey` when one is given.
    package static func read(_ object: String, sequence: Int, on store: any ObjectStore,
                             publicKey: [UInt8]?) throws(CoreError) -> Head {
        let bytes: [UInt8]
        do { bytes = try store.get(object, maxBytes: 1 << 20) } catch { throw CoreError(error) }
        let where_ = "target \(store.targetName): chain head \(object)"
        guard let envelope = DSSEEnvelope.decode(bytes), envelope.payloadType == DrillHeadPayload.payloadType,
              let payload = try? JSONDecoder().decode(DrillHeadPayload.self, from: Data(envelope.payload)),
              payload.schema == DrillHeadPayload.schema else {
            throw CoreError(.reportMalformed, message: "\(where_) is not a DSSE envelope of a drctl chain head")
        }
        if let publicKey {
            if envelope.signatures.isEmpty {
                throw CoreError(.reportSignature, message: "\(where_) (report \(payload.sequence)) is unsigned")
            }
            if !envelope.isSigned(by: publicKey) {
                throw CoreError(.reportSignature, message: "\(where_) (report \(payload.sequence)): no signature verifies with the public key \(DrillSigningKey.fingerprint(publicKey).prefix(16)): it was altered or written by another key")
            }
        }
        guard payload.sequence == sequence else {
            throw CoreError(.reportHead, message: "\(where_) holds the head of report \(payload.sequence), not \(sequence) as its name says")
        }
        return Head(object: object, bytes: bytes, envelope: envelope, payload: payload)
    }

    /// The newest valid head on a store, for the recorder; nil when there is none or it cannot
    /// be read (logged: the chain then goes on from the local folder).
    package static func newest(on store: any ObjectStore, publicKey: [UInt8]?, logger: Logger) -> Head? {
        do throws(CoreError) {
            let last: (sequence: Int, object: String)?
            do { last = try sequences(on: store).last } catch { throw CoreError(error) }
            guard let last else { return nil }
            return try read(last.object, sequence: last.sequence, on: store, publicKey: publicKey)
        } catch {
            logger.warning("target \(store.targetName): the drill chain heads cannot be read (\(error.message)); the chain goes on from the local report folder",
                           metadata: ["target": "\(store.targetName)"])
            return nil
        }
    }
}
