/// Text from a drill's results, made safe to place in an HTML (or inline SVG) page.
///
/// Mailbox paths, target names, details and causes come from the mail store, the
/// configuration and the targets: hostile input as far as the page is concerned. Everything
/// that is not our own markup goes through `escape`, in text and in quoted attributes alike.
enum HTMLText {
    /// `&`, `<`, `>`, `"` and `'` as character references (enough for text and for attribute
    /// values in double or single quotes), and the characters a reader could not see or that
    /// would mislead them shown as `⟨U+XXXX⟩`: C0 and C1 controls (invalid in HTML text; a
    /// tab or newline would reshape a name) and the bidirectional overrides, with which a name
    /// could display as another (`gpj.exe` shown as `exe.jpg`). The output uses only the
    /// five references XML knows too, so that the page also parses as XML.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if isHidden(scalar) {
                    out += "⟨U+" + hex(scalar.value) + "⟩"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Controls, format characters that reorder text, and noncharacters.
    static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C: true
        case 0xFDD0...0xFDEF: true
        default: scalar.value & 0xFFFE == 0xFFFE
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
