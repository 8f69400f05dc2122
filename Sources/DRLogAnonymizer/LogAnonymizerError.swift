/// Why an anonymizer could not be made (its keys); the command maps it to a catalogue code.
package struct LogAnonymizerError: Error, Sendable, CustomStringConvertible {
    package enum Reason: Sendable { case keyUnusable }
    package let reason: Reason
    package let description: String
    init(_ reason: Reason, _ description: String) {
        self.reason = reason
        self.description = description
    }
}
