using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands;

/// <summary>The root of the <c>depot</c> command: every command, and the usage errors of all of them.</summary>
internal static class DepotCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Depot: a self-hosted file transfer and storage server, and its client.\n\n" +
            "Remote paths are written bucket/key, or /key in the bucket named 'default'.\n" +
            "The server and key come from --url/--key, DEPOT_URL/DEPOT_KEY, or a profile ('depot config').\n" +
            "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 exists, 5 auth, 6 conflict, 7 network,\n" +
            "8 checksum, 9 partial failure, 10 storage, 130 interrupted, 141 broken pipe (docs/cli.md).")
        {
            Server.ServeCommand.Create(),
            // commands: server
            Server.StopCommand.Create(),
            Server.TlsCommand.Create(),
            // commands: files
            Files.ListCommand.Create(),
            Files.StatCommand.Create(),
            Files.MakeDirectoryCommand.Create(),
            Files.RemoveCommand.Create(),
            Files.CopyMoveCommand.CreateMove(),
            Files.CopyMoveCommand.CreateCopy(),
            Files.MetaCommand.Create(),
            Files.ShareCommand.Create(),
            Files.InfoCommand.Create(),
            // commands: transfers
            Transfers.PutCommand.Create(),
            Transfers.GetCommand.Create(),
            Transfers.CatCommand.Create(),
            Transfers.AppendCommand.Create(),
            Transfers.TruncateCommand.Create(),
            Transfers.SlaveCommand.Create(),
            // commands: kv
            KeyValue.KvCommand.Create(),
            // commands: sync
            Sync.SyncCommand.Create(),
            // commands: queue
            Queue.QueueCommand.Create(),
            // commands: keys
            Admin.KeyCommand.Create(),
            // commands: config
            Config.ConfigCommand.Create(),
        };
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Create();
        args = MoveLeadingGlobalOptions(args);
        var parsed = root.Parse(args);
        if (args.Length == 0)
        {
            new HelpAction().Invoke(parsed);
            return ExitCodes.Usage;
        }

        var errors = parsed.Errors.Select(e => e.Message).Concat(UnknownOptions(parsed)).Distinct(StringComparer.Ordinal).ToList();
        if (errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var secret = KeyIn(args) is { Length: > 0 } given ? given : null;
            foreach (var error in errors)
            {
                // A mistyped command line may hold the key; it is never echoed.
                var message = secret is null ? error : error.Replace(secret, "***", StringComparison.Ordinal);
                await Console.Error.WriteLineAsync($"{CliAction.CommandName(command)}: {CliOutput.Sanitize(message)}");
            }

            if (args[0].StartsWith("--", StringComparison.Ordinal) && args[0] is not ("--help" or "--version"))
            {
                await Console.Error.WriteLineAsync("Options go after the command's name, e.g. 'depot ls --url URL /'.");
            }

            await Console.Error.WriteLineAsync($"Try '{CliAction.CommandName(command)} --help'.");
            return ExitCodes.Usage;
        }

        // Signals are handled where they matter: the server shuts down gracefully; client commands cancel (CliAction).
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>The parser takes an unknown <c>--flag</c> as an argument when the command has arguments left, so
    /// <c>depot rm --recurse dir</c> would remove a file named "--recurse". Such tokens are refused unless they follow
    /// <c>--</c> (the way to name a file that starts with a dash); "-" alone means stdin or stdout.</summary>
    private static IEnumerable<string> UnknownOptions(ParseResult parsed)
    {
        // Values of options (--prefix -tmp/) are not options; tokens the parser already refused are not repeated.
        var optionValues = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        for (var result = (SymbolResult?)parsed.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult commandResult)
            {
                foreach (var option in commandResult.Children.OfType<OptionResult>())
                {
                    optionValues.UnionWith(option.Tokens);
                }
            }
        }

        var unmatched = parsed.UnmatchedTokens.ToHashSet(StringComparer.Ordinal);
        foreach (var token in parsed.Tokens)
        {
            if (token.Type == TokenType.DoubleDash)
            {
                yield break;
            }

            if (token.Type == TokenType.Argument && token.Value.Length > 1 && token.Value[0] == '-' && !IsNumber(token.Value)
                && !optionValues.Contains(token) && !unmatched.Contains(token.Value))
            {
                yield return $"Unrecognized option '{token.Value}' (write '-- {token.Value}' for a path that starts with a dash).";
            }
        }
    }

    /// <summary>
    /// <c>depot --url U ls /</c> reads as naturally as <c>depot ls --url U /</c>, but the connection and output options
    /// belong to the client commands, not to the root (serve has its own). Leading ones are moved behind the command
    /// (before a <c>--</c>, after which everything is an argument).
    /// </summary>
    private static string[] MoveLeadingGlobalOptions(string[] args)
    {
        var aliases = GlobalOptions.All.SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet(StringComparer.Ordinal);
        var leading = new List<string>();
        var i = 0;
        while (i < args.Length && (aliases.Contains(args[i]) || (args[i].IndexOf('=', StringComparison.Ordinal) is > 2 and var eq && aliases.Contains(args[i][..eq]))))
        {
            var takesValue = args[i] is not ("--json" or "--quiet" or "-q") && !args[i].Contains('=', StringComparison.Ordinal);
            leading.Add(args[i++]);
            if (takesValue && i < args.Length)
            {
                leading.Add(args[i++]);
            }
        }

        if (leading.Count == 0 || i >= args.Length)
        {
            return args;
        }

        var rest = args[i..].ToList();
        var doubleDash = rest.IndexOf("--");
        rest.InsertRange(doubleDash < 0 ? rest.Count : doubleDash, leading);
        return [.. rest];
    }

    /// <summary>The value given to <c>--key</c> on the command line, if any.</summary>
    private static string? KeyIn(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--key" && i + 1 < args.Length)
            {
                return args[i + 1];
            }

            if (args[i].StartsWith("--key=", StringComparison.Ordinal))
            {
                return args[i]["--key=".Length..];
            }
        }

        return null;
    }

    private static bool IsNumber(string text) => long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out _);
}
