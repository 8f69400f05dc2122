import DRBase

/// How long since `start`, in seconds (for reports).
enum Elapsed {
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// A one-line progress display on a terminal's standard error, redrawn in place.
final class Progress: Sendable {
    let enabled: Bool
    let total: Int
    init(enabled: Bool, total: Int) {
        self.enabled = enabled
        self.total = total
    }

    func update(done: Int, current: String, read: Int64, new: Int64, verb: String = "read") {
        guard enabled else { return }
        let name = current.count > 40 ? "…" + current.suffix(39) : current
        let added = verb == "read" ? ", \(ByteSize.format(new)) new" : ""
        StandardStreams.writeError("\r\u{1B}[K[\(done)/\(total)] \(ByteSize.format(read)) \(verb)\(added)  \(name)")
    }

    func finish() {
        guard enabled else { return }
        StandardStreams.writeError("\r\u{1B}[K")
    }
}
