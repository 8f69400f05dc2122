@testable import DRRepository
import Foundation
import Testing

@Suite("Timestamps")
struct TimestampsTests {
    @Test("RFC 3339 in UTC with milliseconds")
    func format() {
        #expect(Timestamps.format(Date(timeIntervalSince1970: 1_795_834_800.25)) == "2026-11-28T03:00:00.250Z")
        #expect(Timestamps.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamps.now().count == 24)
    }

    @Test("round trip to the millisecond")
    func roundTrip() throws {
        for seconds in [0, 1_795_834_800.25, 1_700_000_000.999, 2_000_000_000.001] as [Double] {
            let text = Timestamps.format(Date(timeIntervalSince1970: seconds))
            let parsed = try #require(Timestamps.parse(text), "\(text)")
            #expect(abs(parsed.timeIntervalSince1970 - seconds) < 0.0005, "\(text)")
            #expect(Timestamps.format(parsed) == text)
        }
    }

    @Test("parses offsets and whole seconds")
    func parseForms() {
        let moment = Date(timeIntervalSince1970: 1_795_834_800)
        #expect(Timestamps.parse("2026-11-28T03:00:00Z") == moment)
        #expect(Timestamps.parse("2026-11-28T04:00:00+01:00") == moment)
        #expect(Timestamps.parse("2026-11-27T22:00:00-05:00") == moment)
        #expect(Timestamps.parse("2026-11-28T03:00:00.000Z") == moment)
    }

    @Test("rejects what is not RFC 3339", arguments: ["", "now", "2026-11-28", "2026-11-28 03:00:00Z",
                                                      "2026-11-28T03:00:00", "2026-13-28T03:00:00Z", "yesterday",
                                                      "2026-11-28T03:00:00.Z", "2026-11-28T03:00:00.25"])
    func invalid(_ text: String) {
        #expect(Timestamps.parse(text) == nil)
    }
}

extension TimestampsTests {
    @Test("every millisecond of a second survives format → parse → format")
    func everyMillisecond() throws {
        for millisecond in 0..<1000 {
            let text = "2026-11-28T03:00:00.\(String(repeating: "0", count: 3 - String(millisecond).count))\(millisecond)Z"
            let parsed = try #require(Timestamps.parse(text), "\(text)")
            #expect(Timestamps.format(parsed) == text)
        }
    }

    @Test("truncates to the millisecond, never rounds up")
    func truncates() {
        #expect(Timestamps.format(Date(timeIntervalSince1970: 1_795_834_800.2509)) == "2026-11-28T03:00:00.250Z")
        #expect(Timestamps.format(Date(timeIntervalSince1970: 1_795_834_800.9999)) == "2026-11-28T03:00:00.999Z")
        #expect(Timestamps.parse("2026-11-28T03:00:00.123456789Z").map(Timestamps.format) == "2026-11-28T03:00:00.123Z")
        #expect(Timestamps.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
    }

    @Test("the fast reader of drctl's own form agrees with the general parser to the bit, and leaves impossible dates to it")
    func fastPathAgrees() throws {
        var generator = SystemRandomNumberGenerator()
        var texts = ["2000-02-29T23:59:59.999Z", "1900-03-01T00:00:00.000Z", "2100-02-28T12:00:00.001Z",
                     "2024-02-29T00:00:00.000Z", "1970-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z",
                     "2399-12-31T23:59:59.500Z", "1600-01-01T00:00:00.000Z"]
        for _ in 0..<5_000 {
            let seconds = Double(Int64.random(in: -11_000_000_000...13_000_000_000, using: &generator))
            texts.append(Timestamps.format(Date(timeIntervalSince1970: seconds + Double(Int.random(in: 0...999)) / 1000)))
        }
        for text in texts {
            let fast = try #require(Timestamps.parseWritten(text), "\(text)")
            let general = try #require(Timestamps.parseAny(text), "\(text)")
            #expect(fast.timeIntervalSince1970.bitPattern == general.timeIntervalSince1970.bitPattern, "\(text): \(fast) ≠ \(general)")
        }
        for impossible in ["2026-02-30T00:00:00.000Z", "2025-02-29T00:00:00.000Z", "2026-04-31T00:00:00.000Z",
                           "2026-11-28T24:00:00.000Z", "2026-11-28T03:60:00.000Z", "2026-11-28T03:00:60.000Z",
                           "2026-00-10T03:00:00.000Z", "2026-11-00T03:00:00.000Z", "2026-11-28T03:00:00.250+", "+026-11-28T03:00:00.250Z"] {
            #expect(Timestamps.parseWritten(impossible) == nil, "\(impossible)")
        }
    }
}
