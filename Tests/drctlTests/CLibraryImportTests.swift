import Foundation
import Testing

/// The house rule of Package.swift's layering: each C library is imported by exactly one Swift
/// module, with an internal import, so no C type reaches any module's interface. Read from the
/// sources themselves, so a second importer added anywhere (tests included) fails here.
@Suite("C libraries: one importer each")
struct CLibraryImportTests {
    /// The module that owns each C library, as Package.swift and docs/ARCHITECTURE.md say.
    static let owners = [
        "CSodium": "DRCrypto", "CZstd": "DRCompression", "CCurl": "DRTransport", "CSQLite": "DRSQLite",
        "CCrypto": "DRLibcrypto", "CDRSystem": "DRBase",
    ]

    /// (module folder, import line) of every Swift file under Sources and Tests that imports a
    /// module of `owners`.
    static func cImports() throws -> [(module: String, line: String)] {
        let pattern = try NSRegularExpression(
            pattern: "^\\s*(@[A-Za-z_]+(\\([^)]*\\))?\\s+)*((public|package|internal|fileprivate|private)\\s+)?import\\s+(kind\\s+)?([A-Za-z_][A-Za-z0-9_]*)",
            options: [.anchorsMatchLines])
        var found: [(String, String)] = []
        for top in ["Sources", "Tests"] {
            let root = ProjectRoot.path + "/" + top
            let enumerator = try #require(FileManager.default.enumerator(atPath: root))
            for case let relative as String in enumerator where relative.hasSuffix(".swift") {
                let text = try String(contentsOfFile: root + "/" + relative, encoding: .utf8)
                let module = String(relative.split(separator: "/").first ?? "")
                let range = NSRange(text.startIndex..., in: text)
                for match in pattern.matches(in: text, range: range) {
                    guard let name = Range(match.range(at: 6), in: text).map({ String(text[$0]) }),
                          owners[name] != nil,
                          let line = Range(match.range, in: text).map({ String(text[$0]) }) else { continue }
                    found.append((module, line.trimmingCharacters(in: .whitespaces) + " (\(top)/\(relative))"))
                }
            }
        }
        return found
    }

    @Test("each C library is imported by its one module, and never re-exported")
    func oneImporter() throws {
        let imports = try Self.cImports()
        // The scan itself works: every C library is found at its owner.
        for (library, owner) in Self.owners {
            #expect(imports.contains { $0.module == owner && $0.line.contains("import \(library)") },
                    "\(library) not imported by \(owner)")
        }
        for (module, line) in imports {
            let library = Self.owners.keys.first { line.range(of: "import \($0)\\b", options: .regularExpression) != nil }
            let owner = library.flatMap { Self.owners[$0] }
            #expect(owner == module, "\(line): only \(owner ?? "?") may import it")
            #expect(!line.contains("public import") && !line.contains("package import") && !line.contains("@_exported"),
                    "\(line): a C library's types would reach other modules")
        }
    }
}
