import DRBase
package import DRConfig
package import DRLogAnonymizer

/// The per-day keys of log anonymization (docs/LOGS.md "Keys").
///
/// PLACEHOLDER (issue 13 in progress): the interface is settled — a day's keys derived from
/// the log master key (`[logs] key_file` or its systemd credential) and that day's random salt
/// in the state folder, the salt destroyed with the day once the retention window has passed.
/// The store itself lands with the `logs retain` branch; until then asking for a day fails.
package struct LogDayKeyStore {
    package let configuration: Configuration

    package init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The keys of UTC day `day` ("YYYY-MM-DD"), creating the day's salt on first use.
    package func keys(forDay day: String) throws(CoreError) -> LogPseudonymKeys {
        throw CoreError(.logsKey, message: "per-day log keys are not built yet; use --raw-key-file")
    }
}
