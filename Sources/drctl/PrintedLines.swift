import DRLog

/// Every line drctl prints for people on standard output goes through here (this shadows
/// `Swift.print` in this module). Names in those lines come from outside — mailbox paths are
/// whatever the mail server or a user created — and under systemd standard output goes to
/// the journal, which reads a line starting `<0>` as an emergency: a mailbox named
/// `x\n<0>…` would forge an event, and an escape sequence would repaint an operator's
/// terminal. So each call prints exactly one line, with every control character escaped
/// (`\n`, `\x1b`, …) as the log lines do. JSON output does not come here: its encoder escapes.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { "\($0)" }.joined(separator: separator)
    Swift.print(LogText.escaped(text), terminator: terminator)
}
