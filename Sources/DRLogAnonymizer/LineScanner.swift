import DRConfig

/// One line (or one piece of a long line) in, its anonymized bytes out.
///
/// One left-to-right pass over the bytes: most bytes cost a table lookup; the few that can
/// start something personal (a digit or hex letter at a word start, '@', '=', ':', '(', '<')
/// run the finder for it, which records a replacement span. The spans are then copied out with
/// the bytes between them unchanged, so whatever is not personal (and invalid UTF-8) passes
/// through byte for byte. Per-format knowledge (nginx's user field, JSON field paths) adds
/// spans before the pass, which then skips them.
final class LineScanner {
    enum Kind { case ipv4, ipv6, ipInHostName, address, username, session, secret, card }

    struct Span {
        var start: Int
        var end: Int
        var text: [UInt8]
        var kind: Kind
    }

    let methods: Pseudonymizer
    var statistics = LogAnonymizationStatistics()
    var spans: [Span] = []
    /// Spans fixed by a format's knowledge before the pass, in order.
    var fixed: [Span] = []
    let jsonFields: JSONFieldSet

    /// ByteClass.table, held here so that the hot loop reads it without a lazy global's check.
    private let classes: UnsafeMutablePointer<UInt8>

    init(methods: Pseudonymizer) {
        self.methods = methods
        classes = .allocate(capacity: 256)
        classes.initialize(from: ByteClass.table, count: 256)
        jsonFields = JSONFieldSet(methods.options.jsonFields)
    }

    deinit { classes.deallocate() }

    /// Appends the anonymized `line` (without its newline) to `out`.
    func anonymize(_ line: UnsafeBufferPointer<UInt8>, format: LogFormat, into out: inout [UInt8]) {
        collect(line, format: format)
        var position = 0
        for span in spans where span.start >= position {
            count(span.kind)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: line[position..<span.start]))
            out.append(contentsOf: span.text)
            position = span.end
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: line[position..<line.count]))
    }

    /// Finds what `line` holds: `spans`, sorted by start (overlaps are resolved when written).
    func collect(_ line: UnsafeBufferPointer<UInt8>, format: LogFormat) {
        spans.removeAll(keepingCapacity: true)
        fixed.removeAll(keepingCapacity: true)
        var first = 0
        while first < line.count, line[first] == 0x20 || line[first] == 0x09 { first += 1 }
        let looksJSON = first < line.count && line[first] == 0x7B
        if format == .json || (format == .auto && looksJSON) {
            if !JSONLine.fields(line, from: first, scanner: self) { fixed.removeAll(keepingCapacity: true) }
        } else if format == .nginx || format == .auto {
            nginxUser(line)
        }
        var from = 0
        for span in fixed {
            scan(line, from, span.start)
            spans.append(span)
            from = span.end
        }
        scan(line, from, line.count)
        // Finders append in order; a later finder may have claimed bytes an earlier one did not
        // (an address around a number), so keep the first of overlapping spans after sorting.
        spans.sort { $0.start < $1.start }
    }

    /// The generic pass over `from..<to`: every finder, whatever the format.
    func scan(_ p: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) {
        do {
            var i = from
            while i < to {
                let c = p[i]
                let kind = classes[Int(c)]
                if kind & ByteClass.trigger == 0 {
                    i += 1
                    continue
                }
                let previous: UInt8 = i > from ? p[i - 1] : 0x20
                let atWordStart = classes[Int(previous)] & (ByteClass.letter | ByteClass.digit) == 0
                switch c {
                case 0x40: // @
                    if let end = address(p, at: i, from, to) { i = end; continue }
                case 0x3D: // =
                    if let end = keyValue(p, at: i, from, to) { i = end; continue }
                case 0x28: // (
                    if classes[Int(previous)] & ByteClass.letter != 0, let end = tuple(p, at: i, from, to) { i = end; continue }
                case 0x3C: // <
                    if let end = session(p, at: i, to) { i = end; continue }
                case 0x3A: // :
                    if classes[Int(previous)] & ByteClass.letter != 0, let end = colonKey(p, at: i, from, to) { i = end; continue }
                    if previous != 0x3A && previous != 0x2E && (atWordStart || ipv6Literal(p, i, from)),
                       let end = ipv6(p, at: i, to) { i = end; continue }
                default:
                    break
                }
                if kind & ByteClass.hex != 0 {
                    if atWordStart || ipv6Literal(p, i, from) {
                        if c | 0x20 == 0x61 || c | 0x20 == 0x63, let end = sasl(p, at: i, to) { i = end; continue }
                        if let end = ipv6(p, at: i, to) { i = end; continue }
                    }
                    let number = kind & ByteClass.digit != 0 && numberStart(p, i, from)
                    if number, let end = ipv4(p, at: i, from, to) { i = end; continue }
                    if previous == 0x2E || previous == 0x2D || atWordStart, let end = hexHost(p, at: i, to) { i = end; continue }
                    if number, let end = longNumber(p, at: i, from, to) { i = end; continue }
                }
                i += 1
            }
        }
    }

    /// Whether `i` is preceded by `IPv6:` (an SMTP address literal, any case).
    func ipv6Literal(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ from: Int) -> Bool {
        guard i - 5 >= from, p[i - 1] == 0x3A else { return false }
        return p[i - 5].lowercased == 0x69 && p[i - 4].lowercased == 0x70 && p[i - 3].lowercased == 0x76 && p[i - 2] == 0x36
    }

    /// A number starts here: not in the middle of digits, nor right after a digit and a dot
    /// (a dot after a letter is a host-name label: `dsl.192.0.2.1.example`).
    func numberStart(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ from: Int) -> Bool {
        guard i > from else { return true }
        let previous = p[i - 1]
        if previous.isDigit || previous == 0x3A { return false }
        if previous == 0x2E || previous == 0x2D { return i - 2 < from || !p[i - 2].isDigit }
        return true
    }

    /// Records a replacement.
    @inline(__always) func replace(_ start: Int, _ end: Int, _ text: [UInt8], _ kind: Kind) {
        spans.append(Span(start: start, end: end, text: text, kind: kind))
    }

    private func count(_ kind: Kind) {
        switch kind {
        case .ipv4: statistics.ipv4 += 1
        case .ipv6: statistics.ipv6 += 1
        case .ipInHostName: statistics.ipInHostNames += 1
        case .address: statistics.addresses += 1
        case .username: statistics.usernames += 1
        case .session: statistics.sessions += 1
        case .secret: statistics.secrets += 1
        case .card: statistics.cards += 1
        }
    }

    /// Drops spans recorded inside `start…` (a finder that looks backwards claimed them).
    func dropSpans(after start: Int) -> Int {
        var start = start
        while let last = spans.last, last.end > start {
            if last.start < start { start = last.end; break }
            spans.removeLast()
        }
        return start
    }
}
