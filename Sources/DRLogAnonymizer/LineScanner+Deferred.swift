/// Replacements whose text needs a lookup in one of the big caches (IP pseudonyms, tokens) are
/// recorded while the line is scanned and written when it is copied out, after the cache lines
/// of all of them, and of the other lines of its batch (LogAnonymizer collects eight lines at a
/// time), have been requested together.
///
/// The caches hold hundreds of thousands of entries looked up at random, so nearly every lookup
/// misses the CPU's caches and waits for memory: done as each item is found, the line's lookups
/// (about four per Postfix or Dovecot line) wait one after another, with the scanning between
/// them too long for the processor to overlap them. Requested first, one load each, their waits
/// overlap, and the lookups that follow find their lines in cache. (A load, not a prefetch
/// instruction, which Swift lacks: a load that misses still holds retirement once the reorder
/// buffer is full, which is why a whole batch's loads go together.) The text written is exactly
/// what the immediate lookup wrote (the caches are pure memoisation).
extension LineScanner {
    /// How a deferred IPv4 pseudonym is written.
    enum IPv4Form {
        /// Dotted or dashed, zero-padded or not; `reversed`: the address was read byte-swapped
        /// (`4.3.2.1.in-addr.arpa`) and its pseudonym is written the same way round.
        case text(separator: UInt8, padded: Bool, reversed: Bool)
        /// Twelve digits, three per octet.
        case twelveDigits
        /// Eight hex digits.
        case hex(uppercase: Bool)
    }

    /// A replacement written from a cache lookup when the line is copied out.
    enum Deferred {
        case ipv4(UInt32, IPv4Form)
        case ipv6(UInt128, uppercase: Bool, exploded: Bool)
        /// `prefix`, the token of the line's bytes `start..<end`, `suffix`.
        case token(Pseudonymizer.TokenKind, start: Int, end: Int, prefix: StaticString, suffix: StaticString)
    }

    /// Records a replacement whose text is written from `item` when the line is copied out.
    @inline(__always) func replace(_ start: Int, _ end: Int, _ kind: Kind, deferred item: Deferred) {
        spans.append(Span(start: start, end: end, textStart: 0, textEnd: 0, kind: kind, deferred: deferred.count))
        deferred.append(item)
    }

    /// Records a replacement fixed by a format's knowledge, written from `item` when the line is
    /// copied out.
    func fix(_ start: Int, _ end: Int, _ kind: Kind, deferred item: Deferred) {
        fixed.append(Span(start: start, end: end, textStart: 0, textEnd: 0, kind: kind, deferred: deferred.count))
        deferred.append(item)
    }

    /// Requests the cache line of every deferred item's lookup (a load each, folded into a value
    /// kept so that the loads are not optimised away); the loads are independent, so their
    /// waits overlap.
    func requestDeferred(_ items: [Deferred], _ line: UnsafeBufferPointer<UInt8>) {
        guard !items.isEmpty else { return }
        var touched: UInt64 = 0
        for item in items {
            switch item {
            case .ipv4(let value, let form):
                if case .text(_, _, true) = form {
                    touched ^= methods.touchIPv4(value.byteSwapped)
                } else {
                    touched ^= methods.touchIPv4(value)
                }
            case .ipv6(let value, _, _):
                touched ^= methods.touchIPv6(value)
            case .token(let kind, let start, let end, _, _):
                touched ^= methods.touchToken(kind, UnsafeBufferPointer(rebasing: line[start..<end]))
            }
        }
        sink ^= touched
    }

    /// Appends the text of deferred item `index` to `out`.
    func writeDeferred(_ index: Int, _ line: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        switch deferred[index] {
        case .ipv4(let value, let form):
            switch form {
            case .text(let separator, let padded, let reversed):
                // `value` is the address as written; a reversed one is mapped the right way round.
                let real = reversed ? value.byteSwapped : value
                let mapped = methods.ipv4(real)
                let written = reversed ? mapped.byteSwapped : mapped
                IPText.appendIPv4(written, separator: separator, padded: padded, reversed: false, to: &out)
            case .twelveDigits:
                let mapped = methods.ipv4(value)
                for octet in 0..<4 { IPText.appendDecimal(Int(mapped >> UInt32(8 * (3 - octet)) & 0xFF), width: 3, to: &out) }
            case .hex(let uppercase):
                let mapped = methods.ipv4(value)
                let digits: StaticString = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
                for nibble in 0..<8 { out.append(digits.utf8Start[Int(mapped >> UInt32(4 * (7 - nibble)) & 15)]) }
            }
        case .ipv6(let value, let uppercase, let exploded):
            IPText.appendIPv6(methods.ipv6(value), uppercase: uppercase, exploded: exploded, to: &out)
        case .token(let kind, let start, let end, let prefix, let suffix):
            methods.appendToken(kind, UnsafeBufferPointer(rebasing: line[start..<end]), prefix: prefix, to: &out)
            out.append(contentsOf: UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount))
        }
    }
}
