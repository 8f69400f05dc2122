import DRBase

/// A target that could not be set up (its credentials are unreadable, its bucket is public):
/// every request fails with the reason. The repository layer then leaves the target out as it
/// would an unreachable one — the run goes on with the others and ends *degraded*, naming
/// the target and the reason — instead of one target's setup stopping every target.
package struct UnavailableStore: ObjectStore {
    package let targetName: String
    package let location: String
    package let reason: TransportError

    package init(targetName: String, location: String, reason: TransportError) {
        self.targetName = targetName
        self.location = location
        self.reason = reason
    }

    package func put(_ key: String, _ bytes: [UInt8], ifAbsent: Bool) throws(TransportError) { throw reason }
    package func get(_ key: String, maxBytes: Int64) throws(TransportError) -> [UInt8] { throw reason }
    package func get(_ key: String, offset: Int64, length: Int) throws(TransportError) -> [UInt8] { throw reason }
    package func exists(_ key: String) throws(TransportError) -> Bool { throw reason }
    package func list(prefix: String) throws(TransportError) -> [String] { throw reason }
    package func listSizes(prefix: String) throws(TransportError) -> [String: Int64] { throw reason }
    package func delete(_ key: String) throws(TransportError) { throw reason }
    package func incompleteWrites() throws(TransportError) -> [IncompleteWrite] { throw reason }
    package func removeIncompleteWrite(_ write: IncompleteWrite) throws(TransportError) { throw reason }
}
