package import Logging

/// How log events become text: the escaping that keeps one event on one line and keeps
/// terminals from being steered, and the `key=value` rendering of metadata.
///
/// Messages and metadata carry names that come from outside drctl (mailbox paths, object
/// names, a server's error text): a name with a newline in it must not forge a second log line
/// (with a priority of its choosing), nor an escape sequence rewrite what the operator sees.
package enum LogText {
    /// The syslog priority journald reads from a `<N>` prefix (sd-daemon(3)).
    package static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The word put before the message, as drctl has always written them ("drctl: warning: …").
    package static func levelWord(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug, .info, .notice: ""
        case .warning: "warning: "
        case .error: "error: "
        case .critical: "critical: "
        }
    }

    /// `text` with every control character written as an escape: C0 (newline, carriage return
    /// and tab as `\n`, `\r`, `\t`, the others as `\xHH`, ESC included, so no ANSI sequence
    /// survives), DEL (`\x7f`), C1 (`\u0085`…, the 8-bit CSI among them) and the Unicode line
    /// and paragraph separators (`\u2028`, `\u2029`), which some readers break lines at.
    /// - Parameters:
    ///   - keepingLineBreaks: newlines and tabs stay (text for a person on a terminal, where a
    ///     configuration error's lines are meant to be lines); everything else is escaped.
    ///   - escapingBackslash: `\` becomes `\\`, so that the escapes can be told from the text
    ///     (quoted metadata values, which a reader can undo). Messages keep theirs: drctl's
    ///     messages already show undecodable names as `\xE9`, and doubling that would only blur
    ///     them; what matters there, one line per event, holds either way.
    package static func escaped(_ text: String, keepingLineBreaks: Bool = false,
                                escapingBackslash: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingLineBreaks: keepingLineBreaks)
            || (escapingBackslash && $0 == "\\") }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\\" && escapingBackslash {
                out.append(contentsOf: #"\\"#.unicodeScalars)
            } else if needsEscape(scalar, keepingLineBreaks: keepingLineBreaks) {
                out.append(contentsOf: escape(scalar).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func needsEscape(_ scalar: Unicode.Scalar, keepingLineBreaks: Bool) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: !keepingLineBreaks
        case 0x00...0x1F, 0x7F, 0x80...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }

    static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return #"\n"#
        case "\r": return #"\r"#
        case "\t": return #"\t"#
        default:
            let hex = String(scalar.value, radix: 16)
            if scalar.value < 0x80 { return #"\x"# + (hex.count < 2 ? "0" : "") + hex }
            return #"\u"# + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }

    /// ` key=value` pairs, sorted by key so that lines compare and grep alike; a value with a
    /// space, `=`, `"`, `\`, a control character, or nothing at all is quoted ("…", with `"`
    /// and `\` escaped).
    package static func metadata(_ metadata: Logger.Metadata) -> String {
        var out = ""
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            out += " " + self.key(key) + "=" + quotedIfNeeded(render(value))
        }
        return out
    }

    /// A key as a single token: what would end it or the line becomes `_`.
    static func key(_ key: String) -> String {
        let cleaned = String(String.UnicodeScalarView(key.unicodeScalars.map { scalar in
            scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\"
                || needsEscape(scalar, keepingLineBreaks: false) ? "_" : scalar
        }))
        return cleaned.isEmpty ? "_" : cleaned
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let item): item.description
        case .array(let items): "[" + items.map(render).joined(separator: ", ") + "]"
        case .dictionary(let items):
            "[" + items.keys.sorted().map { "\($0): \(items[$0].map(render) ?? "")" }.joined(separator: ", ") + "]"
        }
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let plain = !value.isEmpty && !value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\"
                || needsEscape(scalar, keepingLineBreaks: false)
        }
        if plain { return value }
        return "\"" + escaped(value, escapingBackslash: true).replacingQuotes() + "\""
    }
}

private extension String {
    /// `"` as `\"` (after the other escapes, so a backslash added here is not doubled).
    func replacingQuotes() -> String {
        guard unicodeScalars.contains("\"") else { return self }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar == "\"" { out.append("\\") }
            out.append(scalar)
        }
        return String(out)
    }
}
