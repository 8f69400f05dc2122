/// A small XML reader for S3's responses (ListObjectsV2, ListMultipartUploads, errors,
/// CreateMultipartUpload, CompleteMultipartUpload, DeleteObjects, GetObjectLockConfiguration).
///
/// S3's XML is a tree of elements with text; drctl needs no attributes, DTDs, processing
/// instructions or namespaces (names are compared without their prefix). The reader is
/// strict where it matters for hostile input: bounded depth, bounded element count, every
/// entity one of XML's five or a character reference, and anything else malformed is an
/// error rather than a guess. Bodies are already bounded by the request's response limit.
struct S3XMLElement: Sendable, Equatable {
    var name: String
    var text: String
    var children: [S3XMLElement]

    /// The first child named `name`.
    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    /// Every child named `name`, in order.
    func all(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The text of the first child named `name`.
    func text(of name: String) -> String? { child(name)?.text }
}

enum S3XML {
    struct Malformed: Error, Sendable {
        let offset: Int
        let reason: String
    }

    static let maximumDepth = 32
    static let maximumElements = 2_000_000

    static func parse(_ bytes: [UInt8]) throws(Malformed) -> S3XMLElement {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        var elements = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(Malformed) -> S3XMLElement {
            // A UTF-8 byte-order mark, the declaration, comments and white space may precede
            // the root element.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
            try skipMisc()
            guard peek() == UInt8(ascii: "<") else { throw fail("expected the root element") }
            let root = try element(depth: 1)
            try skipMisc()
            guard position == bytes.count else { throw fail("content after the root element") }
            return root
        }

        func fail(_ reason: String) -> Malformed { Malformed(offset: position, reason: reason) }

        func peek(_ offset: Int = 0) -> UInt8? {
            position + offset < bytes.count ? bytes[position + offset] : nil
        }

        func starts(with text: String) -> Bool {
            let utf8 = Array(text.utf8)
            return position + utf8.count <= bytes.count && bytes[position..<position + utf8.count].elementsEqual(utf8)
        }

        mutating func skip(past terminator: String) throws(Malformed) {
            let utf8 = Array(terminator.utf8)
            while position + utf8.count <= bytes.count {
                if bytes[position..<position + utf8.count].elementsEqual(utf8) {
                    position += utf8.count
                    return
                }
                position += 1
            }
            throw fail("unterminated construct: expected \(terminator)")
        }

        mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
        }

        mutating func skipMisc() throws(Malformed) {
            while true {
                skipSpace()
                if starts(with: "<?") { try skip(past: "?>") } else if starts(with: "<!--") { try skip(past: "-->") } else if starts(with: "<!DOCTYPE") {
                    throw fail("a document type declaration is not accepted")
                } else { return }
            }
        }

        static func isNameByte(_ byte: UInt8) -> Bool {
            byte >= 0x80 || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
        }

        mutating func name() throws(Malformed) -> String {
            let start = position
            while let byte = peek(), Self.isNameByte(byte) { position += 1 }
            guard position > start else { throw fail("expected a name") }
            let full = String(decoding: bytes[start..<position], as: UTF8.self)
            // `s3:Key` and `Key` are the same element to us.
            if let colon = full.lastIndex(of: ":") { return String(full[full.index(after: colon)...]) }
            return full
        }

        /// Skips the attributes of a start tag (S3's only ones are xmlns declarations).
        mutating func skipAttributes() throws(Malformed) {
            while true {
                skipSpace()
                guard let byte = peek() else { throw fail("unterminated start tag") }
                if byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/") { return }
                _ = try name()
                skipSpace()
                guard peek() == UInt8(ascii: "=") else { throw fail("expected = after an attribute name") }
                position += 1
                skipSpace()
                guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                    throw fail("expected a quoted attribute value")
                }
                position += 1
                while let next = peek(), next != quote { position += 1 }
                guard peek() == quote else { throw fail("unterminated attribute value") }
                position += 1
            }
        }

        mutating func element(depth: Int) throws(Malformed) -> S3XMLElement {
            guard depth <= S3XML.maximumDepth else { throw fail("elements nested deeper than \(S3XML.maximumDepth)") }
            elements += 1
            guard elements <= S3XML.maximumElements else { throw fail("more than \(S3XML.maximumElements) elements") }
            position += 1 // "<"
            let name = try self.name()
            try skipAttributes()
            if starts(with: "/>") {
                position += 2
                return S3XMLElement(name: name, text: "", children: [])
            }
            position += 1 // ">"
            var text: [UInt8] = []
            var children: [S3XMLElement] = []
            while true {
                guard let byte = peek() else { throw fail("unterminated element <\(name)>") }
                if byte == UInt8(ascii: "<") {
                    if starts(with: "</") {
                        position += 2
                        let closing = try self.name()
                        skipSpace()
                        guard closing == name, peek() == UInt8(ascii: ">") else {
                            throw fail("</\(closing)> does not close <\(name)>")
                        }
                        position += 1
                        return S3XMLElement(name: name, text: String(decoding: text, as: UTF8.self), children: children)
                    } else if starts(with: "<!--") {
                        try skip(past: "-->")
                    } else if starts(with: "<![CDATA[") {
                        position += 9
                        let start = position
                        try skip(past: "]]>")
                        text += bytes[start..<position - 3]
                    } else if starts(with: "<?") {
                        try skip(past: "?>")
                    } else {
                        children.append(try element(depth: depth + 1))
                    }
                } else if byte == UInt8(ascii: "&") {
                    text += try entity()
                } else {
                    text.append(byte)
                    position += 1
                }
            }
        }

        mutating func entity() throws(Malformed) -> [UInt8] {
            let start = position
            while let byte = peek(), byte != UInt8(ascii: ";"), position - start < 12 { position += 1 }
            guard peek() == UInt8(ascii: ";") else { throw fail("unterminated entity reference") }
            let body = String(decoding: bytes[start + 1..<position], as: UTF8.self)
            position += 1
            switch body {
            case "lt": return [UInt8(ascii: "<")]
            case "gt": return [UInt8(ascii: ">")]
            case "amp": return [UInt8(ascii: "&")]
            case "quot": return [UInt8(ascii: "\"")]
            case "apos": return [UInt8(ascii: "'")]
            default:
                var value: UInt32?
                if body.hasPrefix("#x") || body.hasPrefix("#X") {
                    value = UInt32(body.dropFirst(2), radix: 16)
                } else if body.hasPrefix("#") {
                    value = UInt32(body.dropFirst(), radix: 10)
                }
                guard let value, let scalar = Unicode.Scalar(value), value != 0 else {
                    throw Malformed(offset: start, reason: "unknown entity &\(body);")
                }
                return Array(String(Character(scalar)).utf8)
            }
        }
    }

    /// `text` with XML's special characters escaped, for request bodies
    /// (CompleteMultipartUpload, DeleteObjects).
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default:
                // Control characters cannot appear in XML 1.0 at all, even escaped; drctl's own
                // object names never hold them.
                result.unicodeScalars.append(character)
            }
        }
        return result
    }
}
