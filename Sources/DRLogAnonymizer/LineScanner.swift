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

    /// A replacement: `start..<end` of the line becomes `arena[textStart..<textEnd]`, or, when
    /// `deferred` is not -1, the text of `deferred[deferred]` (LineScanner+Deferred).
    struct Span {
        var start: Int
        var end: Int
        var textStart: Int
        var textEnd: Int
        var kind: Kind
        var deferred = -1
    }

    let methods: Pseudonymizer
    var statistics = LogAnonymizationStatistics()
    var spans: [Span] = []
    /// The replacement texts of the current line, one after another (no allocation per item).
    var arena: [UInt8] = []
    /// Spans fixed by a format's knowledge before the pass, in order.
    var fixed: [Span] = []
    /// JSONLine's path and container stack, kept between lines for their capacity.
    var jsonPath: [UInt8] = []
    var jsonStack: [(object: Bool, base: Int)] = []
    /// The current line's replacements written from a cache lookup when it is copied out.
    var deferred: [Deferred] = []
    /// Where the loads that request the deferred items' cache lines go (never read).
    var sink: UInt64 = 0
    /// Lines collected together before any of them is written (`collect(_:format:batched:)`).
    static let batchLines = 8
    /// The spans, texts and deferred items of the batch's lines, by position in the batch;
    /// swapped with the current ones (no copy), so each slot is scratch again once written.
    private var batchSpans = [[Span]](repeating: [], count: LineScanner.batchLines)
    private var batchArena = [[UInt8]](repeating: [], count: LineScanner.batchLines)
    private var batchDeferred = [[Deferred]](repeating: [], count: LineScanner.batchLines)
    let jsonFields: JSONFieldSet
    let words = KeyWords()

    /// ByteClass.table, held here so that the hot loop reads it without a lazy global's check.
    let classes: UnsafeMutablePointer<UInt8>

    init(methods: Pseudonymizer) {
        self.methods = methods
        classes = .allocate(capacity: 256)
        classes.initialize(from: ByteClass.table, count: 256)
        jsonFields = JSONFieldSet(methods.options.jsonFields)
    }

    deinit { classes.deallocate() }

    /// Whether `byte` is of a class in `mask` (ByteClass), from the instance's copy of the table.
    @inline(__always) func has(_ byte: UInt8, _ mask: UInt8) -> Bool { classes[Int(byte)] & mask != 0 }

    /// Appends the anonymized `line` (without its newline) to `out`.
    func anonymize(_ line: UnsafeBufferPointer<UInt8>, format: LogFormat, into out: inout [UInt8]) {
        collect(line, format: format)
        requestDeferred(deferred, line)
        write(line, into: &out)
    }

    /// Collects `line` as line `index` of a batch (below `batchLines`), to be written by
    /// `writeBatched` after `requestBatch`: the cache lines of a whole batch's lookups are then
    /// requested together, so that one wait for memory serves several lines.
    func collect(_ line: UnsafeBufferPointer<UInt8>, format: LogFormat, batched index: Int) {
        collect(line, format: format)
        swapBatched(index)
    }

    /// Requests the cache lines of the deferred items of the batch's `lines` (still valid).
    func requestBatch(_ lines: [UnsafeBufferPointer<UInt8>]) {
        for index in lines.indices { requestDeferred(batchDeferred[index], lines[index]) }
    }

    /// Appends the anonymized text of the batch's line `index`, `line`.
    func writeBatched(_ index: Int, _ line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        swapBatched(index)
        write(line, into: &out)
    }

    private func swapBatched(_ index: Int) {
        swap(&spans, &batchSpans[index])
        swap(&arena, &batchArena[index])
        swap(&deferred, &batchDeferred[index])
    }

    /// Appends `line` with the collected spans replaced.
    private func write(_ line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var position = 0
        // The arena through one pointer: a slice per span would retain and release its buffer.
        arena.withUnsafeBufferPointer { texts in
            for span in spans where span.start >= position {
                count(span.kind)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: line[position..<span.start]))
                if span.deferred >= 0 {
                    writeDeferred(span.deferred, line, to: &out)
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: texts[span.textStart..<span.textEnd]))
                }
                position = span.end
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: line[position..<line.count]))
    }

    /// Finds what `line` holds: `spans`, sorted by start (overlaps are resolved when written).
    func collect(_ line: UnsafeBufferPointer<UInt8>, format: LogFormat) {
        spans.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
        fixed.removeAll(keepingCapacity: true)
        deferred.removeAll(keepingCapacity: true)
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
        // Nearly every line's spans are in order already: check before sorting.
        var ordered = true
        if spans.count > 1 {
            for index in 1..<spans.count where spans[index - 1].start > spans[index].start {
                ordered = false
                break
            }
        }
        if !ordered { spans.sort { $0.start < $1.start } }
    }

    /// The generic pass over `from..<to`: every finder, whatever the format. Letters and digits
    /// inside a word cost one table lookup; the finders run at word starts (an IP, a number, a
    /// hex label, SASL) and at the few punctuation bytes that introduce something (`@ = ( < :`).
    func scan(_ p: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) {
        let alphanumeric = ByteClass.letter | ByteClass.digit
        var i = from
        var previous: UInt8 = 0x20
        while i < to {
            let c = p[i]
            let kind = classes[Int(c)]
            if kind & alphanumeric != 0 {
                let previousKind = classes[Int(previous)]
                if previousKind & alphanumeric == 0 {
                    if let end = wordStart(p, i, c, kind, from, to) {
                        i = end
                        previous = p[end - 1]
                        continue
                    }
                } else if kind & ByteClass.digit != 0 && previousKind & ByteClass.digit == 0 && numberStart(p, i, from) {
                    // A number after letters: `ip192.0.2.1`, `host001002003004`.
                    if let end = ipv4(p, at: i, from, to) ?? longNumber(p, at: i, from, to) {
                        i = end
                        previous = p[end - 1]
                        continue
                    }
                }
                // The rest of the word: a letter, or a digit after a digit, starts nothing (only a
                // digit after a letter may, `ip192.0.2.1`), so those are skipped: the digits that
                // follow a digit, then the letters, eight at a time (ByteClass.letters), so that a
                // word's end costs no mispredicted loop exit per word.
                i += 1
                if kind & ByteClass.digit != 0 {
                    while i < to, classes[Int(p[i])] & ByteClass.digit != 0 { i += 1 }
                }
                let base = UnsafeRawPointer(p.baseAddress!)
                while i + 8 <= to {
                    let letters = ByteClass.letters(base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    if letters == ByteClass.highBits {
                        i += 8
                        continue
                    }
                    i += (~letters & ByteClass.highBits).trailingZeroBitCount >> 3
                    break
                }
                if i + 8 > to {
                    while i < to, classes[Int(p[i])] & ByteClass.letter != 0 { i += 1 }
                }
                previous = p[i - 1]
                continue
            }
            if kind & ByteClass.trigger != 0 {
                var found: Int?
                switch c {
                case 0x40: found = address(p, at: i, from, to)
                case 0x3D: found = keyValue(p, at: i, from, to)
                case 0x28: if classes[Int(previous)] & ByteClass.letter != 0 { found = tuple(p, at: i, from, to) }
                case 0x3C: found = session(p, at: i, to)
                case 0x3A:
                    if classes[Int(previous)] & ByteClass.letter != 0 {
                        found = colonKey(p, at: i, from, to)
                    } else if previous != 0x3A && previous != 0x2E && classes[Int(previous)] & alphanumeric == 0 {
                        found = ipv6(p, at: i, to)
                    }
                default: break
                }
                if let found {
                    i = found
                    previous = p[found - 1]
                    continue
                }
            }
            previous = c
            i += 1
        }
    }

    /// The finders that start at the first letter or digit of a word.
    @inline(__always)
    private func wordStart(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ c: UInt8, _ kind: UInt8, _ from: Int, _ to: Int) -> Int? {
        guard kind & ByteClass.hex != 0 else { return nil }
        if c | 0x20 == 0x61 || c | 0x20 == 0x63, let end = sasl(p, at: i, to) { return end }
        // IPv6's first test here, inline (most words that start with a hex digit fail it): a
        // group of one to four hex digits and a ':'.
        var k = i
        while k < to, k - i < 4, classes[Int(p[k])] & ByteClass.hex != 0 { k += 1 }
        if k < to, p[k] == 0x3A, let end = ipv6(p, at: i, to) { return end }
        let number = kind & ByteClass.digit != 0 && numberStart(p, i, from)
        if number, let end = ipv4(p, at: i, from, to) { return end }
        if let end = hexHost(p, at: i, to) { return end }
        if number, let end = longNumber(p, at: i, from, to) { return end }
        return nil
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
        let textStart = arena.count
        arena.append(contentsOf: text)
        spans.append(Span(start: start, end: end, textStart: textStart, textEnd: arena.count, kind: kind))
    }

    /// Records a replacement whose text `write` appends to the arena.
    @inline(__always) func replace(_ start: Int, _ end: Int, _ kind: Kind, write: (inout [UInt8]) -> Void) {
        let textStart = arena.count
        write(&arena)
        spans.append(Span(start: start, end: end, textStart: textStart, textEnd: arena.count, kind: kind))
    }

    /// Records a replacement fixed by a format's knowledge before the generic pass.
    func fix(_ start: Int, _ end: Int, _ text: [UInt8], _ kind: Kind) {
        let textStart = arena.count
        arena.append(contentsOf: text)
        fixed.append(Span(start: start, end: end, textStart: textStart, textEnd: arena.count, kind: kind))
    }

    /// Records a replacement fixed by a format's knowledge, its text appended by `write`.
    func fix(_ start: Int, _ end: Int, _ kind: Kind, write: (inout [UInt8]) -> Void) {
        let textStart = arena.count
        write(&arena)
        fixed.append(Span(start: start, end: end, textStart: textStart, textEnd: arena.count, kind: kind))
    }

    static let card = Array("[CARD]".utf8)
    static let user = Array("[USER]".utf8)
    static let addressMarker = Array("[ADDRESS]".utf8)

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
