import DRConfig

/// Finders that know a key: `key=value` pairs (usernames, secrets, URL tokens, geolocation),
/// `password: …` texts, Dovecot's `service(user)` and `passdb(user,ip,<session>)` tuples,
/// session ids in angle brackets, and SASL data after `AUTH PLAIN`, `AUTH LOGIN` or `CONT`.
extension LineScanner {
    /// The word that ends just before `end` (letters, digits, '_', '-'): its hash (lower-cased),
    /// length and start.
    private func word(_ p: UnsafeBufferPointer<UInt8>, before end: Int, _ from: Int) -> (word: UInt64, count: Int, start: Int) {
        var k = end
        while k > from, end - k < 24, p[k - 1].isLetterOrDigit || p[k - 1] == 0x5F || p[k - 1] == 0x2D { k -= 1 }
        return (ByteHash.of(UnsafeBufferPointer(rebasing: p[k..<end]), lowercased: true), end - k, k)
    }

    /// The value after `start`: `<…>`, `"…"` or up to a separator. Returns the inner range.
    private func value(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ to: Int) -> (start: Int, end: Int, next: Int) {
        guard start < to else { return (start, start, start) }
        let open = p[start]
        if open == 0x3C || open == 0x22 || open == 0x5B {
            let close: UInt8 = open == 0x3C ? 0x3E : open == 0x22 ? 0x22 : 0x5D
            var k = start + 1
            while k < to, p[k] != close, !(open == 0x22 && p[k] == 0x5C && k + 1 < to && p[k + 1] == 0x22) { k += 1 }
            return (start + 1, k, min(k + 1, to))
        }
        var k = start
        while k < to {
            switch p[k] {
            case 0x20, 0x09, 0x2C, 0x3B, 0x26, 0x22, 0x27, 0x29, 0x3E, 0x5C: break
            default: k += 1; continue
            }
            break
        }
        return (start, k, k)
    }

    func keyValue(_ p: UnsafeBufferPointer<UInt8>, at equals: Int, _ from: Int, _ to: Int) -> Int? {
        let (key, keyLength, keyStart) = word(p, before: equals, from)
        guard keyLength > 0 else { return nil }
        let inQuery = keyStart > from && (p[keyStart - 1] == 0x3F || p[keyStart - 1] == 0x26)
        // Outside a query string only these keys' values are replaced: most `key=` words of a
        // mail log (lip, rport, delay, status, …) stop here, before their value is measured.
        guard inQuery || key == words.session || words.username.contains(key) || words.secret.contains(key) else { return nil }
        let found = value(p, equals + 1, to)
        let length = found.end - found.start
        guard length > 0 else { return nil }
        if key == words.session, length == 16 || length == 32,
           UnsafeBufferPointer(rebasing: p[found.start..<found.end]).allSatisfy({ has($0, ByteClass.base64) && $0 != 0x2D && $0 != 0x5F }) {
            // Dovecot's auth protocol writes the session id bare: `session=<id>` and `session=id`.
            replace(found.start, found.end, .session) {
                methods.appendSessionToken(UnsafeBufferPointer(rebasing: p[found.start..<found.end]), to: &$0)
            }
            return found.next
        }
        if words.username.contains(key) {
            return username(p, found.start, found.end) ? found.next : nil
        }
        if inQuery, !words.secret.contains(key), hasEncodedAddress(p, found.start, found.end) {
            // jane%40example.org in a query string: the local part becomes a token.
            var k = found.start
            while k + 2 < found.end, !(p[k] == 0x25 && p[k + 1] == 0x34 && p[k + 2] == 0x30) { k += 1 }
            if k > found.start {
                replace(found.start, k, .address, deferred: .token(.address, start: found.start, end: k, prefix: "addr-", suffix: ""))
            }
            return k
        }
        if words.secret.contains(key) || (inQuery && (words.query.contains(key) || length >= 16)) {
            // An address or IP in a query string is the finders' business; other values go.
            if inQuery, !words.secret.contains(key), !words.query.contains(key),
               IPText.ipv4(p, found.start, found.end)?.end == found.end { return nil }
            replace(found.start, found.end, Pseudonymizer.redacted, .secret)
            return found.next
        }
        return nil
    }

    private func hasEncodedAddress(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var k = start
        while k + 2 < end {
            if p[k] == 0x25 && p[k + 1] == 0x34 && p[k + 2] == 0x30 { return true }
            k += 1
        }
        return false
    }

    /// A username in `start..<end`; an address there is left to the address finder.
    func username(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        let value = UnsafeBufferPointer(rebasing: p[start..<end])
        if value.contains(0x40) { return false }
        if value.count == 1 && (value[0] == 0x2D || value[0] == 0x3F) { return false }
        if value.allSatisfy(\.isDigit) { return false }
        switch methods.options.usernames {
        case .token: replace(start, end, .username, deferred: .token(.username, start: start, end: end, prefix: "user-", suffix: ""))
        case .redact: replace(start, end, Self.user, .username)
        }
        return true
    }

