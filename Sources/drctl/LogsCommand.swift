import ArgumentParser
import DRBase
import DRConfig
import DRCore
import DRCrypto
import DRIPPseudonym
import DRLogAnonymizer
import Foundation

/// `drctl logs`: mail-server logs, anonymized before they are kept (issue 13): the anonymizer,
/// retention of rotated logs on every target, reading them back, the per-day keys, and the IP
/// pseudonyms.
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mail-server logs: anonymized, retained on every target, shown to an operator; per-day keys destroyed with the retention window.",
        subcommands: [LogsAnonymize.self, IP.self, Retain.self, Show.self, Keys.self])

    struct IP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ip",
            abstract: "Print the keyed, prefix-preserving pseudonym of each address, one per line.",
            discussion: """
                Two addresses that share an n-bit prefix get pseudonyms that share an n-bit \
                prefix, and no more; IPv4 stays IPv4 and IPv6 stays IPv6. Methods: ipcrypt-pfx \
                (draft-denis-ipcrypt; the key's two halves are two AES-128 keys and must \
                differ) and crypto-pan (Crypto-PAn as its reference code: the first half is the \
                AES-128 key, the second is encrypted once into the pad). docs/LOGS.md has both \
                exactly.

                --day D uses the key of UTC day D (YYYY-MM-DD) derived from the log master key \
                and that day's salt, exactly as drctl logs retain anonymized that day's logs: \
                for an abuse investigation while the day's key exists. A day in the future, \
                one older than [logs] retain, or one whose key was destroyed is refused. \
                Without --day and --raw-key-file, today (UTC) is used.

                --raw-key-file FILE is used as the method's 32-byte key as it is: 64 hex \
                digits, mode 0600 (for checking published vectors, or a key you manage).

                Examples:
                  drctl logs ip --day 2026-12-06 192.0.2.7
                  drctl logs ip --raw-key-file /root/pfx.key 192.0.2.7 2001:db8::1
                  drctl logs ip --method crypto-pan --raw-key-file /root/pan.key 198.51.100.23
                """)

        @OptionGroup(title: GlobalOptions.title) var global: GlobalOptions

        @Option(help: ArgumentHelp("The 32-byte key as 64 hex digits in a file of mode 0600.", valueName: "file"))
        var rawKeyFile: String?

        @Option(help: ArgumentHelp("The UTC day whose derived key to use (default: today).", valueName: "YYYY-MM-DD"))
        var day: String?

        @Option(help: ArgumentHelp("ipcrypt-pfx or crypto-pan (default: [logs.anonymize] ip with --day, ipcrypt-pfx with --raw-key-file).",
                                   valueName: "method"))
        var method: String?

        @Argument(help: "IPv4 or IPv6 addresses.")
        var addresses: [String]

        func run() throws {
            if let method, PrefixPreservingMethod(rawValue: method) == nil {
                throw CoreError(.logsAddress, message: "--method \(method): use ipcrypt-pfx or crypto-pan")
            }
            if day != nil && rawKeyFile != nil {
                throw ValidationError("give --day or --raw-key-file, not both")
            }
            guard let rawKeyFile else {
                let configuration = try global.loadConfiguration()
                let chosen = method.flatMap(PrefixPreservingMethod.init(rawValue:))
                    ?? LogDayKeyStore.method(configuration.logs.anonymize.ip)
                let chosenDay = day ?? LogDay.text(LogDay.number(ofSeconds: Int64(LogClock.now().timeIntervalSince1970.rounded(.down))))
                let keys = try LogDayKeyStore(configuration: configuration).keys(forDay: chosenDay, method: chosen)
                let pseudonyms: PrefixPreservingPseudonyms
                do {
                    pseudonyms = try keys.ip.withUnsafeBytes { raw throws(PseudonymKeyError) in
                        try PrefixPreservingPseudonyms(method: chosen, key: raw)
                    }
                } catch {
                    throw CoreError(.logsKey, message: "day \(chosenDay): the derived key was refused by \(chosen.rawValue)")
                }
                try printPseudonyms(pseudonyms)
                return
            }
            let chosen = method.flatMap(PrefixPreservingMethod.init(rawValue:)) ?? .ipcryptPfx
            let path = Paths.fromCommandLine(rawKeyFile)
            // The same reader as logs anonymize: the key straight into locked memory.
            let keys = try RawLogKeyFile.read(path)
            let pseudonyms: PrefixPreservingPseudonyms
            do {
                pseudonyms = try keys.ip.withUnsafeBytes { raw throws(PseudonymKeyError) in
                    try PrefixPreservingPseudonyms(method: chosen, key: raw)
                }
            } catch {
                throw CoreError(.logsKey, message: "\(path): \(error == .equalHalves ? "the key's two halves are equal, which makes ipcrypt-pfx the identity; make a new random key" : "the key is not 32 bytes")",
                                context: ErrorContext(file: path))
            }
            try printPseudonyms(pseudonyms)
        }

        func printPseudonyms(_ pseudonyms: PrefixPreservingPseudonyms) throws {
            var lines: [String] = []
            for text in addresses {
                guard let address = IPAddress(text) else {
                    throw CoreError(.logsAddress, message: "\(text) is not an IPv4 or IPv6 address")
                }
                lines.append(pseudonyms.pseudonym(of: address).description)
            }
            if global.json {
                try Output.json(zip(addresses, lines).map { ["address": $0, "pseudonym": $1] })
            } else {
                for line in lines { print(line) }
            }
        }
    }
}
