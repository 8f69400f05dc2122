import DRBase
/// TOML 1.0, parsed by hand so that every key and value keeps its line and column.
///
/// No package dependency: the configuration is the first thing drctl reads, its errors must
/// point at `FILE:LINE:COLUMN`, and the grammar is small enough to own.
package enum TOML {
    /// Parses a whole document.
    /// - Parameter path: the file name used in error messages.
    /// - Throws: `ConfigError` with code `config.syntax`, located at the offending character.
    package static func parse(_ text: String, path: String) throws(ConfigError) -> TOMLTable {
        var parser = TOMLParser(text: text, path: path)
        return try parser.parseDocument()
    }
}

/// A table while the document is being read: mutable, shared between the tree and the
/// "current table" cursor, which is why it is a class (never escapes the parser).
private final class TableBuilder {
    var origin: TOMLTable.Origin
    var line: Int
    var column: Int
    var order: [String] = []
    var slots: [String: Slot] = [:]

    init(origin: TOMLTable.Origin, line: Int, column: Int) {
        self.origin = origin
        self.line = line
        self.column = column
    }

    func add(_ key: String, _ slot: Slot) {
        order.append(key)
        slots[key] = slot
    }

    func freeze() -> TOMLTable {
        var entries: [TOMLTable.Entry] = []
        for key in order {
            guard let slot = slots[key] else { continue }
            switch slot {
            case .value(let line, let column, let node):
                entries.append(.init(key: key, line: line, column: column, node: node))
            case .table(let table):
                entries.append(.init(key: key, line: table.line, column: table.column,
                                     node: TOMLNode(value: .table(table.freeze()),
                                                    line: table.line, column: table.column)))
            case .tables(let array):
                let items = array.tables.map {
                    TOMLNode(value: .table($0.freeze()), line: $0.line, column: $0.column)
                }
                entries.append(.init(key: key, line: array.line, column: array.column,
                                     node: TOMLNode(value: .array(items), line: array.line,
                                                    column: array.column)))
            }
        }
        return TOMLTable(entries: entries, origin: origin, line: line, column: column)
    }
}

/// An array of tables (`[[name]]`), the only kind of array that can grow after it is written.
private final class TablesBuilder {
    let line: Int
    let column: Int
    var tables: [TableBuilder] = []
    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

private enum Slot {
    /// A finished value (including inline tables and static arrays: both are closed).
    case value(line: Int, column: Int, TOMLNode)
    case table(TableBuilder)
    case tables(TablesBuilder)

    var line: Int {
        switch self {
        case .value(let line, _, _): line
        case .table(let table): table.line
        case .tables(let array): array.line
        }
    }
}

private struct KeyPart {
    var name: String
    var line: Int
    var column: Int
}

struct TOMLParser {
    private let path: String
    private let text: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    /// Arrays and inline tables open around the cursor. Parsing, freezing and decoding recurse
    /// once per level, so a hostile file of 100,000 `[` would overflow the stack; a drctl
    /// configuration never nests more than a few levels, so deeper nesting is refused.
    private var nesting = 0
    static let maximumNesting = 32
    /// Dotted keys make nested tables too (`a.b.c`), so their length is bounded as well.
    static let maximumKeyParts = 16

    init(text: String, path: String) {
        var scalars = Array(text.unicodeScalars)
        // A byte-order mark is not part of the document (editors on Windows add one).
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        self.text = scalars
        self.path = path
    }

    // MARK: Cursor

    private var column: Int { index - lineStart + 1 }
    private var current: Unicode.Scalar? { index < text.count ? text[index] : nil }
    private func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < text.count ? text[index + offset] : nil
    }

