import DRBase

/// A value of a TOML document, with the position it was written at.
///
/// Every node keeps its line and column so that the configuration decoder (and anyone else
/// reading a TOML file, such as an S3 credentials file) can point at the exact spot.
package struct TOMLNode: Sendable, Equatable {
    package var value: TOMLValue
    /// 1-based line of the value's first character (of the header for `[table]`s).
    package var line: Int
    /// 1-based column, counted in Unicode scalars.
    package var column: Int

    package init(value: TOMLValue, line: Int, column: Int) {
        self.value = value
        self.line = line
        self.column = column
    }
}

package enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// Offset/local date-times, dates and times, kept as written: drctl's own configuration
    /// never needs them, but a valid TOML file that has one must still parse.
    case dateTime(String)
    case array([TOMLNode])
    case table(TOMLTable)

    /// How the value is named in messages: "the integer 24", "a string", "an array".
    package var kindDescription: String {
        switch self {
        case .string(let text): "the string \(quoted(text))"
        case .integer(let value): "the integer \(value)"
        case .float(let value): "the float \(value)"
        case .boolean(let value): "the boolean \(value)"
        case .dateTime(let text): "the date-time \(text)"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table: keys in the order they were written, each with its position.
package struct TOMLTable: Sendable, Equatable {
    package struct Entry: Sendable, Equatable {
        package var key: String
        /// Where the key was written (for a `[table]`, the header).
        package var line: Int
        package var column: Int
        package var node: TOMLNode
    }

    package enum Origin: Sendable, Equatable {
        /// The document itself.
        case root
        /// A `[header]` or `[[header]]`.
        case header
        /// Created only as the parent of a deeper header, never defined itself.
        case implicit
        /// Created by a dotted key (`a.b = 1` creates table `a`).
        case dotted
        /// `{ … }`.
        case inline
    }

    package var entries: [Entry]
    package var origin: Origin
    /// The line of the header (or of the first key or `{` for other tables).
    package var line: Int
    package var column: Int

    package init(entries: [Entry] = [], origin: Origin, line: Int, column: Int) {
        self.entries = entries
        self.origin = origin
        self.line = line
        self.column = column
    }

    package subscript(key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    package var keys: [String] { entries.map(\.key) }
}

extension TOMLValue {
    /// A compact canonical rendering, without positions, for tests and debugging:
    /// `{a = "x", b = [1, 2.5, true], c = {d = 1}}`.
    package var canonical: String {
        switch self {
        case .string(let text): quoted(text)
        case .integer(let value): String(value)
        case .float(let value):
            if value.isNaN { "nan" } else if value.isInfinite { value < 0 ? "-inf" : "inf" } else { "\(value)" }
        case .boolean(let value): String(value)
        case .dateTime(let text): text
        case .array(let items): "[" + items.map(\.value.canonical).joined(separator: ", ") + "]"
        case .table(let table): table.canonical
        }
    }
}

extension TOMLTable {
    package var canonical: String {
        "{" + entries.map { "\(displayKey([$0.key])) = \($0.node.value.canonical)" }
            .joined(separator: ", ") + "}"
    }
}

/// A string in double quotes with TOML escapes, as it would be written in a file.
func quoted(_ text: String) -> String {
    StringLiteral.quoted(text)
}

func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// A dotted key as it would be written: bare parts where possible, quoted otherwise.
func displayKey(_ parts: [String]) -> String {
    parts.map { part in
        !part.isEmpty && part.unicodeScalars.allSatisfy(isBareKeyScalar) ? part : quoted(part)
    }.joined(separator: ".")
}

func isBareKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
    default: false
    }
}
