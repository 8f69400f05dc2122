package import Foundation

/// The time the log jobs (retain, keys, show) go by.
///
/// `DRCTL_TEST_NOW` (seconds since 1970) replaces the system clock, for the tests only: they
/// must see a day leave the retention window without waiting 30 days. It is documented as
/// test-only (docs/LOGS.md); in production it is unset and the system clock is used.
package enum LogClock {
    package static let environmentVariable = "DRCTL_TEST_NOW"

    package static func now() -> Date {
        if let text = ProcessInfo.processInfo.environment[environmentVariable], let seconds = Double(text) {
            return Date(timeIntervalSince1970: seconds)
        }
        return Date()
    }
}
