import DRBase
import Foundation
import Testing

@Suite("ByteSize")
struct ByteSizeTests {
    @Test("format: exact values")
    func formatValues() {
        #expect(ByteSize.format(0) == "0 B")
        #expect(ByteSize.format(1023) == "1023 B")
        #expect(ByteSize.format(1024) == "1.0 KiB")
        #expect(ByteSize.format(1536) == "1.5 KiB")
        #expect(ByteSize.format(1280) == "1.2 KiB")  // 1.25: half to even, as printf
        #expect(ByteSize.format(1331) == "1.3 KiB")  // 1.2998…
        #expect(ByteSize.format(1_048_575) == "1024.0 KiB")
        #expect(ByteSize.format(16 << 20) == "16.0 MiB")
        #expect(ByteSize.format(3 << 30 + 200 << 20) == "3.2 GiB")
        #expect(ByteSize.format(5 << 40) == "5.0 TiB")
        #expect(ByteSize.format(5000 << 40) == "5000.0 TiB")
        #expect(ByteSize.format(-5) == "-5 B")
    }

    /// The previous formatter was Foundation's "%.1f" on the divided Double; the integer
    /// version must print the same for every count a report can show (below 2^53).
    @Test("format agrees with %.1f of the quotient")
    func formatMatchesPrintf() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Int64] = Array(0...5000)
        for shift in stride(from: 10, to: 52, by: 1) {
            let base = Int64(1) << shift
            samples += [base - 1, base, base + 1, base + base / 20, base + base / 8, base * 3 / 2]
            samples += (0..<50).map { _ in Int64.random(in: base...(base * 2), using: &generator) }
        }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        for bytes in samples {
            var value = Double(bytes)
            var unit = 0
            while value >= 1024 && unit < units.count - 1 {
                value /= 1024
                unit += 1
            }
            let expected = unit == 0 ? "\(bytes) B" : "\(String(format: "%.1f", value)) \(units[unit])"
            #expect(ByteSize.format(bytes) == expected, "\(bytes)")
        }
    }

    @Test("exact and parse: the configuration's notation, round trip")
    func exactAndParse() {
        #expect(ByteSize.exact(256 << 20) == "256MiB")
        #expect(ByteSize.exact(1 << 30) == "1GiB")
        #expect(ByteSize.exact(1536 << 10) == "1536KiB")
        #expect(ByteSize.exact(1000) == "1000B")
        #expect(ByteSize.exact(0) == "0B")
        for bytes in [0, 1, 1000, 1024, 1536 << 10, 256 << 20, 3 << 30, 5 << 40, (1 << 40) + 1] {
            #expect(ByteSize.parse(ByteSize.exact(bytes)) == bytes, "\(bytes)")
        }
        #expect(ByteSize.parse("2TiB") == 2 << 40)
        #expect(ByteSize.parse("42B") == 42)
        for bad in ["", "MiB", "256", "256 MiB", "-1MiB", "1.5GiB", "256mib", "99999999999999TiB"] {
            #expect(ByteSize.parse(bad) == nil, "\(bad)")
        }
    }
}
