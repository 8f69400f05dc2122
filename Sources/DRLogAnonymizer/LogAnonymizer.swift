package import DRConfig
#if canImport(Glibc)
import Glibc
#endif

/// Streams a mail-server log through anonymization, line by line, in constant memory.
///
/// Push style, so that a caller can feed it from a file, standard input or a decompressor and
/// send its output to a file, standard output or a compressor: `feed` any number of times,
/// then `finish` once. Output goes to `emit` in batches of whole lines with their newlines,
/// except for a line longer than `max_line`: it is anonymized and emitted in pieces, each cut
/// at a separator (a space or tab, else a byte no personal item contains) so that nothing
/// personal straddles a cut; its newline comes with its last piece. The line count is kept.
/// Memory: the pending partial line (at most `max_line`) and one output batch.
package final class LogAnonymizer {
    private let scanner: LineScanner
    private let format: LogFormat
    private let maxLine: Int
    private var pending: [UInt8] = []
    /// Whether `pending` continues a long line whose start has been emitted.
    private var continuing = false
    private var output: [UInt8] = []
    /// Whole lines of the bytes being fed, collected as a batch and not yet written
    /// (LineScanner.collect(_:format:batched:)). Never kept past the end of `feed`.
    private var collected: [UnsafeBufferPointer<UInt8>] = []
    private static let batch = 1 << 18

    package var statistics: LogAnonymizationStatistics { scanner.statistics }

    package init(configuration: Configuration.Logs, keys: borrowing LogPseudonymKeys,
                 format: LogFormat = .auto) throws {
        scanner = LineScanner(methods: try Pseudonymizer(options: configuration.anonymize, keys: keys))
        self.format = format
        maxLine = max(1024, configuration.anonymize.maxLine)
        pending.reserveCapacity(4096)
        output.reserveCapacity(Self.batch + maxLine * 2)
    }

    package func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else { return }
        scanner.statistics.bytesIn += bytes.count
        // Collected lines point into `bytes`: none may outlive this call, not even when `emit`
        // throws (on the normal path `writeCollected` has emptied the batch already).
        defer { collected.removeAll(keepingCapacity: true) }
        let all = UnsafeBufferPointer(start: base, count: bytes.count)
        var start = 0
        while start < all.count {
            guard let found = memchr(base + start, 0x0A, all.count - start) else { break }
            let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if pending.isEmpty && newline - start <= maxLine {
                // A whole line in the bytes fed: collected into the batch, written with it.
                let whole = UnsafeBufferPointer(rebasing: all[start..<newline])
                scanner.collect(whole, format: format, batched: collected.count)
                collected.append(whole)
                if collected.count == LineScanner.batchLines { writeCollected() }
            } else {
                pending.append(contentsOf: UnsafeBufferPointer(rebasing: all[start..<newline]))
                cutLongLine()
                pending.withUnsafeBufferPointer { line($0, newline: true) }
                pending.removeAll(keepingCapacity: true)
            }
            continuing = false
            start = newline + 1
            if output.count >= Self.batch { try flush(emit) }
        }
        writeCollected()
        if start < all.count {
            pending.append(contentsOf: UnsafeBufferPointer(rebasing: all[start...]))
            cutLongLine()
        }
        try flush(emit)
    }

    /// Writes the collected lines, if any (before any other line is written, and before `feed`
    /// returns: their bytes are the caller's).
    private func writeCollected() {
        guard !collected.isEmpty else { return }
        scanner.requestBatch(collected)
        for index in collected.indices {
            scanner.writeBatched(index, collected[index], into: &output)
            endLine()
        }
        collected.removeAll(keepingCapacity: true)
    }

    private func endLine() {
        output.append(0x0A)
        scanner.statistics.lines += 1
    }

    package func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        if !pending.isEmpty {
            // A last line without a newline stays without one.
            pending.withUnsafeBufferPointer { line($0, newline: false) }
            pending.removeAll(keepingCapacity: true)
            continuing = false
        }
        try flush(emit)
    }

    private func line(_ bytes: UnsafeBufferPointer<UInt8>, newline: Bool) {
        writeCollected()
        scanner.anonymize(bytes, format: continuing ? .text : format, into: &output)
        if newline { endLine() }
    }

    /// Anonymizes and emits the front of `pending` in pieces while it is longer than `maxLine`.
    private func cutLongLine() {
        while pending.count > maxLine {
            let cut = pending.withUnsafeBufferPointer { cutPoint(UnsafeBufferPointer(rebasing: $0[0..<maxLine])) }
            if !continuing { scanner.statistics.longLines += 1 }
            pending.withUnsafeBufferPointer { line(UnsafeBufferPointer(rebasing: $0[0..<cut]), newline: false) }
            continuing = true
            pending.removeSubrange(0..<cut)
        }
    }

    /// Where to end a piece of a long line so that nothing personal is cut, nor cut off from
    /// what identifies it (`password: `, `AUTH PLAIN `, `key=`): the whole window is scanned
    /// first, and the cut goes after a separator that no found item covers and that no item
    /// starts within the next 64 bytes of; the window's last 1 KiB (or quarter) is carried to the next piece,
    /// so an item running past the window is found whole there.
    private func cutPoint(_ window: UnsafeBufferPointer<UInt8>) -> Int {
        scanner.collect(window, format: .text)
        let spans = scanner.spans
        let limit = window.count - min(1024, window.count / 4)
        func clear(_ k: Int) -> Bool {
            // No span intersects k-1 ..< k+64 (spans are sorted by start).
            !spans.contains { $0.start < k + 64 && $0.end > k - 1 }
        }
        var k = limit
        while k > window.count / 2 {
            let c = window[k - 1]
            if (c == 0x20 || c == 0x09) && clear(k) { return k }
            k -= 1
        }
        k = limit
        while k > window.count / 2 {
            let c = window[k - 1]
            if !c.isClass(ByteClass.local | ByteClass.domain | ByteClass.base64) && c != 0x3A && c != 0x22 && c != 0x5C && clear(k) {
                return k
            }
            k -= 1
        }
        // One unbroken run of item bytes: cut where no found item is (an item longer than half
        // the window is cut in its middle: the limit docs/LOGS.md states).
        k = limit
        while k > window.count / 2, !clear(k) { k -= 1 }
        return max(k, 1)
    }

    private func flush(_ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !output.isEmpty else { return }
        scanner.statistics.bytesOut += output.count
        try output.withUnsafeBytes { try emit($0) }
        output.removeAll(keepingCapacity: true)
    }
}

/// The log formats the anonymizer knows; `auto` detects each line's own.
package enum LogFormat: String, Sendable, CaseIterable {
    case auto, postfix, dovecot, haraka, nginx, json, text
}
