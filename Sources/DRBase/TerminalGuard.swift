internal import CDRSystem

/// Keeps a terminal usable when a signal ends the process while its echo is off.
///
/// A `defer` that turns echo back on does not run when Ctrl-C (or a hang-up, or `kill`) ends
/// the process at a passphrase prompt, which would leave the operator's shell silent. While a
/// guard is active, those signals first restore the terminal's settings as they were when the
/// guard began, then end the process as they would have (the handlers are C, since a signal
/// handler may only make async-signal-safe calls).
package enum TerminalGuard {
    /// Saves `fd`'s terminal settings and installs the restoring handlers. False if `fd` is
    /// not a terminal or the handlers could not be installed.
    @discardableResult
    package static func begin(fd: Int32) -> Bool {
        CDRSystem_tty_guard_begin(fd) == 0
    }

    /// Puts the previous signal handlers back.
    package static func end() {
        CDRSystem_tty_guard_end()
    }
}
