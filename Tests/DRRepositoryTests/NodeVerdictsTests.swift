import DRBase
import DRCrypto
@testable import DRRepository
import Testing

@Suite("check's node verdicts")
struct NodeVerdictsTests {
    static func ref(_ id: ChunkID, pack: PackID, offset: UInt32) -> BlobRef {
        BlobRef(id: id, kind: .tree, compressed: false, pack: pack, offset: offset, length: 100, rawLength: 60)
    }

    @Test("a verdict belongs to one stored copy: the same node in another pack or at another offset is judged again")
    func verdictPerCopy() {
        let verdicts = NodeVerdicts()
        let id = ChunkID(bytes: SecureRandom.bytes(32))
        let lost = Self.ref(id, pack: PackID.random(), offset: 0)
        let healed = Self.ref(id, pack: PackID.random(), offset: 0)
        let moved = Self.ref(id, pack: lost.pack, offset: 4096)
        verdicts.record(healed, damaged: false)
        #expect(verdicts.verdict(healed) == false)
        #expect(verdicts.verdict(lost) == nil, "the copy in a lost pack must not borrow the healed copy's verdict")
        verdicts.record(lost, damaged: true)
        #expect(verdicts.verdict(lost) == true)
        #expect(verdicts.verdict(healed) == false, "nor the healed copy the lost one's")
        #expect(verdicts.verdict(moved) == nil)
    }
}