    /// `…password: secret)`: Dovecot's `auth_verbose_passwords` (`given password:`, `SHA1 of
    /// given password:`) and similar texts. The secret runs to the last ')' in the next 256
    /// bytes (a password may hold spaces and parentheses), else to the line's last ')', else to
    /// its end.
    func colonKey(_ p: UnsafeBufferPointer<UInt8>, at colon: Int, _ from: Int, _ to: Int) -> Int? {
        let (key, keyLength, keyStart) = word(p, before: colon, from)
        let isPassword = keyLength >= 8 && matches(p, colon - 8, colon, "password")
        let isGeo = key == words.city || key == words.ll || key == words.latitude || key == words.longitude
        _ = keyStart
        guard isPassword || isGeo else { return nil }
        var start = colon + 1
        while start < to, p[start] == 0x20 { start += 1 }
        guard start < to else { return nil }
        var end = to
        if isPassword {
            // The last ')' within 256 bytes (a password may hold ')'; a line is one message,
            // but a long line may hold several), else the line's last ')', else its end.
            var k = min(to, start + 256) - 1
            while k > start, p[k] != 0x29 { k -= 1 }
            if k <= start {
                k = to - 1
                while k > start, p[k] != 0x29 { k -= 1 }
            }
            if k > start { end = k }
        } else {
            // city: Name, …  /  ll: 12.34,-56.78
            var commas = key == words.ll ? 2 : 1
            var k = start
            while k < to {
                if p[k] == 0x2C { commas -= 1; if commas == 0 { break } }
                if p[k] == 0x5D || p[k] == 0x29 { break }
                k += 1
            }
            end = k
        }
        while end > start, p[end - 1] == 0x0D || p[end - 1] == 0x20 { end -= 1 }
        guard end > start else { return nil }
        replace(start, end, Pseudonymizer.redacted, .secret)
        return end
    }

    /// `imap(jane)`, `pam(jane,192.0.2.1,<session>)`: the first field is a username (a process
    /// id, `?` or an address are not: the address finder takes an address).
    func tuple(_ p: UnsafeBufferPointer<UInt8>, at open: Int, _ from: Int, _ to: Int) -> Int? {
        let (key, _, _) = word(p, before: open, from)
        guard words.tuple.contains(key) else { return nil }
        var end = open + 1
        while end < to, p[end] != 0x2C, p[end] != 0x29 { end += 1 }
        guard end < to, end > open + 1 else { return nil }
        return username(p, open + 1, end) ? end : nil
    }

    /// `<…>` holding exactly 16 or 32 base64 characters: a Dovecot session id (base64 of a
    /// timestamp, the client's port and its raw IP address). Replaced by a token of the same
    /// length; other bracketed values (queue ids, message ids with '@') are not this shape.
    func session(_ p: UnsafeBufferPointer<UInt8>, at open: Int, _ to: Int) -> Int? {
        for length in 1...2 {
            let close = open + 1 + 16 * length
            guard close < to else { return nil }
            guard p[close] == 0x3E else { continue }
            var k = open + 1
            while k < close, has(p[k], ByteClass.base64), p[k] != 0x2D, p[k] != 0x5F { k += 1 }
            guard k == close else { return nil }
            replace(open + 1, close, .session) {
                methods.appendSessionToken(UnsafeBufferPointer(rebasing: p[(open + 1)..<close]), to: &$0)
            }
            return close + 1
        }
        return nil
    }

    /// SASL data: `AUTH PLAIN <base64>`, `AUTH LOGIN <base64>` (as Postfix's and Haraka's debug
    /// output show client commands), and Dovecot's `CONT\t<id>\t<base64>`.
    func sasl(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ to: Int) -> Int? {
        var start: Int
        if hasPrefix(p, i, to, "auth plain ") || hasPrefix(p, i, to, "auth login ") {
            start = i + 11
        } else if hasPrefix(p, i, to, "cont\t") {
            start = i + 5
            while start < to, p[start].isDigit { start += 1 }
            guard start < to, p[start] == 0x09 else { return nil }
            start += 1
        } else {
            return nil
        }
        var end = start
        while end < to, has(p[end], ByteClass.base64) || p[end] == 0x3D { end += 1 }
        guard end > start, !(end - start == 1 && p[start] == 0x3D) else { return nil }
        replace(start, end, Pseudonymizer.redacted, .secret)
        return end
    }
}

/// The key words the finders look for, as FNV hashes. One instance per scanner (a stored
/// property), not static lets: a lazy global costs a `swift_once` check at every use, and the
/// tuple finder runs at every '(' after a letter.
struct KeyWords {
    let username = WordSet(["user", "ruser", "sasl_username", "username", "login", "authuser",
                         "authzid", "authcid", "account", "remote_user", "orig_user"])
    let secret = WordSet(["password", "passwd", "pass", "pwd", "secret", "resp", "authorization",
                         "api_key", "apikey", "access_token", "refresh_token", "id_token",
                         "token", "_token", "lat", "lon", "latitude", "longitude", "ll", "city",
                         "geo", "postal_code", "zip"])
    /// In a URL's query string, these names' values are secrets whatever their length.
    let query = WordSet(["code", "sig", "signature", "key", "auth", "session", "sid", "state",
                         "nonce", "ticket", "otp", "hash", "_session", "_auth", "s", "t", "k"])
    /// Dovecot's services (`imap(user)<pid><session>:`) and passdb/userdb drivers
    /// (`pam(user,ip,<session>):`), whose first field is a username.
    let tuple = WordSet(["imap", "pop3", "lmtp", "managesieve", "submission", "doveadm", "sieve",
                         "pam", "sql", "ldap", "passwd", "passwd-file", "shadow", "checkpassword",
                         "static", "lua", "oauth2", "bsdauth", "auth", "vpopmail", "dict",
                         "indexer-worker", "quota-status", "master", "userdb", "passdb"])

    let session = ByteHash.of("session")
    let token = ByteHash.of("token")
    let city = ByteHash.of("city")
    let ll = ByteHash.of("ll")
    let latitude = ByteHash.of("latitude")
    let longitude = ByteHash.of("longitude")
}
