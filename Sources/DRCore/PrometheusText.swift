/// Prometheus' text exposition format (version 0.0.4), as node_exporter's textfile collector
/// reads it: per metric family one `# HELP` and one `# TYPE` line, then its samples, each
/// `name{label="value",…} value`. No sample timestamps: the collector refuses them (the time
/// of an event is a `_timestamp_seconds` gauge instead).
package enum PrometheusText {
    package enum Kind: String, Sendable {
        case gauge
        case counter
    }

    package struct Sample: Sendable, Equatable {
        /// Label names and values, in the order written.
        package var labels: [(name: String, value: String)]
        package var value: Double

        package init(_ labels: [(name: String, value: String)], _ value: Double) {
            self.labels = labels
            self.value = value
        }

        package init(_ value: Double) {
            self.init([], value)
        }

        package static func == (a: Sample, b: Sample) -> Bool {
            a.value.bitPattern == b.value.bitPattern && a.labels.elementsEqual(b.labels) { $0 == $1 }
        }
    }

    package struct Family: Sendable {
        package var name: String
        package var help: String
        package var kind: Kind
        package var samples: [Sample]

        package init(_ name: String, _ kind: Kind, help: String, _ samples: [Sample]) {
            precondition(PrometheusText.isMetricName(name), "not a Prometheus metric name: \(name)")
            // Prometheus' conventions: `_total` is for counters and every counter has it.
            precondition((kind == .counter) == name.hasSuffix("_total"), "\(name): _total is for counters only, and every counter ends in it")
            self.name = name
            self.help = help
            self.kind = kind
            self.samples = samples
        }
    }

    /// The exposition of `families`, in the order given; a family without samples is left
    /// out (its HELP alone would tell a reader nothing).
    package static func render(_ families: [Family]) -> String {
        var out = ""
        for family in families where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += family.name
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { label in
                        precondition(isLabelName(label.name), "not a Prometheus label name: \(label.name)")
                        return "\(label.name)=\"\(escapeLabelValue(label.value))\""
                    }.joined(separator: ",") + "}"
                }
                out += " " + format(sample.value) + "\n"
            }
        }
        return out
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    package static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting with `__` (reserved for Prometheus).
    package static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_", !name.hasPrefix("__") else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    /// A label value: `\` → `\\`, `"` → `\"`, line feed → `\n` (the format's only escapes);
    /// anything else UTF-8 as it is.
    package static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// HELP text: `\` → `\\`, line feed → `\n`.
    package static func escapeHelp(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A sample value as Go's ParseFloat (which Prometheus uses) reads it: `+Inf`, `-Inf`,
    /// `NaN`, whole numbers without a fraction, others in Swift's shortest round-trip form.
    package static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

private extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
