import ArgumentParser

/// Options every subcommand that reads the configuration accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Configuration file (default: $DRCTL_CONFIG, else /etc/drctl/drctl.toml, else the embedded default).",
        valueName: "path"))
    var config: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false
}
