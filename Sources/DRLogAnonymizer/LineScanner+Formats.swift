import DRConfig

/// What the scanner knows of particular formats, on top of the generic pass: the user field of
/// nginx's and Apache's access logs, and the fields of JSON lines.
extension LineScanner {
    /// `host ident user [time] "request" …` (combined and common log formats): the third
    /// field is the authenticated user (`-` when none).
    func nginxUser(_ p: UnsafeBufferPointer<UInt8>) {
        var k = 0
        var third = 0
        for field in 0..<3 {
            guard k < p.count, p[k] != 0x20 else { return }
            if field == 2 { third = k }
            while k < p.count, p[k] != 0x20 { k += 1 }
            guard k + 1 < p.count, p[k] == 0x20 else { return }
            k += 1
        }
        guard p[k] == 0x5B, k + 3 < p.count, p[k + 1].isDigit else { return }
        let start = third, end = k - 1
        let value = UnsafeBufferPointer(rebasing: p[start..<end])
        guard !(value.count == 1 && value[0] == 0x2D), !value.contains(0x40) else { return }
        switch methods.options.usernames {
        case .token: fix(start, end, .username, deferred: .token(.username, start: start, end: end, prefix: "user-", suffix: ""))
        case .redact: fix(start, end, LineScanner.user, .username)
        }
    }
}

/// The configured JSON field paths (`client.ip`), as bytes; their FNV hashes first, so that
/// the many paths that are not configured cost no Set hashing (SipHash) of the path.
struct JSONFieldSet {
    private let paths: Set<[UInt8]>
    private let hashes: WordSet
    init(_ paths: [String]) {
        self.paths = Set(paths.map { Array($0.utf8) })
        hashes = WordSet(hashes: paths.map { Array($0.utf8).withUnsafeBufferPointer { ByteHash.of($0, lowercased: false) } })
    }

    func contains(_ path: [UInt8]) -> Bool {
        let hash = path.withUnsafeBufferPointer { ByteHash.of($0, lowercased: false) }
        return hashes.contains(hash) && paths.contains(path)
    }
}

/// A small set of 64-bit word hashes (ByteHash, lower-cased): the scanner's key names. Open
/// addressing over 256 slots, indexed by the hash's top bits (FNV spreads them): a lookup is
/// one or two loads, where Set<UInt64> would run SipHash over the key first.
struct WordSet {
    private var slots = [UInt64](repeating: 0, count: 256)

    init(_ words: [String]) { self.init(hashes: words.map(ByteHash.of)) }

    init(hashes: [UInt64]) {
        precondition(hashes.count < 128, "WordSet holds fewer than 128 words")
        for hash in hashes where !contains(hash) {
            // 0 marks an empty slot; a word hashing to 0 (2^-64) is kept as 1, a false match at worst.
            var index = Int(truncatingIfNeeded: hash >> 56)
            while slots[index] != 0 { index = (index + 1) & 255 }
            slots[index] = max(hash, 1)
        }
    }

    @inline(__always) func contains(_ hash: UInt64) -> Bool {
        let wanted = max(hash, 1)
        var index = Int(truncatingIfNeeded: hash >> 56)
        while true {
            let slot = slots[index]
            if slot == wanted { return true }
            if slot == 0 { return false }
            index = (index + 1) & 255
        }
    }
}

/// A minimal walker over one JSON object per line: it tracks the dotted path of each string
/// value so that configured fields (and secrets by key name) are replaced whole. Everything
/// else, keys included, still goes through the generic pass. A line that is not well-formed
/// JSON is scanned as text.
enum JSONLine {
    static func fields(_ p: UnsafeBufferPointer<UInt8>, from: Int, scanner: LineScanner) -> Bool {
        // The scanner's buffers, emptied: no allocation per line.
        var path = scanner.jsonPath
        var stack = scanner.jsonStack
        scanner.jsonPath = []
        scanner.jsonStack = []
        path.removeAll(keepingCapacity: true)
        stack.removeAll(keepingCapacity: true)
        defer {
            scanner.jsonPath = path
            scanner.jsonStack = stack
        }
        var expectKey = false
        var key: Range<Int> = 0..<0
        var i = from
        var done = false
        while i < p.count {
            let c = p[i]
            switch c {
            case 0x20, 0x09, 0x0D:
                i += 1
                continue
            default:
                break
            }
            if done { return false }
            switch c {
            case 0x7B:
                stack.append((true, path.count))
                expectKey = true
                i += 1
            case 0x5B:
                guard !stack.isEmpty else { return false }
                stack.append((false, path.count))
                expectKey = false
                i += 1
            case 0x7D, 0x5D:
                guard let top = stack.popLast(), top.object == (c == 0x7D) else { return false }
                if stack.isEmpty { done = true }
                i += 1
            case 0x3A:
                expectKey = false
                i += 1
            case 0x2C:
                expectKey = stack.last?.object ?? false
                i += 1
            case 0x22:
                var end = i + 1
                while end < p.count, p[end] != 0x22 {
                    end += p[end] == 0x5C ? 2 : 1
                }
                guard end < p.count, let top = stack.last else { return false }
                if expectKey && top.object {
                    key = (i + 1)..<end
                    path.removeLast(path.count - top.base)
                    if top.base > 0 { path.append(0x2E) }
                    path.append(contentsOf: UnsafeBufferPointer(rebasing: p[key]))
                } else if end > i + 1 {
                    value(p, (i + 1)..<end, key: key, path: path, scanner: scanner)
                }
                i = end + 1
            default:
                guard !stack.isEmpty else { return false }
                while i < p.count, p[i] != 0x2C, p[i] != 0x7D, p[i] != 0x5D, p[i] != 0x20 { i += 1 }
            }
        }
        return done
    }

    private static func value(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, key: Range<Int>, path: borrowing [UInt8],
                              scanner: LineScanner) {
        let name = ByteHash.of(UnsafeBufferPointer(rebasing: p[key]), lowercased: true)
        if scanner.words.secret.contains(name) {
            scanner.fix(range.lowerBound, range.upperBound, Pseudonymizer.redacted, .secret)
            return
        }
        guard scanner.jsonFields.contains(path) || scanner.words.username.contains(name) else { return }
        let text = UnsafeBufferPointer(rebasing: p[range])
        // IPs and addresses are found by the generic pass in whatever field they are.
        if text.contains(0x40) || text.contains(0x3A) || IPText.ipv4(p, range.lowerBound, range.upperBound)?.end == range.upperBound {
            return
        }
        if text.count == 1 && text[0] == 0x2D { return }
        switch scanner.methods.options.usernames {
        case .token:
            scanner.fix(range.lowerBound, range.upperBound, .username,
                        deferred: .token(.username, start: range.lowerBound, end: range.upperBound, prefix: "user-", suffix: ""))
        case .redact: scanner.fix(range.lowerBound, range.upperBound, LineScanner.user, .username)
        }
    }
}
