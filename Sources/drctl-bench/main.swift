// drctl-bench: throughput of the hot paths, on this machine.
//
//   swift run -c release drctl-bench compression   # ChunkCompression on 64 KiB chunks
//   swift run -c release drctl-bench crypto        # XChaCha20-Poly1305, keyed BLAKE2b, SHA-256, MD5
//
// Numbers are MB/s of input (1 MB = 10^6 bytes), best of several timed rounds.
import DRCompression
import DRCrypto

let chunkSize = 64 * 1024

/// A small deterministic generator (SplitMix64) so that every run measures the same bytes.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Incompressible chunks, like the pages of an encrypted SQLite database.
func randomChunks(count: Int) -> [[UInt8]] {
    var rng = SplitMix64(state: 1)
    return (0..<count).map { _ in (0..<chunkSize).map { _ in UInt8.random(in: 0...255, using: &rng) } }
}

/// Mail-like text: RFC 5322 headers and bodies of words drawn from a small vocabulary with a
/// skewed distribution, cut into 64 KiB chunks.
func mailChunks(count: Int) -> [[UInt8]] {
    var rng = SplitMix64(state: 2)
    let words = """
        the of and to a in is you that it he was for on are as with his they I at be this have \
        from or one had by word but not what all were we when your can said there use an each \
        which she do how their if will up other about out many then them these so some her would \
        make like him into time has look two more write go see number no way could people my \
        than first water been call who oil its now find long down day did get come made may part \
        meeting invoice attached please regards thanks tomorrow project update report schedule \
        customer order delivery account password reset confirm subscription newsletter offer
        """.split(separator: " ").map(String.init)
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    let domains = ["example.com", "example.net", "mail.example.org", "corp.example"]
    var text: [UInt8] = []
    let target = count * chunkSize
    var messageID = 1000
    while text.count < target {
        let from = names.randomElement(using: &rng)!, to = names.randomElement(using: &rng)!
        let domain = domains.randomElement(using: &rng)!
        messageID += Int.random(in: 1...97, using: &rng)
        var message = """
            Return-Path: <\(from)@\(domain)>
            Received: from mx\(Int.random(in: 1...9, using: &rng)).\(domain) (mx.\(domain) [192.0.2.\(Int.random(in: 1...254, using: &rng))])
            \tby mail.example.org (Postfix) with ESMTPS id \(String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16))
            \tfor <\(to)@example.org>; Sat, 28 Nov 2026 0\(Int.random(in: 0...9, using: &rng)):\(Int.random(in: 10...59, using: &rng)):\(Int.random(in: 10...59, using: &rng)) +0000
            From: \(from.uppercased()) <\(from)@\(domain)>
            To: \(to.uppercased()) <\(to)@example.org>
            Subject: \(words.randomElement(using: &rng)!) \(words.randomElement(using: &rng)!) \(words.randomElement(using: &rng)!)
            Message-ID: <\(messageID).\(String(UInt32.random(in: 0...UInt32.max, using: &rng), radix: 36))@\(domain)>
            MIME-Version: 1.0
            Content-Type: text/plain; charset=utf-8

            """
        for _ in 0..<Int.random(in: 3...12, using: &rng) {
            var line: [String] = []
            for _ in 0..<Int.random(in: 5...14, using: &rng) {
                // Squaring skews towards the front of the list, like word frequencies.
                let index = Int(Double(words.count) * pow2(Double.random(in: 0..<1, using: &rng)))
                line.append(words[index])
            }
            message += line.joined(separator: " ") + "\n"
        }
        text.append(contentsOf: message.utf8)
        text.append(UInt8(ascii: "\n"))
    }
    return (0..<count).map { Array(text[$0 * chunkSize..<($0 + 1) * chunkSize]) }
}

func pow2(_ x: Double) -> Double { x * x }

