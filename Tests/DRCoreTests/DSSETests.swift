import DRCore
import Foundation
import Testing

@Suite("DSSE envelope and drill report names")
struct DSSETests {
    @Test("PAE is the DSSE spec's: its own example, byte for byte; lengths are of bytes, not characters")
    func paeExample() {
        let pae = DSSEEnvelope.pae(type: "http://example.com/HelloWorld", body: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        let multibyte = DSSEEnvelope.pae(type: "t", body: Array("é".utf8))
        #expect(String(decoding: multibyte, as: UTF8.self) == "DSSEv1 1 t 2 é")
    }

    @Test("an envelope decodes with either base64 alphabet and ignores unknown fields; other JSON is refused")
    func decoding() {
        // Payload bytes 0xfb 0xff: "+/8=" in the standard alphabet, "-_8=" in the URL-safe one.
        for payload in ["+/8=", "-_8", "-_8="] {
            let text = "{\"payload\":\"\(payload)\",\"payloadType\":\"t\",\"signatures\":[],\"extra\":1}"
            #expect(DSSEEnvelope.decode(Array(text.utf8))?.payload == [0xfb, 0xff], "\(payload)")
        }
        #expect(DSSEEnvelope.decode(Array("{\"payload\":\"!!\",\"payloadType\":\"t\",\"signatures\":[]}".utf8)) == nil)
        #expect(DSSEEnvelope.decode(Array("[]".utf8)) == nil)
    }

    @Test("report file names: the sequence and hash prefix are read back; anything else is not a report")
    func names() {
        let name = DrillReportNames.report(sequence: 7, envelopeHash: String(repeating: "ab", count: 32))
        #expect(name == "000007-abababababab.dsse.json")
        #expect(DrillReportNames.parseReport(name)?.sequence == 7)
        #expect(DrillReportNames.parseReport("1234567-abababababab.dsse.json")?.sequence == 1_234_567)
        for other in ["+00007-abababababab.dsse.json", "00007-abababababab.dsse.json", "000007-ababababab.dsse.json",
                      "head-000007.dsse.json", "000007-abababababab.names.json", "latest.json"] {
            #expect(DrillReportNames.parseReport(other) == nil, "\(other)")
        }
        #expect(DrillReportNames.parseHead("reports/head-000012") == 12)
        #expect(DrillReportNames.parseHead("head-000012.dsse.json") == 12)
        #expect(DrillReportNames.parseHead("head-+00012") == nil)
    }
}