    private mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where index < text.count {
            if text[index] == "\n" {
                line += 1
                lineStart = index + 1
            }
            index += 1
        }
    }

    private var atNewline: Bool {
        current == "\n" || (current == "\r" && peek(1) == "\n")
    }

    private mutating func skipNewline() {
        advance(current == "\r" ? 2 : 1)
    }

    private func fail(_ text: String, line: Int? = nil, column: Int? = nil) -> ConfigError {
        ConfigError(code: .configSyntax, file: path, line: line ?? self.line,
                    column: column ?? self.column, text: text)
    }

    /// How the character at the cursor is named in a message.
    private func describe(_ scalar: Unicode.Scalar?) -> String {
        guard let scalar else { return "the end of the file" }
        switch scalar {
        case "\n": return "the end of the line"
        case "\r": return peekIsCRLF(scalar) ? "the end of the line" : "a carriage return (U+000D)"
        case " ": return "a space"
        case "\t": return "a tab"
        default:
            if isControl(scalar) { return "the control character U+\(hex(scalar.value, width: 4))" }
            return "\"\(scalar)\""
        }
    }

    private func peekIsCRLF(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\r" && current == "\r" && peek(1) == "\n"
    }

    // MARK: Document

    mutating func parseDocument() throws(ConfigError) -> TOMLTable {
        let root = TableBuilder(origin: .root, line: 1, column: 1)
        var table = root
        while true {
            skipSpaces()
            guard let scalar = current else { break }
            switch scalar {
            case "#":
                try skipComment()
            case "\n", "\r":
                guard atNewline else {
                    throw fail("a carriage return must be followed by a line feed (use \\n or \\r\\n line endings)")
                }
                skipNewline()
            case "[":
                table = try parseHeader(root: root)
                try expectLineEnd(after: "the table header")
            default:
                try parseKeyValue(into: table)
                try expectLineEnd(after: "the value")
            }
        }
        return root.freeze()
    }

    private mutating func skipSpaces() {
        while current == " " || current == "\t" { advance() }
    }

    /// Skips a comment up to (not including) the end of the line.
    private mutating func skipComment() throws(ConfigError) {
        advance() // "#"
        while let scalar = current, !atNewline {
            if isControl(scalar) && scalar != "\t" {
                throw fail("\(describe(scalar)) is not allowed in a comment")
            }
            advance()
        }
    }

    private mutating func skipSpacesCommentsAndNewlines() throws(ConfigError) {
        while true {
            skipSpaces()
            if current == "#" {
                try skipComment()
            } else if atNewline {
                skipNewline()
            } else {
                return
            }
        }
    }

    /// After a key/value pair or a header only a comment may follow on the same line.
    private mutating func expectLineEnd(after what: String) throws(ConfigError) {
        skipSpaces()
        if current == "#" { try skipComment() }
        guard let scalar = current else { return }
        guard atNewline else {
            throw fail("unexpected \(describe(scalar)) after \(what): expected the end of the line (one key = value per line; comments start with #)")
        }
        skipNewline()
    }

    // MARK: Keys

    private mutating func parseKey() throws(ConfigError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            skipSpaces()
            parts.append(try parseSimpleKey())
            skipSpaces()
            guard current == "." else { return parts }
            guard parts.count < Self.maximumKeyParts else {
                throw fail("a dotted key has more than \(Self.maximumKeyParts) parts; a drctl configuration needs only a few — is this the right file?")
            }
            advance()
        }
    }

    private mutating func parseSimpleKey() throws(ConfigError) -> KeyPart {
        let startLine = line, startColumn = column
        switch current {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" {
                throw fail("a multi-line string cannot be a key: expected a bare key or a \"quoted\" key")
            }
            return KeyPart(name: try parseBasicString(), line: startLine, column: startColumn)
        case "'":
            if peek(1) == "'" && peek(2) == "'" {
                throw fail("a multi-line string cannot be a key: expected a bare key or a 'quoted' key")
            }
            return KeyPart(name: try parseLiteralString(), line: startLine, column: startColumn)
        default:
            var name = String.UnicodeScalarView()
            while let scalar = current, isBareKeyScalar(scalar) {
                name.append(scalar)
                advance()
            }
            guard !name.isEmpty else {
                throw fail("expected a key (letters, digits, _ and -, or a \"quoted\" key), found \(describe(current))")
            }
            return KeyPart(name: String(name), line: startLine, column: startColumn)
        }
    }

    // MARK: Tables

    private mutating func parseHeader(root: TableBuilder) throws(ConfigError) -> TableBuilder {
        let headerLine = line, headerColumn = column
        advance() // "["
        let isArray = current == "["
        if isArray { advance() }
        let keys = try parseKey()
        let name = displayKey(keys.map(\.name))
        let close = isArray ? "]]" : "]"
        guard current == "]", !isArray || peek(1) == "]" else {
            let found = current == "]" ? peek(1) : current
            let foundColumn = current == "]" ? column + 1 : column
            throw fail("expected \(close) to close the table header \(isArray ? "[[" : "[")\(name), found \(describe(found))",
                       column: foundColumn)
        }
        advance(isArray ? 2 : 1)

        // Walk the parents: missing ones are created implicitly; an array of tables
        // means its last element (TOML's rule for [a.b] after [[a]]).
        var table = root
        for (position, part) in keys.dropLast().enumerated() {
            let soFar = displayKey(keys[0...position].map(\.name))
            switch table.slots[part.name] {
            case nil:
                let child = TableBuilder(origin: .implicit, line: headerLine, column: headerColumn)
                table.add(part.name, .table(child))
                table = child
            case .table(let child):
                table = child
            case .tables(let array):
                guard let last = array.tables.last else { throw fail("internal: empty array of tables") }
                table = last
            case .value(let valueLine, _, _):
                throw fail("key \(soFar) already has a value (line \(valueLine)), so it cannot also be a table",
                           line: part.line, column: part.column)
            }
        }
        guard let last = keys.last else { throw fail("expected a table name") }

        if isArray {
            let element = TableBuilder(origin: .header, line: headerLine, column: headerColumn)
            switch table.slots[last.name] {
            case nil:
                let array = TablesBuilder(line: headerLine, column: headerColumn)
                array.tables.append(element)
                table.add(last.name, .tables(array))
            case .tables(let array):
                array.tables.append(element)
            case .table(let existing):
                throw fail("[[\(name)]] cannot be an array of tables: [\(name)] is already a table (line \(existing.line))",
                           line: headerLine, column: headerColumn)
            case .value(let valueLine, _, _):
                throw fail("[[\(name)]] cannot be an array of tables: key \(name) already has a value (line \(valueLine)); a static array cannot be extended",
                           line: headerLine, column: headerColumn)
            }
            return element
        }

        switch table.slots[last.name] {
        case nil:
            let child = TableBuilder(origin: .header, line: headerLine, column: headerColumn)
            table.add(last.name, .table(child))
            return child
        case .table(let existing) where existing.origin == .implicit:
            // [a.b] then [a] is allowed: [a] was only implied so far.
            existing.origin = .header
            existing.line = headerLine
            existing.column = headerColumn
            return existing
        case .table(let existing):
            let how = existing.origin == .dotted ? "by dotted keys " : ""
            throw fail("table [\(name)] is defined twice: it was already defined \(how)at line \(existing.line)",
                       line: headerLine, column: headerColumn)
        case .tables(let array):
            throw fail("[\(name)] is already an array of tables ([[\(name)]] at line \(array.line)); write [[\(name)]] to add an element",
                       line: headerLine, column: headerColumn)
        case .value(let valueLine, _, _):
            throw fail("table [\(name)] is defined twice: key \(name) already has a value (line \(valueLine))",
                       line: headerLine, column: headerColumn)
        }
    }

    private mutating func parseKeyValue(into table: TableBuilder) throws(ConfigError) {
        let keys = try parseKey()
        skipSpaces()
        guard current == "=" else {
            throw fail("expected = after the key \(displayKey(keys.map(\.name))), found \(describe(current))")
        }
        advance()
        skipSpaces()
        let node = try parseValue()

        var target = table
        for (position, part) in keys.dropLast().enumerated() {
            let soFar = displayKey(keys[0...position].map(\.name))
            switch target.slots[part.name] {
            case nil:
                let child = TableBuilder(origin: .dotted, line: part.line, column: part.column)
                target.add(part.name, .table(child))
                target = child
            case .table(let child) where child.origin == .dotted:
                target = child
            case .table(let child):
                throw fail("a dotted key cannot add to table \(soFar): it is defined at line \(child.line); put the key under its header",
                           line: part.line, column: part.column)
            case .tables(let array):
                throw fail("a dotted key cannot add to \(soFar): it is an array of tables (line \(array.line))",
                           line: part.line, column: part.column)
            case .value(let valueLine, _, _):
                throw fail("key \(soFar) already has a value (line \(valueLine)), so it cannot also be a table",
                           line: part.line, column: part.column)
            }
        }
        guard let last = keys.last else { throw fail("expected a key") }
        if let existing = target.slots[last.name] {
            throw fail("duplicate key \(displayKey(keys.map(\.name))): it is already defined at line \(existing.line)",
                       line: last.line, column: last.column)
        }
        target.add(last.name, .value(line: last.line, column: last.column, node))
    }

    // MARK: Values

    private mutating func parseValue() throws(ConfigError) -> TOMLNode {
        let startLine = line, startColumn = column
        func node(_ value: TOMLValue) -> TOMLNode {
            TOMLNode(value: value, line: startLine, column: startColumn)
        }
        switch current {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return node(.string(try parseMultilineBasicString())) }
            return node(.string(try parseBasicString()))
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return node(.string(try parseMultilineLiteralString())) }
            return node(.string(try parseLiteralString()))
        case "[", "{":
            guard nesting < Self.maximumNesting else {
                throw fail("arrays and inline tables are nested more than \(Self.maximumNesting) levels deep here; a drctl configuration needs only a few — is this the right file?")
            }
            nesting += 1
            defer { nesting -= 1 }
            return node(current == "[" ? try parseArray() : try parseInlineTable())
        case let scalar? where isBareKeyScalar(scalar) || scalar == "+" || scalar == ".":
            return node(try parseBareValue())
        default:
            throw fail("expected a value (a \"string\", a number, true or false, an [array] or an { inline table }), found \(describe(current))")
        }
    }

    /// Booleans, numbers, date-times, inf and nan: everything written without delimiters.
    private mutating func parseBareValue() throws(ConfigError) -> TOMLValue {
        let startLine = line, startColumn = column
        var token = String.UnicodeScalarView()
        func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
            isBareKeyScalar(scalar) || scalar == "+" || scalar == "." || scalar == ":"
        }
        while let scalar = current {
            if isTokenScalar(scalar) {
                token.append(scalar)
                advance()
            } else if scalar == " ", isDate(String(token)), let next = peek(1), ("0"..."9").contains(next) {
                // "1979-05-27 07:32:00": a space may separate date and time.
                token.append(scalar)
                advance()
            } else {
                break
            }
        }
        let text = String(token)
        func invalid(_ why: String) -> ConfigError {
            fail(why, line: startLine, column: startColumn)
        }
        switch text {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if text.first.map({ $0.isLetter }) == true {
            throw invalid("unquoted text \(text): strings must be quoted, e.g. \(quoted(text)) (true and false are lowercase)")
        }
        if looksLikeDateTime(text) {
            guard isValidDateTime(text) else {
                throw invalid("invalid date-time \(text): expected a form like 1979-05-27T07:32:00Z, 1979-05-27 or 07:32:00")
            }
            return .dateTime(text)
        }
        return try parseNumber(text, invalid: invalid)
    }

    private func parseNumber(_ text: String, invalid: (String) -> ConfigError) throws(ConfigError) -> TOMLValue {
        let scalars = Array(text.unicodeScalars)
        // Underscores are only allowed between two digits.
        for (position, scalar) in scalars.enumerated() where scalar == "_" {
            let before = position > 0 ? scalars[position - 1] : nil
            let after = position + 1 < scalars.count ? scalars[position + 1] : nil
            guard let before, let after, before.properties.isASCIIHexDigit, after.properties.isASCIIHexDigit else {
                throw invalid("invalid number \(text): an underscore must sit between two digits, as in 1_000")
            }
        }
        let cleaned = String(String.UnicodeScalarView(scalars.filter { $0 != "_" }))

        for (prefix, radix, name) in [("0x", 16, "hexadecimal"), ("0o", 8, "octal"), ("0b", 2, "binary")]
        where cleaned.hasPrefix(prefix) {
            let digits = cleaned.dropFirst(2)
            guard !digits.isEmpty, let value = Int64(digits, radix: radix) else {
                let allValid = !digits.isEmpty && digits.allSatisfy { $0.isHexDigit && Int(String($0), radix: radix) != nil }
                throw invalid(allValid
                              ? "integer \(text) is out of range: expected a value that fits in 64 bits"
                              : "invalid \(name) integer \(text): expected \(prefix) followed by \(name) digits")
            }
            return .integer(value)
        }

        var body = Substring(cleaned)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        let isFloat = body.contains(".") || body.contains("e") || body.contains("E")
        // Split into integer part, fraction and exponent to apply TOML's stricter rules
        // (Swift's Double() would accept ".5", "5.", "0x1p3" and more).
        var integerPart = body
        var fraction: Substring?
        var exponent: Substring?
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = body[body.index(after: e)...]
            integerPart = body[..<e]
        }
        if let dot = integerPart.firstIndex(of: ".") {
            fraction = integerPart[integerPart.index(after: dot)...]
            integerPart = integerPart[..<dot]
        }
        guard !integerPart.isEmpty, integerPart.allSatisfy(\.isASCIIDigit) else {
            throw invalid("invalid number \(text): expected digits, as in 42, -17, 3.14 or 1e6")
        }
        if integerPart.count > 1 && integerPart.first == "0" {
            throw invalid("invalid number \(text): leading zeros are not allowed (write \(integerPart.drop { $0 == "0" }.isEmpty ? "0" : String(integerPart.drop { $0 == "0" })))")
        }
        if let fraction, fraction.isEmpty || !fraction.allSatisfy(\.isASCIIDigit) {
            throw invalid("invalid number \(text): expected digits after the decimal point, as in 3.0")
        }
        if var exponent {
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            guard !exponent.isEmpty, exponent.allSatisfy(\.isASCIIDigit) else {
                throw invalid("invalid number \(text): expected digits in the exponent, as in 1e6")
            }
        }
        if isFloat {
            guard let value = Double(cleaned) else { throw invalid("invalid float \(text)") }
            return .float(value)
        }
        guard let value = Int64(cleaned) else {
            throw invalid("integer \(text) is out of range: expected a value between \(Int64.min) and \(Int64.max)")
        }
        return .integer(value)
    }

    private mutating func parseArray() throws(ConfigError) -> TOMLValue {
        let openLine = line, openColumn = column
        advance() // "["
        var items: [TOMLNode] = []
        while true {
            try skipSpacesCommentsAndNewlines()
            guard let scalar = current else {
                throw fail("unterminated array: expected ] to close the array opened at line \(openLine), column \(openColumn)")
            }
            if scalar == "]" {
                advance()
                return .array(items)
            }
            items.append(try parseValue())
            try skipSpacesCommentsAndNewlines()
            switch current {
            case ",": advance()
            case "]":
                advance()
                return .array(items)
            case nil:
                throw fail("unterminated array: expected ] to close the array opened at line \(openLine), column \(openColumn)")
            default:
                throw fail("expected , or ] after an array element, found \(describe(current))")
            }
        }
    }

    private mutating func parseInlineTable() throws(ConfigError) -> TOMLValue {
        let table = TableBuilder(origin: .inline, line: line, column: column)
        advance() // "{"
        skipSpaces()
        if current == "}" {
            advance()
            return .table(table.freeze())
        }
        while true {
            skipSpaces()
            if current == nil || atNewline {
                throw fail("expected a key or } in the inline table, found \(describe(current)) (an inline table must fit on one line)")
            }
            try parseKeyValue(into: table)
            skipSpaces()
            switch current {
            case ",":
                advance()
                skipSpaces()
                if current == "}" {
                    throw fail("a trailing comma is not allowed in an inline table: expected a key after ,")
                }
            case "}":
                advance()
                return .table(table.freeze())
            default:
                throw fail("expected , or } in the inline table, found \(describe(current)) (an inline table must fit on one line)")
            }
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(ConfigError) -> String {
        let openLine = line, openColumn = column
        advance() // "
        var out = String.UnicodeScalarView()
        while true {
            guard let scalar = current else {
                throw fail("unterminated string: expected a closing \" for the string opened at line \(openLine), column \(openColumn)")
            }
            switch scalar {
            case "\"":
                advance()
                return String(out)
            case "\n", "\r":
                throw fail("unterminated string: expected a closing \" before the end of the line (use \"\"\" for a multi-line string)")
            case "\\":
                out.append(try parseEscape())
            default:
                guard !isControl(scalar) || scalar == "\t" else {
                    throw fail("\(describe(scalar)) is not allowed in a string: write it as an escape such as \\u\(hex(scalar.value, width: 4))")
                }
                out.append(scalar)
                advance()
            }
        }
    }

    /// In a multi-line string, a run of quotes: three close the string (up to two more before
    /// them belong to the content); fewer are content. Returns whether the string closed.
    private mutating func consumeQuoteRun(_ quote: Unicode.Scalar,
                                          into out: inout String.UnicodeScalarView) throws(ConfigError) -> Bool {
        var run = 0
        while peek(run) == quote { run += 1 }
        if run >= 3 {
            guard run <= 5 else {
                let q = String(quote)
                throw fail("too many quotes: at most two \(q) may come right before the closing \(q)\(q)\(q)")
            }
            for _ in 0..<(run - 3) { out.append(quote) }
            advance(run)
            return true
        }
        for _ in 0..<run { out.append(quote) }
        advance(run)
        return false
    }

    private mutating func parseMultilineBasicString() throws(ConfigError) -> String {
        let openLine = line, openColumn = column
        advance(3)
        if atNewline { skipNewline() } // a newline right after """ is trimmed
        var out = String.UnicodeScalarView()
        while true {
            guard let scalar = current else {
                throw fail("unterminated multi-line string: expected \"\"\" to close the string opened at line \(openLine), column \(openColumn)")
            }
            switch scalar {
            case "\"":
                if try consumeQuoteRun("\"", into: &out) { return String(out) }
            case "\\":
                // A backslash at the end of a line joins it to the next, trimming the
                // whitespace and newlines in between.
                var ahead = 1
                while peek(ahead) == " " || peek(ahead) == "\t" { ahead += 1 }
                if peek(ahead) == "\n" || (peek(ahead) == "\r" && peek(ahead + 1) == "\n") {
                    advance(ahead)
                    while current == " " || current == "\t" || atNewline {
                        if atNewline { skipNewline() } else { advance() }
                    }
                } else {
                    out.append(try parseEscape())
                }
            case "\n", "\r":
                guard atNewline else { throw fail("a carriage return must be followed by a line feed") }
                skipNewline()
                out.append("\n")
            default:
                guard !isControl(scalar) || scalar == "\t" else {
                    throw fail("\(describe(scalar)) is not allowed in a string: write it as an escape such as \\u\(hex(scalar.value, width: 4))")
                }
                out.append(scalar)
                advance()
            }
        }
    }

    private mutating func parseLiteralString() throws(ConfigError) -> String {
        let openLine = line, openColumn = column
        advance() // '
        var out = String.UnicodeScalarView()
        while true {
            guard let scalar = current else {
                throw fail("unterminated string: expected a closing ' for the string opened at line \(openLine), column \(openColumn)")
            }
            switch scalar {
            case "'":
                advance()
                return String(out)
            case "\n", "\r":
                throw fail("unterminated string: expected a closing ' before the end of the line (use ''' for a multi-line string)")
            default:
                guard !isControl(scalar) || scalar == "\t" else {
                    throw fail("\(describe(scalar)) is not allowed in a literal string (literal strings have no escapes; use a \"basic string\" with \\u\(hex(scalar.value, width: 4)))")
                }
                out.append(scalar)
                advance()
            }
        }
    }

    private mutating func parseMultilineLiteralString() throws(ConfigError) -> String {
        let openLine = line, openColumn = column
        advance(3)
        if atNewline { skipNewline() }
        var out = String.UnicodeScalarView()
        while true {
            guard let scalar = current else {
                throw fail("unterminated multi-line string: expected ''' to close the string opened at line \(openLine), column \(openColumn)")
            }
            switch scalar {
            case "'":
                if try consumeQuoteRun("'", into: &out) { return String(out) }
            case "\n", "\r":
                guard atNewline else { throw fail("a carriage return must be followed by a line feed") }
                skipNewline()
                out.append("\n")
            default:
                guard !isControl(scalar) || scalar == "\t" else {
                    throw fail("\(describe(scalar)) is not allowed in a literal string")
                }
                out.append(scalar)
                advance()
            }
        }
    }

    /// Reads one escape sequence starting at the backslash.
    private mutating func parseEscape() throws(ConfigError) -> Unicode.Scalar {
        let escapeLine = line, escapeColumn = column
        advance() // "\"
        guard let scalar = current else {
            throw fail("unterminated string: expected an escape character after \\")
        }
        let simple: [Unicode.Scalar: Unicode.Scalar] = [
            "b": "\u{08}", "t": "\t", "n": "\n", "f": "\u{0C}", "r": "\r", "\"": "\"", "\\": "\\",
        ]
        if let replacement = simple[scalar] {
            advance()
            return replacement
        }
        guard scalar == "u" || scalar == "U" else {
            throw fail("invalid escape \\\(describe(scalar).trimmingQuotes): expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX (for a Windows path, use a 'literal string')",
                       line: escapeLine, column: escapeColumn)
        }
        let width = scalar == "u" ? 4 : 8
        advance()
        var digits = ""
        for _ in 0..<width {
            guard let digit = current, digit.properties.isASCIIHexDigit else {
                throw fail("invalid escape: \\\(scalar) needs exactly \(width) hexadecimal digits",
                           line: escapeLine, column: escapeColumn)
            }
            digits.unicodeScalars.append(digit)
            advance()
        }
        guard let code = UInt32(digits, radix: 16), let result = Unicode.Scalar(code) else {
            throw fail("invalid escape \\\(scalar)\(digits): not a Unicode scalar value (surrogates and values above 10FFFF are not allowed)",
                       line: escapeLine, column: escapeColumn)
        }
        return result
    }
}

// MARK: Character classes and date-times

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || scalar.value == 0x7F
}