/// Runs `body` over all chunks `rounds` times; returns the best MB/s.
func measure(_ chunks: [[UInt8]], rounds: Int = 5, _ body: ([UInt8]) throws -> Int) rethrows -> (mbps: Double, sink: Int) {
    var best = Duration.seconds(1_000_000)
    var sink = 0
    for _ in 0..<rounds {
        let clock = ContinuousClock()
        let start = clock.now
        for chunk in chunks { sink &+= try body(chunk) }
        best = min(best, clock.now - start)
    }
    let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
    let bytes = Double(chunks.reduce(0) { $0 + $1.count })
    return (bytes / seconds / 1e6, sink)
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

func format(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return String(rounded)
}

func benchCompression() throws {
    let random = randomChunks(count: 256)     // 16 MiB
    let mail = mailChunks(count: 256)         // 16 MiB
    print("ChunkCompression.encode, 64 KiB chunks, zstd level 3, 16 MiB per data set, best of 5")
    print(pad("strategy", 34) + pad("random MB/s", 14) + pad("stored raw", 12) + pad("mail MB/s", 12) + "mail ratio")
    let strategies: [(String, ChunkCompressor.Strategy)] = [
        ("fullCompress (baseline)", .fullCompress),
        ("cappedOutput [default]", .cappedOutput),
        ("probe(4 KiB) + capped", .probe(sampleSize: 4096)),
    ]
    for (name, strategy) in strategies {
        let compressor = try ChunkCompressor(level: 3, strategy: strategy)
        var raw = 0
        let r = try measure(random) { chunk in
            let (payload, compressed) = try compressor.encode(chunk)
            if !compressed { raw += 1 }
            return payload.count
        }
        var mailBytes = 0
        var mailCompressed = 0
        let m = try measure(mail, rounds: 5) { chunk in
            let (payload, compressed) = try compressor.encode(chunk)
            mailBytes += payload.count
            if compressed { mailCompressed += 1 }
            return payload.count
        }
        let ratio = Double(mailBytes) / Double(5 * mail.count * chunkSize)
        print(pad(name, 34) + pad(format(r.mbps), 14) + pad("\(raw / 5)/\(random.count)", 12)
              + pad(format(m.mbps), 12) + format(ratio * 100) + "% of input")
    }
    // The static convenience creates a zstd context per call.
    let fresh = try measure(random) { try ChunkCompression.encode($0, level: 3).payload.count }
    let freshMail = try measure(mail) { try ChunkCompression.encode($0, level: 3).payload.count }
    print(pad("ChunkCompression.encode (new ctx)", 34) + pad(format(fresh.mbps), 14) + pad("", 12) + format(freshMail.mbps))
    let decodeInput = try mail.map { try ChunkCompression.encode($0, level: 3) }
    var index = 0
    let d = try measure(mail) { _ in
        let encoded = decodeInput[index % decodeInput.count]
        index += 1
        return try ChunkCompression.decode(payload: encoded.payload, compressed: encoded.compressed,
                                           originalLength: chunkSize).count
    }
    print("ChunkCompression.decode of mail chunks: \(format(d.mbps)) MB/s of output")
}

func benchCrypto() throws {
    let mail = mailChunks(count: 256)
    let key = try SecureBytes.random(count: 32)
    let seal = try measure(mail) { try XChaCha20Poly1305.seal($0, key: key, associatedData: []).count }
    let sealed = try mail.map { try XChaCha20Poly1305.seal($0, key: key, associatedData: []) }
    var index = 0
    let open = try measure(mail) { _ in
        defer { index += 1 }
        return try XChaCha20Poly1305.open(sealed[index % sealed.count], key: key, associatedData: []).count
    }
    let idKey = try KeyDerivation.subkey(from: key, purpose: "chunk-id")
    let hash = try measure(mail) { try Blake2b.hash($0, key: idKey).count }
    print("64 KiB chunks, best of 5")
    print("XChaCha20-Poly1305 seal: \(format(seal.mbps)) MB/s, open: \(format(open.mbps)) MB/s")
    print("keyed BLAKE2b-256 (chunk id): \(format(hash.mbps)) MB/s")
    try benchUploadHashes()
}

/// The two hashes of every S3 upload: SHA-256 of the signed body (`x-amz-content-sha256`) and
/// MD5 (`Content-MD5`), on a pack-sized body (16 MiB, what `S3ObjectStore.put` hashes whole)
/// as well as on 64 KiB chunks.
func benchUploadHashes() throws {
    let mail = mailChunks(count: 256)
    let pack = [mail.flatMap { $0 }]
    let sha = measure(mail) { SHA256.hash($0).count }
    let md5 = measure(mail) { MD5.hash($0).count }
    let shaPack = measure(pack) { SHA256.hash($0).count }
    let md5Pack = measure(pack) { MD5.hash($0).count }
    print("SHA-256 (S3 payload hash): \(format(sha.mbps)) MB/s, 16 MiB bodies: \(format(shaPack.mbps)) MB/s")
    print("MD5 (S3 Content-MD5): \(format(md5.mbps)) MB/s, 16 MiB bodies: \(format(md5Pack.mbps)) MB/s")
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "compression": try benchCompression()
case "crypto": try benchCrypto()
default:
    print("usage: drctl-bench compression | crypto")
}
