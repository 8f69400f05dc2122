import DRBase
package import DRCrypto

#if canImport(Glibc)
import Glibc
#endif

/// Reads a passphrase from the controlling terminal with echo off, into secure memory.
///
/// Reads /dev/tty (not standard input), so a passphrase never travels through a pipe that
/// something else may be writing to, and echo is restored on every path.
package enum PassphrasePrompt {
    static let maximumLength = 1024

    package static var isAvailable: Bool {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        if fd < 0 { return false }
        close(fd)
        return true
    }

    package static func read(prompt: String) throws(CoreError) -> SecureBytes {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            throw CoreError(.secretNoTerminal, message: "no terminal to ask for a passphrase: set password_file (or key_file) under [repository] in the configuration, or pass --password-file")
        }
        defer { close(fd) }
        var saved = termios()
        let haveTermios = tcgetattr(fd, &saved) == 0
        // Before echo goes off: a signal at the prompt restores the terminal, then ends us.
        let guarded = haveTermios && TerminalGuard.begin(fd: fd)
        defer { if guarded { TerminalGuard.end() } }
        if haveTermios {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(fd, TCSAFLUSH, &silent)
        }
        defer {
            if haveTermios {
                var restore = saved
                _ = tcsetattr(fd, TCSAFLUSH, &restore)
            }
        }
        let promptBytes = Array(prompt.utf8)
        _ = promptBytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buffer: SecureBytes
        do { buffer = try SecureBytes(count: maximumLength) } catch { throw CoreError(error) }
        var length = 0
        var readError: Int32 = 0
        buffer.withUnsafeMutableBytes { raw in
            while length < maximumLength {
                let got = Glibc.read(fd, raw.baseAddress! + length, 1)
                if got < 0 {
                    if errno == EINTR { continue }
                    readError = errno
                    return
                }
                if got == 0 || raw[length] == 0x0A { return }
                length += 1
            }
        }
        _ = write(fd, "\n", 1)
        if readError != 0 {
            throw CoreError(.secretRead, message: "cannot read the passphrase from the terminal: \(errnoDescription(readError))")
        }
        var result: SecureBytes
        do { result = try SecureBytes(count: length) } catch {
            throw CoreError(error)
        }
        buffer.withUnsafeBytes { source in
            result.withUnsafeMutableBytes { target in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<length]))
            }
        }
        return result
    }
}