private extension String {
    /// `"x"` → `x`, for messages that already put a backslash in front.
    var trimmingQuotes: String {
        hasPrefix("\"") && hasSuffix("\"") && count >= 2 ? String(dropFirst().dropLast()) : self
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// `YYYY-MM-DD` exactly (used to allow the space between date and time).
private func isDate(_ text: String) -> Bool {
    let s = Array(text.unicodeScalars)
    return s.count == 10 && matches(s, "dddd-dd-dd")
}

private func looksLikeDateTime(_ text: String) -> Bool {
    let s = Array(text.unicodeScalars)
    return (s.count >= 10 && matches(Array(s[0..<5]), "dddd-"))
        || (s.count >= 5 && matches(Array(s[0..<3]), "dd:"))
}

/// Digit pattern match: `d` is a digit, anything else itself.
private func matches(_ scalars: [Unicode.Scalar], _ pattern: String) -> Bool {
    let p = Array(pattern.unicodeScalars)
    guard scalars.count == p.count else { return false }
    return zip(scalars, p).allSatisfy { s, q in q == "d" ? ("0"..."9").contains(s) : s == q }
}

/// Offset date-time, local date-time, local date or local time (RFC 3339 as TOML uses it).
private func isValidDateTime(_ text: String) -> Bool {
    var s = Array(text.unicodeScalars)[...]
    func number(_ count: Int, _ range: ClosedRange<Int>) -> Bool {
        guard s.count >= count else { return false }
        let digits = s.prefix(count)
        guard digits.allSatisfy({ ("0"..."9").contains($0) }),
              let value = Int(String(String.UnicodeScalarView(digits))), range.contains(value) else { return false }
        s = s.dropFirst(count)
        return true
    }
    func literal(_ scalar: Unicode.Scalar) -> Bool {
        guard s.first == scalar else { return false }
        s = s.dropFirst()
        return true
    }
    func time() -> Bool {
        guard number(2, 0...23), literal(":"), number(2, 0...59), literal(":"), number(2, 0...60) else { return false }
        if literal(".") {
            let digits = s.prefix { ("0"..."9").contains($0) }
            guard !digits.isEmpty else { return false }
            s = s.dropFirst(digits.count)
        }
        return true
    }
    if s.count >= 3 && s[s.startIndex + 2] == ":" {
        return time() && s.isEmpty
    }
    guard number(4, 0...9999), literal("-"), number(2, 1...12), literal("-"), number(2, 1...31) else { return false }
    if s.isEmpty { return true }
    guard literal("T") || literal("t") || literal(" ") else { return false }
    guard time() else { return false }
    if s.isEmpty { return true }
    if literal("Z") || literal("z") { return s.isEmpty }
    guard literal("+") || literal("-") else { return false }
    return number(2, 0...23) && literal(":") && number(2, 0...59) && s.isEmpty
}
