/// What one stream's anonymization replaced, per kind (for `--json` and the retain job's log).
package struct LogAnonymizationStatistics: Sendable, Equatable, Codable {
    package var lines = 0
    package var bytesIn = 0
    package var bytesOut = 0
    package var ipv4 = 0
    package var ipv6 = 0
    /// IPv4 addresses written inside host names (dashed, reversed, zero-padded, hex).
    package var ipInHostNames = 0
    package var addresses = 0
    package var usernames = 0
    package var sessions = 0
    /// Passwords, SASL data, URL tokens, geolocation: replaced by the marker.
    package var secrets = 0
    package var cards = 0
    /// Lines longer than `max_line`, anonymized in pieces.
    package var longLines = 0

    package init() {}

    package var replacements: Int { ipv4 + ipv6 + ipInHostNames + addresses + usernames + sessions + secrets + cards }
}
