import DRFuzzing
import Foundation

// Two ways to run the same harnesses (Sources/DRFuzzing):
// - under libFuzzer (scripts/fuzz builds this with -sanitize=fuzzer -D DRCTL_LIBFUZZER, and
//   names the parser in $DRCTL_FUZZ_TARGET): coverage-guided, for hours;
// - as a plain program: `drctl-fuzz --list`, `drctl-fuzz TARGET FILE…` replays inputs (a
//   crash file libFuzzer saved, say), `drctl-fuzz TARGET --mutate N [--seed S]` runs the
//   deterministic mutations the tests run.

/// A harness outcome that is a finding: a foreign error (a crash or hang needs no help).
func check(_ outcome: FuzzTarget.Outcome, target: String) -> Bool {
    if case .foreign(let text) = outcome {
        FileHandle.standardError.write(Data("drctl-fuzz: \(target): a foreign error escaped: \(text)\n".utf8))
        return false
    }
    return true
}

#if DRCTL_LIBFUZZER
let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["DRCTL_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.named(name) else {
        fatalError("set DRCTL_FUZZ_TARGET to one of: \(FuzzTargets.all.map(\.name).joined(separator: ", "))")
    }
    return target
}()

/// One input: the callback libFuzzer calls, whichever main the linker keeps (libFuzzer's own,
/// which calls this by name, or the one below).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if !check(fuzzTarget.run(bytes), target: fuzzTarget.name) { abort() }
    return 0
}

/// libFuzzer's entry for programs that keep their own main (SwiftPM gives every executable
/// one), declared here rather than in a C module: it is the toolchain's runtime, not a library.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@main
struct DrctlFuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = runFuzzerDriver(&argc, &argv) { data, size in fuzzOne(data, size) }
        exit(status)
    }
}
#else
@main
struct DrctlFuzz {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let first = arguments.first, first != "--help" else {
            print("usage: drctl-fuzz --list | TARGET FILE… | TARGET --mutate N [--seed S] | TARGET --write-seeds DIR")
            return
        }
        if first == "--list" {
            for target in FuzzTargets.all { print("\(target.name)\t\(target.summary)") }
            return
        }
        guard let target = FuzzTargets.named(first) else {
            FileHandle.standardError.write(Data("drctl-fuzz: no target \(first); see --list\n".utf8))
            exit(64)
        }
        let rest = Array(arguments.dropFirst())
        if rest.first == "--write-seeds", rest.count == 2 {
            try? FileManager.default.createDirectory(atPath: rest[1], withIntermediateDirectories: true)
            for (index, seed) in target.seeds().enumerated() {
                _ = FileManager.default.createFile(atPath: "\(rest[1])/seed-\(index)", contents: Data(seed))
            }
            return
        }
        if rest.first == "--mutate", rest.count >= 2, let count = Int(rest[1]) {
            let seed = rest.count == 4 && rest[2] == "--seed" ? UInt64(rest[3]) ?? 1 : 1
            var mutator = Mutator(seed: seed)
            let seeds = target.seeds()
            var rejected = 0
            for index in 0..<count {
                let base = seeds[index % seeds.count]
                let input = mutator.mutate(base, other: seeds[mutator.below(seeds.count)])
                let outcome = target.run(input)
                guard check(outcome, target: target.name) else { exit(1) }
                if case .rejected = outcome { rejected += 1 }
            }
            print("\(target.name): \(count) inputs, \(rejected) rejected with a drctl error, \(count - rejected) accepted")
            return
        }
        var ok = true
        for path in rest {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("drctl-fuzz: cannot read \(path)\n".utf8))
                exit(66)
            }
            let outcome = target.run(Array(data))
            ok = check(outcome, target: target.name) && ok
            print("\(path): \(outcome)")
        }
        exit(ok ? 0 : 1)
    }
}
#endif
