import ArgumentParser

/// Moves the global options typed before the subcommand (`drctl --config F key list`) to just
/// after the full subcommand path (`drctl key list --config F`), before ArgumentParser sees
/// the arguments.
///
/// ArgumentParser gives an option only to the command whose name precedes it, and a parent's
/// options are neither seen by nor passed down to its subcommands; every runnable command
/// therefore declares `GlobalOptions` itself, and this puts the options where it looks.
///
/// The scan walks the command tree from the root. Each argument is, in turn:
/// - a global option: moved, with its value (`--config PATH`: the next argument, whatever it
///   looks like, so that `--config backup backup` reads the file `backup`; or `--config=PATH`);
/// - the name of a subcommand of the command reached so far: the path grows by one;
/// - anything else (an unknown option, `--`, `--help`, a misspelt command): the scan stops.
///
/// The scan also stops at a command without subcommands: all that follows belongs to it, and
/// it accepts the global options anywhere. The moved options are inserted right after the path, before
/// the rest, so that a `--` among the rest still ends the options.
enum GlobalArguments {
    /// The arguments (without the program name) as the commands declare them.
    /// - Throws: `ValidationError` (exit 64) when global options are followed by no command.
    static func rewrite(_ arguments: [String], root: any ParsableCommand.Type = Drctl.self) throws -> [String] {
        var command = root
        var path: [String] = []
        var moved: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex, !command.configuration.subcommands.isEmpty {
            let argument = arguments[index]
            if let count = globalOptionLength(arguments, at: index) {
                moved += arguments[index..<index + count]
                index += count
            } else if let subcommand = subcommand(of: command, named: argument) {
                path.append(argument)
                command = subcommand
                index += 1
            } else {
                break
            }
        }
        let rest = Array(arguments[index...])
        if isRunnable(command) || moved.isEmpty {
            return path + moved + rest
        }
        if rest.isEmpty {
            // `drctl --json` or `drctl --config backup` (the value swallowed the command):
            // without this, ArgumentParser would report the moved option as unknown.
            throw ValidationError(
                "a command must follow the global options (here: \(moved.joined(separator: " "))); see 'drctl --help'")
        }
        // The path ends at a group (drctl, key, config, debug) and what follows is not one of
        // its subcommands, so no command will run: ArgumentParser shows help or the version,
        // or names the wrong argument. The global options are left out so that its message
        // is about that argument, not about an option it would call unknown here. (Groups
        // have no options of their own, so leaving them out changes nothing else.)
        return path + rest
    }

    /// How many arguments the global option at `index` spans (1 or 2), or nil when the
    /// argument is not a global option.
    static func globalOptionLength(_ arguments: [String], at index: Int) -> Int? {
        let argument = arguments[index]
        if argument.hasPrefix("--") {
            let body = argument.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            let inlineValue = body.contains("=")
            if GlobalOptions.Spelling.withValue.contains(name) {
                // A missing value (the option is last) is moved alone, so that the command
                // reports it as ArgumentParser does after the command name.
                return inlineValue || index + 1 == arguments.endIndex ? 1 : 2
            }
            // `--json=yes` is moved as well: the command then says that --json takes no value.
            return GlobalOptions.Spelling.flags.contains(name) ? 1 : nil
        }
        if argument.hasPrefix("-"), argument.count > 1,
           argument.dropFirst().allSatisfy(GlobalOptions.Spelling.shortFlags.contains) {
            return 1
        }
        return nil
    }

    /// A command that runs with the arguments after the path: one without subcommands, or a
    /// group with a default subcommand (which ArgumentParser picks when no name follows).
    private static func isRunnable(_ command: any ParsableCommand.Type) -> Bool {
        command.configuration.subcommands.isEmpty || command.configuration.defaultSubcommand != nil
    }

    private static func subcommand(of command: any ParsableCommand.Type,
                                   named name: String) -> (any ParsableCommand.Type)? {
        command.configuration.subcommands.first {
            $0._commandName == name || $0.configuration.aliases.contains(name)
        }
    }
}
