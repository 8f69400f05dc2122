import DRBase
import DRFuzzing
import Foundation
import Testing

/// The deterministic part of fuzzing, run in CI: for every parser of untrusted bytes, a fixed
/// seed's few thousand mutations of valid inputs. Each must be accepted or refused with a drctl
/// error (a code from the catalogue and a message), quickly; a crash fails the whole run,
/// which is the point. scripts/fuzz runs the same harnesses under libFuzzer for hours.
@Suite("fuzzing: deterministic mutations")
struct MutationTests {
    static let inputsPerTarget = 2_000

    @Test("every parser accepts or clearly refuses mutated input, without crash or hang",
          arguments: FuzzTargets.all.map(\.name))
    func mutations(name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let seeds = target.seeds()
        try #require(!seeds.isEmpty, "\(name) has no seed inputs")
        // The seeds themselves parse or are refused cleanly too.
        for seed in seeds { try expectClear(target.run(seed), target: name, input: seed) }
        var mutator = Mutator(seed: 20261202)
        var rejected = 0
        var slowest = 0.0
        let count = name == "image" ? Self.inputsPerTarget / 4 : Self.inputsPerTarget
        for index in 0..<count {
            let input = mutator.mutate(seeds[index % seeds.count], other: seeds[mutator.below(seeds.count)])
            let started = Date()
            let outcome = target.run(input)
            slowest = max(slowest, Date().timeIntervalSince(started))
            try expectClear(outcome, target: name, input: input)
            if case .rejected = outcome { rejected += 1 }
        }
        // A hang shows as one input taking seconds (the image harness retries for 20 ms).
        #expect(slowest < 2.0, "\(name): one input took \(slowest) s")
        // The mutations reach the parsers' error paths (not only the envelope's).
        #expect(rejected > 0, "\(name): no mutated input was refused")
        print("\(name): \(count) mutated inputs, \(rejected) refused with a drctl error, slowest \(Int(slowest * 1000)) ms")
    }

    func expectClear(_ outcome: FuzzTarget.Outcome, target: String, input: [UInt8]) throws {
        switch outcome {
        case .accepted:
            break
        case .rejected(let code, let message):
            #expect(!message.isEmpty, "\(target): \(code.rawValue) with an empty message")
            #expect(code != .internalDefect || target == "image", "\(target): refused as a defect: \(message)")
        case .foreign(let text):
            Issue.record("\(target): a foreign error escaped (\(text)) for input \(input.prefix(64).map { String($0, radix: 16) })")
        }
    }

    @Test("the mutator is deterministic: the same seed gives the same inputs")
    func deterministic() {
        var a = Mutator(seed: 7), b = Mutator(seed: 7), c = Mutator(seed: 8)
        let input = Array("SQLite format 3\0".utf8)
        let first = (0..<50).map { _ in a.mutate(input, other: input) }
        #expect(first == (0..<50).map { _ in b.mutate(input, other: input) })
        #expect(first != (0..<50).map { _ in c.mutate(input, other: input) })
    }
}
