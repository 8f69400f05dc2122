import DRConfig

/// E-mail addresses, found from their '@': the local part backwards (atext, dots, a quoted
/// local part, UTF-8), the domain forwards. The whole local part becomes one token, so the
/// addresses that VERP (`bounce-jane=example.org@`) and SRS (`SRS0=…=example.org=jane@`)
/// encode inside a local part go with it.
extension LineScanner {
    func address(_ p: UnsafeBufferPointer<UInt8>, at: Int, _ from: Int, _ to: Int) -> Int? {
        guard at > from, at + 1 < to else { return nil }
        var start = at
        if p[at - 1] == 0x22 {
            // "quoted local part"@domain
            var k = at - 2
            while k >= from, p[k] != 0x22 || (k > from && p[k - 1] == 0x5C) { k -= 1 }
            guard k >= from else { return nil }
            start = k
        } else {
            while start > from, has(p[start - 1], ByteClass.local) {
                // Stop at `key=` (sasl_username=jane@…): a lower-case key after a separator.
                if p[start - 1] == 0x3D, keyBefore(p, start - 1, from) { break }
                start -= 1
            }
        }
        guard start < at else { return nil }
        var end = at + 1
        if p[end] == 0x5B {
            // user@[192.0.2.1]: the literal is left to the IP finders.
            end = at + 1
        } else {
            while end < to, has(p[end], ByteClass.domain) { end += 1 }
            while end > at + 1, p[end - 1] == 0x2E || p[end - 1] == 0x2D || p[end - 1] == 0x5F { end -= 1 }
            guard end > at + 1 else { return nil }
        }
        start = dropSpans(after: start)
        guard start < at else { return nil }
        switch methods.options.addresses {
        case .tokenKeepDomain:
            replace(start, at + 1, .address, deferred: .token(.address, start: start, end: at, prefix: "addr-", suffix: "@"))
            // The domain is scanned like any text (an address literal, an IP in a host name).
            return at + 1
        case .token:
            replace(start, end, .address, deferred: .token(.wholeAddress, start: start, end: end, prefix: "addr-", suffix: "@anon.invalid"))
            return end
        case .redact:
            replace(start, end, Self.addressMarker, .address)
            return end
        }
    }

    /// Whether the '=' at `equals` ends a `key=` (lower-case letters, digits, '_' or '-' after a
    /// separator or the start), rather than being part of a VERP or SRS local part.
    func keyBefore(_ p: UnsafeBufferPointer<UInt8>, _ equals: Int, _ from: Int) -> Bool {
        var k = equals - 1
        while k >= from, (p[k] >= 0x61 && p[k] <= 0x7A) || p[k] == 0x5F || p[k].isDigit { k -= 1 }
        guard k < equals - 1 else { return false }
        return k < from || !has(p[k], ByteClass.local)
    }
}
